"""Celery tasks: thin, take plain values, safe to run twice."""

import datetime

from celery import shared_task

from crm import services
from crm.services import dues, messages
from crm.sms import TemporarySendError


@shared_task
def take_membership_snapshot(on: str | None = None) -> int:
    """Snapshot members by branch and status for a day (ISO date; today if none). Rerunning replaces the day."""
    return services.take_membership_snapshot(on=datetime.date.fromisoformat(on) if on else None)


@shared_task(autoretry_for=(TemporarySendError,), retry_backoff=5, retry_backoff_max=600, max_retries=None)
def send_message(message_id: int) -> str:
    """Send one queued message; a message already sent (or suppressed) is left alone."""
    return messages.send_message(message_id=message_id).status


@shared_task
def process_stripe_event(event_pk: int) -> str:
    """Apply one stored Stripe event to its member; an event already processed is left alone."""
    return dues.process_stripe_event(event_pk=event_pk).state


@shared_task
def lapse_members_past_grace(on: str | None = None) -> int:
    """Lapse members in arrears past the grace period (ISO date; today if none). A second run lapses no one."""
    return dues.lapse_members_past_grace(on=datetime.date.fromisoformat(on) if on else None)


@shared_task(autoretry_for=(Exception,), retry_backoff=30, max_retries=8)
def cancel_stripe_subscription(account_id: int) -> str:
    """Cancel the Stripe subscription of a member now paid by payroll or exempt; safe to run twice."""
    return dues.cancel_stripe_subscription(account_id=account_id)
