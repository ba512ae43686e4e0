"""Importing workplaces from CSV: the dry run, matching by name within branch, scope, duplicates, hostile files."""

from __future__ import annotations

import pytest

from crm import csvfiles
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, ImportJob, ImportRow, ImportSource, Workplace
from crm.services import imports, workplace_imports
from crm.tasks import import_members, import_workplaces

HEADINGS = "School,Branch,Employer,Phase,Staff headcount,Postcode"


def snapshot():
    return {
        "workplaces": list(Workplace.objects.order_by("pk").values()),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)),
    }


def csv_of(*lines: str, headings: str = HEADINGS) -> str:
    return "\n".join([headings, *lines]) + "\n"


def upload(user, text: str | bytes, *, source="Leeds list of schools", filename="schools.csv"):
    content = text.encode() if isinstance(text, str) else text
    return workplace_imports.start_import(actor=user, source_name=source, filename=filename, upload=content)


def check(user, text, mapping=None, **kwargs):
    job = upload(user, text, **kwargs)
    return workplace_imports.check_import(actor=user, job=job, mapping=mapping)


def rows(job, outcome=None):
    found = ImportRow.objects.filter(job=job).order_by("number")
    return list(found.filter(outcome=outcome) if outcome else found)


@pytest.fixture
def run():
    """Confirm a checked job and run its task here, in this process."""

    def confirm_and_run(user, job):
        workplace_imports.confirm_import(actor=user, job=job, in_background=False)
        import_workplaces.apply(args=[job.pk]).get()
        job.refresh_from_db()
        return job

    return confirm_and_run


@pytest.fixture
def organiser(union):
    return union.users.organiser_north


def test_headings_are_recognised_and_the_dry_run_reports_row_by_row_and_changes_nothing(union, organiser):
    before = snapshot()
    oak = union.workplaces.oak
    text = csv_of(
        f"{oak.name},Leeds,{oak.employer.name},{oak.get_sector_display()},{oak.eligible_staff + 5},ls1 1ur",
        "Birch Primary,leeds,Leeds City Council,primary,31,LS2 9JT",
        "Cedar High,Leeds,Leeds City Council,secondary,lots,LS3 1AA",
    )
    job = check(organiser, text)
    assert job.kind == ImportJob.Kind.WORKPLACES
    assert set(job.mapping.values()) == set(workplace_imports.FIELD_LABELS)
    assert job.status == ImportJob.Status.CHECKED
    assert (job.updated_count, job.created_count, job.rejected_count) == (1, 1, 1)
    report = rows(job)
    assert [r.outcome for r in report] == ["updated", "created", "rejected"]
    assert [r.line for r in report] == [2, 3, 4]
    assert report[0].changed == ["eligible_staff", "postcode"]
    assert report[0].workplace == oak
    assert report[2].problems == [["Staff headcount", "'lots' is not a whole number of staff."]]
    assert snapshot() == before
    assert ImportSource.objects.get(name="Leeds list of schools").workplace_mapping == job.mapping
    assert ImportSource.objects.get(name="Leeds list of schools").mapping == {}


def test_confirmed_import_creates_updates_skips_rejected_and_audits(union, organiser, run):
    oak = union.workplaces.oak
    staff = oak.eligible_staff + 7
    text = csv_of(
        f"{oak.name.upper()},Leeds,,,{staff},",
        "Birch Primary,Leeds,Leeds City Council,Primary,31,ls29jt",
        "Cedar High,Leeds,No Such Council,secondary,10,",
    )
    job = run(organiser, check(organiser, text))
    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.updated_count, job.rejected_count) == (1, 1, 1)
    assert job.rows_done == job.total_rows
    oak.refresh_from_db()
    assert oak.eligible_staff == staff
    assert oak.name == union.workplaces.oak.name  # matched case-insensitively, the name itself untouched
    birch = Workplace.objects.get(name="Birch Primary")
    assert (birch.branch, birch.employer, birch.sector, birch.eligible_staff, birch.postcode) == (
        union.branches.leeds,
        union.employers.council,
        "primary",
        31,
        "LS2 9JT",
    )
    assert not Workplace.objects.filter(name="Cedar High").exists()
    entries = AuditEntry.objects.filter(target_type="crm.workplace")
    assert {(e.target_id, e.action) for e in entries} == {(oak.pk, "update"), (birch.pk, "create")}
    assert entries.get(target_id=oak.pk).changes == {"eligible_staff": [staff - 7, staff]}
    assert AuditEntry.objects.filter(target_type="crm.importjob", target_id=job.pk).count() == 1
    assert rows(job, "created")[0].workplace == birch


def test_running_twice_changes_nothing_more(union, organiser, run):
    job = run(organiser, check(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,")))
    before = snapshot()
    import_workplaces.apply(args=[job.pk]).get()
    assert snapshot() == before
    job.refresh_from_db()
    assert job.created_count == 1


def test_a_blank_cell_never_clears_and_an_unchanged_row_is_reported_so(union, organiser, run):
    oak = union.workplaces.oak
    oak.postcode = "LS1 1UR"
    oak.save()
    job = run(organiser, check(organiser, csv_of(f"{oak.name},Leeds,,,,")))
    assert job.unchanged_count == 1
    oak.refresh_from_db()
    assert oak.postcode == "LS1 1UR"


def test_a_new_workplace_needs_employer_and_sector(union, organiser):
    job = check(organiser, csv_of("Birch Primary,Leeds,,,31,"))
    assert [p[0] for p in rows(job)[0].problems] == ["Employer", "Phase"]


# --- scope ------------------------------------------------------------------------------------------------


def test_rows_outside_the_importers_patch_are_rejected_and_nothing_there_changes(union, run):
    organiser = union.users.organiser_bristol
    elm = union.workplaces.elm
    before = {"elm": elm.eligible_staff, "workplaces": Workplace.objects.count()}
    text = csv_of(
        f"{elm.name},York,,,{elm.eligible_staff + 100},",  # exists, in the north
        "Hidden School,Leeds,Leeds City Council,primary,10,",  # new, in the north
        "Bristol New,Bristol,Ash College Corporation,further education,5,",  # new, in the patch
    )
    job = run(organiser, check(organiser, text))
    assert [r.outcome for r in rows(job)] == ["rejected", "rejected", "created"]
    assert rows(job)[0].problems == [["Branch", "York branch is outside your branches: not changed."]]
    assert rows(job)[0].workplace is None  # not even the match is told
    elm.refresh_from_db()
    assert elm.eligible_staff == before["elm"]
    assert Workplace.objects.count() == before["workplaces"] + 1


def test_national_admins_import_anywhere(union, run):
    national = union.users.national
    job = run(national, check(national, csv_of("Far School,Bristol,Ash College Corporation,independent,5,")))
    assert job.created_count == 1


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_national_admins_and_organisers_import_workplaces(union, persona):
    with pytest.raises(NotPermitted):
        upload(getattr(union.users, persona), csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    assert not ImportJob.objects.exists()


def test_only_the_uploader_checks_and_confirms(union, organiser):
    job = upload(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    other = union.users.organiser_bristol
    with pytest.raises(NotPermitted):
        workplace_imports.check_import(actor=other, job=job)
    job = workplace_imports.check_import(actor=organiser, job=job)
    with pytest.raises(NotPermitted):
        workplace_imports.confirm_import(actor=other, job=job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED


def test_member_and_workplace_services_refuse_each_others_jobs(union, organiser):
    job = check(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    with pytest.raises(ServiceError, match="not a member import"):
        imports.check_import(actor=organiser, job=job)
    with pytest.raises(ServiceError, match="not a member import"):
        imports.confirm_import(actor=organiser, job=job)
    workplace_imports.confirm_import(actor=organiser, job=job, in_background=False)
    before = snapshot()
    import_members.apply(args=[job.pk]).get()  # the member task leaves a workplace job alone
    assert snapshot() == before
    member_job = imports.start_import(
        actor=organiser, source_name="staff", filename="s.csv", upload=b"Surname,Email\nSmith,s@example.org\n"
    )
    with pytest.raises(ServiceError, match="not a workplace import"):
        workplace_imports.check_import(actor=organiser, job=member_job)


# --- hostile and awkward files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04rest of a workbook", "Excel workbook"),
        (b"%PDF-1.7 ...", "PDF"),
        (b"School,Branch\x00\x01\x02", "binary data"),
        (b"School,Branch\n", "no data rows"),
        (b"", "empty"),
    ],
)
def test_files_that_are_not_csv_are_refused_whole(union, organiser, content, message):
    with pytest.raises(csvfiles.FileRefused, match=message):
        upload(organiser, content)
    assert not ImportJob.objects.exists()


def test_an_oversized_file_is_refused_before_it_is_read(union, organiser, monkeypatch):
    monkeypatch.setattr("crm.services.imports.MAX_FILE_BYTES", 100)
    with pytest.raises(csvfiles.FileRefused, match="limit"):
        upload(organiser, csv_of(*["Birch Primary,Leeds,Leeds City Council,primary,31,"] * 10))
    assert not ImportJob.objects.exists()


def test_windows_1252_and_semicolons_are_read(union, organiser, run):
    text = csv_of("Saint Cæcilia’s School;Leeds;Leeds City Council;primary;12;", headings=HEADINGS.replace(",", ";"))
    job = run(organiser, check(organiser, text.encode("cp1252")))
    assert job.encoding == "windows-1252"
    assert Workplace.objects.filter(name="Saint Cæcilia’s School").exists()


def test_a_file_in_neither_utf8_nor_windows_1252_is_refused(union, organiser):
    with pytest.raises(csvfiles.FileRefused, match="neither UTF-8 nor Windows-1252"):
        upload(organiser, HEADINGS.encode() + b"\nBad \x81\x8d school,Leeds,,,,\n")


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)"])
def test_formula_cells_in_names_are_rejected(union, organiser, run, cell):
    before = snapshot()
    job = run(
        organiser,
        check(organiser, csv_of(f'"{cell.replace(chr(34), chr(34) * 2)}",Leeds,Leeds City Council,primary,3,')),
    )
    assert job.rejected_count == 1
    assert "formula" in rows(job)[0].problems[0][1]
    assert snapshot()["workplaces"] == before["workplaces"]


def test_script_in_names_is_stored_as_text_not_run(union, organiser, run):
    run(organiser, check(organiser, csv_of("<script>alert(1)</script>,Leeds,Leeds City Council,primary,3,")))
    assert Workplace.objects.filter(name="<script>alert(1)</script>").exists()


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ("Birch,Nowhere,Leeds City Council,primary,3,", "Branch", "no branch called"),
        ("Birch,Leeds,Leeds City Council,nursery school,3,", "Phase", "is not one of"),
        ("Birch,Leeds,Leeds City Council,primary,-3,", "Staff headcount", "whole number"),
        ("Birch,Leeds,Leeds City Council,primary,99999999,", "Staff headcount", "more than any workplace"),
        ("Birch,Leeds,Leeds City Council,primary,3,NOT A PC", "Postcode", "not a UK postcode"),
        (",Leeds,Leeds City Council,primary,3,", "School", "needs a workplace name"),
        ("Birch,,Leeds City Council,primary,3,", "Branch", "needs a branch"),
        (f"{'x' * 151},Leeds,Leeds City Council,primary,3,", "School", "Too long"),
        ("Bad\x07Bell,Leeds,Leeds City Council,primary,3,", "School", "control characters"),
    ],
)
def test_bad_cells_are_rejected_with_line_column_and_reason(union, organiser, cells, column, reason):
    job = check(organiser, csv_of("Good School,Leeds,Leeds City Council,primary,3,", cells))
    good, bad = rows(job)
    assert good.outcome == "created"
    assert bad.outcome == "rejected" and bad.line == 3
    assert bad.problems[0][0] == column and reason in bad.problems[0][1]


def test_repeated_rows_import_once_and_conflicting_ones_are_all_rejected(union, organiser, run):
    same = "Birch Primary,Leeds,Leeds City Council,primary,31,"
    text = csv_of(
        same,
        same.replace("Leeds,", "leeds,", 1),  # the branch by its code: the same workplace, different text
        same,
        "Cedar High,Leeds,Leeds City Council,secondary,10,",
        "cedar high,Leeds,Leeds City Council,secondary,11,",
    )
    job = run(organiser, check(organiser, text))
    assert [r.outcome for r in rows(job)] == ["created", "duplicate", "duplicate", "rejected", "rejected"]
    assert Workplace.objects.filter(name="Birch Primary").count() == 1
    assert not Workplace.objects.filter(name__iexact="cedar high").exists()
    assert "several lines" in rows(job)[3].problems[0][1]


def test_an_identical_repeat_is_imported_once(union, organiser, run):
    same = "Birch Primary,Leeds,Leeds City Council,primary,31,"
    job = run(organiser, check(organiser, csv_of(same, same)))
    assert [r.outcome for r in rows(job)] == ["created", "duplicate"]
    assert Workplace.objects.filter(name="Birch Primary").count() == 1


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"School": "name"}, "branch"),
        ({"Branch": "branch"}, "workplace name"),
        ({"School": "name", "Branch": "branch", "Phase": "first_name"}, "not a workplace field"),
        ({"School": "name", "Branch": "branch", "Nope": "sector"}, "no column"),
        ({"School": "name", "Branch": "branch", "Phase": "sector", "Employer": "sector"}, "Two columns"),
        (["School"], "must pair"),
    ],
)
def test_a_bad_mapping_is_refused_and_nothing_is_remembered(union, organiser, mapping, message):
    job = upload(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    with pytest.raises(ServiceError, match=message):
        workplace_imports.check_import(actor=organiser, job=job, mapping=mapping)
    assert ImportSource.objects.get().workplace_mapping == {}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED


# --- the run: failures, re-checks, a real worker ------------------------------------------------------------


def test_a_failure_mid_import_leaves_whole_batches_and_running_again_resumes(union, organiser, monkeypatch):
    monkeypatch.setattr(workplace_imports, "BATCH_SIZE", 2)
    names = [f"Pine {i} School" for i in range(5)]
    job = check(organiser, csv_of(*[f"{name},Leeds,Leeds City Council,primary,3," for name in names]))
    workplace_imports.confirm_import(actor=organiser, job=job, in_background=False)
    real_bulk_create = AuditEntry.objects.bulk_create
    calls = []

    def failing_audit(entries, *args, **kwargs):
        calls.append(len(entries))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_bulk_create(entries, *args, **kwargs)

    monkeypatch.setattr(AuditEntry.objects, "bulk_create", failing_audit)
    with pytest.raises(RuntimeError):
        workplace_imports.run_import(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "went away" in job.error
    assert job.rows_done == 2
    # The failed batch's workplaces were rolled back with their audit rows: nothing half-written.
    assert sorted(Workplace.objects.filter(name__startswith="Pine").values_list("name", flat=True)) == names[:2]
    monkeypatch.setattr(AuditEntry.objects, "bulk_create", real_bulk_create)
    job = workplace_imports.run_import(job_id=job.pk)
    assert (job.status, job.rows_done, job.created_count) == (ImportJob.Status.DONE, 5, 5)
    assert Workplace.objects.filter(name__startswith="Pine").count() == 5
    assert AuditEntry.objects.filter(target_type="crm.workplace").count() == 5


def test_rows_are_checked_again_when_the_import_runs(union, organiser, run):
    """A workplace added by someone else after the dry run is updated, not added a second time."""
    job = check(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    assert job.created_count == 1
    Workplace.objects.create(
        name="Birch Primary", branch=union.branches.leeds, employer=union.employers.council, sector="primary"
    )
    job = run(organiser, job)
    assert (job.created_count, job.updated_count) == (0, 1)
    assert Workplace.objects.get(name="Birch Primary").eligible_staff == 31


def test_a_job_whose_uploader_has_gone_is_not_run(union, organiser):
    job = check(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    workplace_imports.confirm_import(actor=organiser, job=job, in_background=False)
    organiser.delete()
    assert import_workplaces.apply(args=[job.pk]).get() == "failed"
    assert not Workplace.objects.filter(name="Birch Primary").exists()


def test_confirming_queues_the_task_once(union, organiser, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(import_workplaces, "delay", queued.append)
    job = check(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    with django_capture_on_commit_callbacks(execute=True):
        workplace_imports.confirm_import(actor=organiser, job=job)
    with django_capture_on_commit_callbacks(execute=True):
        workplace_imports.confirm_import(actor=organiser, job=job)
    assert queued == [job.pk]


def test_an_unchecked_job_cannot_be_confirmed(union, organiser):
    job = upload(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    with pytest.raises(ServiceError, match="Check the file"):
        workplace_imports.confirm_import(actor=organiser, job=job, in_background=False)


@pytest.mark.services
def test_a_workplace_import_runs_on_a_real_worker(union, organiser, celery_worker_process):
    job = check(organiser, csv_of("Birch Primary,Leeds,Leeds City Council,primary,31,"))
    workplace_imports.confirm_import(actor=organiser, job=job, in_background=False)
    result = import_workplaces.apply_async(args=[job.pk], queue=celery_worker_process)
    assert result.get(timeout=60) == "done"
    assert import_workplaces.apply_async(args=[job.pk], queue=celery_worker_process).get(timeout=60) == "done"
    assert Workplace.objects.filter(name="Birch Primary").count() == 1
