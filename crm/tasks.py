"""Celery tasks: thin, take plain values, safe to run twice."""

import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from crm import services
from crm.services import dues, messages, outreach
from crm.sms import TemporarySendError

# Waits between tries after a temporary provider error (rate limited, 5xx): 5 s, 20 s, 80 s, 320 s.
BACKOFF_SECONDS = (5, 20, 80, 320)


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


@shared_task
def send_message_chunk(message_ids: list[int]) -> int:
    """Send a chunk of a campaign's messages at the channel's rate. A message that met a temporary provider
    error goes to send_message with a backoff; the rest of the chunk goes on. Returns how many were sent."""
    outcomes = messages.send_messages(message_ids=message_ids)
    for outcome in outcomes:
        if outcome.retry is not None:
            attempts = outcome.message.attempts
            countdown = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
            send_message.apply_async((outcome.message.pk,), countdown=countdown)
    campaign_ids = set(
        messages.Message.objects.filter(pk__in=message_ids, campaign__isnull=False).values_list(
            "campaign_id", flat=True
        )
    )
    for campaign_id in campaign_ids:
        outreach.finish_campaign_if_done(campaign_id=campaign_id)
    return sum(outcome.message.status == messages.Message.Status.SENT for outcome in outcomes)


@shared_task
def queue_campaign(campaign_id: int) -> int:
    """Build a campaign's messages and fan them out; a second run finds them built and adds nothing."""
    return outreach.queue_campaign(campaign_id=campaign_id)


@shared_task
def release_due_outreach() -> dict:
    """Every minute: start scheduled campaigns that are due, and send texts held back by quiet hours."""
    campaigns = outreach.release_due_campaigns()
    held = messages.release_due_messages()
    size = settings.OUTREACH_CHUNK_SIZE
    for start in range(0, len(held), size):
        send_message_chunk.delay(held[start : start + size])
    return {"campaigns": len(campaigns), "messages": len(held)}


@shared_task
def recover_stalled_sends(older_than_seconds: int | None = None) -> dict:
    """Every few minutes: settle messages a dead worker left "sending", and re-send the queued messages of
    campaigns whose tasks were lost (nothing claimed for a while). Both are safe to repeat."""
    older_than = datetime.timedelta(
        seconds=settings.OUTREACH_STALLED_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    )
    counts = messages.recover_stalled(older_than=older_than)
    requeued = counts.pop("requeued_ids")
    ids = sorted(set(requeued) | set(messages.stalled_queued_ids(older_than=older_than)))
    size = settings.OUTREACH_CHUNK_SIZE
    for start in range(0, len(ids), size):
        send_message_chunk.delay(ids[start : start + size])
    for campaign_id in outreach.sending_campaign_ids():
        outreach.finish_campaign_if_done(campaign_id=campaign_id)
    # A worker that died while building a campaign's messages rolled its work back: build it again.
    stuck = outreach.stuck_queueing_campaign_ids(older_than=older_than)
    for campaign_id in stuck:
        queue_campaign.delay(campaign_id)
    return counts | {"redispatched": len(ids), "rebuilt": len(stuck)}


@shared_task
def clean_up_outreach() -> int:
    """Daily: forget webhook events older than OUTREACH_EVENT_DAYS (their effect is on the messages)."""
    cutoff = timezone.now() - datetime.timedelta(days=settings.OUTREACH_EVENT_DAYS)
    return outreach.ProviderEvent.objects.filter(received_at__lt=cutoff).delete()[0]


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


@shared_task
def import_members(job_id: int) -> str:
    """Import a confirmed CSV import job's rows. Resumes after the last batch saved; once done, does nothing."""
    from crm.services.imports import run_import

    return run_import(job_id=job_id).status


@shared_task
def apply_retention() -> list[dict]:
    """Daily: apply the retention rules in settings; a second run the same day finds nothing left to do."""
    from crm.services.retention import apply_retention as apply

    return apply()


@shared_task
def import_workplaces(job_id: int) -> str:
    """Import a confirmed workplace import job's rows. Resumes after the last batch saved; once done, does nothing."""
    from crm.services.workplace_imports import run_import

    return run_import(job_id=job_id).status
