"""Importing workplaces (schools and colleges) from CSV files: a council's list of schools, a trust's academies.

The same three steps, job and report as the member import (crm.services.imports), whose file reading is used
as it is: size and row limits, refusal of workbooks and other binary files, encodings, delimiters, the heading
row, remembered mappings (kept per source apart from the source's member mapping), and rows read in file order.

1. `start_import` keeps the file with a new job of kind "workplaces".
2. `check_import` checks every row exactly as the import will and writes the dry-run report; nothing else.
3. `confirm_import` queues `run_import` (the Celery task `import_workplaces`), which checks the rows again
   against the database as it is then and writes them in batches; each batch, its audit rows, its report rows
   and the job's progress are saved in one transaction, so a failure leaves whole batches only and the next
   run resumes after the last one saved.

A workplace is matched by its name within its branch (the model's own uniqueness: there is no national code
on a workplace). So a row can never move a workplace to another branch, and a row for a branch outside the
importer's patch is rejected whether or not the workplace exists. Only mapped, non-blank cells change anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm import csvfiles
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Branch, ImportJob, ImportRow, ImportSource, User, Workplace
from crm.permissions import can_import_members, can_manage_members_in
from crm.services import _audit_value
from crm.services.imports import (
    COUNTERS,
    REPORT_PROBLEMS_PER_ROW,
    Row,
    RowProblem,
    Structure,
    _batches,
    _count,
    _parse_choice,
    _reset_counts,
    check_headings,
    column_of,
    finish_import,
    keep_upload,
    match_headings,
    parse_text,
    rows_of,
)

KIND = ImportJob.Kind.WORKPLACES
# Workplaces are few (tens of thousands at most) and each gets an audit row: small batches keep a
# transaction short while the workplace pages are in use.
BATCH_SIZE = 500
# A headcount above this is a typing slip (the largest further education colleges employ a few thousand).
MAX_ELIGIBLE_STAFF = 50_000

FIELD_LABELS = {
    "name": "Workplace name",
    "branch": "Branch",
    "employer": "Employer",
    "sector": "Sector",
    "eligible_staff": "Eligible staff",
    "postcode": "Postcode",
}
ALIASES = {
    "name": ["name", "workplace", "school", "college", "establishment", "establishment name", "school name"],
    "branch": ["branch", "branch code", "district"],
    "employer": ["employer", "employer name", "trust", "local authority", "la name"],
    "sector": ["sector", "phase", "phase of education"],
    "eligible_staff": ["eligible staff", "staff", "staff count", "headcount", "staff headcount", "number of staff"],
    "postcode": ["postcode", "post code", "postal code"],
}
REQUIRED = ("name", "branch")  # the match: a name within a branch
REQUIRED_TO_CREATE = ("employer", "sector")
OUTCOME_LABELS = {
    ImportRow.Outcome.CREATED: "New workplace",
    ImportRow.Outcome.UPDATED: "Updated",
    ImportRow.Outcome.UNCHANGED: "No change",
    ImportRow.Outcome.DUPLICATE: "Repeats an earlier row",
    ImportRow.Outcome.REJECTED: "Rejected",
}
UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def guess_mapping(headers: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Heading -> workplace field: what was used for this source before, otherwise a match on common headings."""
    return match_headings(headers, remembered, FIELD_LABELS, ALIASES)


def clean_mapping(headers: list[str], mapping: dict[str, Any]) -> dict[str, str]:
    """Check a workplace mapping against the file's headings; raise ServiceError saying what is wrong with it."""
    cleaned = check_headings(headers, mapping, FIELD_LABELS, "workplace")
    missing = [FIELD_LABELS[name].lower() for name in REQUIRED if name not in cleaned.values()]
    if missing:
        raise ServiceError(
            f"Map a column to {' and '.join(missing)}: workplaces are matched by their name within a branch.",
            field="mapping",
        )
    return cleaned


# --- Step 1: the file ------------------------------------------------------------------------------------


@transaction.atomic
def start_import(*, actor: User, source_name: str, filename: str, upload: Any) -> ImportJob:
    """Keep an uploaded file as a new workplace import job, once it reads as a CSV with headings and rows.

    Raises NotPermitted for users who may not import, csvfiles.FileRefused for a file that cannot be read.
    """
    return keep_upload(
        actor=actor,
        source_name=source_name,
        filename=filename,
        upload=upload,
        kind=KIND,
        example_source="Leeds City Council list of schools",
        guess=lambda headers, source: guess_mapping(headers, source.workplace_mapping),
    )


# --- Reading and deciding rows ---------------------------------------------------------------------------


def _parse_postcode(raw: str) -> str:
    text = " ".join(parse_text(Workplace, "postcode", raw).upper().split())
    match = UK_POSTCODE.match(text)
    if match is None:
        raise RowProblem("postcode", f"'{raw}' is not a UK postcode (like LS1 1UR).")
    return f"{match[1]} {match[2]}"


def _parse_staff(raw: str) -> int:
    text = raw.replace(",", "").replace(" ", "")
    if not text.isdigit():
        raise RowProblem("eligible_staff", f"'{raw}' is not a whole number of staff.")
    value = int(text)
    if value > MAX_ELIGIBLE_STAFF:
        raise RowProblem("eligible_staff", f"{value:,} staff is more than any workplace has: check the number.")
    return value


def parse_values(raw: dict[str, str], structure: Structure) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Turn a row's non-blank cells into workplace values; returns (values, [(field, reason)])."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, text in raw.items():
        if not text:
            continue
        try:
            if name == "name":
                values[name] = " ".join(parse_text(Workplace, name, text).split())
            elif name == "branch":
                if text.lower() not in structure.branches_by_key:
                    raise RowProblem(name, f"There is no branch called '{text}'.")
                values[name] = structure.branches_by_key[text.lower()]
            elif name == "employer":
                # Employers are not added from a file: a misspelt one would become a second employer.
                if text.lower() not in structure.employers_by_name:
                    reason = f"There is no employer called '{text}': add it first, or check the spelling."
                    raise RowProblem(name, reason)
                values[name] = structure.employers_by_name[text.lower()]
            elif name == "sector":
                values[name] = _parse_choice("sector", text)
            elif name == "eligible_staff":
                values[name] = _parse_staff(text)
            elif name == "postcode":
                values[name] = _parse_postcode(text)
        except RowProblem as problem:
            problems.append((problem.field_name, problem.reason))
    for name in REQUIRED:
        if not raw.get(name):
            problems.append((name, f"Every row needs a {FIELD_LABELS[name].lower()}."))
    return values, problems


@dataclass
class Duplicates:
    """Rows for the same workplace (name within branch): an identical repeat is imported once; rows for the same
    workplace with different details are all rejected, since the file does not say which is right."""

    structure: Structure
    first: dict[Any, tuple[int, int, int]] = field(default_factory=dict)  # key -> (row number, line, content hash)
    conflicting: dict[Any, list[int]] = field(default_factory=dict)  # key -> lines

    def key(self, row: Row) -> tuple[Any, str]:
        branch_text = row.raw.get("branch", "").lower()
        branch = self.structure.branches_by_key.get(branch_text)
        return (branch.pk if branch else branch_text, " ".join(row.raw.get("name", "").lower().split()))

    @classmethod
    def find(cls, rows: Iterator[Row], structure: Structure) -> Duplicates:
        found = cls(structure)
        for row in rows:
            key = found.key(row)
            # Compared without case or spacing: "Leeds" and "leeds" (the branch's code) say the same thing.
            content = hash(tuple(sorted((name, " ".join(text.lower().split())) for name, text in row.raw.items())))
            if key not in found.first:
                found.first[key] = (row.number, row.line, content)
            elif found.first[key][2] != content:
                found.conflicting.setdefault(key, [found.first[key][1]]).append(row.line)
        return found

    def problem(self, row: Row) -> tuple[str, str, int | None] | None:
        """(field, reason, line repeated) for a row that must not be imported as it stands, else None."""
        key = self.key(row)
        if key in self.conflicting:
            lines = self.conflicting[key]
            shown = ", ".join(str(line) for line in lines[:5]) + (" …" if len(lines) > 5 else "")
            reason = f"This workplace is on several lines with different details (lines {shown}): fix the file."
            return "name", reason, None
        first_number, first_line, _content = self.first[key]
        if first_number != row.number:
            return "", f"Same as line {first_line}; imported once.", first_line
        return None


@dataclass
class Decision:
    row: Row
    outcome: str
    workplace: Workplace | None = None
    changes: dict[str, list] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.workplace.name if self.workplace is not None else self.row.raw.get("name", "")


class Planner:
    """Decides what the import does with each row; the same code for the dry run and the run."""

    def __init__(self, *, actor: User, structure: Structure, duplicates: Duplicates):
        self.actor = actor
        self.structure = structure
        self.duplicates = duplicates
        self._may_manage: dict[int, bool] = {}
        self.by_key: dict[tuple[int, str], list[Workplace]] = {}
        for workplace in structure.workplaces_by_id.values():
            self.by_key.setdefault((workplace.branch_id, workplace.name.lower()), []).append(workplace)

    def may_manage(self, branch: Branch) -> bool:
        # The member import's scope predicate: national admins anywhere, organisers in their own branches.
        if branch.pk not in self._may_manage:
            self._may_manage[branch.pk] = can_manage_members_in(self.actor, branch)
        return self._may_manage[branch.pk]

    def plan(self, rows: list[Row]) -> list[Decision]:
        decisions = []
        for row in rows:
            values, problems = parse_values(row.raw, self.structure)
            branch = values.get("branch")
            if branch is not None and not self.may_manage(branch):
                # Before anything else about the row: whether the workplace exists there is not the importer's business.
                outside = [("branch", f"{branch} branch is outside your branches: not changed.")]
                decisions.append(Decision(row, ImportRow.Outcome.REJECTED, problems=outside))
                continue
            duplicate = self.duplicates.problem(row)
            if duplicate and duplicate[2] is not None:
                decisions.append(Decision(row, ImportRow.Outcome.DUPLICATE, problems=[(duplicate[0], duplicate[1])]))
                continue
            if duplicate:
                problems = [(duplicate[0], duplicate[1]), *problems]
            if problems:
                decisions.append(Decision(row, ImportRow.Outcome.REJECTED, problems=problems))
                continue
            try:
                decisions.append(self._decide(row, values))
            except RowProblem as problem:
                decisions.append(
                    Decision(row, ImportRow.Outcome.REJECTED, problems=[(problem.field_name, problem.reason)])
                )
        return decisions

    def _decide(self, row: Row, values: dict[str, Any]) -> Decision:
        branch = values["branch"]
        found = self.by_key.get((branch.pk, values["name"].lower()), [])
        if len(found) > 1:
            raise RowProblem("name", f"{branch} branch has several workplaces with this name in different cases.")
        details = {name: value for name, value in values.items() if name not in ("branch", "name")}
        if found:
            workplace = found[0]
            changes = {}
            for name, value in details.items():
                old = getattr(workplace, name)
                if old != value:
                    changes[name] = [_audit_value(old), _audit_value(value)]
            if not changes:
                return Decision(row, ImportRow.Outcome.UNCHANGED, workplace=workplace)
            # A copy: the run applies the changes when it saves, the dry run leaves the loaded workplace as it is.
            changed = Workplace(**{f.attname: getattr(workplace, f.attname) for f in Workplace._meta.concrete_fields})
            changed._state.adding = False
            for name in changes:
                setattr(changed, name, details[name])
            return Decision(row, ImportRow.Outcome.UPDATED, workplace=changed, changes=changes)
        missing = [name for name in REQUIRED_TO_CREATE if name not in details]
        if missing:
            return Decision(
                row,
                ImportRow.Outcome.REJECTED,
                problems=[(name, f"A new workplace needs {FIELD_LABELS[name].lower()}.") for name in missing],
            )
        workplace = Workplace(name=values["name"], branch=branch, **details)
        changes = {name: [None, _audit_value(value)] for name, value in values.items()}
        return Decision(row, ImportRow.Outcome.CREATED, workplace=workplace, changes=changes)


def _report_row(job: ImportJob, decision: Decision) -> ImportRow:
    workplace = decision.workplace
    return ImportRow(
        job=job,
        number=decision.row.number,
        line=decision.row.line,
        outcome=decision.outcome,
        name=decision.name[:201],
        workplace=workplace if workplace is not None and workplace.pk else None,
        changed=sorted(decision.changes) if decision.outcome == ImportRow.Outcome.UPDATED else [],
        problems=[
            [column_of(job, name, FIELD_LABELS) if name else "", reason]
            for name, reason in decision.problems[:REPORT_PROBLEMS_PER_ROW]
        ],
    )


def _planner(actor: User, job: ImportJob, text: str) -> Planner:
    structure = Structure.load()
    return Planner(actor=actor, structure=structure, duplicates=Duplicates.find(rows_of(job, text), structure))


def _only_workplaces(job: ImportJob) -> None:
    if job.kind != KIND:
        raise ServiceError("This is not a workplace import.")


# --- Step 2: the dry run ---------------------------------------------------------------------------------


@transaction.atomic
def check_import(*, actor: User, job: ImportJob, mapping: dict[str, Any] | None = None) -> ImportJob:
    """Check every row with the mapping (the job's own if none is given) and write the dry-run report.

    The mapping is remembered for the job's source. Raises NotPermitted for anyone but the job's uploader,
    ServiceError for a bad mapping, a job already confirmed, or a job that is not a workplace import.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _only_workplaces(job)
    if job.created_by_id != actor.pk or not can_import_members(actor):
        raise NotPermitted("Only the person who uploaded this file can check it.")
    if job.is_committed:
        raise ServiceError("This import has already been confirmed.")
    job.mapping = clean_mapping(job.headers, job.mapping if mapping is None else mapping)
    ImportSource.objects.filter(pk=job.source_id).update(
        workplace_mapping=job.mapping, updated_by=actor, updated_at=timezone.now()
    )
    text = csvfiles.decode(bytes(job.content))[0]
    planner = _planner(actor, job, text)
    job.rows.all().delete()
    _reset_counts(job)
    for batch in _batches(rows_of(job, text), BATCH_SIZE):
        decisions = planner.plan(batch)
        ImportRow.objects.bulk_create([_report_row(job, d) for d in decisions])
        _count(job, (d.outcome for d in decisions))
    job.status = ImportJob.Status.CHECKED
    job.checked_at = timezone.now()
    job.rows_done = 0
    job.save(update_fields=["mapping", "status", "checked_at", "rows_done", *COUNTERS.values()])
    return job


# --- Step 3: confirm and run -----------------------------------------------------------------------------


@transaction.atomic
def confirm_import(*, actor: User, job: ImportJob, in_background: bool = True) -> ImportJob:
    """Mark a checked workplace import to run and queue its task (unless the caller runs it). Confirming twice
    queues it once."""
    job = ImportJob.objects.select_for_update().defer("content").get(pk=job.pk)
    _only_workplaces(job)
    if job.created_by_id != actor.pk or not can_import_members(actor):
        raise NotPermitted("Only the person who uploaded this file can confirm it.")
    if job.is_committed:
        return job
    if job.status != ImportJob.Status.CHECKED:
        raise ServiceError("Check the file (the dry run) before confirming the import.")
    job.status = ImportJob.Status.QUEUED
    job.confirmed_at = timezone.now()
    job.save(update_fields=["status", "confirmed_at"])
    if in_background:
        from crm.tasks import import_workplaces  # the task module imports services: import it when needed

        transaction.on_commit(lambda: import_workplaces.delay(job.pk))
    return job


def run_import(*, job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Import a confirmed workplace job's rows in batches, resuming after the last batch saved. Safe to run twice.

    Each batch is one transaction (workplaces, their audit rows, the report rows and the job's progress); after
    a failure the job is marked failed with the error, and running it again carries on where it stopped.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.kind != KIND or job.status == ImportJob.Status.DONE or not job.is_committed:
            return job
        if job.created_by is None:
            job.status = ImportJob.Status.FAILED
            job.error = "The person who uploaded this file no longer has an account; upload it again."
            job.save(update_fields=["status", "error"])
            return job
        if job.rows_done == 0:
            _reset_counts(job)
        job.status = ImportJob.Status.RUNNING
        job.error = ""
        job.save(update_fields=["status", "error", *COUNTERS.values()])
    actor = job.created_by
    text = csvfiles.decode(bytes(job.content))[0]
    planner = _planner(actor, job, text)
    try:
        for batch in _batches(rows_of(job, text), BATCH_SIZE):
            if batch[-1].number <= job.rows_done:
                continue  # saved by an earlier run
            rows = [row for row in batch if row.number > job.rows_done]
            try:
                with transaction.atomic():
                    job = _write_batch(planner, job, rows)
            except IntegrityError:
                # Someone added a workplace of the same name meanwhile: plan the batch again against the database.
                planner = _planner(actor, job, text)
                with transaction.atomic():
                    job = _write_batch(planner, job, rows)
            if progress:
                progress(job)
    except Exception as error:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, error=str(error)[:2000])
        raise
    return finish_import(job, actor, what="workplaces from ")


def _write_batch(planner: Planner, job: ImportJob, rows: list[Row]) -> ImportJob:
    locked = ImportJob.objects.select_for_update().defer("content").get(pk=job.pk)
    if locked.rows_done >= rows[-1].number:
        return locked  # another run saved this batch first
    decisions = planner.plan(rows)
    summary_tail = f" (import from {job.source})"
    audit = []
    for decision in decisions:
        workplace = decision.workplace
        if decision.outcome == ImportRow.Outcome.CREATED:
            workplace.save(force_insert=True)
            summary = f"Added workplace {workplace.name}"
        elif decision.outcome == ImportRow.Outcome.UPDATED:
            workplace.save(update_fields=sorted(decision.changes))
            summary = f"Changed {', '.join(sorted(decision.changes))} of {workplace.name}"
        else:
            continue
        # The planner's own index follows, so a later batch of this run sees the workplace as it now is.
        key = (workplace.branch_id, workplace.name.lower())
        planner.by_key[key] = [w for w in planner.by_key.get(key, []) if w.pk != workplace.pk] + [workplace]
        audit.append(
            AuditEntry(
                actor=planner.actor,
                actor_name=planner.actor.get_username(),
                action=AuditEntry.Action.CREATE
                if decision.outcome == ImportRow.Outcome.CREATED
                else AuditEntry.Action.UPDATE,
                target_type=Workplace._meta.label_lower,
                target_id=workplace.pk,
                summary=(summary + summary_tail)[:255],
                changes=decision.changes,
            )
        )
    AuditEntry.objects.bulk_create(audit)
    job.rows.filter(number__gte=rows[0].number, number__lte=rows[-1].number).delete()
    ImportRow.objects.bulk_create([_report_row(job, d) for d in decisions])
    _count(locked, (d.outcome for d in decisions))
    locked.rows_done = rows[-1].number
    locked.save(update_fields=["rows_done", *COUNTERS.values()])
    return locked
