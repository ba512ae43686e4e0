"""The one message pipeline (DESIGN.md rule 7): queue a message once by its key, send it from a task.

Every email and text (campaigns, ballot credentials, confirmations, a welcome) is queued here. A message
is a row keyed by what it is for, so asking twice never sends twice; whether it may be sent is decided
when it is queued and checked again when it is sent, so a member who opts out in between is not messaged.

Sending is three steps, each committed on its own: claim the row ("sending"), call the provider, record
the answer ("sent", "failed", or back to "queued" for a retry). A worker that dies between the first and
the last leaves the row "sending"; recover_stalled() then asks the backend whether the key reached the
provider, and where the backend cannot tell, marks the row "unknown" for a person to check rather than
risk sending it twice. So: at most once always, and exactly once with a backend that can look a key up.
"""

from __future__ import annotations

import base64
import datetime
import hmac
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Max, TextField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from crm.errors import ServiceError
from crm.models import Member, Message, MessageAttachment, SmsOptOut
from crm.models.messages import CONFIDENTIAL_REMOVED
from crm.ratelimit import wait_for_slot
from crm.sms import PermanentSendError, TemporarySendError, get_sms_backend

MAX_ATTEMPTS = 5
UK = ZoneInfo("Europe/London")


# Personal opt-out links -----------------------------------------------------------------------------------
# A short signed token, no login needed: the kind ("e" email, "s" texts), the member id in base 36, and a
# truncated HMAC under the site's secret. Short, because a text from a named sender carries it.

_OPT_OUT_SALT = "crm.outreach.opt-out"
_KINDS = {Message.Channel.EMAIL: "e", Message.Channel.SMS: "s"}


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
        if not number:
            return text


def _signature(payload: str) -> str:
    digest = salted_hmac(_OPT_OUT_SALT, payload, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def opt_out_token(member_id: int, channel: str) -> str:
    payload = _KINDS[channel] + _base36(member_id)
    return f"{payload}-{_signature(payload)}"


def read_opt_out_token(token: str) -> tuple[int, str] | None:
    """(member id, channel) for a genuine token; None for anything else (altered, truncated, garbage)."""
    if not isinstance(token, str) or len(token) > 40 or "-" not in token:
        return None
    payload, signature = token.split("-", 1)
    if not hmac.compare_digest(signature.encode(), _signature(payload).encode()):
        return None
    channel = {kind: channel for channel, kind in _KINDS.items()}.get(payload[:1])
    try:
        member_id = int(payload[1:], 36)
    except ValueError:
        return None
    return (member_id, channel) if channel else None


def opt_out_url(member_id: int, channel: str) -> str:
    return settings.QUORUM_SITE_URL.rstrip("/") + reverse("opt_out", args=[opt_out_token(member_id, channel)])


# Who may be sent what -------------------------------------------------------------------------------------


def _number_opted_out(number: str) -> bool:
    return bool(number) and SmsOptOut.objects.filter(number=number).exists()


def why_not_sendable(member: Member, channel: str, basis: str, *, is_opted_out: bool | None = None) -> str:
    """The reason this member cannot be sent this message now, or '' if it may be sent. `is_opted_out`
    says whether the member's number is on the opt-out list, when the caller already knows."""
    address = member.email if channel == Message.Channel.EMAIL else member.mobile
    if not address:
        return "No email address." if channel == Message.Channel.EMAIL else "No mobile number."
    if is_opted_out is None:
        is_opted_out = channel == Message.Channel.SMS and _number_opted_out(address)
    if channel == Message.Channel.SMS and is_opted_out:
        return OPTED_OUT_REASON
    if basis == Message.Basis.CONSENT and not getattr(member, f"{channel}_consent"):
        return f"No consent to {'email' if channel == Message.Channel.EMAIL else 'texts'}."
    return ""


OPTED_OUT_REASON = "The number opted out (STOP)."


def status_for_reason(reason: str) -> str:
    return Message.Status.OPTED_OUT if reason == OPTED_OUT_REASON else Message.Status.SUPPRESSED


def in_quiet_hours(at: datetime.datetime) -> bool:
    start, end = settings.SMS_QUIET_HOURS
    hour = at.astimezone(UK).hour
    return hour >= start or hour < end if start > end else start <= hour < end


def end_of_quiet_hours(at: datetime.datetime) -> datetime.datetime:
    """The next moment texts may go again (08:00 UK time by default), from a time inside quiet hours."""
    local = at.astimezone(UK)
    end = local.replace(hour=settings.SMS_QUIET_HOURS[1], minute=0, second=0, microsecond=0)
    if end <= local:
        end += datetime.timedelta(days=1)
    # Built on the local wall clock, so a clock change overnight still gives 08:00 local time.
    return datetime.datetime.combine(end.date(), end.time(), tzinfo=UK)


# Confidential messages ------------------------------------------------------------------------------------
# A voting credential in a stored body would let anyone who can read the table vote for a member who has not.
# So a confidential message keeps its body only while it may still be sent: the UPDATE that moves it to a final
# state also replaces the body (the constraint message_confidential_wiped makes the database insist on it).


def final_fields(status: str) -> dict:
    """Extra fields for an UPDATE that sets `status`: wipe confidential bodies when the status is final."""
    if status not in Message.FINAL_STATUSES:
        return {}
    return {
        name: Case(When(confidential=True, then=Value(CONFIDENTIAL_REMOVED)), default=F(name), output_field=TextField())
        for name in ("body", "html_body")
    }


def settle_messages(messages, *, status: str, **fields) -> int:
    """Move a queryset of messages to `status` (with `fields`), wiping confidential bodies in the same UPDATE."""
    return messages.update(status=status, **fields, **final_fields(status))


# Attachments ----------------------------------------------------------------------------------------------
# Small files only (a calendar entry): they travel inside the message row's transaction and the email itself.

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 256 * 1024
SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes | str

    @property
    def data(self) -> bytes:
        return self.content.encode() if isinstance(self.content, str) else bytes(self.content)


def _check_attachments(channel: str, attachments: list[Attachment], *, confidential: bool) -> None:
    if not attachments:
        return
    if channel != Message.Channel.EMAIL:
        raise ServiceError("A text message cannot carry attachments: send them by email.", field="attachments")
    if confidential:
        # The secret would outlive the wiped body in the attachment.
        raise ServiceError("A confidential message cannot carry attachments.", field="attachments")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ServiceError(f"Attach at most {MAX_ATTACHMENTS} files to one email.", field="attachments")
    for attachment in attachments:
        if not isinstance(attachment, Attachment) or not isinstance(attachment.content, str | bytes):
            raise ServiceError("An attachment needs a file name, a content type and its content.", field="attachments")
        if not SAFE_FILENAME.fullmatch(attachment.filename or "") or ".." in attachment.filename:
            raise ServiceError(
                "An attachment's file name is up to 100 letters, digits, spaces, dots, dashes or underscores.",
                field="attachments",
            )
        if not CONTENT_TYPE.fullmatch(attachment.content_type or ""):
            raise ServiceError(f"{attachment.filename}: the content type is not valid.", field="attachments")
        if len(attachment.data) > MAX_ATTACHMENT_BYTES:
            raise ServiceError(
                f"{attachment.filename} is too large: attachments are limited to {MAX_ATTACHMENT_BYTES // 1024} KB.",
                field="attachments",
            )


# Queueing -------------------------------------------------------------------------------------------------


def queue_message(
    *,
    member: Member,
    channel: str,
    basis: str,
    key: str,
    body: str,
    subject: str = "",
    html_body: str = "",
    confidential: bool = False,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
) -> Message:
    """Add the message for `key` once and send it after the surrounding transaction commits.

    Returns the existing row if `key` was queued before (whatever its state). A member who may not be sent
    it (no address, no consent for a consent-based message, a number that texted STOP) gets a row marked
    suppressed or opted out, with the reason. A `confidential` message (a voting credential) keeps its body
    only until it reaches a final state. `attachments` go with an email; raises ServiceError for attachments
    on a text or a confidential message, too many, too large, or badly named.
    """
    attachments = list(attachments)
    _check_attachments(channel, attachments, confidential=confidential)
    existing = Message.objects.filter(key=key).first()
    if existing:
        return existing
    reason = why_not_sendable(member, channel, basis)
    status = status_for_reason(reason) if reason else Message.Status.QUEUED
    if confidential and status in Message.FINAL_STATUSES:
        body = html_body = CONFIDENTIAL_REMOVED  # never sent, so never stored
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
                status=status,
                reason=reason,
                confidential=confidential,
            )
            MessageAttachment.objects.bulk_create(
                MessageAttachment(message=message, filename=a.filename, content_type=a.content_type, content=a.data)
                for a in attachments
            )
    except IntegrityError:
        return Message.objects.get(key=key)  # queued at the same moment by someone else
    if message.status == Message.Status.QUEUED:
        dispatch_on_commit([message.pk])
    return message


def dispatch_on_commit(message_ids: list[int]) -> None:
    from crm.tasks import send_message as send_message_task

    ids = list(message_ids)
    transaction.on_commit(lambda: [send_message_task.delay(message_id) for message_id in ids])


# Sending --------------------------------------------------------------------------------------------------
# A worker claims a small batch of messages in one committed transaction, sends them one by one at the
# channel's rate, and records the batch's answers in one more. Two commits per batch instead of two per
# message: a dead worker can leave at most one batch "sending" (see recover_stalled).


@dataclass
class _Outcome:
    message: Message
    retry: TemporarySendError | None = None


VOTED_REASON = "Voted before the reminder went."


def _voted_since_queued(messages: list[Message]) -> set[int]:
    """Ids of reminders to an election's non-voters whose member has voted since they were queued."""
    reminders = [
        m for m in messages if m.campaign is not None and m.campaign.audience_kind == "non_voters" and m.member_id
    ]
    if not reminders:
        return set()
    from elections.models import RollEntry

    voted = set(
        RollEntry.objects.filter(
            has_voted=True,
            roll__election_id__in={m.campaign.election_id for m in reminders},
            member_id__in={m.member_id for m in reminders},
        ).values_list("roll__election_id", "member_id")
    )
    return {m.pk for m in reminders if (m.campaign.election_id, m.member_id) in voted}


def _settle(message: Message, now: datetime.datetime, opted_out: set[str], voted: set[int] = frozenset()) -> str:
    """What to do with a queued message now: "send", "hold" (quiet hours or not yet due), or "settled"
    (cancelled, no consent, opted out: its status and reason are set here, for the caller to save)."""
    if message.send_after and message.send_after > now:
        return "hold"
    campaign = message.campaign
    if campaign is not None and campaign.status == campaign.Status.CANCELLED:
        message.status, message.reason = Message.Status.CANCELLED, "The campaign was cancelled."
        return "settled"
    if message.pk in voted:
        message.status, message.reason = Message.Status.CANCELLED, VOTED_REASON
        return "settled"
    if message.channel == Message.Channel.SMS and message.to in opted_out:
        reason = OPTED_OUT_REASON
    elif message.member:
        reason = why_not_sendable(message.member, message.channel, message.basis, is_opted_out=False)
    elif message.basis == Message.Basis.CONSENT:
        reason = "No member record (erased)."
    else:  # a service message to a bare address, such as a test send to a member of staff
        reason = ""
    if reason:
        message.status, message.reason = status_for_reason(reason), reason
        return "settled"
    is_urgent = campaign is None or campaign.is_urgent
    if message.channel == Message.Channel.SMS and not is_urgent and in_quiet_hours(now):
        message.send_after, message.reason = end_of_quiet_hours(now), "Held for quiet hours."
        return "hold"
    return "send"


def _claim(message_ids: list[int]) -> list[Message]:
    """Mark the sendable messages among `message_ids` "sending" in their own committed transaction, and
    settle the rest (cancelled, no consent, opted out, held for quiet hours). Returns the claimed messages,
    the only ones that may be handed to the provider. Rows another worker holds are skipped."""
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",), skip_locked=True)  # not members' or campaigns'
        found = list(
            locked.select_related("member", "campaign")
            .prefetch_related("attachments")
            .filter(pk__in=message_ids, status=Message.Status.QUEUED)
        )
        numbers = {m.to for m in found if m.channel == Message.Channel.SMS and m.to}
        opted_out = set(SmsOptOut.objects.filter(number__in=numbers).values_list("number", flat=True))
        voted = _voted_since_queued(found)
        claimed, settled, held = [], [], []
        for message in found:
            verdict = _settle(message, now, opted_out, voted)
            {"send": claimed, "settled": settled, "hold": held}[verdict].append(message)
        for message in claimed:
            message.status, message.attempts, message.claimed_at = Message.Status.SENDING, message.attempts + 1, now
            message.send_after = None
        if claimed:
            Message.objects.filter(pk__in=[m.pk for m in claimed]).update(
                status=Message.Status.SENDING, attempts=F("attempts") + 1, claimed_at=now, send_after=None
            )
        # Plain UPDATEs, grouped by the values they set (bulk_update's CASE costs more than it saves here).
        groups: dict[tuple, list[int]] = {}
        for message in settled:
            groups.setdefault(("status", message.status, message.reason), []).append(message.pk)
        for message in held:
            groups.setdefault(("send_after", message.send_after, message.reason), []).append(message.pk)
        for (field, value, reason), ids in groups.items():
            wipe = final_fields(value) if field == "status" else {}
            Message.objects.filter(pk__in=ids).update(**{field: value, "reason": reason}, **wipe)
    return claimed


def _send_batch(message_ids: list[int]) -> list[_Outcome]:
    outcomes = []
    for message in _claim(message_ids):
        wait_for_slot(message.channel)
        outcome = _Outcome(message)
        try:
            provider_id = _deliver(message)
        except TemporarySendError as error:
            reason = str(error)[:255]
            if message.attempts < MAX_ATTEMPTS:
                message.status, message.reason, outcome.retry = Message.Status.QUEUED, reason, error
            else:
                message.status, message.reason = Message.Status.FAILED, reason
        except PermanentSendError as error:
            if error.is_opted_out:
                message.status, message.reason = Message.Status.OPTED_OUT, OPTED_OUT_REASON
            else:
                message.status, message.reason = Message.Status.FAILED, str(error)[:255]
        else:
            message.status, message.provider_id, message.sent_at = Message.Status.SENT, provider_id, timezone.now()
        outcomes.append(outcome)
    _record([outcome.message for outcome in outcomes])
    return outcomes


def _record(messages: list[Message]) -> None:
    """Write the provider's answers in one transaction, only over our own claims (rows still "sending")."""
    if not messages:
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            changed = _record_in_one_statement(messages)
        else:
            changed = {
                m.pk
                for m in messages
                if settle_messages(
                    Message.objects.filter(pk=m.pk, status=Message.Status.SENDING),
                    status=m.status,
                    reason=m.reason,
                    provider_id=m.provider_id,
                    sent_at=m.sent_at,
                )
            }
        for message in messages:
            if message.pk in changed and message.status == Message.Status.OPTED_OUT:
                # The provider says the number opted out with it (Twilio error 21610).
                SmsOptOut.objects.get_or_create(number=message.to, defaults={"source": "provider"})


def _record_in_one_statement(messages: list[Message]) -> set[int]:
    """One UPDATE ... FROM (VALUES ...) for the whole batch on PostgreSQL; returns the ids it changed."""
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(messages))
    final = list(Message.FINAL_STATUSES)
    params: list = [final, CONFIDENTIAL_REMOVED, final, CONFIDENTIAL_REMOVED]
    for m in messages:
        params += [m.pk, m.status, m.reason, m.provider_id, m.sent_at]
    # The table name is ours and every value a placeholder. A confidential body is wiped in the same statement
    # that records a final state (see final_fields).
    sql = (
        f"UPDATE {Message._meta.db_table} AS m SET status = v.status, reason = v.reason, "  # noqa: S608
        "provider_id = v.provider_id, sent_at = v.sent_at::timestamptz, "
        "body = CASE WHEN m.confidential AND v.status = ANY(%s) THEN %s ELSE m.body END, "
        "html_body = CASE WHEN m.confidential AND v.status = ANY(%s) THEN %s ELSE m.html_body END "
        f"FROM (VALUES {rows}) AS v(id, status, reason, provider_id, sent_at) "
        "WHERE m.id = v.id::bigint AND m.status = 'sending' RETURNING m.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def send_messages(*, message_ids: list[int]) -> list[_Outcome]:
    """Send a chunk of messages, claiming and recording them in batches of OUTREACH_CLAIM_BATCH. Each
    outcome whose `retry` is set met a temporary error and went back to the queue for a later try."""
    size = max(1, settings.OUTREACH_CLAIM_BATCH)
    outcomes: list[_Outcome] = []
    for start in range(0, len(message_ids), size):
        outcomes += _send_batch(message_ids[start : start + size])
    return outcomes


def send_message(*, message_id: int) -> Message:
    """Send one queued message through the configured backend, at the channel's rate. Safe to call twice:
    only a queued message is claimed, under a row lock, so a second call finds it claimed or sent. Raises
    TemporarySendError, after recording the attempt, when a retry may cure it; after MAX_ATTEMPTS the
    message is marked failed instead."""
    outcomes = _send_batch([message_id])
    if outcomes and outcomes[0].retry is not None:
        raise outcomes[0].retry
    return outcomes[0].message if outcomes else Message.objects.get(pk=message_id)


def _deliver(message: Message) -> str:
    campaign = message.campaign
    if message.channel == Message.Channel.SMS:
        if message.attachments.all():
            raise PermanentSendError("A text message cannot carry attachments.")
        sender = campaign.sender_name if campaign is not None else ""
        options = {"sender": sender} if sender else {}
        return get_sms_backend().send(to=message.to, body=message.body, key=message.key, **options)
    headers = {}
    if message.member_id:
        # RFC 8058 one-click unsubscribe: mail clients show an unsubscribe button and POST to the link.
        headers["List-Unsubscribe"] = f"<{opt_out_url(message.member_id, Message.Channel.EMAIL)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to], headers=headers
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    for attachment in message.attachments.all():
        email.attach(attachment.filename, bytes(attachment.content), attachment.content_type)
    # django-anymail passes these to the provider, whose tracking webhooks then name our message.
    email.metadata = {"message_key": message.key}
    try:
        email.send()
    except OSError as error:  # SMTP connection trouble: worth another try
        raise TemporarySendError(str(error)) from error
    except Exception as error:
        if type(error).__name__ == "AnymailAPIError" and getattr(error, "status_code", None) in (429, 500, 502, 503):
            raise TemporarySendError(str(error)) from error
        raise
    status = getattr(email, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


# Recovery and release (periodic) --------------------------------------------------------------------------


def recover_stalled(*, older_than: datetime.timedelta | None = None) -> dict:
    """Settle messages left "sending" by a worker that died. Where the backend can look our key up, a message
    that reached the provider is marked sent and one that did not goes back to the queue; where it cannot
    (email, Twilio), the message is marked "unknown" and never resent automatically. Returns counts, and
    the ids put back in the queue (requeued_ids) for the caller to send."""
    if older_than is None:
        older_than = datetime.timedelta(seconds=settings.OUTREACH_STALLED_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    counts: dict = {"sent": 0, "requeued": 0, "unknown": 0, "requeued_ids": []}
    stalled = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lte=cutoff)
    backend = get_sms_backend()
    for message in stalled.only("pk", "key", "channel").iterator():
        if message.channel == Message.Channel.SMS and backend.can_look_up:
            provider_id = backend.find_sent(message.key)
            if provider_id:
                _settle_stalled(message, status=Message.Status.SENT, provider_id=provider_id, sent_at=timezone.now())
                counts["sent"] += 1
            else:
                _settle_stalled(message, status=Message.Status.QUEUED)
                counts["requeued"] += 1
                counts["requeued_ids"].append(message.pk)
        else:
            reason = "The worker stopped while sending: check with the provider before sending again."
            _settle_stalled(message, status=Message.Status.UNKNOWN, reason=reason)
            counts["unknown"] += 1
    return counts


def _settle_stalled(message: Message, *, status: str, **fields) -> None:
    settle_messages(Message.objects.filter(pk=message.pk, status=Message.Status.SENDING), status=status, **fields)


def stalled_queued_ids(*, older_than: datetime.timedelta) -> list[int]:
    """Queued, due messages of campaigns that have claimed nothing for `older_than`: their tasks were lost."""
    from crm.models import Campaign

    cutoff = timezone.now() - older_than
    ids: list[int] = []
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING, started_at__lte=cutoff):
        last = campaign.messages.aggregate(last=Max("claimed_at"))["last"]
        if last is None or last <= cutoff:
            ids += list(
                campaign.messages.filter(status=Message.Status.QUEUED, send_after__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
    return ids


def release_due_messages() -> list[int]:
    """Messages held back (quiet hours) whose time has come: cleared to send, their ids returned."""
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Message.Status.QUEUED, send_after__lte=timezone.now())
            .values_list("pk", flat=True)
        )
        Message.objects.filter(pk__in=due).update(send_after=None, reason="")
    return due
