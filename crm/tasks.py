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


@shared_task(bind=True)
def bulk_tag_members(self, user_id: int, filters: dict, tag_name: str, remove: bool = False) -> int:
    """Tag (or untag) a filtered list in the background, reporting progress; running it again changes nothing."""
    from crm.models import User
    from crm.services.segments import bulk_tag_members as bulk_tag

    def report(done: int, total: int) -> None:
        if not self.request.is_eager:  # an eager run has no result backend to report to
            self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    user = User.objects.get(pk=user_id)
    return bulk_tag(actor=user, filters=filters, tag_name=tag_name, remove=remove, progress=report)
