"""Outreach: campaigns (one email or text to an audience), SMS opt-outs, replies, and provider events."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Member, User
from crm.models.segments import Segment


class Campaign(models.Model):
    """One email or text to an audience, sent as one Message per recipient keyed (campaign, member)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message (SMS)"

    class Purpose(models.TextChoices):
        # The purpose decides the lawful basis (see BASIS_FOR_PURPOSE): news and calls to action need the
        # member's consent to the channel; notices a member must get (a ballot opening, an event they
        # registered for) go on the basis of membership, still never to a number that texted STOP.
        NEWS = "news", "News or a call to action (needs consent)"
        BALLOT_NOTICE = "ballot_notice", "Ballot notice (service message)"
        EVENT_NOTICE = "event_notice", "Event notice to registrants (service message)"

    class AudienceKind(models.TextChoices):
        SEGMENT = "segment", "A segment"
        # Members on an open election's roll who have not voted yet: a reminder to vote is a campaign of this kind.
        NON_VOTERS = "non_voters", "An election's members who have not voted yet"
        REGISTRANTS = "registrants", "An event's registrants"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        QUEUEING = "queueing", "Preparing messages"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.NEWS)
    audience_kind = models.CharField(max_length=20, choices=AudienceKind.choices, default=AudienceKind.SEGMENT)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns")
    election = models.ForeignKey(
        "elections.Election", on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns")
    include_waiting_list = models.BooleanField(
        default=False, help_text="For an event's registrants: the waiting list too, not only those with a place."
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(help_text="Plain text, with merge fields such as {first_name}.")
    html_body = models.TextField(blank=True, help_text="Simple HTML version of an email (optional).")
    sender_name = models.CharField(
        max_length=11, blank=True, help_text="Alphanumeric SMS sender ID; blank sends from the union's number."
    )
    is_urgent = models.BooleanField(default=False, help_text="Texts may go during quiet hours (21:00-08:00).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0, help_text="Messages queued, set when sending starts.")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="campaigns")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="campaign_due")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(audience_kind="segment") | Q(segment__isnull=False), name="campaign_segment_named"
            ),
            models.CheckConstraint(
                condition=~Q(audience_kind="non_voters") | Q(election__isnull=False), name="campaign_election_named"
            ),
            models.CheckConstraint(
                condition=~Q(audience_kind="registrants") | Q(event__isnull=False), name="campaign_event_named"
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False), name="campaign_scheduled_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def basis(self) -> str:
        from crm.models import Message

        return Message.Basis.CONSENT if self.purpose == self.Purpose.NEWS else Message.Basis.SERVICE

    @property
    def audience_name(self) -> str:
        """Who the campaign goes to, for lists and pages."""
        if self.audience_kind == self.AudienceKind.NON_VOTERS and self.election_id:
            return f"Not yet voted: {self.election.title}"
        if self.audience_kind == self.AudienceKind.REGISTRANTS and self.event_id:
            waiting = " (and waiting list)" if self.include_waiting_list else ""
            return f"Registered for {self.event.title}{waiting}"
        return self.segment.name if self.segment_id else "—"

    @property
    def is_named_sender(self) -> bool:
        return bool(self.sender_name)


class SmsOptOut(models.Model):
    """A number that texted STOP (or used an opt-out link): no text of any kind goes to it until START."""

    number = models.CharField(max_length=16, unique=True, help_text="E.164.")
    source = models.CharField(max_length=20, default="keyword", help_text="keyword (STOP) or link")
    opted_out_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SMS opt-out"

    def __str__(self) -> str:
        return self.number


class ProviderEvent(models.Model):
    """One webhook request from a provider, stored once by its id so a replay changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.event_id}"


class InboundText(models.Model):
    """A text a member (or anyone) sent us that was not a keyword: it waits in the organisers' inbox."""

    from_number = models.CharField(max_length=16)
    body = models.TextField()
    member = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_texts")
    provider_id = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(default=timezone.now)
    is_handled = models.BooleanField(default=False)
    handled_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_number}: {self.body[:30]}"
