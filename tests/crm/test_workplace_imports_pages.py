"""Workplace imports on the pages (the kind chosen on the upload page) and on the command line."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm.models import AuditEntry, ImportJob, Workplace

SCRIPT = "<script>alert(1)</script>"
FILE = (
    "School,Branch,Employer,Sector,Eligible staff\n"
    f"{SCRIPT},Leeds,Leeds City Council,primary,12\n"
    "Far Away School,Bristol,Ash College Corporation,primary,9\n"
)


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Confirming queues the import task on commit; here it runs in this process even where a broker is set."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def upload(client, text=FILE, kind="workplaces"):
    return client.post(
        reverse("import_new"),
        {"kind": kind, "source": "Leeds list of schools", "file": SimpleUploadedFile("schools.csv", text.encode())},
    )


def test_upload_page_offers_the_kind_as_a_labelled_group(client, union):
    client.force_login(union.users.organiser_north)
    page = client.get(reverse("import_new")).content.decode()
    assert "<legend>What the file lists</legend>" in page
    assert 'value="workplaces"' in page and 'value="members"' in page


def test_workplaces_through_the_pages_upload_columns_dry_run_confirm_and_report(
    client, union, django_capture_on_commit_callbacks
):
    client.force_login(union.users.organiser_north)
    response = upload(client)
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.kind == ImportJob.Kind.WORKPLACES
    mapping_page = client.get(response["Location"]).content.decode()
    assert "matched by their name within their branch" in mapping_page
    assert "Workplace name" in mapping_page and "Membership number" not in mapping_page
    data = {f"column_{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    assert client.post(reverse("import_mapping", args=[job.pk]), data).status_code == 302

    detail = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "New workplace" in detail and "Bristol branch is outside your branches" in detail
    assert SCRIPT not in detail and "&lt;script&gt;" in detail  # shown as text, never run
    assert not Workplace.objects.filter(name=SCRIPT).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("import_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count, job.rejected_count) == ("done", 1, 1)
    assert Workplace.objects.filter(name=SCRIPT, branch=union.branches.leeds).exists()
    assert not Workplace.objects.filter(name="Far Away School").exists()
    assert AuditEntry.objects.filter(target_type="crm.workplace", action="create").count() == 1

    response = client.get(reverse("import_report_csv", args=[job.pk]))
    report = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert report[0] == ["Row", "Line", "Outcome", "Workplace", "Column", "Reason"]
    assert [line[2] for line in report[1:]] == ["New workplace", "Rejected"]
    assert report[2][4:] == ["Branch", "Bristol branch is outside your branches: not changed."]
    listing = client.get(reverse("import_list")).content.decode()
    assert "Workplaces" in listing


def test_a_binary_file_is_refused_on_the_page_with_a_reason_and_no_job(client, union):
    client.force_login(union.users.organiser_north)
    response = client.post(
        reverse("import_new"),
        {"kind": "workplaces", "source": "x", "file": SimpleUploadedFile("schools.xlsx", b"PK\x03\x04...")},
    )
    assert response.status_code == 400
    assert "Excel workbook" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_unknown_kind_is_a_form_error(client, union):
    client.force_login(union.users.organiser_north)
    response = upload(client, kind="branches")
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_rep_cannot_reach_the_upload_page(client, union):
    client.force_login(union.users.rep_oak)
    assert upload(client).status_code == 403
    assert not ImportJob.objects.exists()


# --- the command line ---------------------------------------------------------------------------------------


def command(*args) -> str:
    out = io.StringIO()
    call_command("import_members", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_with_kind_workplaces_dry_run_then_commit(union, tmp_path):
    path = tmp_path / "schools.csv"
    path.write_text(FILE.replace(SCRIPT, "Birch Primary"), encoding="utf-8")
    base = [str(path), "--kind", "workplaces", "--source", "Leeds list of schools", "--user", "organiser_north"]
    out = command(*base)
    assert "Checked: 1 created, 0 updated, 0 unchanged, 0 duplicate, 1 rejected" in out
    assert "line 3, Branch: Bristol branch is outside your branches" in out
    assert not Workplace.objects.filter(name="Birch Primary").exists()
    out = command(*base, "--commit")
    assert "Imported: 1 created" in out
    assert Workplace.objects.filter(name="Birch Primary").count() == 1


def test_command_refuses_a_bad_workplace_mapping_and_leaves_no_job(union, tmp_path):
    path = tmp_path / "schools.csv"
    path.write_text(FILE, encoding="utf-8")
    with pytest.raises(CommandError, match="not a workplace field"):
        command(
            str(path),
            "--kind",
            "workplaces",
            "--source",
            "s",
            "--user",
            "national",
            "--mapping",
            "School=name,Branch=branch,Sector=first_name",
        )
    assert not ImportJob.objects.exists()


def test_command_refuses_an_unknown_kind(union, tmp_path):
    path = tmp_path / "schools.csv"
    path.write_text(FILE, encoding="utf-8")
    with pytest.raises(CommandError, match="invalid choice"):
        command(str(path), "--kind", "regions", "--source", "s", "--user", "national")
