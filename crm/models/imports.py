"""Imports from CSV files (members, or workplaces): the upload, its column mapping (remembered per source), the report.

An import is checked first (a dry run that writes nothing but its report) and only runs once an organiser
confirms it. The file is kept in the database with the job, so a Celery worker on another machine reads
the same bytes the organiser checked, with no shared file storage.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from crm.models import Member, User, Workplace


class ImportSource(models.Model):
    """Where files come from, e.g. "Leeds City Council staff list": the column mapping used last time."""

    name = models.CharField(max_length=100, unique=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="Column heading -> member field.")
    # A source's workplace files (a council's list of schools) have other columns than its staff lists.
    workplace_mapping = models.JSONField(default=dict, blank=True, help_text="Column heading -> workplace field.")
    updated_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        MEMBERS = "members", "Members"
        WORKPLACES = "workplaces", "Workplaces"

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for the column mapping"
        CHECKED = "checked", "Checked: waiting for confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Finished"
        FAILED = "failed", "Stopped by an error"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MEMBERS)
    source = models.ForeignKey(ImportSource, on_delete=models.PROTECT, related_name="jobs")
    # Kept when the account goes (like the audit trail's actor); a job without its uploader is not run.
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="import_jobs")
    filename = models.CharField(max_length=255)
    content = models.BinaryField(help_text="The file as uploaded.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=20)
    delimiter = models.CharField(max_length=1)
    headers = models.JSONField(default=list)
    checked_mobiles = models.BinaryField(
        default=b"",
        blank=True,
        help_text="The dry run's reading of each mobile (zlib-compressed JSON): the import parses none again.",
    )
    checked_rows = models.BinaryField(
        default=b"",
        blank=True,
        help_text="What the dry run read from each row (zlib-compressed JSON lines, one a batch): the import "
        "starts from it, not from the file.",
    )
    mapping = models.JSONField(default=dict, blank=True, help_text="Column heading -> member field.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    # Rows committed so far, in file order; a batch and this count are saved in one transaction, so after a
    # failure the job knows exactly where to resume and no row is imported twice.
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rows_done__lte=models.F("total_rows")), name="import_rows_done_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.filename} ({self.source})"

    @property
    def is_committed(self) -> bool:
        """Confirmed by an organiser: the report now says what happened, not what would."""
        return self.status in {self.Status.QUEUED, self.Status.RUNNING, self.Status.DONE, self.Status.FAILED}

    @property
    def is_in_progress(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    @property
    def percent_done(self) -> int:
        return int(100 * self.rows_done / self.total_rows) if self.total_rows else 100


class ImportRow(models.Model):
    """One line of the file and what the import does (dry run) or did (once confirmed) with it."""

    class Outcome(models.TextChoices):
        CREATED = "created", "New member"
        UPDATED = "updated", "Updated"
        UNCHANGED = "unchanged", "No change"
        DUPLICATE = "duplicate", "Repeats an earlier row"
        REJECTED = "rejected", "Rejected"

    # No index of its own: import_row_once (job, number) starts with the job and serves every lookup by job;
    # a second index only cost each report row written.
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows", db_index=False)
    number = models.PositiveIntegerField(help_text="The row's place among the file's data rows, from 1.")
    line = models.PositiveIntegerField(help_text="The line of the file the row starts on.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    membership_number = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=201, blank=True)
    member = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    workplace = models.ForeignKey(Workplace, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    changed = models.JSONField(default=list, blank=True, help_text="Fields this row changes.")
    problems = models.JSONField(default=list, blank=True, help_text="[column, reason] pairs.")

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="import_row_once")]
        indexes = [models.Index(fields=["job", "outcome", "number"], name="import_row_outcome")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.outcome}"
