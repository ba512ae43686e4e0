"""Importing members from CSV: reading real-world files, the dry run, matching, scope, duplicates, the run."""

from __future__ import annotations

import pytest

from crm import csvfiles
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, ImportJob, ImportRow, Member
from crm.services import imports
from crm.tasks import import_members

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
def run(django_capture_on_commit_callbacks):
    """Confirm a checked job; the task is queued on commit, and Celery runs eagerly in tests."""

    def confirm_and_run(user, job):
        with django_capture_on_commit_callbacks(execute=True):
            imports.confirm_import(actor=user, job=job)
        job.refresh_from_db()
        return job

    return confirm_and_run


def csv_of(*lines: str) -> str:
    return "\n".join([HEADINGS, *lines]) + "\n"


@pytest.fixture
def organiser(union):
    return union.users.organiser_north


# --- reading files ------------------------------------------------------------------------------------


def test_dry_run_reports_creates_updates_and_rejections_row_by_row_and_changes_nothing(union, organiser):
    before = snapshot()
    text = csv_of(
        f"{union.members.oak.membership_number},Owen,Oakley,owen.new@example.org,07911 123456,Oak Primary,teacher,active,01/09/2020",
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
    text = csv_of(
        f"{union.members.oak.membership_number},Owen,Oakley,owen.new@example.org,07911 123456,Oak Primary,teacher,active,01/09/2020",
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
