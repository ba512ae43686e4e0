"""Importing members from CSV files, and recording exports of member lists.

An import has three steps, each a service here:

1. `start_import`: the file is read (size, type, encoding, delimiter, heading row, row count) and kept with
   a new job. A file that cannot be read is refused whole, before any row is looked at.
2. `check_import`: with a column mapping (remembered for the file's source), every row is checked exactly
   as the import will treat it, and the report says row by row what would be created, updated or rejected
   and why. Nothing is written but the report and what it read from each row (`checked_rows`).
3. `confirm_import` queues `run_import` (a Celery task): starting from what the dry run read, not the file,
   the rows are checked again against the database as it is then, and written in batches. Each batch, its
   audit rows, its report rows and the job's count of rows done are saved in one transaction, so a failure
   leaves no half-written member and the next run resumes after the last batch saved; running it again once
   finished does nothing.

Rows are checked with crm.services' own member rules (`_clean_details`, `_stamp_consent`, the scope
predicate `can_manage_members_in`), so an import can do nothing a person could not do on the member form.
"""

from __future__ import annotations

import datetime
import gc
import io
import json
import operator
import re
import string
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Field, Model
from django.db.models.functions import Upper
from django.db.models.lookups import In
from django.utils import timezone

from crm import csvfiles
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Branch, Employer, ImportJob, ImportRow, ImportSource, Member, Sector, User, Workplace
from crm.permissions import can_export_members, can_import_members, can_manage_members_in
from crm.phones import normalise_mobile
from crm.services import (
    MEMBER_FIELDS,
    _audit_value,
    _clean_details,
    _stamp_consent,
    next_membership_number,
    record_audit,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 250_000
BATCH_SIZE = 5000
REPORT_PROBLEMS_PER_ROW = 10

# The member fields a file can carry, in the order the mapping page lists them. Notes and tags are left out:
# free text from another system does not belong in a member's notes without someone reading it.
FIELD_LABELS = {
    "membership_number": "Membership number",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "mobile": "Mobile",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "town": "Town",
    "postcode": "Postcode",
    "workplace": "Workplace",
    "branch": "Branch",
    "employer": "Employer",
    "sector": "Sector",
    "category": "Category",
    "status": "Status",
    "joined_on": "Joined on",
    "has_arrears": "In arrears",
    "email_consent": "Email consent",
    "sms_consent": "SMS consent",
}
assert set(FIELD_LABELS) - {"membership_number"} <= set(MEMBER_FIELDS)
# Headings seen in staff lists and old membership systems' exports (compared lower-case, letters and digits).
ALIASES = {
    "membership_number": ["membership number", "member number", "membership no", "member no", "membership id"],
    "first_name": ["first name", "forename", "forenames", "given name", "firstname"],
    "last_name": ["last name", "surname", "family name", "lastname"],
    "email": ["email", "email address", "e mail", "e mail address", "work email"],
    "mobile": ["mobile", "mobile number", "mobile phone", "mobile no", "phone", "telephone", "phone number"],
    "address_line1": ["address line 1", "address 1", "address1", "address"],
    "address_line2": ["address line 2", "address 2", "address2"],
    "town": ["town", "city", "town city"],
    "postcode": ["postcode", "post code", "postal code"],
    "workplace": ["workplace", "school", "college", "establishment", "workplace name", "school name"],
    "branch": ["branch", "branch code", "district"],
    "employer": ["employer", "employer name"],
    "sector": ["sector"],
    "category": ["category", "membership category", "member category"],
    "status": ["status", "membership status"],
    "joined_on": ["joined on", "joined", "date joined", "join date"],
    "has_arrears": ["in arrears", "arrears", "has arrears"],
    "email_consent": ["email consent", "consents to email"],
    "sms_consent": ["sms consent", "consents to sms", "text consent"],
}
REQUIRED_TO_CREATE = ("first_name", "last_name", "category")
TEXT_FIELDS = ("first_name", "last_name", "address_line1", "address_line2", "town", "postcode")
BOOLEAN_FIELDS = ("has_arrears", "email_consent", "sms_consent")
CHOICE_FIELDS = {"sector": Sector.choices, "category": Member.Category.choices, "status": Member.Status.choices}
UK_DATE = re.compile(r"^(?P<day>\d{1,2})([/.-])(?P<month>\d{1,2})\2(?P<year>\d{4})$")
ISO_DATE = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")
TRUE_WORDS = {"yes", "y", "true", "t", "1"}
FALSE_WORDS = {"no", "n", "false", "f", "0"}
ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
MEMBERSHIP_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9/-]{0,19}$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _EmailValidator(EmailValidator):
    """Django's email check (validate_email), its answer for each domain kept: a staff list has a handful of
    domains and the domain's check was most of an address's. The patterns are Django's own, compiled now rather
    than looked up through a lazy object each time."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    domains: dict[str, bool] = {}

    def validate_domain_part(self, domain_part: str) -> bool:
        if domain_part not in self.domains:
            if len(self.domains) > 10_000:
                self.domains.clear()
            self.domains[domain_part] = super().validate_domain_part(domain_part)
        return self.domains[domain_part]


validate_email = _EmailValidator()


def _heading_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _choice_key(text: str) -> str:
    return "_".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# A choice by its code or its label, in any case: "support staff", "Support Staff", "support_staff".
CHOICE_KEYS = {
    name: {key: value for value, label in choices for key in (value, _choice_key(label))}
    for name, choices in CHOICE_FIELDS.items()
}


def match_headings(
    headers: list[str], remembered: dict[str, str] | None, labels: dict[str, str], aliases: dict[str, list[str]]
) -> dict[str, str]:
    """Heading -> field for any kind of import: what was used for this source before, otherwise the field's
    label, its name or one of its common headings (`labels`: field -> label; `aliases`: field -> headings)."""
    remembered = remembered or {}
    by_alias = {_heading_key(alias): name for name, names in aliases.items() for alias in names}
    by_alias.update({_heading_key(label): name for name, label in labels.items()})
    by_alias.update({_heading_key(name): name for name in labels})
    mapping: dict[str, str] = {}
    for heading in headers:
        name = remembered.get(heading, by_alias.get(_heading_key(heading), ""))
        if name in labels and name not in mapping.values():
            mapping[heading] = name
    return mapping


def check_headings(headers: list[str], mapping: Any, labels: dict[str, str], what: str) -> dict[str, str]:
    """A mapping checked against the file's headings and the `what` fields in `labels`, blanks dropped; raises
    ServiceError saying what is wrong. Each kind of import then asks for the columns it cannot do without."""
    if not isinstance(mapping, dict):
        raise ServiceError(f"The mapping must pair column headings with {what} fields.", field="mapping")
    cleaned: dict[str, str] = {}
    for heading, name in mapping.items():
        if not name:
            continue
        if heading not in headers:
            raise ServiceError(f"The file has no column called '{heading}'.", field="mapping")
        if name not in labels:
            raise ServiceError(f"'{name}' is not a {what} field an import can set.", field="mapping")
        if name in cleaned.values():
            raise ServiceError(f"Two columns are mapped to {labels[name].lower()}.", field="mapping")
        cleaned[str(heading)] = str(name)
    return cleaned


def guess_mapping(headers: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Heading -> member field: what was used for this source before, otherwise a match on common headings."""
    return match_headings(headers, remembered, FIELD_LABELS, ALIASES)


def clean_mapping(headers: list[str], mapping: dict[str, Any]) -> dict[str, str]:
    """Check a member mapping against the file's headings; raise ServiceError saying what is wrong with it."""
    cleaned = check_headings(headers, mapping, FIELD_LABELS, "member")
    fields = set(cleaned.values())
    if not fields & {"membership_number", "email"} and not {"first_name", "last_name"} <= fields:
        raise ServiceError(
            "Map a membership number or email column (to match members), or first and last names (to add them).",
            field="mapping",
        )
    return cleaned


# --- Step 1: the file ------------------------------------------------------------------------------------


@dataclass
class ReadFile:
    text: str
    encoding: str
    delimiter: str
    headers: list[str]
    total_rows: int


def read_file(content: bytes) -> ReadFile:
    """Everything about the file that does not depend on the mapping. Raises csvfiles.FileRefused."""
    if len(content) > MAX_FILE_BYTES:
        raise csvfiles.FileRefused(
            f"This file is {len(content) / 1024 / 1024:.1f} MB; the limit is {MAX_FILE_BYTES // 1024 // 1024} MB. "
            "Split it into smaller files.",
            field="file",
        )
    text, encoding = csvfiles.decode(content)
    delimiter = csvfiles.sniff_delimiter(text)
    headers = csvfiles.read_headers(text, delimiter)
    total = -1  # the heading row is not a member
    for total, (_line, _cells) in enumerate(csvfiles.records(text, delimiter)):
        if total > MAX_ROWS:
            raise csvfiles.FileRefused(
                f"This file has more than {MAX_ROWS:,} rows; split it into smaller files.", field="file"
            )
    if total < 1:
        raise csvfiles.FileRefused("This file has a heading row but no data rows.", field="file")
    return ReadFile(text, encoding, delimiter, headers, total)


def _read_upload(upload: Any) -> bytes:
    """The bytes of an uploaded file (or bytes as given), refusing an oversized one before reading it all."""
    if isinstance(upload, bytes):
        return upload
    if getattr(upload, "size", 0) and upload.size > MAX_FILE_BYTES:
        raise csvfiles.FileRefused(
            f"This file is {upload.size / 1024 / 1024:.1f} MB; the limit is {MAX_FILE_BYTES // 1024 // 1024} MB. "
            "Split it into smaller files.",
            field="file",
        )
    return upload.read(MAX_FILE_BYTES + 1)


@transaction.atomic
def start_import(*, actor: User, source_name: str, filename: str, upload: Any) -> ImportJob:
    """Keep an uploaded file as a new import job, once it reads as a CSV with headings and rows.

    Raises NotPermitted for users who may not import, csvfiles.FileRefused for a file that cannot be read.
    """
    return keep_upload(
        actor=actor,
        source_name=source_name,
        filename=filename,
        upload=upload,
        kind=ImportJob.Kind.MEMBERS,
        example_source="Leeds City Council staff list",
        guess=lambda headers, source: guess_mapping(headers, source.mapping),
    )


def keep_upload(
    *,
    actor: User,
    source_name: str,
    filename: str,
    upload: Any,
    kind: str,
    example_source: str,
    guess: Callable[[list[str], ImportSource], dict[str, str]],
) -> ImportJob:
    """The first step of every kind of import: the file kept with a new job, its source named and remembered,
    and a first guess at the mapping from that source's last one (`guess`)."""
    if not can_import_members(actor):
        raise NotPermitted(f"Only national admins and organisers import {ImportJob.Kind(kind).label.lower()}.")
    source_name = " ".join((source_name or "").split())
    if not source_name:
        raise ServiceError(f"Say where the file comes from, e.g. '{example_source}'.", field="source")
    if len(source_name) > ImportSource._meta.get_field("name").max_length:
        raise ServiceError("That source name is too long.", field="source")
    content = _read_upload(upload)
    read = read_file(content)
    source, _created = ImportSource.objects.get_or_create(name=source_name, defaults={"updated_by": actor})
    return ImportJob.objects.create(
        kind=kind,
        source=source,
        created_by=actor,
        filename=(filename or "upload.csv")[:255],
        content=content,
        size_bytes=len(content),
        encoding=read.encoding,
        delimiter=read.delimiter,
        headers=read.headers,
        mapping=guess(read.headers, source),
        total_rows=read.total_rows,
    )


# --- Reading rows ----------------------------------------------------------------------------------------


class RowProblem(Exception):
    def __init__(self, field_name: str, reason: str):
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason


@dataclass
class Structure:
    """The union's structure, read once per import, so rows refer to workplaces by name without a query each."""

    workplaces_by_name: dict[str, list[Workplace]]
    workplaces_by_id: dict[int, Workplace]
    branches_by_key: dict[str, Branch]
    branches_by_id: dict[int, Branch]
    employers_by_name: dict[str, Employer]
    employers_by_id: dict[int, Employer]

    @classmethod
    def load(cls) -> Structure:
        branches = list(Branch.objects.select_related("region"))
        employers = list(Employer.objects.all())
        branches_by_id = {b.pk: b for b in branches}
        employers_by_id = {e.pk: e for e in employers}
        workplaces_by_name: dict[str, list[Workplace]] = {}
        workplaces_by_id: dict[int, Workplace] = {}
        for workplace in Workplace.objects.all():
            workplace.branch = branches_by_id[workplace.branch_id]
            workplace.employer = employers_by_id[workplace.employer_id]
            workplaces_by_name.setdefault(workplace.name.lower(), []).append(workplace)
            workplaces_by_id[workplace.pk] = workplace
        branches_by_key = {b.name.lower(): b for b in branches} | {b.code.lower(): b for b in branches}
        return cls(
            workplaces_by_name,
            workplaces_by_id,
            branches_by_key,
            branches_by_id,
            {e.name.lower(): e for e in employers},
            employers_by_id,
        )


def parse_text(model: type[Model], name: str, raw: str) -> str:
    """A text cell for `model`'s field `name`, as it stands; RowProblem for a formula, a control character, or
    more than the field holds."""
    if raw.startswith(csvfiles.FORMULA_STARTS):
        raise RowProblem(name, "Starts like a spreadsheet formula (=, +, -, @); no name, address or postcode does.")
    if CONTROL_CHARACTERS.search(raw):
        raise RowProblem(name, "Holds control characters.")
    limit = model._meta.get_field(name).max_length
    if len(raw) > limit:
        raise RowProblem(name, f"Too long: at most {limit} characters.")
    return raw


def _parse_date(name: str, raw: str, today: datetime.date) -> datetime.date:
    """Day first (31/01/2024, 31-01-2024, 31.01.2024) or ISO (2024-01-31); never month first."""
    match = UK_DATE.match(raw) or ISO_DATE.match(raw)
    try:
        if match is None:
            raise ValueError(raw)
        value = datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as error:
        raise RowProblem(name, f"'{raw}' is not a date: write day/month/year (31/01/2024) or 2024-01-31.") from error
    if value > today:
        raise RowProblem(name, f"{raw} is in the future.")
    return value


def _parse_choice(name: str, raw: str) -> str:
    value = CHOICE_KEYS[name].get(_choice_key(raw))
    if value is None:
        allowed = ", ".join(label for _value, label in CHOICE_FIELDS[name])
        raise RowProblem(name, f"'{raw}' is not one of: {allowed}.")
    return value


def _parse_boolean(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RowProblem(name, f"'{raw}' is not yes or no.")


def _parse_workplace(raw: str, branch_raw: str, structure: Structure) -> Workplace:
    if raw.isdigit() and int(raw) in structure.workplaces_by_id:
        return structure.workplaces_by_id[int(raw)]
    found = structure.workplaces_by_name.get(raw.lower(), [])
    if len(found) == 1:
        return found[0]
    if len(found) > 1 and branch_raw:
        branch = structure.branches_by_key.get(branch_raw.lower())
        # By id: comparing model objects (Model.__eq__) was a third of reading a workplace.
        found = [w for w in found if branch is not None and w.branch_id == branch.pk]
    if not found:
        raise RowProblem("workplace", f"There is no workplace called '{raw}'.")
    if len(found) > 1:
        raise RowProblem("workplace", f"Several workplaces are called '{raw}': add a branch column to tell them apart.")
    return found[0]


def _let_go(error: ValidationError) -> str:
    """A rejected cell's ValidationError, made freeable at once; returns its first message. Django's
    ValidationError lists itself (error_list), so only the cycle collector frees it, and its traceback keeps
    every frame it passed through alive until then, with the batch of rows they hold. An import runs the
    collector rarely (fewer_collections): each batch with a bad email or mobile was kept to the end."""
    error.__traceback__ = None
    return error.messages[0]


def parse_values(
    raw: dict[str, str], structure: Structure, today: datetime.date
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Turn a row's non-blank cells into member values; returns (values, [(field, reason)])."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, text in raw.items():
        if not text:
            continue
        try:
            if name == "membership_number":
                number = text.upper().replace(" ", "")
                if not MEMBERSHIP_NUMBER.match(number):
                    raise RowProblem(name, f"'{text}' is not a membership number (letters and digits, at most 20).")
                values[name] = number
            elif name in TEXT_FIELDS:
                values[name] = parse_text(Member, name, text)
            elif name == "email":
                try:
                    validate_email(text)
                except ValidationError as error:
                    _let_go(error)
                    raise RowProblem(name, f"'{text}' is not an email address.") from error
                values[name] = text
            elif name == "mobile":
                values[name] = text  # _clean_details normalises it to E.164, the same as the member form
            elif name in BOOLEAN_FIELDS:
                values[name] = _parse_boolean(name, text)
            elif name in CHOICE_FIELDS:
                values[name] = _parse_choice(name, text)
            elif name == "joined_on":
                values[name] = _parse_date(name, text, today)
            elif name == "workplace":
                values[name] = _parse_workplace(text, raw.get("branch", ""), structure)
            elif name == "branch":
                if text.lower() not in structure.branches_by_key:
                    raise RowProblem(name, f"There is no branch called '{text}'.")
                values[name] = structure.branches_by_key[text.lower()]
            elif name == "employer":
                if text.lower() not in structure.employers_by_name:
                    raise RowProblem(name, f"There is no employer called '{text}'.")
                values[name] = structure.employers_by_name[text.lower()]
        except RowProblem as problem:
            problems.append((problem.field_name, problem.reason))
    return values, problems


@dataclass
class Row:
    number: int  # among the data rows, from 1
    line: int
    raw: dict[str, str]  # field -> cell text, stripped


def rows_of(job: ImportJob, text: str | None = None) -> Iterator[Row]:
    """The job's data rows with the mapped cells, in file order (the first non-blank record is the headings)."""
    text = text if text is not None else csvfiles.decode(bytes(job.content))[0]
    columns = [(job.headers.index(heading), name) for heading, name in job.mapping.items() if heading in job.headers]
    records = csvfiles.records(text, job.delimiter)
    next(records, None)
    for number, (line, cells) in enumerate(records, start=1):
        width = len(cells)
        raw = {name: cells[i].strip() if i < width else "" for i, name in columns}
        for name, text in raw.items():
            if text[:1] == "'":  # rare: only a cell from one of our own exports needs unneutralise
                raw[name] = csvfiles.unneutralise(text)
        yield Row(number, line, raw)


def first_row(job: ImportJob) -> dict[str, str]:
    """Heading -> the first data row's cell, to help someone say what each column holds."""
    text = csvfiles.decode(bytes(job.content))[0]
    records = csvfiles.records(text, job.delimiter)
    next(records, None)
    _line, cells = next(records, (0, []))
    return {heading: cells[i].strip() for i, heading in enumerate(job.headers) if i < len(cells)}


# --- Deciding what each row does ---------------------------------------------------------------------------


@dataclass
class Duplicates:
    """Rows for the same member: a row that repeats an earlier one exactly is imported once; rows for the same
    membership number (or email, where there is no number) with different details are all rejected, since
    the file does not say which is right."""

    first: dict[Any, tuple[int, int, int]] = field(default_factory=dict)  # key -> (row number, line, content hash)
    conflicting: dict[Any, list[int]] = field(default_factory=dict)  # key -> lines

    @staticmethod
    def key(row: Row) -> tuple[str, str]:
        number = row.raw.get("membership_number", "").upper().replace(" ", "")
        if number:
            return ("number", number)
        email = row.raw.get("email", "").lower()
        if email:
            return ("email", email)
        return ("row", repr(sorted(row.raw.items())))

    @classmethod
    def find(cls, rows: Iterator[Row]) -> Duplicates:
        """`rows` from one rows_of: their cells come in the same order (the mapping's), so a row's values
        alone tell whether it repeats another."""
        found = cls()
        for row in rows:
            key = cls.key(row)
            content = hash(tuple(row.raw.values()))
            if key not in found.first:
                found.first[key] = (row.number, row.line, content)
            elif found.first[key][2] != content:
                found.conflicting.setdefault(key, [found.first[key][1]]).append(row.line)
        return found

    def problem(self, row: Row) -> tuple[str, str, int | None] | None:
        """(field, reason, line repeated) for a row that must not be imported as it stands, else None."""
        key = self.key(row)
        what = {"number": "membership number", "email": "email"}.get(key[0], "row")
        if key in self.conflicting:
            lines = self.conflicting[key]
            shown = ", ".join(str(line) for line in lines[:5]) + (" …" if len(lines) > 5 else "")
            column = "membership_number" if key[0] == "number" else "email"
            reason = f"This {what} is on several lines with different details (lines {shown}): fix the file."
            return column, reason, None
        first_number, first_line, _content = self.first[key]
        if first_number != row.number:
            return "", f"Same as line {first_line}; imported once.", first_line
        return None


class NewMember(SimpleNamespace):
    """A member the import adds, as its column values under the Member's attribute names (branch_id, not
    branch). Building a Member for each new row (every field and related-object descriptor) was a fifth of a
    row's check, and nothing reads the member back before it is saved; the same rules run on it
    (_stamp_consent), and _insert_members writes its values as it would a Member's."""

    full_name = Member.full_name

    @property
    def pk(self) -> int | None:
        return self.id


@dataclass
class Decision:
    row: Row
    outcome: str
    member: Member | NewMember | None = None
    changes: dict[str, list] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.member is not None:
            return self.member.full_name
        return " ".join(filter(None, (self.row.raw.get("first_name"), self.row.raw.get("last_name"))))


class Checked(NamedTuple):
    """A row as the dry run read it: its values, the problems found in its cells, and whether it repeats an
    earlier row (Duplicates.problem). None of this depends on the members in the database, so the dry run
    keeps it with the job (ImportJob.checked_rows) and the import starts from it instead of the file."""

    row: Row
    values: dict[str, Any]
    problems: list[tuple[str, str]]
    duplicate: tuple[str, str, int | None] | None


# Kept from the raw cells: what the report shows for a row the import does not match to a member.
KEPT_CELLS = ("membership_number", "first_name", "last_name")
STRUCTURE_FIELDS = {"workplace": "workplaces_by_id", "branch": "branches_by_id", "employer": "employers_by_id"}


def _keep(checked: Checked) -> list:
    """A checked row as JSON values: the union's structure by id, dates as ISO text."""
    row, values, problems, duplicate = checked
    kept = {}
    for name, value in values.items():
        if name in STRUCTURE_FIELDS:
            value = value.pk
        elif name == "joined_on":
            value = value.isoformat()
        kept[name] = value
    cells = {name: row.raw[name] for name in KEPT_CELLS if row.raw.get(name)}
    return [row.number, row.line, cells, kept, problems, duplicate]


def _restore(kept: list, structure: Structure) -> Checked:
    """A kept row, with its workplace, branch and employer as they are now (one gone since the check is a
    problem with the row)."""
    number, line, cells, values, problems, duplicate = kept
    problems = [tuple(problem) for problem in problems]
    for name, attribute in STRUCTURE_FIELDS.items():
        if name in values:
            found = getattr(structure, attribute).get(values[name])
            if found is None:
                problems.append((name, f"The {FIELD_LABELS[name].lower()} this row names no longer exists."))
                del values[name]
            else:
                values[name] = found
    if "joined_on" in values:
        values["joined_on"] = datetime.date.fromisoformat(values["joined_on"])
    return Checked(Row(number, line, cells), values, problems, tuple(duplicate) if duplicate else None)


def _kept_batches(job: ImportJob, structure: Structure) -> Iterator[list[Checked]]:
    """The dry run's batches of checked rows, one JSON line each, read one batch at a time."""
    for line in io.BytesIO(zlib.decompress(bytes(job.checked_rows))):
        yield [_restore(kept, structure) for kept in json.loads(line)]


def _audit(value: Any) -> Any:
    """_audit_value, without its checks for the text, numbers and yes/no that most values are."""
    return value if value is None or type(value) in PLAIN_TYPES else _audit_value(value)


# A batch's members, from the rows `Planner.lookup` found: by membership number, and by email in lower case.
Found = tuple[dict[str, Member], dict[str, list[Member]]]
MEMBER_COLUMNS = Member._meta.concrete_fields
MEMBER_ATTNAMES = [f.attname for f in MEMBER_COLUMNS]  # the primary key first, as Member.from_db takes them
MEMBER_RELATIONS = {f.name: f.attname for f in MEMBER_COLUMNS if f.is_relation}
# A member's branch, workplace and employer: attname -> (the field, the Structure's objects by id).
STRUCTURE_CACHES = {
    Member._meta.get_field(name).attname: (Member._meta.get_field(name), by_id)
    for name, by_id in STRUCTURE_FIELDS.items()
}


@dataclass
class Planned:
    """A batch the import has decided, as the rows it writes (database values, in the bulk writers' column
    order). New members come first in `audit`, in the order of `new_rows` and of the created rows in
    `report`; their ids are filled in as they are written (the audit row's target and member, the report
    row's member)."""

    first: int  # the batch's first and last row numbers
    last: int
    new_rows: list[list]  # NEW_MEMBER_FIELDS: id (None until written), then every other member column
    updated_fields: list[str]
    updated_rows: list[list]  # id, then updated_fields
    audit: list[list]  # AUDIT_COLUMNS
    report: list[list]  # REPORT_COLUMNS


class Planner:
    """Decides, for a batch of rows, what the import does with each; the same code for the dry run and the run."""

    def __init__(
        self,
        *,
        actor: User,
        job: ImportJob,
        structure: Structure,
        duplicates: Duplicates | None = None,
        audits: bool = True,
    ):
        self.actor = actor
        # Whether a new member's decision lists its values for the audit row. The dry run writes no audit rows,
        # and its report lists the changed fields of updates only, so it skips them (a fifth of its check).
        self.audits = audits
        self._names: dict[int, tuple[Model, str]] = {}
        self.job = job
        self.structure = structure
        self.duplicates = duplicates or Duplicates()
        self._may_manage: dict[int, bool] = {}
        self.today = timezone.localdate()
        self.next_number: int | None = None  # the next free number in the Q series, once looked up
        self.source = ""  # the file's source, named in each audit row
        self.mobiles: dict[str, tuple[str, str]] = {}  # as written -> (E.164, problem)
        self._defaults: dict[str, Any] = {}
        self.database = connection.alias  # the members looked up are this database's

    def may_manage(self, branch: Branch) -> bool:
        # crm.permissions' own predicate, asked once per branch. For everyone who may import (national admins
        # and organisers) it is also exactly can_manage_member: their scope is whole branches.
        if branch.pk not in self._may_manage:
            self._may_manage[branch.pk] = can_manage_members_in(self.actor, branch)
        return self._may_manage[branch.pk]

    def lookup(self, rows: list[Checked]) -> list[tuple]:
        """The member table's rows a batch's rows may match, by membership number and by email in any case, as
        MEMBER_COLUMNS values. Only the query: `decide` makes them members, so that this, the one part of
        planning that reads the database, is short (the import runs it between two batches' writes, while the
        next batch waits)."""
        numbers = {checked.values["membership_number"] for checked in rows if "membership_number" in checked.values}
        emails = {checked.values["email"] for checked in rows if "email" in checked.values}
        if connection.vendor != "postgresql":
            # SQLite's upper() changes ASCII letters only: the emails are put in upper case the same way, and the
            # index member_email_upper (crm/0017) finds them.
            email_keys = {email.translate(ASCII_UPPER) for email in emails}
            members = Member.objects.order_by().values_list(*MEMBER_ATTNAMES)  # in any order: _found sorts them
            return [
                *members.filter(membership_number__in=numbers),
                *members.filter(In(Upper("email"), list(email_keys))),
            ]
        # Each list goes as one text parameter, split by the database (membership numbers and emails hold no
        # line breaks: both are checked when read): a placeholder per value (5,000 a batch) took longer to build
        # and send than the query to run, and so did an array, which psycopg writes out value by value in Python.
        # Each value is then looked up in its index (emails in member_search_email, on UPPER(email): crm/0002).
        # OFFSET 0 keeps PostgreSQL from making that a join it plans itself: for a batch's 5,000 emails, inside
        # an import, EXPLAIN ANALYZE showed it scanning or even sorting the whole member table instead, many
        # times slower than the lookups.
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in MEMBER_COLUMNS)

        def matching(column: str, values: str) -> str:
            return (
                f"SELECT m.* FROM unnest(string_to_array({values}, E'\\n')) AS wanted(value) CROSS JOIN LATERAL "  # noqa: S608
                f"(SELECT {columns} FROM {quote(Member._meta.db_table)} WHERE {column} = wanted.value OFFSET 0) AS m"
            )

        by_number = matching(quote("membership_number"), "%s")
        by_email = matching(f"upper({quote('email')})", "upper(%s)")
        sql = f"{by_number} UNION ALL {by_email}"
        with connection.cursor() as cursor:
            cursor.execute(sql, ["\n".join(numbers), "\n".join(emails)])
            return cursor.fetchall()

    def _found(self, rows: list[tuple]) -> Found:
        """`lookup`'s rows as members, with their branch, workplace and employer from the structure read at the
        start: by membership number, and by email in lower case (in the order they were added)."""
        members = {row[0]: row for row in rows}  # a member found by both number and email comes twice
        # Each found member's branch, workplace and employer go straight into its relations' caches, as
        # select_related puts them: assigning them goes through the descriptor, which asks the database router
        # each time, for ids the member already holds.
        relations = [
            (relation, attname, getattr(self.structure, by_id))
            for attname, (relation, by_id) in STRUCTURE_CACHES.items()
        ]
        by_number: dict[str, Member] = {}
        by_email: dict[str, list[Member]] = {}
        for pk in sorted(members):
            member = Member.from_db(self.database, MEMBER_ATTNAMES, members[pk])
            for relation, attname, by_id in relations:
                relation.set_cached_value(member, by_id.get(getattr(member, attname)))
            by_number[member.membership_number] = member
            if member.email:
                by_email.setdefault(member.email.lower(), []).append(member)
        return by_number, by_email

    def parse(self, rows: list[Row]) -> list[Checked]:
        """Read a batch of the file's rows: everything about them that depends on the file alone."""
        return [
            Checked(row, *parse_values(row.raw, self.structure, self.today), self.duplicates.problem(row))
            for row in rows
        ]

    def decide(self, rows: list[Checked], found: list[tuple]) -> list[Decision]:
        """What the import does with each row of a batch, given the member rows they may match (`lookup`).
        Reads nothing from the database, so the import can decide one batch while it writes the one before."""
        # A new member's column values before the row's own: the fields' defaults, evaluated once a batch.
        self._defaults = {f.attname: f.get_default() for f in MEMBER_COLUMNS}
        by_number, by_email = self._found(found)
        decisions = []
        for row, values, problems, duplicate in rows:
            if duplicate and duplicate[2] is not None:
                decisions.append(Decision(row, ImportRow.Outcome.DUPLICATE, problems=[(duplicate[0], duplicate[1])]))
                continue
            if duplicate:
                problems = [(duplicate[0], duplicate[1]), *problems]
            if problems:
                decisions.append(Decision(row, ImportRow.Outcome.REJECTED, problems=problems))
                continue
            try:
                decisions.append(self._decide(row, values, by_number, by_email))
            except RowProblem as problem:
                rejected = Decision(row, ImportRow.Outcome.REJECTED, problems=[(problem.field_name, problem.reason)])
                decisions.append(rejected)
        return decisions

    def prepare(self, rows: list[Checked], found: list[tuple]) -> Planned:
        """Decide a batch and turn it into the rows the import writes: new members (each without a membership
        number given one from the Q series, from next_number on), changed members, audit and report rows."""
        decisions = self.decide(rows, found)
        new = [d for d in decisions if d.outcome == ImportRow.Outcome.CREATED]
        for decision in new:
            if not decision.member.membership_number:
                decision.member.membership_number = f"Q{self.next_number:07d}"
                self.next_number += 1
                decision.changes["membership_number"] = [None, decision.member.membership_number]
        updated = [d for d in decisions if d.outcome == ImportRow.Outcome.UPDATED]
        fields: set[str] = set().union(*(d.changes for d in updated))
        # Only the columns some row changes: every column named is rewritten, with its indexes.
        if "status" in fields:
            fields |= {"status_changed_on", "joined_on"}
        for channel in ("email", "sms"):
            if f"{channel}_consent" in fields:
                fields |= {f"{channel}_consent_source", f"{channel}_consent_at"}
        updated_fields = sorted(fields)
        new_values = _Values(NEW_MEMBER_FIELDS)
        updated_values = _Values([Member._meta.pk, *_columns(Member, updated_fields)])
        # Audit rows as the values _insert takes (AUDIT_COLUMNS), one per member created or changed.
        actor_name = self.actor.get_username()
        at = AuditEntry._meta.get_field("at").get_db_prep_save(timezone.now(), connection)
        target_type = Member._meta.label_lower
        audit = []
        for decision in new + updated:
            member = decision.member
            is_new = decision.outcome == ImportRow.Outcome.CREATED
            summary = f"Added {member.full_name}" if is_new else "Changed " + ", ".join(sorted(decision.changes))
            audit.append(
                [
                    self.actor.pk,
                    actor_name,
                    AuditEntry.Action.CREATE.value if is_new else AuditEntry.Action.UPDATE.value,
                    target_type,
                    member.pk,
                    member.pk,
                    json.dumps(decision.changes),
                    f"{summary} (import from {self.source})"[:255],
                    at,
                ]
            )
        report = [_report_row(self.job, d) for d in decisions]
        return Planned(
            first=rows[0].row.number,
            last=rows[-1].row.number,
            new_rows=[new_values(d.member) for d in new],
            updated_fields=updated_fields,
            updated_rows=[updated_values(d.member) for d in updated],
            audit=audit,
            report=report,
        )

    def _match(self, values: dict, by_number: dict, by_email: dict) -> Member | None:
        """Membership number first, then email."""
        number = values.get("membership_number")
        if number and number in by_number:
            return by_number[number]
        matches = by_email.get(values.get("email", "").lower(), []) if values.get("email") else []
        if len(matches) > 1:
            raise RowProblem("email", "Several members have this email: add their membership numbers to the file.")
        if matches and number:
            # Name the other member's number only to someone who may see them.
            other = f"member {matches[0].membership_number}" if self.may_manage(matches[0].branch) else "another member"
            raise RowProblem(
                "membership_number",
                f"No member has this number, but the email belongs to {other}: check which is right.",
            )
        return matches[0] if matches else None

    def _decide(self, row: Row, values: dict, by_number: dict, by_email: dict) -> Decision:
        member = self._match(values, by_number, by_email)
        details = {k: v for k, v in values.items() if k != "membership_number"}
        if member is not None:
            column = "membership_number" if values.get("membership_number") else "email"
            if not self.may_manage(member.branch):
                raise RowProblem(column, "This member is outside your branches: not changed.")
            if member.erased_at is not None:
                # Only its placeholder number (ERASED-<id>) can match it: nothing is written back into it.
                raise RowProblem(column, "This member's personal data was erased: not changed.")
            cleaned = self._clean(details, member)
            changes = {}
            for name, value in cleaned.items():
                old = getattr(member, name)
                if old != value:
                    changes[name] = [_audit(old), _audit(value)]
                    setattr(member, name, value)
            if not changes:
                return Decision(row, ImportRow.Outcome.UNCHANGED, member=member)
            self._apply_rules(member, set(changes), is_new=False)
            return Decision(row, ImportRow.Outcome.UPDATED, member=member, changes=changes)
        missing = [name for name in REQUIRED_TO_CREATE if name not in details]
        if missing:
            return Decision(
                row,
                ImportRow.Outcome.REJECTED,
                problems=[(name, f"A new member needs a {FIELD_LABELS[name].lower()}.") for name in missing],
            )
        cleaned = self._clean(details, None)
        member = self._new_member(cleaned, values.get("membership_number", ""))
        member.status_changed_on = self.today
        self._apply_rules(member, {k for k in ("email_consent", "sms_consent") if cleaned.get(k)}, is_new=True)
        if not self.audits:
            return Decision(row, ImportRow.Outcome.CREATED, member=member)
        changes = {
            name: [None, value if value is None or type(value) in PLAIN_TYPES else self._audit_model(value)]
            for name, value in cleaned.items()
        }
        return Decision(row, ImportRow.Outcome.CREATED, member=member, changes=changes)

    def _audit_model(self, value: Any) -> Any:
        """_audit_value, each workplace, branch and employer's name once a run (they are the structure's own
        objects, shared by many rows; the object is kept with its name, so its id is never reused meanwhile)."""
        if not isinstance(value, Model):
            return _audit_value(value)
        if id(value) not in self._names:
            self._names[id(value)] = (value, _audit_value(value))
        return self._names[id(value)][1]

    def _new_member(self, cleaned: dict, membership_number: str) -> NewMember:
        """What Member(**cleaned) would hold, as column values: the fields' defaults, then the row's."""
        values = dict(self._defaults, membership_number=membership_number)
        for name, value in cleaned.items():
            if name in MEMBER_RELATIONS:
                values[MEMBER_RELATIONS[name]] = value.pk if value is not None else None
            else:
                values[name] = value
        return NewMember(**values)

    def _clean(self, details: dict, member: Member | None) -> dict:
        mobile = details.get("mobile")
        if mobile:
            # normalise_mobile (phonenumbers) is a third of a row's check and depends on the text alone: each
            # distinct number is parsed once per run; _clean_details checks the rest (the mobile bears on nothing else).
            if mobile not in self.mobiles:
                try:
                    self.mobiles[mobile] = (normalise_mobile(mobile), "")
                except ValidationError as error:
                    self.mobiles[mobile] = ("", _let_go(error))
            normalised, problem = self.mobiles[mobile]
            if problem:
                raise RowProblem("mobile", problem)
            details = {name: value for name, value in details.items() if name != "mobile"}
        try:
            cleaned = _clean_details(details, member)
            if mobile:
                cleaned["mobile"] = normalised
        except ServiceError as error:
            raise RowProblem(error.field or "", error.message) from error
        branch = cleaned.get("branch")
        if branch is not None and not self.may_manage(branch):
            column = "workplace" if "workplace" in details else "branch"
            raise RowProblem(column, f"{branch} branch is outside your branches.")
        return cleaned

    def _apply_rules(self, member: Member | NewMember, changed: set[str], *, is_new: bool) -> None:
        """What update_member and create_member do besides setting fields: dates and consent stamps."""
        if "status" in changed and not is_new:
            member.status_changed_on = self.today
        if (is_new or "status" in changed) and member.status == Member.Status.ACTIVE and not member.joined_on:
            member.joined_on = self.today
        try:
            _stamp_consent(member, changed, Member.ConsentSource.IMPORT)
        except ServiceError as error:
            raise RowProblem(error.field or "", error.message) from error


# Python's cycle collector runs once this many more container objects (dicts, lists, model objects) are alive
# than at its last run: see fewer_collections.
COLLECT_AFTER = 1_000_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cycle collector runs once 700 more container objects are alive than at its last run, and each
    run walks every young object alive. A batch of rows keeps a few hundred thousand alive at once (a dict or
    list per row, a list per audited field), so at 700, or at 50,000 as here before, the collector walked each
    batch again and again: 2.5-2.9 s of an import benchmark's 30-36 s. An import makes no cycles of its own
    (_let_go frees the one kind a rejected cell made), so for the duration it runs only once a million more
    objects are alive: that is, only if something keeps what it no longer needs. Peak memory was the same
    (403 MB) and the collector's time in the benchmark 0.0 s."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], COLLECT_AFTER), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def column_of(job: ImportJob, name: str, labels: dict[str, str] = FIELD_LABELS) -> str:
    """The file's heading for a field, for the report (people know their columns, not our fields)."""
    for heading, mapped in job.mapping.items():
        if mapped == name:
            return heading
    return labels.get(name, name)


def _report_row(job: ImportJob, decision: Decision) -> list:
    """The report row for a decision, as the values _insert takes (REPORT_COLUMNS): no model object is built."""
    member = decision.member
    return [
        job.pk,
        decision.row.number,
        decision.row.line,
        decision.outcome,
        (member.membership_number if member else decision.row.raw.get("membership_number", ""))[:20],
        decision.name[:201],
        member.pk if member is not None and member.pk else None,
        None,  # workplace: a member import's rows name members only
        json.dumps(sorted(decision.changes)) if decision.outcome == ImportRow.Outcome.UPDATED else "[]",
        "[]"
        if not decision.problems
        else json.dumps(
            [
                [column_of(job, name) if name else "", reason]
                for name, reason in decision.problems[:REPORT_PROBLEMS_PER_ROW]
            ]
        ),
    ]


COUNTERS = {
    ImportRow.Outcome.CREATED: "created_count",
    ImportRow.Outcome.UPDATED: "updated_count",
    ImportRow.Outcome.UNCHANGED: "unchanged_count",
    ImportRow.Outcome.DUPLICATE: "duplicate_count",
    ImportRow.Outcome.REJECTED: "rejected_count",
}


def _reset_counts(job: ImportJob) -> None:
    for counter in COUNTERS.values():
        setattr(job, counter, 0)


def _count(job: ImportJob, outcomes: Iterable[str]) -> None:
    for outcome in outcomes:
        counter = COUNTERS[outcome]
        setattr(job, counter, getattr(job, counter) + 1)


# --- Step 2: the dry run ---------------------------------------------------------------------------------


def _only_members(job: ImportJob) -> None:
    # Workplace imports share the job and its report (crm.services.workplace_imports) but not these rows' rules.
    if job.kind != ImportJob.Kind.MEMBERS:
        raise ServiceError("This is not a member import.")


@fewer_collections()
@transaction.atomic
def check_import(*, actor: User, job: ImportJob, mapping: dict[str, Any] | None = None) -> ImportJob:
    """Check every row with the mapping (the job's own if none is given) and write the dry-run report.

    The mapping is remembered for the job's source. Raises NotPermitted for anyone but the job's uploader,
    ServiceError for a bad mapping or a job already confirmed.
    """
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _only_members(job)
    if job.created_by_id != actor.pk or not can_import_members(actor):
        raise NotPermitted("Only the person who uploaded this file can check it.")
    if job.is_committed:
        raise ServiceError("This import has already been confirmed.")
    job.mapping = clean_mapping(job.headers, job.mapping if mapping is None else mapping)
    ImportSource.objects.filter(pk=job.source_id).update(
        mapping=job.mapping, updated_by=actor, updated_at=timezone.now()
    )
    text = csvfiles.decode(bytes(job.content))[0]
    planner = Planner(
        actor=actor, job=job, structure=Structure.load(), duplicates=Duplicates.find(rows_of(job, text)), audits=False
    )
    for branch in planner.structure.branches_by_id.values():
        planner.may_manage(branch)  # asked now: deciding a batch reads nothing from the database
    job.rows.all().delete()
    _reset_counts(job)
    kept = zlib.compressobj(1)  # the checked rows, one JSON line a batch, compressed as they come
    chunks = []

    def report(checked: list[Checked], found: list[tuple]) -> tuple[list[list], bytes]:
        """A batch decided: its report rows and its kept line (compressed)."""
        decisions = planner.decide(checked, found)
        line = json.dumps([_keep(c) for c in checked]).encode() + b"\n"
        return [_report_row(job, d) for d in decisions], kept.compress(line)

    # As the import does (_run_batches), the file's rows are read and decided in a second thread on PostgreSQL,
    # while this one looks up each batch's members and writes the report rows of the one before.
    parsed = (planner.parse(batch) for batch in _batches(rows_of(job, text), BATCH_SIZE))
    with _planning_thread() as planning, _foreign_keys_checked_as_written():
        upcoming = planning.submit(_apart, next, parsed, None)
        previous: Future | None = None
        while True:
            checked = upcoming.result()
            if checked is not None:
                upcoming = planning.submit(_apart, next, parsed, None)
                decided = planning.submit(_apart, report, checked, planner.lookup(checked))
            if previous is not None:
                rows, chunk = previous.result()
                _insert(ImportRow, rows)
                _count(job, (row[REPORT_OUTCOME] for row in rows))
                chunks.append(chunk)
            if checked is None:
                break
            previous = decided
    job.status = ImportJob.Status.CHECKED
    job.checked_at = timezone.now()
    job.rows_done = 0
    job.checked_mobiles = zlib.compress(json.dumps(planner.mobiles).encode())
    job.checked_rows = b"".join([*chunks, kept.flush()])
    checked_fields = ["checked_mobiles", "checked_rows"]
    job.save(update_fields=["mapping", "status", "checked_at", "rows_done", *checked_fields, *COUNTERS.values()])
    return job


@contextmanager
def _foreign_keys_checked_as_written() -> Iterator[None]:
    """On PostgreSQL, check the foreign keys of the rows written inside as each statement ends, not all at the
    commit. The dry run's report rows were checked at its commit, after the last batch was decided, with
    nothing else to do meanwhile; checked as each batch's rows go in, the next batch is being decided at the
    same time. Back to deferred afterwards (Django makes every foreign key DEFERRABLE INITIALLY DEFERRED and
    nothing here is initially immediate), for whatever the surrounding transaction does next. An error inside
    rolls the transaction or savepoint back, and PostgreSQL undoes the setting with it."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# --- Step 3: confirm and run -----------------------------------------------------------------------------


@transaction.atomic
def confirm_import(*, actor: User, job: ImportJob, in_background: bool = True) -> ImportJob:
    """Mark a checked import to run, and queue its task (unless the caller runs it: the command line does).
    Confirming twice queues it once."""
    job = ImportJob.objects.select_for_update().defer("content", "checked_rows").get(pk=job.pk)
    _only_members(job)
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
        from crm.tasks import import_members  # the task module imports services: import it when needed

        transaction.on_commit(lambda: import_members.delay(job.pk))
    return job


@fewer_collections()
def run_import(*, job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Import a confirmed job's rows in batches, resuming after the last batch saved. Safe to run twice.

    Each batch is one transaction (members, their audit rows, the report rows and the job's progress), so a
    failure leaves whole batches only; the job is then marked failed with the error, and running it again
    carries on from where it stopped.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().defer("content").get(pk=job_id)
        if job.kind != ImportJob.Kind.MEMBERS or job.status == ImportJob.Status.DONE or not job.is_committed:
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
    if connection.vendor == "sqlite":
        # SQLite's default page cache (8 MB) is smaller than the member table's indexes at 100,000 members;
        # inserting a batch then keeps rereading index pages. 64 MB, for this connection only.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -65536")
    try:
        for attempt in range(3):
            try:
                job = _run_batches(job, _import_planner(job, actor), progress)
                break
            except IntegrityError:
                # Someone added a member meanwhile with a number this import gave out: carry on from the last
                # batch saved, with the next free number looked up again.
                if attempt == 2:
                    raise
                job = ImportJob.objects.defer("content", "checked_rows").get(pk=job.pk)
    except Exception as error:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, error=str(error)[:2000])
        raise
    return finish_import(job, actor, what="")


def _import_planner(job: ImportJob, actor: User) -> Planner:
    """A planner for the import step, with everything it needs from the database read now, so that planning a
    batch reads nothing more (Planner.prepare) and can run beside the writing of the one before."""
    planner = Planner(actor=actor, job=job, structure=Structure.load())
    for branch in planner.structure.branches_by_id.values():
        planner.may_manage(branch)
    planner.next_number = int(next_membership_number()[1:])
    planner.source = str(job.source)
    if job.checked_mobiles:
        # A mobile number's reading depends on its text alone, so the dry run's is kept, not parsed again.
        # Everything that depends on the database (matching, scope, uniqueness, the structure) is checked anew.
        planner.mobiles = {raw: tuple(read) for raw, read in json.loads(zlib.decompress(job.checked_mobiles)).items()}
    return planner


def _checked_batches(job: ImportJob, planner: Planner) -> Iterator[list[Checked]]:
    """The rows to import, in batches, as the dry run read them."""
    if job.checked_rows:
        # What the dry run read from the file (values, cell problems, repeats) is kept with the job; the
        # import starts from it and checks again only what depends on the database: matching, scope,
        # uniqueness, the structure.
        return _kept_batches(ImportJob.objects.only("checked_rows").get(pk=job.pk), planner.structure)
    text = csvfiles.decode(bytes(ImportJob.objects.only("content").get(pk=job.pk).content))[0]
    planner.duplicates = Duplicates.find(rows_of(job, text))  # checked before the dry run kept its rows
    return (planner.parse(batch) for batch in _batches(rows_of(job, text), BATCH_SIZE))


PLANNING_THREAD = "import-planner"


def _refuse_queries(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    raise RuntimeError("Planning an import batch must not read the database: look it up before (Planner.lookup).")


def _apart(work: Callable, *args: Any) -> Any:
    # In the planning thread a query would open a connection of its own, outside the import's transaction.
    try:
        with connection.execute_wrapper(_refuse_queries):
            return work(*args)
    finally:
        if threading.current_thread().name.startswith(PLANNING_THREAD):
            connection.close()  # the planning thread's own connection, had something opened it


class _InTurn:
    """The one-thread executor's interface, doing each piece of work at once in the calling thread."""

    def __enter__(self) -> _InTurn:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, work: Callable, *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(work(*args))
        except Exception as error:
            future.set_exception(error)
        return future


def _planning_thread() -> ThreadPoolExecutor | _InTurn:
    """Where a check or an import plans its batches: a second thread on PostgreSQL, which works in its own
    process while this one waits for it. SQLite works inside this process and holds Python's lock between
    statements, so there a second thread only waits its turn: the work is done in turn instead."""
    return ThreadPoolExecutor(1, PLANNING_THREAD) if connection.vendor == "postgresql" else _InTurn()


def _run_batches(job: ImportJob, planner: Planner, progress: Callable[[ImportJob], None] | None) -> ImportJob:
    """Plan and write the job's batches not yet saved, two at a time on PostgreSQL: while the database takes
    one batch's audit and report rows and commits it (its foreign-key checks), a second thread reads the next
    batch's kept rows and plans it, which is pure Python. The next batch's members are looked up inside the
    first's transaction, once its members are written, so they are matched exactly as if the batches ran one
    after the other (on SQLite, one after the other: _planning_thread)."""
    pending = (
        [checked for checked in batch if checked.row.number > job.rows_done]
        for batch in _checked_batches(job, planner)
        if batch[-1].row.number > job.rows_done
    )
    with _planning_thread() as planning:
        upcoming = planning.submit(_apart, next, pending, None)

        def plan_next() -> Future | None:
            nonlocal upcoming
            rows = upcoming.result()
            if rows is None:
                return None
            planned = planning.submit(_apart, planner.prepare, rows, planner.lookup(rows))
            upcoming = planning.submit(_apart, next, pending, None)
            return planned

        planned = plan_next()
        while planned is not None:
            job, planned = _write_batch(planner, job, planned.result(), plan_next)
            if progress:
                progress(job)
    return job


@transaction.atomic
def finish_import(job: ImportJob, actor: User, *, what: str) -> ImportJob:
    """Mark an import of any kind done and audit it with its counts, once: a second run finds it done.
    `what` starts the summary's object ("workplaces from "; nothing for members)."""
    job = ImportJob.objects.select_for_update().defer("content", "checked_rows", "checked_mobiles").get(pk=job.pk)
    if job.status == ImportJob.Status.DONE:
        return job
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=job,
        summary=(
            f"Imported {what}{job.filename} ({job.source}): {job.created_count} added, {job.updated_count} updated, "
            f"{job.rejected_count} rejected"
        ),
        changes={counter: getattr(job, counter) for counter in COUNTERS.values()} | {"rows": job.total_rows},
    )
    return job


def _write_batch(
    planner: Planner, job: ImportJob, planned: Planned, plan_next: Callable[[], Future | None]
) -> tuple[ImportJob, Future | None]:
    """Write one planned batch in one transaction and, once its members are in, start planning the next
    (`plan_next`). Returns the job as saved and the next batch's plan to come."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # This batch's commit does not wait for its WAL to reach the disk (for this transaction only). A
            # crash of the database server can then lose the last batches committed, but never half of one: the
            # job's rows_done is in the same transaction, so running the task again redoes exactly the batches
            # lost. Waiting for the flush was about a tenth of the import.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        # Neither the file nor what the dry run kept (a megabyte of mobiles at 100,000 rows), every batch.
        locked = (
            ImportJob.objects.select_for_update().defer("content", "checked_rows", "checked_mobiles").get(pk=job.pk)
        )
        if locked.rows_done >= planned.last:
            return locked, plan_next()  # another run saved this batch first
        ids = _insert_members(planned.new_rows)
        created = (row for row in planned.report if row[REPORT_OUTCOME] == ImportRow.Outcome.CREATED)
        for audit_row, report_row, pk in zip(planned.audit, created, ids, strict=False):  # new members' rows first
            audit_row[AUDIT_TARGET] = audit_row[AUDIT_MEMBER] = report_row[REPORT_MEMBER] = pk
        if planned.updated_rows:
            _update_members(planned.updated_rows, planned.updated_fields)
        following = plan_next()
        _insert(AuditEntry, planned.audit)
        job.rows.filter(number__gte=planned.first, number__lte=planned.last).delete()
        _insert(ImportRow, planned.report)
        _count(locked, (row[REPORT_OUTCOME] for row in planned.report))
        locked.rows_done = planned.last
        locked.save(update_fields=["rows_done", *COUNTERS.values()])
    return locked, following


# --- Writing in bulk --------------------------------------------------------------------------------------
#
# Plain INSERT and UPDATE statements for the rows a batch writes. bulk_create and bulk_update compile every
# value through the ORM's expression machinery (bulk_update builds a CASE per field and row) and, on SQLite,
# send 35 members a statement; at 100,000 rows that was most of an import's time. The values still go through
# each field's own get_db_prep_save, so they are stored exactly as the ORM would store them. Table and column
# names are the models' own (S608 below); every value is a parameter.

MAX_PARAMETERS = 30_000  # below SQLite's 32,766 parameters a statement


# Fields whose Python value is already what the database takes (text, ids, counts and booleans): their
# get_db_prep_save returns the value unchanged (None too, for every field here), and skipping the call halves
# the cost of a row.
PLAIN_FIELDS = (models.CharField, models.TextField, models.ForeignKey, models.IntegerField, models.BooleanField)
PLAIN_TYPES = (str, int, bool)


def _columns(model: type[Model], names: list[str] | None = None) -> list[Field]:
    if names is None:
        return [f for f in model._meta.concrete_fields if not f.primary_key]
    return [model._meta.get_field(name) for name in names]


class _Values:
    """Reads objects' database values for `fields`, as _row did: the attributes in one C call, and only the
    values that need it (dates and times) through get_db_prep_save, each distinct one once (a batch's members
    share today's date and its timestamps)."""

    def __init__(self, fields: list[Field]):
        self.fields = fields
        self.read = operator.attrgetter(*[f.attname for f in fields])
        self.plain = [isinstance(f, PLAIN_FIELDS) for f in fields]
        self.converted: dict[tuple[int, Any], Any] = {}

    def __call__(self, obj: Model | NewMember) -> list[Any]:
        row = list(self.read(obj)) if len(self.fields) > 1 else [self.read(obj)]
        for i, value in enumerate(row):
            if value is not None and not (self.plain[i] and type(value) in PLAIN_TYPES):
                key = (i, value)
                if key not in self.converted:
                    self.converted[key] = self.fields[i].get_db_prep_save(value, connection)
                row[i] = self.converted[key]
        return row


# The columns _insert is given values for, in order: every concrete field but the id. Checked here so that a
# field added to either model is noticed, not written to the wrong column.
AUDIT_COLUMNS = (
    "actor_id",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "member_id",
    "changes",
    "summary",
    "at",
)
REPORT_COLUMNS = (
    "job_id",
    "number",
    "line",
    "outcome",
    "membership_number",
    "name",
    "member_id",
    "workplace_id",
    "changed",
    "problems",
)
AUDIT_TARGET, AUDIT_MEMBER = AUDIT_COLUMNS.index("target_id"), AUDIT_COLUMNS.index("member_id")
REPORT_OUTCOME, REPORT_MEMBER = REPORT_COLUMNS.index("outcome"), REPORT_COLUMNS.index("member_id")
assert tuple(f.attname for f in _columns(AuditEntry)) == AUDIT_COLUMNS
assert tuple(f.attname for f in _columns(ImportRow)) == REPORT_COLUMNS


def _copy(table: str, fields: list[Field], rows: list[list]) -> None:
    """COPY rows of database values for `fields` into `table` (PostgreSQL). COPY goes through psycopg's own
    cursor, so its errors are made Django's here (an IntegrityError for a membership number taken, say)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _insert(model: type[Model], rows: list[list]) -> None:
    """Add rows whose ids nobody needs back (audit and report rows), given as database values for every column
    but the id (AUDIT_COLUMNS, REPORT_COLUMNS; JSON as text): COPY on PostgreSQL, else one executemany."""
    if not rows:
        return
    fields = _columns(model)
    if connection.vendor == "postgresql":
        _copy(model._meta.db_table, fields, rows)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


# A new member's columns as Planner.prepare lists them: the id first (None until written), then every other.
NEW_MEMBER_FIELDS = [Member._meta.pk, *_columns(Member)]
NUMBER_COLUMN = [f.name for f in NEW_MEMBER_FIELDS].index("membership_number")


def _insert_members(rows: list[list]) -> list[int]:
    """INSERT new members, given as their column values (NEW_MEMBER_FIELDS, the id None); returns their new ids,
    in order.

    On PostgreSQL the ids are taken from the member id sequence first (one query), then the members go in with
    COPY, the fastest way in. On SQLite multi-row statements of up to MAX_PARAMETERS are sent, and the ids come
    back with the membership numbers (unique), so they are matched by number, never by order.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    table = quote(Member._meta.db_table)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Member._meta.db_table, len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
        for row, pk in zip(rows, ids, strict=True):
            row[0] = pk
        _copy(Member._meta.db_table, NEW_MEMBER_FIELDS, rows)
        return ids
    fields = NEW_MEMBER_FIELDS[1:]
    head = f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) VALUES "  # noqa: S608
    one = f"({', '.join(['%s'] * len(fields))})"
    tail = f" RETURNING {quote('id')}, {quote('membership_number')}"
    per_statement = MAX_PARAMETERS // len(fields)
    by_number: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, [v for row in chunk for v in row[1:]])
            by_number.update((number, pk) for pk, number in cursor.fetchall())
    return [by_number[row[NUMBER_COLUMN]] for row in rows]


def _update_members(rows: list[list], names: list[str]) -> None:
    """UPDATE the named fields of members, given as [id, *values]: on PostgreSQL the rows go with COPY into a
    temporary table (dropped at commit) and one UPDATE ... FROM it writes them all, faster than one
    UPDATE ... FROM (VALUES ...) with a placeholder per value; elsewhere one statement run for each member."""
    fields = _columns(Member, names)
    quote = connection.ops.quote_name
    table = quote(Member._meta.db_table)
    if connection.vendor == "postgresql":
        columns = ", ".join(quote(f.column) for f in fields)
        setting = ", ".join(f"{quote(f.column)} = u.{quote(f.column)}" for f in fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE import_update ON COMMIT DROP AS SELECT id, {columns} FROM {table} WITH NO DATA"  # noqa: S608
            )
            _copy("import_update", [Member._meta.pk, *fields], rows)
            cursor.execute(f"UPDATE {table} AS m SET {setting} FROM import_update AS u WHERE m.id = u.id")  # noqa: S608
            cursor.execute("DROP TABLE import_update")  # at once: the batch may be inside a longer transaction
        return
    sql = (
        f"UPDATE {table} SET {', '.join(f'{quote(f.column)} = %s' for f in fields)} "  # noqa: S608
        f"WHERE {quote('id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*row[1:], row[0]] for row in rows])


# --- Exports ---------------------------------------------------------------------------------------------


def record_member_export(*, actor: User, filters: dict[str, Any], rows: int) -> AuditEntry:
    """Audit an export of a member list: who, with which filters, how many members.

    Raises NotPermitted for users who may not export. The entry's target is the member list as a whole, so
    it names no single member.
    """
    if not can_export_members(actor):
        raise NotPermitted("You cannot export member lists.")
    described = {key: value for key, value in filters.items() if value not in ("", None, [])}
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        action=AuditEntry.Action.EXPORT,
        target_type=Member._meta.label_lower,
        target_id=None,
        summary=f"Exported {rows} member{'' if rows == 1 else 's'} to CSV",
        changes={"filters": described, "rows": rows},
    )
