"""Import members (or, with `--kind workplaces`, workplaces) from a CSV file on the command line: a dry run by
default, `--commit` to import.

    python manage.py import_members staff.csv --source "Leeds City Council staff list" --user organiser
    python manage.py import_members staff.csv --source "..." --user organiser --mapping '{"Surname": "last_name"}'
    python manage.py import_members staff.csv --source "..." --user organiser --commit
    python manage.py import_members schools.csv --kind workplaces --source "Leeds list of schools" --user organiser

The same services as the upload page: the acting user's scope applies, and everything is audited.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.errors import ServiceError
from crm.models import ImportJob, ImportRow, User
from crm.services import import_kinds, imports

REJECTIONS_SHOWN = 50


def parse_mapping(text: str) -> dict[str, str]:
    """A JSON object, a JSON file, or `Heading=field,Heading=field`."""
    if Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(f"--mapping is not valid JSON: {error}") from error
        if not isinstance(mapping, dict):
            raise CommandError("--mapping must be a JSON object of heading -> field.")
        return mapping
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise CommandError("--mapping must be JSON or Heading=field pairs separated by commas.")
    return {heading.strip(): name.strip() for heading, name in pairs}


class Command(BaseCommand):
    help = "Check (and with --commit, import) members or workplaces from a CSV file, as a given user."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--source", required=True, help="where the file comes from; its mapping is remembered")
        parser.add_argument("--user", required=True, help="username of the national admin or organiser importing")
        parser.add_argument("--mapping", help="JSON object, JSON file, or Heading=field pairs (default: remembered)")
        parser.add_argument("--commit", action="store_true", help="import the valid rows (default: dry run only)")
        parser.add_argument(
            "--kind",
            choices=ImportJob.Kind.values,
            default=ImportJob.Kind.MEMBERS,
            help="what the file lists (default: members; workplaces are matched by name within branch)",
        )

    def handle(self, *args, **options):
        try:
            user = User.objects.get(username=options["user"], is_active=True)
        except User.DoesNotExist as error:
            raise CommandError(f"No active user called {options['user']!r}.") from error
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        if path.stat().st_size > imports.MAX_FILE_BYTES:
            raise CommandError(f"{path} is over the {imports.MAX_FILE_BYTES // 1024 // 1024} MB limit: split it.")
        mapping = parse_mapping(options["mapping"]) if options["mapping"] else None
        services = import_kinds.services_for(options["kind"])
        try:
            with transaction.atomic():  # a file or mapping that cannot be used leaves no job behind
                job = services.start_import(
                    actor=user, source_name=options["source"], filename=path.name, upload=path.read_bytes()
                )
                job = services.check_import(actor=user, job=job, mapping=mapping)
        except ServiceError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Import {job.pk}: {job.total_rows} rows ({job.encoding}, {job.delimiter!r} separated)")
        self.stdout.write("Columns: " + ", ".join(f"{h} -> {f}" for h, f in job.mapping.items()))
        self._summary(job, "Checked:")
        for row in job.rows.filter(outcome=ImportRow.Outcome.REJECTED).order_by("number")[:REJECTIONS_SHOWN]:
            for column, reason in row.problems:
                self.stdout.write(f"  line {row.line}, {column or 'row'}: {reason}")
        if job.rejected_count > REJECTIONS_SHOWN:
            self.stdout.write(f"  … and more: see the report for import {job.pk}.")
        if not options["commit"]:
            self.stdout.write("Dry run: nothing imported. Run again with --commit to import the valid rows.")
            return
        services.confirm_import(actor=user, job=job, in_background=False)
        job = services.run_import(
            job_id=job.pk,
            progress=lambda j: self.stderr.write(f"\r{j.rows_done}/{j.total_rows} rows", ending=""),
        )
        self.stderr.write("")
        self._summary(job, "Imported:")

    def _summary(self, job, prefix: str) -> None:
        self.stdout.write(
            f"{prefix} {job.created_count} created, {job.updated_count} updated, {job.unchanged_count} unchanged, "
            f"{job.duplicate_count} duplicate, {job.rejected_count} rejected"
        )
