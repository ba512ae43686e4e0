"""Celery tasks for elections: thin, take ids, safe to run twice."""

from celery import shared_task

from elections.services import closing, setup


@shared_task
def issue_credentials(election_id: int) -> int:
    """Send a credential to every roll entry that has none; entries already sent are skipped."""
    return setup.issue_credentials(election_id=election_id)


@shared_task
def close_due_elections() -> list[int]:
    """Close, seal and count elections whose voting time is over; elections already closed are left alone."""
    return closing.close_due_elections()


@shared_task
def open_due_elections() -> dict[str, list[int]]:
    """Open elections set to open on time whose opening time has come; those already open are left alone."""
    return setup.open_due_elections()
