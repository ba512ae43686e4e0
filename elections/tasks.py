"""Celery tasks for elections: thin, take ids, safe to run twice."""

from celery import shared_task

from elections.services import setup


@shared_task
def issue_credentials(election_id: int) -> int:
    """Send a credential to every roll entry that has none; entries already sent are skipped."""
    return setup.issue_credentials(election_id=election_id)
