"""Data protection: a member's request to close their membership, made from the portal's "My data" page.

The request itself changes nothing: it waits for an organiser, who closes the membership (or records why
not). Erasure and retention (crm.services.privacy, crm.services.retention) need no table of their own: an
erased member is marked by Member.erased_at, and each run is in the audit trail.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Member, User

CLOSURE_REASON_MAX_LENGTH = 1000


class ClosureRequest(models.Model):
    """A member asked to close their membership. Organisers in scope see it and act on it."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for an organiser"
        CLOSED = "closed", "Membership closed"
        RESOLVED = "resolved", "Resolved without closing"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="closure_requests")
    reason = models.TextField(blank=True, max_length=CLOSURE_REASON_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    handled_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open request per member: asking twice finds the first one.
            models.UniqueConstraint(fields=["member"], condition=Q(status="open"), name="closure_request_one_open"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(handled_at__isnull=False), name="closure_request_handled_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"Closure request of member {self.member_id} ({self.status})"
