"""Celery tasks: thin, take plain values, safe to run twice."""

import datetime

from celery import shared_task

from crm import services


@shared_task
def take_membership_snapshot(on: str | None = None) -> int:
    """Snapshot members by branch and status for a day (ISO date; today if none). Rerunning replaces the day."""
    return services.take_membership_snapshot(on=datetime.date.fromisoformat(on) if on else None)


@shared_task
def import_members(job_id: int) -> str:
    """Import a confirmed CSV import job's rows. Resumes after the last batch saved; once done, does nothing."""
    from crm.services.imports import run_import

    return run_import(job_id=job_id).status
