"""The security log: sign-ins, failed sign-ins, lockouts, two-factor changes and changes to what an account
may do. Kept apart from the audit trail of member data (AuditEntry), which is about members and is shown on
their pages; this one is about accounts, read by national admins, and may be kept for a different time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SecurityEvent(models.Model):
    """One event on an account. Rows are only ever added."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SECOND_FACTOR = "second_factor", "Passed two-factor check"
        SIGN_IN_FAILED = "sign_in_failed", "Failed to sign in"
        LOCKOUT = "lockout", "Locked out"
        TWO_FACTOR_CHANGED = "two_factor_changed", "Changed two-factor sign-in"
        ACCOUNT_CHANGED = "account_changed", "Changed role or scope"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="security_events"
    )
    username = models.CharField(max_length=150, blank=True, help_text="As typed, for attempts on unknown names.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept if the user is deleted.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    summary = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="security_event_user")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username} at {self.at:%Y-%m-%d %H:%M}"
