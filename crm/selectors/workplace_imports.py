"""Reads for workplace imports: their report, with workplaces' headings rather than members'."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from crm import csvfiles
from crm.models import ImportJob
from crm.selectors.imports import EXPORT_CHUNK, import_report_lines
from crm.services.workplace_imports import OUTCOME_LABELS

REPORT_HEADINGS = ("Row", "Line", "Outcome", "Workplace", "Column", "Reason")


def workplace_import_report_lines(job: ImportJob) -> Iterator[str]:
    """A workplace import's report as CSV lines: one line per problem, or one per row without problems."""
    writer = csv.writer(csvfiles.Echo())
    yield writer.writerow(REPORT_HEADINGS)
    for row in job.rows.order_by("number").iterator(chunk_size=EXPORT_CHUNK):
        head = [row.number, row.line, OUTCOME_LABELS.get(row.outcome, row.outcome), row.name]
        if row.problems:
            for column, reason in row.problems:
                yield writer.writerow([csvfiles.neutralise(v) for v in (*head, column, reason)])
        else:
            reason = ("Changed " + ", ".join(row.changed)) if row.changed else ""
            yield writer.writerow([csvfiles.neutralise(v) for v in (*head, "", reason)])


def report_lines_for(job: ImportJob) -> Iterator[str]:
    """Any import's report as CSV lines, in the headings of its kind."""
    if job.kind == ImportJob.Kind.WORKPLACES:
        return workplace_import_report_lines(job)
    return import_report_lines(job)
