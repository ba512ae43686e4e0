"""A member's own account, kept by the member portal: one-time sign-in codes, workplace moves waiting for an
organiser, and the consent wording a member agreed to for campaign emails and texts."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Member, User, Workplace


class SignInCode(models.Model):
    """One request for a sign-in code: a 6-digit code and a link, sent to a member's email or mobile.

    Only digests are kept (HMAC under the site's secret), never the code or the link. A row is written for
    every request, also for an address that is no member's (member is then empty and nothing is sent), so
    the rate limits count every request and the answer is the same either way. A code works once, until it
    expires, and dies after MAX_WRONG_TRIES wrong tries.
    """

    MAX_WRONG_TRIES = 5

    class Closed(models.TextChoices):
        USED = "used", "Used to sign in"
        TOO_MANY_TRIES = "too_many_tries", "Too many wrong tries"
        REPLACED = "replaced", "A newer code was asked for"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    address_digest = models.CharField(max_length=64, help_text="HMAC of the address typed, for rate limits.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    code_digest = models.CharField(max_length=64)
    link_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    wrong_tries = models.PositiveSmallIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=20, choices=Closed.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["address_digest", "created_at"], name="sign_in_code_address"),
            models.Index(fields=["ip_address", "created_at"], name="sign_in_code_ip"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, closed_reason="")
                | (Q(closed_at__isnull=False) & ~Q(closed_reason="")),
                name="sign_in_code_closed_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Sign-in code {self.pk} ({self.closed_reason or 'open'})"

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.closed_at is None and self.expires_at > now and self.wrong_tries < self.MAX_WRONG_TRIES


class WorkplaceChange(models.Model):
    """A member's request to move to another workplace. It changes nothing until an organiser confirms it
    (a workplace decides the member's branch, so who represents them and which ballots they get)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an organiser"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Not confirmed"
        WITHDRAWN = "withdrawn", "Withdrawn by the member"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="workplace_changes")
    from_workplace = models.ForeignKey(Workplace, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    to_workplace = models.ForeignKey(Workplace, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.CharField(max_length=300, blank=True, help_text="The organiser's reason, shown to the member.")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(status="pending"), name="workplace_change_one_pending_per_member"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="workplace_change_decided_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} to {self.to_workplace} ({self.get_status_display()})"


class ConsentRecord(models.Model):
    """Each time a member gives or withdraws consent to campaign emails or texts in the portal: the wording
    they saw (its version and text) and when. The member row holds the current answer; this, the history."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consent_records")
    channel = models.CharField(max_length=5, choices=[("email", "Email"), ("sms", "SMS")])
    is_given = models.BooleanField()
    wording_version = models.CharField(max_length=20)
    wording = models.TextField()
    source = models.CharField(max_length=20, choices=Member.ConsentSource.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "channel", "-at"], name="consent_record_member")]

    def __str__(self) -> str:
        return f"{self.channel} consent {'given' if self.is_given else 'withdrawn'} at {self.at:%Y-%m-%d %H:%M}"
