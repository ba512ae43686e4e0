"""Celery tasks: thin, take plain values, safe to run twice."""

import datetime

from celery import shared_task

from crm import services
from crm.services import messages
from crm.sms import TemporarySendError


@shared_task
def take_membership_snapshot(on: str | None = None) -> int:
    """Snapshot members by branch and status for a day (ISO date; today if none). Rerunning replaces the day."""
    return services.take_membership_snapshot(on=datetime.date.fromisoformat(on) if on else None)


@shared_task(autoretry_for=(TemporarySendError,), retry_backoff=5, retry_backoff_max=600, max_retries=None)
def send_message(message_id: int) -> str:
    """Send one queued message; a message already sent (or suppressed) is left alone."""
    return messages.send_message(message_id=message_id).status
