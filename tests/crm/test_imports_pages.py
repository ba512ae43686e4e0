"""The import pages (upload, columns, dry run, confirm, progress, report) and the member list's CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import AuditEntry, ImportJob, Member
from tests.conftest import visible_members_by_role

ROLES = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]
IMPORTERS = {"national", "organiser_north", "organiser_bristol"}
EXPORTERS = IMPORTERS | {"rep_oak"}
SCRIPT = "<script>alert(1)</script>"
FILE = (
    "Membership number,First name,Surname,Email,School,Category\n"
    f",{SCRIPT},Smith,script@example.org,Oak Primary,teacher\n"
    ",Bad,Row,bad@example.org,Nowhere,teacher\n"
)


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Confirming queues the import task on commit; here it runs in this process even where a broker is set
    (the run on a real worker is tests/crm/test_imports_services.py's `services` test)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def signed_in(client, user):
    client.force_login(user)
    return client


def csv_file(text: str | bytes, name: str = "staff.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, content_type="text/csv")


def upload_and_check(client, text=FILE, source="Leeds staff list"):
    response = client.post(reverse("import_new"), {"source": source, "file": csv_file(text)})
    assert response.status_code == 302, response.content.decode()
    job = ImportJob.objects.latest("pk")
    mapping_page = client.get(response["Location"])
    assert mapping_page.status_code == 200
    data = {f"column_{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    response = client.post(reverse("import_mapping", args=[job.pk]), data)
    assert response.status_code == 302
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("persona", ROLES)
def test_import_pages_are_for_national_admins_and_organisers(client, union, persona):
    client = signed_in(client, getattr(union.users, persona))
    for name in ("import_list", "import_new"):
        assert client.get(reverse(name)).status_code == (200 if persona in IMPORTERS else 403)


def test_upload_check_confirm_and_report(client, union, django_capture_on_commit_callbacks):
    organiser = union.users.organiser_north
    client = signed_in(client, organiser)
    job = upload_and_check(client)
    assert job.status == "checked" and (job.created_count, job.rejected_count) == (1, 1)
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "What the import would do" in page and "Import the 1 valid row" in page
    assert "There is no workplace called &#x27;Nowhere&#x27;." in page
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not Member.objects.filter(email="script@example.org").exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("import_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "done"
    member = Member.objects.get(email="script@example.org")
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "What the import did" in page and 'http-equiv="refresh"' not in page
    assert "1 of 2 rows" not in page and "2 of 2 rows imported" in page
    for url in (
        reverse("member_detail", args=[member.pk]),
        reverse("member_list"),
        reverse("import_detail", args=[job.pk]),
    ):
        html = client.get(url).content.decode()
        assert SCRIPT not in html, url

    report = client.get(reverse("import_report_csv", args=[job.pk]))
    assert report["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert lines[0] == ["Row", "Line", "Outcome", "Membership number", "Name", "Column", "Reason"]
    assert lines[2] == ["2", "3", "Rejected", "", "Bad Row", "School", "There is no workplace called 'Nowhere'."]
    assert lines[1][2] == "New member" and lines[1][4] == f"{SCRIPT} Smith"


def test_progress_page_refreshes_while_the_import_runs(client, union):
    client = signed_in(client, union.users.organiser_north)
    job = upload_and_check(client)
    ImportJob.objects.filter(pk=job.pk).update(status="running", rows_done=1)
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert '<progress id="import-progress-' in page and 'max="2" value="1"' in page
    assert "1 of 2 rows imported (50%)" in page


@pytest.mark.parametrize(
    "content, says",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This file is a PNG image, not a CSV file."),
        (b"PK\x03\x04\x00\x00", "an Excel workbook (.xlsx)"),
        (b"Name\nAnn\n\x81", "neither UTF-8 nor Windows-1252"),
    ],
)
def test_a_file_that_is_not_csv_is_refused_on_the_form(client, union, content, says):
    client = signed_in(client, union.users.organiser_north)
    response = client.post(reverse("import_new"), {"source": "List", "file": csv_file(content, "members.csv")})
    assert response.status_code == 400
    html = response.content.decode()
    assert says.replace("'", "&#x27;") in html and 'class="error-summary"' in html
    assert not ImportJob.objects.exists()


def test_a_mapping_without_a_key_column_is_refused_on_the_form(client, union):
    client = signed_in(client, union.users.organiser_north)
    client.post(reverse("import_new"), {"source": "List", "file": csv_file(FILE)})
    job = ImportJob.objects.get()
    response = client.post(reverse("import_mapping", args=[job.pk]), {"column_5": "category"})
    assert response.status_code == 400 and "Map a membership number or email column" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "uploaded" and not job.rows.exists()


def test_jobs_of_other_organisers_answer_404(client, union):
    job = upload_and_check(signed_in(client, union.users.organiser_north))
    client.force_login(union.users.organiser_bristol)
    for name in ("import_detail", "import_mapping", "import_report_csv"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert client.post(reverse("import_confirm", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == "checked"
    client.force_login(union.users.national)
    assert client.get(reverse("import_detail", args=[job.pk])).status_code == 200


# --- export ------------------------------------------------------------------------------------------------


def exported(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("persona", ROLES)
def test_export_holds_exactly_the_members_the_user_may_see_and_is_audited(client, union, persona):
    user = getattr(union.users, persona)
    client = signed_in(client, user)
    response = client.get(reverse("member_export"))
    if persona not in EXPORTERS:
        assert response.status_code == 403
        assert not AuditEntry.objects.filter(action="export").exists()
        return
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = exported(response)
    expected = visible_members_by_role(union)[persona]
    assert sorted(r["Membership number"] for r in rows) == sorted(m.membership_number for m in expected)
    entry = AuditEntry.objects.get(action="export")
    assert (entry.actor, entry.changes) == (user, {"filters": {}, "rows": len(expected)})


def test_export_keeps_the_member_list_filters(client, union):
    client = signed_in(client, union.users.organiser_north)
    page = client.get(reverse("member_list"), {"status": "active", "workplace": union.workplaces.oak.pk})
    link = f'href="/members/export.csv?status=active&amp;workplace={union.workplaces.oak.pk}"'
    assert link in page.content.decode()
    response = client.get(reverse("member_export"), {"status": "active", "workplace": union.workplaces.oak.pk})
    assert {r["Last name"] for r in exported(response)} == {"Rep", "Oakley"}
    entry = AuditEntry.objects.get(action="export")
    assert entry.changes == {"filters": {"status": "active", "workplace": str(union.workplaces.oak.pk)}, "rows": 2}
    assert entry.summary == "Exported 2 members to CSV"


def test_export_refuses_a_filter_outside_scope_and_audits_nothing(client, union):
    client = signed_in(client, union.users.organiser_bristol)
    response = client.get(reverse("member_export"), {"workplace": union.workplaces.oak.pk})
    assert response.status_code == 400 and "workplace" in response.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()


def test_export_neutralises_formula_cells(client, union):
    Member.objects.filter(pk=union.members.oak.pk).update(
        first_name='=HYPERLINK("http://evil.example")', last_name="@SUM(A1)", town="-1+2", address_line1="\tx"
    )
    client = signed_in(client, union.users.national)
    row = next(r for r in exported(client.get(reverse("member_export"))) if r["Email"] == union.members.oak.email)
    assert row["First name"] == '\'=HYPERLINK("http://evil.example")'
    assert (row["Last name"], row["Town"], row["Address line 1"]) == ("'@SUM(A1)", "'-1+2", "'\tx")
    rep = next(r for r in exported(client.get(reverse("member_export"))) if r["Last name"] == "Rep")
    assert rep["Mobile"] == "'+447911123001"  # a spreadsheet would read a leading + as a formula too


def test_an_export_can_be_imported_again_unchanged(client, union, django_capture_on_commit_callbacks):
    client = signed_in(client, union.users.national)
    text = b"".join(client.get(reverse("member_export")).streaming_content)
    before = list(Member.objects.order_by("pk").values())
    job = upload_and_check(client, text.decode(), source="Our own export")
    assert job.unchanged_count == Member.objects.count() and job.rejected_count == 0, list(job.rows.values())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import_confirm", args=[job.pk]))
    assert list(Member.objects.order_by("pk").values()) == before


def test_headings_and_file_names_with_script_are_escaped(client, union):
    client = signed_in(client, union.users.organiser_north)
    text = f"Email,{SCRIPT}\nowen@example.org,x\n"
    client.post(reverse("import_new"), {"source": SCRIPT, "file": csv_file(text, f"{SCRIPT}.csv")})
    job = ImportJob.objects.get()
    for url in (
        reverse("import_mapping", args=[job.pk]),
        reverse("import_list"),
        reverse("import_detail", args=[job.pk]),
    ):
        html = client.get(url).content.decode()
        assert SCRIPT not in html and "&lt;script&gt;" in html, url


def test_mapping_page_shows_the_first_row_to_help(client, union):
    client = signed_in(client, union.users.organiser_north)
    client.post(reverse("import_new"), {"source": "Leeds", "file": csv_file(FILE)})
    html = client.get(reverse("import_mapping", args=[ImportJob.objects.get().pk])).content.decode()
    assert "First row: Smith" in html and "First row: (blank)" in html
