"""The one message pipeline (DESIGN.md rule 7): queue a message once by its key, send it from a task.

Every email and text (campaigns, ballot credentials, confirmations, a welcome) is queued here. A message
is a row keyed by what it is for, so asking twice never sends twice; whether it may be sent is decided
when it is queued and checked again when it is sent, so a member who opts out in between is not messaged.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Member, Message
from crm.sms import PermanentSendError, TemporarySendError, get_sms_backend

MAX_ATTEMPTS = 5


def why_not_sendable(member: Member, channel: str, basis: str) -> str:
    """The reason this member cannot be sent this message now, or '' if it may be sent."""
    address = member.email if channel == Message.Channel.EMAIL else member.mobile
    if not address:
        return "No email address." if channel == Message.Channel.EMAIL else "No mobile number."
    if basis == Message.Basis.CONSENT and not getattr(member, f"{channel}_consent"):
        return f"No consent to {'email' if channel == Message.Channel.EMAIL else 'texts'}."
    return ""


def queue_message(
    *,
    member: Member,
    channel: str,
    basis: str,
    key: str,
    body: str,
    subject: str = "",
    html_body: str = "",
) -> Message:
    """Add the message for `key` once and send it after the surrounding transaction commits.

    Returns the existing row if `key` was queued before (whatever its state). A member who may not be sent
    it (no address, or no consent for a consent-based message) gets a row marked suppressed, with the reason.
    """
    existing = Message.objects.filter(key=key).first()
    if existing:
        return existing
    reason = why_not_sendable(member, channel, basis)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                key=key,
                member=member,
                channel=channel,
                basis=basis,
                to=member.email if channel == Message.Channel.EMAIL else member.mobile,
                subject=subject[:200],
                body=body,
                html_body=html_body,
                status=Message.Status.SUPPRESSED if reason else Message.Status.QUEUED,
                reason=reason,
            )
    except IntegrityError:
        return Message.objects.get(key=key)  # queued at the same moment by someone else
    if message.status == Message.Status.QUEUED:
        from crm.tasks import send_message as send_message_task

        message_id = message.pk
        transaction.on_commit(lambda: send_message_task.delay(message_id))
    return message


def send_message(*, message_id: int) -> Message:
    """Send one queued message through the configured backend. Safe to call twice: only a queued message
    is sent, under a row lock, so a second call finds it sent. Raises TemporarySendError, after recording
    the attempt, when a retry may cure it; after MAX_ATTEMPTS the message is marked failed instead."""
    retry: TemporarySendError | None = None
    with transaction.atomic():
        message = Message.objects.select_for_update().select_related("member").get(pk=message_id)
        if message.status != Message.Status.QUEUED:
            return message
        reason = why_not_sendable(message.member, message.channel, message.basis) if message.member else "Erased."
        if reason:
            message.status, message.reason = Message.Status.SUPPRESSED, reason
            message.save(update_fields=["status", "reason"])
            return message
        message.attempts += 1
        try:
            message.provider_id = _deliver(message)
        except TemporarySendError as error:
            if message.attempts < MAX_ATTEMPTS:
                retry = error
            else:
                message.status, message.reason = Message.Status.FAILED, str(error)[:255]
        except PermanentSendError as error:
            message.status, message.reason = Message.Status.FAILED, str(error)[:255]
        else:
            message.status, message.sent_at = Message.Status.SENT, timezone.now()
        message.save()
    if retry is not None:
        raise retry
    return message


def _deliver(message: Message) -> str:
    if message.channel == Message.Channel.SMS:
        return get_sms_backend().send(to=message.to, body=message.body, key=message.key)
    email = EmailMultiAlternatives(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to])
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    try:
        email.send()
    except OSError as error:  # SMTP connection trouble: worth another try
        raise TemporarySendError(str(error)) from error
    return ""
