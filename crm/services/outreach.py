"""Outreach: compose a campaign, see who it reaches and what it costs, send it through the message pipeline,
and take in what comes back (delivery reports, STOP, replies, unsubscribes).

Who may send: national admins and organisers (can_send_campaigns). Reps may not: a campaign reaches
members across workplaces and speaks for the union, so it stays with staff who answer for the patch.
A campaign reaches only members its author may see: its audience is evaluated through segment_members().
"""

from __future__ import annotations

import datetime
import html
import math
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Protocol

import django.dispatch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.html import linebreaks, urlize

from crm.errors import NotPermitted, ServiceError
from crm.models import Campaign, InboundText, Member, Message, ProviderEvent, Segment, SmsOptOut, User
from crm.selectors import members_visible_to
from crm.selectors.segments import segment_members
from crm.services import record_audit
from crm.services.messages import OPTED_OUT_REASON, dispatch_on_commit, opt_out_url, settle_messages
from elections.models import Election
from events.models import Event

# Sent to the conversations feature (when it exists) for each reply that is not a keyword: connect a
# receiver to log it in the member's conversation history. Sent after the reply is stored.
inbound_text_received = django.dispatch.Signal()


# Who may send ---------------------------------------------------------------------------------------------


def can_send_campaigns(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == User.Role.ORGANISER))


def campaigns_visible_to(user: User) -> QuerySet[Campaign]:
    """National admins see every campaign; organisers the campaigns they wrote; nobody else any."""
    campaigns = Campaign.objects.select_related("segment", "election", "event", "created_by")
    if not can_send_campaigns(user):
        return campaigns.none()
    return campaigns if user.is_national else campaigns.filter(created_by=user)


def segments_usable_by(user: User) -> QuerySet[Segment]:
    if not can_send_campaigns(user):
        return Segment.objects.none()
    return (Segment.objects.filter(owner=user) | Segment.objects.filter(is_shared=True)).distinct()


# Audiences: where a campaign's recipients come from -------------------------------------------------------


class Audience(Protocol):
    label: str

    def members(self, user: User) -> QuerySet[Member]:
        """The recipients, within what `user` may see."""


@dataclass
class SegmentAudience:
    segment: Segment

    @property
    def label(self) -> str:
        return f"Segment: {self.segment.name}"

    def members(self, user: User) -> QuerySet[Member]:
        return segment_members(user, self.segment)


@dataclass
class NonVotersAudience:
    """Members on an open election's roll who have not voted yet, among those the sender may see. Only the roll's
    has-voted mark is read (what turnout already shows organisers), never anything about a ballot."""

    election: Election

    @property
    def label(self) -> str:
        return f"Not yet voted: {self.election.title}"

    def members(self, user: User) -> QuerySet[Member]:
        from elections.selectors.voting import non_voters_for

        # Empty once voting has closed, so a scheduled reminder that comes too late reaches no one.
        entries = non_voters_for(user, self.election).order_by()
        return members_visible_to(user).filter(pk__in=entries.values("member_id"))


@dataclass
class RegistrantsAudience:
    """Members with a place at an event (and, if asked, those on its waiting list), among those the sender may see."""

    event: Event
    include_waiting_list: bool = False

    @property
    def label(self) -> str:
        waiting = " (and waiting list)" if self.include_waiting_list else ""
        return f"Registered for {self.event.title}{waiting}"

    def members(self, user: User) -> QuerySet[Member]:
        from events.models import Registration

        statuses = [Registration.Status.REGISTERED]
        if self.include_waiting_list:
            statuses.append(Registration.Status.WAITING)
        registrations = Registration.objects.filter(event=self.event, status__in=statuses).order_by()
        return members_visible_to(user).filter(pk__in=registrations.values("member_id"))


def audience_for(campaign: Campaign) -> Audience:
    """The audience behind a campaign: a segment, an election's non-voters, or an event's registrants."""
    kind = campaign.audience_kind
    if kind == Campaign.AudienceKind.SEGMENT and campaign.segment_id:
        return SegmentAudience(campaign.segment)
    if kind == Campaign.AudienceKind.NON_VOTERS and campaign.election_id:
        return NonVotersAudience(campaign.election)
    if kind == Campaign.AudienceKind.REGISTRANTS and campaign.event_id:
        return RegistrantsAudience(campaign.event, campaign.include_waiting_list)
    raise ServiceError("This campaign has no audience that can be sent to.", field="segment")


def elections_usable_by(user: User) -> QuerySet[Election]:
    """Elections whose non-voters the user may remind: open for voting and in the user's sight."""
    from elections.selectors.voting import elections_for

    if not can_send_campaigns(user):
        return Election.objects.none()
    return elections_for(user).filter(status=Election.Status.VOTING).order_by("voting_closes_at", "pk")


# Registrants of an event that ended long ago are not an audience anyone means to write to.
EVENT_AUDIENCE_DAYS = 30


def events_usable_by(user: User) -> QuerySet[Event]:
    from events.selectors import events_visible_to

    if not can_send_campaigns(user):
        return Event.objects.none()
    since = timezone.now() - datetime.timedelta(days=EVENT_AUDIENCE_DAYS)
    return events_visible_to(user).filter(ends_at__gte=since).order_by("starts_at", "pk")


# Merge fields ---------------------------------------------------------------------------------------------

MERGE_FIELD = re.compile(r"\{([a-z_]+)\}")
MERGE_FIELDS = {
    "first_name": "The member's first name",
    "last_name": "The member's last name",
    "workplace": "The member's workplace (blank for supply and retired members)",
    "branch": "The member's branch",
    "unsubscribe_url": "Personal one-click unsubscribe link (email)",
    "opt_out_url": "Personal short link to stop texts (SMS)",
}
MAX_SUBJECT = 200
MAX_BODY = {Campaign.Channel.EMAIL: 20_000, Campaign.Channel.SMS: 1_000}
ALLOWED_HTML = {"p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "h2", "h3", "blockquote"}


def unknown_merge_fields(text: str) -> list[str]:
    return sorted({name for name in MERGE_FIELD.findall(text or "") if name not in MERGE_FIELDS})


def merge(text: str, values: dict[str, str], *, escape: bool = False) -> str:
    def value(match: re.Match) -> str:
        found = values.get(match.group(1), match.group(0))
        return html.escape(found) if escape else found

    return MERGE_FIELD.sub(value, text)


class _SimpleHtml(HTMLParser):
    """Finds what simple campaign HTML may not hold: other tags, event handlers, styles, script links."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_HTML:
            self.problems.append(f"<{tag}> is not allowed")
        for name, value in attrs:
            if tag != "a" or name != "href":
                self.problems.append(f"the {name} attribute is not allowed")
            elif not re.match(r"^(https?://|mailto:|\{(unsubscribe_url|opt_out_url)\})", (value or "").strip()):
                self.problems.append("links must start with https://, http:// or mailto:")


def html_problems(text: str) -> list[str]:
    parser = _SimpleHtml()
    parser.feed(text or "")
    parser.close()
    return sorted(set(parser.problems))


def merge_values(member: Member) -> dict[str, str]:
    return {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "workplace": member.workplace.name if member.workplace_id else "",
        "branch": member.branch.name if member.branch_id else "",
        "unsubscribe_url": opt_out_url(member.pk, Message.Channel.EMAIL),
        "opt_out_url": opt_out_url(member.pk, Message.Channel.SMS),
    }


def _sms_template(campaign: Campaign) -> str:
    """A named sender cannot take replies in the UK, so STOP cannot work: such a text carries a short link."""
    if campaign.is_named_sender and "{opt_out_url}" not in campaign.body:
        return f"{campaign.body}\nStop texts: {{opt_out_url}}"
    return campaign.body


def _email_templates(campaign: Campaign) -> tuple[str, str]:
    body = campaign.body
    if "{unsubscribe_url}" not in body:
        body = f"{body}\n\n--\nUnsubscribe: {{unsubscribe_url}}"
    html_body = campaign.html_body or linebreaks(urlize(html.escape(campaign.body).replace("&#x27;", "'")))
    if "{unsubscribe_url}" not in html_body:
        html_body += '\n<p><small><a href="{unsubscribe_url}">Unsubscribe</a></small></p>'
    return body, html_body


@dataclass
class Rendered:
    subject: str
    body: str
    html_body: str


def render_for(campaign: Campaign, values: dict[str, str]) -> Rendered:
    if campaign.channel == Campaign.Channel.SMS:
        return Rendered(subject="", body=merge(_sms_template(campaign), values), html_body="")
    body, html_body = _email_templates(campaign)
    return Rendered(
        subject=merge(campaign.subject, values),
        body=merge(body, values),
        html_body=merge(html_body, values, escape=True),
    )


# SMS length and cost --------------------------------------------------------------------------------------

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


@dataclass
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7, extension characters count two) or UTF-16 code units (UCS-2)
    segments: int
    non_gsm: list[str]

    @property
    def per_segment(self) -> int:
        if self.encoding == "GSM-7":
            return 160 if self.segments <= 1 else 153
        return 70 if self.segments <= 1 else 67


def sms_length(text: str) -> SmsLength:
    """Character set and segments as carriers count them: GSM-7 fits 160 (153 per part when split);
    one character outside it makes the whole text UCS-2, 70 (67 per part)."""
    non_gsm = sorted({c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION})
    if not non_gsm:
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        segments = 1 if units <= 160 else math.ceil(units / 153)
        return SmsLength("GSM-7", units, segments, [])
    units = len(text.encode("utf-16-le")) // 2
    segments = 1 if units <= 70 else math.ceil(units / 67)
    return SmsLength("UCS-2", units, segments, non_gsm)


def estimated_cost_pence(segments: int, recipients: int) -> int:
    return round(segments * recipients * settings.SMS_PRICE_PER_SEGMENT_PENCE)


# Composing ------------------------------------------------------------------------------------------------

CAMPAIGN_FIELDS = (
    "name",
    "channel",
    "purpose",
    "audience_kind",
    "segment",
    "election",
    "event",
    "include_waiting_list",
    "subject",
    "body",
    "html_body",
    "sender_name",
    "is_urgent",
)


def _check_content(actor: User, details: dict) -> None:
    channel = details.get("channel")
    if channel not in Campaign.Channel.values:
        raise ServiceError("Choose email or text message.", field="channel")
    if details.get("purpose") not in Campaign.Purpose.values:
        raise ServiceError("Choose what the campaign is for.", field="purpose")
    if not (details.get("name") or "").strip():
        raise ServiceError("Give the campaign a name.", field="name")
    if len(details["name"]) > 120:
        raise ServiceError("Keep the name to 120 characters.", field="name")
    check_audience(actor, details)
    body = details.get("body") or ""
    if not body.strip():
        raise ServiceError("Write the message.", field="body")
    if len(body) > MAX_BODY[channel]:
        raise ServiceError(f"Keep the message to {MAX_BODY[channel]:,} characters.", field="body")
    for field in ("subject", "body", "html_body"):
        unknown = unknown_merge_fields(details.get(field) or "")
        if unknown:
            known = ", ".join("{" + name + "}" for name in MERGE_FIELDS)
            raise ServiceError(f"Unknown merge field {{{unknown[0]}}}: use one of {known}.", field=field)
    if channel == Campaign.Channel.EMAIL:
        subject = (details.get("subject") or "").strip()
        if not subject:
            raise ServiceError("An email needs a subject.", field="subject")
        if len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
            raise ServiceError("Keep the subject to one line of 200 characters.", field="subject")
        if len(details.get("html_body") or "") > MAX_BODY[channel]:
            raise ServiceError("Keep the HTML to 20,000 characters.", field="html_body")
        problems = html_problems(details.get("html_body") or "")
        if problems:
            raise ServiceError("Simple HTML only: " + "; ".join(problems) + ".", field="html_body")
    else:
        sender = details.get("sender_name") or ""
        if sender and not re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}", sender):
            raise ServiceError(
                "A sender name is 1 to 11 letters, digits or spaces, with a letter.", field="sender_name"
            )


def check_audience(actor: User, details: dict) -> None:
    """Raise ServiceError (naming the field) unless `details` name an audience the actor may send to."""
    kind = details.get("audience_kind") or Campaign.AudienceKind.SEGMENT
    if kind not in Campaign.AudienceKind.values:
        raise ServiceError("Choose who the campaign goes to.", field="audience_kind")
    if kind == Campaign.AudienceKind.SEGMENT:
        segment = details.get("segment")
        if not isinstance(segment, Segment) or not segments_usable_by(actor).filter(pk=segment.pk).exists():
            raise ServiceError("Choose one of your segments or a shared one.", field="segment")
    elif kind == Campaign.AudienceKind.NON_VOTERS:
        election = details.get("election")
        if not isinstance(election, Election) or not elections_usable_by(actor).filter(pk=election.pk).exists():
            raise ServiceError("Choose an election that is open for voting.", field="election")
    else:
        event = details.get("event")
        if not isinstance(event, Event) or not events_usable_by(actor).filter(pk=event.pk).exists():
            raise ServiceError(
                f"Choose an event that has not ended more than {EVENT_AUDIENCE_DAYS} days ago.", field="event"
            )


def _clean(details: dict) -> dict:
    cleaned = {name: details[name] for name in CAMPAIGN_FIELDS if name in details}
    # Only the reference the audience uses is kept, so a campaign never names two audiences.
    kind = cleaned["audience_kind"] = details.get("audience_kind") or Campaign.AudienceKind.SEGMENT
    if kind != Campaign.AudienceKind.SEGMENT:
        cleaned["segment"] = None
    if kind != Campaign.AudienceKind.NON_VOTERS:
        cleaned["election"] = None
    if kind != Campaign.AudienceKind.REGISTRANTS:
        cleaned["event"] = None
    cleaned["include_waiting_list"] = kind == Campaign.AudienceKind.REGISTRANTS and bool(
        cleaned.get("include_waiting_list")
    )
    for name in ("name", "subject", "sender_name"):
        if name in cleaned:
            cleaned[name] = (cleaned[name] or "").strip()
    if cleaned.get("channel") == Campaign.Channel.SMS:
        cleaned["subject"], cleaned["html_body"] = "", ""
    else:
        cleaned["sender_name"], cleaned["is_urgent"] = "", False
    cleaned["is_urgent"] = bool(cleaned.get("is_urgent"))
    return cleaned


def create_campaign(*, actor: User, details: dict) -> Campaign:
    """A draft campaign. Raises NotPermitted for reps and members, ServiceError for bad content."""
    if not can_send_campaigns(actor):
        raise NotPermitted("Only national admins and organisers may send campaigns.")
    _check_content(actor, details)
    with transaction.atomic():
        campaign = Campaign.objects.create(created_by=actor, **_clean(details))
        record_audit(actor=actor, action="create", target=campaign, summary=f"Campaign drafted: {campaign.name}")
    return campaign


def update_campaign(*, actor: User, campaign: Campaign, details: dict) -> Campaign:
    """Change a draft (or a scheduled campaign, which goes back to draft)."""
    _check_visible(actor, campaign)
    merged = {name: getattr(campaign, name) for name in CAMPAIGN_FIELDS} | details
    _check_content(actor, merged)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            raise ServiceError("A campaign that has started sending cannot be changed.")
        for name, value in _clean(merged).items():
            setattr(campaign, name, value)
        campaign.status, campaign.scheduled_at = Campaign.Status.DRAFT, None
        campaign.save()
        record_audit(actor=actor, action="update", target=campaign, summary=f"Campaign edited: {campaign.name}")
    return campaign


def _check_visible(actor: User, campaign: Campaign) -> None:
    if not campaigns_visible_to(actor).filter(pk=campaign.pk).exists():
        raise NotPermitted("No such campaign.")


# Preview, counts, test send -------------------------------------------------------------------------------


@dataclass
class Preview:
    member: Member | None
    subject: str
    body: str
    html_body: str
    sms: SmsLength | None


def preview_campaign(*, actor: User, campaign: Campaign, member: Member | None = None) -> Preview:
    """The message as `member` (or the first member of the audience) would get it."""
    _check_visible(actor, campaign)
    members = audience_for(campaign).members(actor).select_related("workplace", "branch")
    if member is not None and not members.filter(pk=member.pk).exists():
        raise ServiceError("That member is not in this campaign's audience.", field="member")
    member = member or members.order_by("pk").first()
    if member is None:
        values = {name: f"[{name}]" for name in MERGE_FIELDS}
    else:
        member = members.get(pk=member.pk)
        values = merge_values(member)
    rendered = render_for(campaign, values)
    sms = sms_length(rendered.body) if campaign.channel == Campaign.Channel.SMS else None
    return Preview(member, rendered.subject, rendered.body, rendered.html_body, sms)


def count_recipients(*, actor: User, campaign: Campaign) -> dict[str, int]:
    """How many the audience holds and how many would be sent it after consent, addresses and opt-outs."""
    _check_visible(actor, campaign)
    members = audience_for(campaign).members(actor)
    return _recipient_counts(members, campaign)


def _recipient_counts(members: QuerySet[Member], campaign: Campaign) -> dict[str, int]:
    address = "email" if campaign.channel == Campaign.Channel.EMAIL else "mobile"
    has_address = ~Q(**{address: ""})
    counts = members.aggregate(
        audience=Count("pk"),
        no_address=Count("pk", filter=~has_address),
        no_consent=Count("pk", filter=has_address & Q(**{f"{campaign.channel}_consent": False})),
    )
    opted_out = 0
    if campaign.channel == Campaign.Channel.SMS:
        opted_out = members.filter(mobile__in=SmsOptOut.objects.values("number")).count()
    if campaign.basis == Message.Basis.SERVICE:
        counts["no_consent"] = 0
    elif opted_out:  # an opted-out number without consent is counted once, as opted out
        opted_out_without_consent = members.filter(
            mobile__in=SmsOptOut.objects.values("number"), sms_consent=False
        ).count()
        counts["no_consent"] -= opted_out_without_consent
    counts["opted_out"] = opted_out
    counts["sendable"] = counts["audience"] - counts["no_address"] - counts["no_consent"] - opted_out
    return counts


def send_test(*, actor: User, campaign: Campaign) -> Message:
    """Send the campaign, merged for a sample member, to the author's own email or mobile."""
    preview = preview_campaign(actor=actor, campaign=campaign)
    if campaign.channel == Campaign.Channel.EMAIL:
        to = actor.email
        if not to:
            raise ServiceError("Add an email address to your account to send yourself a test.")
    else:
        to = actor.member.mobile if actor.member_id else ""
        if not to:
            raise ServiceError("Your account has no mobile number (through your member record) to text a test to.")
    with transaction.atomic():
        sent_before = Message.objects.filter(key__startswith=f"campaign:{campaign.pk}:test:{actor.pk}:").count()
        message = Message.objects.create(
            key=f"campaign:{campaign.pk}:test:{actor.pk}:{sent_before + 1}",
            campaign=campaign,
            channel=campaign.channel,
            basis=Message.Basis.SERVICE,
            to=to,
            subject=f"[Test] {preview.subject}"[:200] if preview.subject else "",
            body=preview.body,
            html_body=preview.html_body,
        )
        dispatch_on_commit([message.pk])
    return message


# Scheduling, sending, cancelling --------------------------------------------------------------------------


def schedule_campaign(*, actor: User, campaign: Campaign, at: datetime.datetime | None) -> Campaign:
    """Send at `at`, or now if `at` is None. The audience is evaluated when sending starts."""
    _check_visible(actor, campaign)
    now = timezone.now()
    if at is not None and at <= now:
        raise ServiceError("Choose a time in the future, or send now.", field="scheduled_at")
    if at is not None and at > now + datetime.timedelta(days=366):
        raise ServiceError("Choose a time within the next year.", field="scheduled_at")
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            raise ServiceError("This campaign has already been sent or cancelled.")
        audience_for(campaign).members(actor)  # a segment that no longer applies is an error now, not later
        if campaign.audience_kind == Campaign.AudienceKind.NON_VOTERS:
            election = campaign.election
            if election.status != election.Status.VOTING or (at or now) >= election.voting_closes_at:
                raise ServiceError("Voting will have closed by then: there is no one left to remind.", field="election")
        if at is None:
            campaign.status, campaign.scheduled_at, campaign.started_at = Campaign.Status.QUEUEING, None, now
            campaign_id = campaign.pk
            from crm.tasks import queue_campaign as queue_campaign_task

            transaction.on_commit(lambda: queue_campaign_task.delay(campaign_id))
            summary = f"Campaign sent: {campaign.name}"
        else:
            campaign.status, campaign.scheduled_at = Campaign.Status.SCHEDULED, at
            summary = f"Campaign scheduled for {at.isoformat()}: {campaign.name}"
        campaign.save(update_fields=["status", "scheduled_at", "started_at"])
        record_audit(actor=actor, action="update", target=campaign, summary=summary)
    return campaign


def cancel_campaign(*, actor: User, campaign: Campaign) -> Campaign:
    """Stop a scheduled or sending campaign: messages not yet claimed by a worker are never sent."""
    _check_visible(actor, campaign)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (Campaign.Status.SENT, Campaign.Status.CANCELLED):
            raise ServiceError("This campaign has finished: there is nothing left to cancel.")
        campaign.status, campaign.cancelled_at = Campaign.Status.CANCELLED, timezone.now()
        campaign.save(update_fields=["status", "cancelled_at"])
        settle_messages(
            campaign.messages.filter(status=Message.Status.QUEUED),
            status=Message.Status.CANCELLED,
            reason="The campaign was cancelled.",
        )
        record_audit(actor=actor, action="update", target=campaign, summary=f"Campaign cancelled: {campaign.name}")
    return campaign


def queue_campaign(*, campaign_id: int) -> int:
    """Build one Message per recipient (keyed campaign:member, bulk-inserted, so running twice adds nothing),
    then fan out the queued ones to send tasks in chunks. Returns the number of messages the campaign has."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(of=("self",))
        campaign = locked.select_related("segment", "election", "event", "created_by").get(pk=campaign_id)
        if campaign.status != Campaign.Status.QUEUEING:
            return campaign.recipients
        members = audience_for(campaign).members(campaign.created_by)
        _build_messages(campaign, members)
        campaign.recipients = campaign.messages.exclude(key__contains=":test:").count()
        campaign.status = Campaign.Status.SENDING
        campaign.save(update_fields=["recipients", "status"])
        ids = list(campaign.messages.filter(status=Message.Status.QUEUED).order_by("pk").values_list("pk", flat=True))
        dispatch_chunks_on_commit(ids)
        if not ids:
            transaction.on_commit(lambda: finish_campaign_if_done(campaign_id=campaign_id))
    return campaign.recipients


def _build_messages(campaign: Campaign, members: QuerySet[Member]) -> None:
    channel, basis = campaign.channel, campaign.basis
    address = "email" if channel == Campaign.Channel.EMAIL else "mobile"
    opted_out = set()
    if channel == Campaign.Channel.SMS:
        opted_out = set(SmsOptOut.objects.filter(number__in=members.values("mobile")).values_list("number", flat=True))
    uses = campaign.subject + campaign.body + campaign.html_body
    needs_links = channel == Campaign.Channel.EMAIL or campaign.is_named_sender or "_url}" in uses
    rows = members.order_by().values_list(
        "pk", "first_name", "last_name", address, f"{channel}_consent", "workplace__name", "branch__name"
    )
    batch: list[Message] = []
    no_address = "No email address." if address == "email" else "No mobile number."
    for pk, first_name, last_name, to, consent, workplace, branch in rows.iterator(chunk_size=5000):
        if not to:
            status, reason = Message.Status.SUPPRESSED, no_address
        elif to in opted_out:
            status, reason = Message.Status.OPTED_OUT, OPTED_OUT_REASON
        elif basis == Message.Basis.CONSENT and not consent:
            status, reason = Message.Status.SUPPRESSED, f"No consent to {'email' if address == 'email' else 'texts'}."
        else:
            status, reason = Message.Status.QUEUED, ""
        values = {"first_name": first_name, "last_name": last_name, "workplace": workplace or "", "branch": branch}
        if needs_links and status == Message.Status.QUEUED:
            values["unsubscribe_url"] = opt_out_url(pk, Message.Channel.EMAIL)
            values["opt_out_url"] = opt_out_url(pk, Message.Channel.SMS)
        rendered = render_for(campaign, values) if status == Message.Status.QUEUED else Rendered("", "", "")
        batch.append(
            Message(
                key=f"campaign:{campaign.pk}:member:{pk}",
                campaign_id=campaign.pk,
                member_id=pk,
                channel=channel,
                basis=basis,
                to=to or "",
                subject=rendered.subject[:200],
                body=rendered.body,
                html_body=rendered.html_body,
                status=status,
                reason=reason,
            )
        )
        if len(batch) >= 2000:
            Message.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        Message.objects.bulk_create(batch, ignore_conflicts=True)


def dispatch_chunks_on_commit(message_ids: list[int]) -> None:
    from crm.tasks import send_message_chunk

    size = settings.OUTREACH_CHUNK_SIZE
    chunks = [message_ids[start : start + size] for start in range(0, len(message_ids), size)]
    transaction.on_commit(lambda: [send_message_chunk.delay(chunk) for chunk in chunks])


def finish_campaign_if_done(*, campaign_id: int) -> bool:
    """Mark a sending campaign sent once none of its messages is queued or being sent."""
    pending = Message.objects.filter(
        campaign_id=campaign_id, status__in=[Message.Status.QUEUED, Message.Status.SENDING]
    ).exists()
    if pending:
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.SENT, finished_at=timezone.now()
        )
    )


def release_due_campaigns() -> list[int]:
    """Scheduled campaigns whose time has come start sending (run every minute by celery beat)."""
    from crm.tasks import queue_campaign as queue_campaign_task

    with transaction.atomic():
        due = list(
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=timezone.now())
            .values_list("pk", flat=True)
        )
        Campaign.objects.filter(pk__in=due).update(status=Campaign.Status.QUEUEING, started_at=timezone.now())
        transaction.on_commit(lambda: [queue_campaign_task.delay(pk) for pk in due])
    return due


def campaign_progress(campaign: Campaign) -> dict[str, int]:
    """Messages by status (test sends left out), for the progress page and the API."""
    counts = dict(
        campaign.messages.exclude(key__contains=":test:")
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in Message.Status.values} | {"total": sum(counts.values())}


# What comes back: opt-outs, replies, delivery reports -----------------------------------------------------

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}


def opt_out_number(*, number: str, source: str) -> SmsOptOut:
    """No more texts of any kind to `number`, at once: queued texts to it are settled as opted out now,
    and every send checks the list again just before it goes (so a campaign already sending skips it)."""
    with transaction.atomic():
        opt_out, _ = SmsOptOut.objects.get_or_create(number=number, defaults={"source": source})
        settle_messages(
            Message.objects.filter(to=number, channel=Message.Channel.SMS, status=Message.Status.QUEUED),
            status=Message.Status.OPTED_OUT,
            reason=OPTED_OUT_REASON,
        )
    return opt_out


def opt_in_number(*, number: str) -> bool:
    return bool(SmsOptOut.objects.filter(number=number).delete()[0])


def keyword_of(body: str) -> str:
    return re.sub(r"[^A-Z]", "", (body or "").strip().upper())


def receive_text(*, from_number: str, body: str, provider_id: str) -> str:
    """Act on a text sent to us. Returns the reply to send ('' for none). STOP and its synonyms opt the
    number out, START and UNSTOP opt it back in, HELP answers; anything else waits in the inbox."""
    keyword = keyword_of(body)
    if keyword in STOP_WORDS:
        opt_out_number(number=from_number, source="keyword")
        return settings.SMS_STOP_REPLY
    if keyword in START_WORDS:
        opt_in_number(number=from_number)
        return settings.SMS_START_REPLY
    if keyword in HELP_WORDS:
        return settings.SMS_HELP_REPLY
    member = Member.objects.filter(mobile=from_number).order_by("pk").first() if from_number else None
    try:
        with transaction.atomic():
            text = InboundText.objects.create(
                from_number=from_number, body=body[:2000], member=member, provider_id=provider_id
            )
    except IntegrityError:
        return ""  # the same text again: already in the inbox
    transaction.on_commit(lambda: inbound_text_received.send(sender=InboundText, text=text))
    return ""


def inbox_for(user: User) -> QuerySet[InboundText]:
    """Replies from members the user may see; texts from unknown numbers only to national admins."""
    texts = InboundText.objects.select_related("member", "handled_by")
    if not can_send_campaigns(user):
        return texts.none()
    if user.is_national:
        return texts
    return texts.filter(member__in=members_visible_to(user))


def mark_text_handled(*, actor: User, text: InboundText) -> InboundText:
    if not inbox_for(actor).filter(pk=text.pk).exists():
        raise NotPermitted("No such text.")
    InboundText.objects.filter(pk=text.pk).update(is_handled=True, handled_by=actor)
    text.refresh_from_db()
    return text


def store_provider_event(*, provider: str, event_id: str, kind: str, payload: dict) -> bool:
    """Store a webhook's event once. Returns False if it was stored before (a replay: do nothing)."""
    try:
        with transaction.atomic():
            ProviderEvent.objects.create(provider=provider, event_id=event_id[:200], kind=kind[:40], payload=payload)
    except IntegrityError:
        return False
    return True


# Twilio's message states, in the order they happen; a late report never moves a message backwards.
TWILIO_DELIVERED = {"delivered", "read"}
TWILIO_FAILED = {"failed", "undelivered"}


def record_sms_status(*, provider_id: str, status: str, error_code: str = "") -> int:
    """Apply a Twilio status callback to our message. Returns the number of messages changed."""
    messages = Message.objects.filter(provider_id=provider_id, channel=Message.Channel.SMS)
    if status in TWILIO_DELIVERED:
        return messages.filter(status=Message.Status.SENT).update(status=Message.Status.DELIVERED)
    if status in TWILIO_FAILED:
        if error_code == "21610":
            for number in messages.values_list("to", flat=True):
                opt_out_number(number=number, source="provider")
            return messages.filter(status__in=[Message.Status.SENT, Message.Status.DELIVERED]).update(
                status=Message.Status.OPTED_OUT, reason=OPTED_OUT_REASON
            )
        reason = f"Not delivered (Twilio {status}{', error ' + error_code if error_code else ''})."
        return messages.filter(status__in=[Message.Status.SENT, Message.Status.DELIVERED]).update(
            status=Message.Status.FAILED, reason=reason
        )
    return 0


def record_email_event(*, provider_id: str, message_key: str, event_type: str, description: str = "") -> int:
    """Apply a tracking event from the email provider (through django-anymail) to our message."""
    messages = Message.objects.filter(channel=Message.Channel.EMAIL)
    if message_key:
        messages = messages.filter(key=message_key)
    elif provider_id:
        messages = messages.filter(provider_id=provider_id)
    else:
        return 0
    if event_type == "delivered":
        return messages.filter(status=Message.Status.SENT).update(status=Message.Status.DELIVERED)
    if event_type in {"bounced", "rejected", "failed"}:
        reason = f"Email {event_type}" + (f": {description}" if description else ".")
        return messages.filter(status__in=[Message.Status.SENT, Message.Status.DELIVERED]).update(
            status=Message.Status.FAILED, reason=reason[:255]
        )
    if event_type in {"complained", "unsubscribed"}:
        for member_id in messages.exclude(member=None).values_list("member_id", flat=True):
            unsubscribe(member_id=member_id, channel=Message.Channel.EMAIL)
        return 0
    return 0


def unsubscribe(*, member_id: int, channel: str) -> bool:
    """The member's own one-click opt-out from a link: no campaign emails (consent withdrawn), or no texts at
    all (the number joins the opt-out list). Returns False if there was no such member."""
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            return False
        if channel == Message.Channel.EMAIL:
            if member.email_consent:
                member.email_consent = False
                member.save(update_fields=["email_consent"])
                record_audit(
                    actor=None,
                    action="update",
                    target=member,
                    summary="Unsubscribed from emails by link",
                    changes={"email_consent": [True, False]},
                )
            settle_messages(
                member.messages.filter(channel=channel, basis=Message.Basis.CONSENT, status=Message.Status.QUEUED),
                status=Message.Status.SUPPRESSED,
                reason="No consent to email.",
            )
        elif member.mobile:
            opt_out_number(number=member.mobile, source="link")
            record_audit(actor=None, action="update", target=member, summary="Opted out of texts by link")
    return True


def sending_campaign_ids() -> list[int]:
    return list(Campaign.objects.filter(status=Campaign.Status.SENDING).values_list("pk", flat=True))


def stuck_queueing_campaign_ids(*, older_than: datetime.timedelta) -> list[int]:
    cutoff = timezone.now() - older_than
    stuck = Campaign.objects.filter(status=Campaign.Status.QUEUEING, started_at__lte=cutoff)
    return list(stuck.values_list("pk", flat=True))
