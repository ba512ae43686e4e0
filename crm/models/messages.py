"""The one message pipeline: every email and text the union sends is a Message row (DESIGN.md rule 7)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Member

# What a confidential message's body and HTML become once it can no longer be sent (see `confidential`).
CONFIDENTIAL_REMOVED = "[confidential: removed after sending]"


class Message(models.Model):
    """One email or text to one person, sent by a Celery task.

    `key` says what the message is for ("campaign:12:member:345", "welcome:345"), and is unique: asking
    for the same message twice (a retried task, a replayed webhook) finds the row already there, so no
    one is ever sent the same message twice.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Basis(models.TextChoices):
        # Marketing-style messages (campaigns) need the member's consent to the channel; service messages
        # (ballot credentials, event confirmations, a welcome) go on the lawful basis of membership.
        CONSENT = "consent", "Consent (campaigns)"
        SERVICE = "service", "Service message"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        # Claimed by a worker and committed *before* the provider is called: a row left here by a worker
        # that died may or may not have reached the provider (see crm.services.messages.recover_stalled).
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Not sent (no consent or no address)"
        OPTED_OUT = "opted_out", "Not sent (opted out)"
        CANCELLED = "cancelled", "Cancelled"
        # A worker died between claiming and recording it, and the provider cannot tell us whether it went:
        # never resent automatically, shown for review.
        UNKNOWN = "unknown", "Unknown (check with the provider)"

    key = models.CharField(max_length=200, unique=True)
    campaign = models.ForeignKey(
        "crm.Campaign", on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    member = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    basis = models.CharField(max_length=10, choices=Basis.choices)
    to = models.CharField(max_length=254, blank=True, help_text="Email address or E.164 number, as sent.")
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was suppressed or failed.")
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker marked it sending.")
    # Texts held back by quiet hours (or a temporary error's backoff) wait until this time.
    send_after = models.DateTimeField(null=True, blank=True)
    # A message carrying a secret (a voting credential): its body is never shown on a page, in the API, the
    # admin or a log, and is replaced by CONFIDENTIAL_REMOVED in the transaction that records its final state.
    confidential = models.BooleanField(default=False)

    # States a message never leaves for another try: a confidential body is wiped on reaching one.
    FINAL_STATUSES = ("sent", "delivered", "failed", "suppressed", "opted_out", "cancelled", "unknown")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "created_at"], name="message_member"),
            models.Index(fields=["status"], name="message_status"),
            models.Index(fields=["campaign", "status"], name="message_campaign_status"),
            models.Index(fields=["to", "status"], name="message_to_status"),
            models.Index(fields=["provider_id"], name="message_provider_id"),  # delivery reports
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="message_sent_has_time"
            ),
            # The database itself refuses a confidential message in a final state that still holds its secret.
            models.CheckConstraint(
                condition=Q(confidential=False)
                | Q(status__in=["queued", "sending"])
                | Q(body=CONFIDENTIAL_REMOVED, html_body=CONFIDENTIAL_REMOVED),
                name="message_confidential_wiped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.key} ({self.status})"

    @property
    def shown_body(self) -> str:
        """The body as any page, API answer or log may show it: never a confidential one."""
        return "[confidential]" if self.confidential else self.body


class MessageAttachment(models.Model):
    """A small file sent with an email (an event's calendar entry). Texts carry none."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=100)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename
