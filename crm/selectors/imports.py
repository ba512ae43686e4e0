"""Reads for imports (jobs and their reports) and for member exports."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from crm import csvfiles
from crm.models import ImportJob, ImportRow, Member, Sector, User
from crm.permissions import can_import_members

# What an export holds, as (heading, value path). Headings are those the importer recognises, so an export can
# be corrected in a spreadsheet and imported again. Deliberately a fixed list: nothing special-category
# (equalities answers live elsewhere and are never exported here), no free-text notes.
EXPORT_COLUMNS = (
    ("Membership number", "membership_number"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Email", "email"),
    ("Mobile", "mobile"),
    ("Address line 1", "address_line1"),
    ("Address line 2", "address_line2"),
    ("Town", "town"),
    ("Postcode", "postcode"),
    ("Workplace", "workplace__name"),
    ("Branch", "branch__name"),
    ("Region", "branch__region__name"),
    ("Employer", "employer__name"),
    ("Sector", "sector"),
    ("Category", "category"),
    ("Status", "status"),
    ("Joined on", "joined_on"),
    ("In arrears", "has_arrears"),
    ("Email consent", "email_consent"),
    ("SMS consent", "sms_consent"),
)
EXPORT_CHUNK = 2000
REPORT_HEADINGS = ("Row", "Line", "Outcome", "Membership number", "Name", "Column", "Reason")


def import_jobs_for(user: User) -> QuerySet[ImportJob]:
    """Import jobs a user may see: their own; every job for national admins. The file itself is not loaded."""
    if not can_import_members(user):
        return ImportJob.objects.none()
    jobs = ImportJob.objects.defer("content", "checked_rows").select_related("source", "created_by")
    return jobs if user.is_national else jobs.filter(created_by=user)


def import_report(job: ImportJob, outcome: str | None = None) -> QuerySet[ImportRow]:
    rows = job.rows.select_related("member").order_by("number")
    return rows.filter(outcome=outcome) if outcome else rows


def import_report_lines(job: ImportJob) -> Iterator[str]:
    """The job's report as CSV lines: one line per problem, or one per row without problems."""
    writer = csv.writer(csvfiles.Echo())
    yield writer.writerow(REPORT_HEADINGS)
    labels = dict(ImportRow.Outcome.choices)
    for row in job.rows.order_by("number").iterator(chunk_size=EXPORT_CHUNK):
        head = [row.number, row.line, labels.get(row.outcome, row.outcome), row.membership_number, row.name]
        if row.problems:
            for column, reason in row.problems:
                yield writer.writerow([csvfiles.neutralise(v) for v in (*head, column, reason)])
        else:
            reason = ("Changed " + ", ".join(row.changed)) if row.changed else ""
            yield writer.writerow([csvfiles.neutralise(v) for v in (*head, "", reason)])


def member_export_lines(members: QuerySet[Member]) -> Iterator[str]:
    """A member queryset (already scoped and filtered) as CSV lines, read in chunks so any size streams."""
    writer = csv.writer(csvfiles.Echo())
    yield writer.writerow([heading for heading, _path in EXPORT_COLUMNS])
    labels = {
        "sector": dict(Sector.choices),
        "category": dict(Member.Category.choices),
        "status": dict(Member.Status.choices),
    }
    paths = [path for _heading, path in EXPORT_COLUMNS]
    choice_at = {i: labels[path] for i, path in enumerate(paths) if path in labels}
    for values in members.values_list(*paths).iterator(chunk_size=EXPORT_CHUNK):
        cells = []
        for i, value in enumerate(values):
            if i in choice_at:
                value = choice_at[i].get(value, value)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            elif value is None:
                value = ""
            elif not isinstance(value, str):
                value = value.isoformat()
            cells.append(csvfiles.neutralise(value))
        yield writer.writerow(cells)
