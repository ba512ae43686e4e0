"""Segments: saved member filters, re-evaluated on every use within the user's own scope."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from crm.models import User


class Segment(models.Model):
    """A saved filtered list ("active secondary teachers in Leeds without a mobile").

    It stores the member list's filter parameters, never member ids, so it stays live: who is in it is
    decided afresh each time it is used, by crm.filters.MemberFilter over members_visible_to(user).
    """

    name = models.CharField(max_length=120)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="segments")
    # The member list's query string as a dict of lists: {"branch": ["3"], "status": ["active"]}.
    filters = models.JSONField(default=dict, blank=True)
    is_shared = models.BooleanField(default=False, help_text="Colleagues with the same scope may use it.")
    # Named colleagues it is shared with (each of the same scope as the owner when shared, and still so
    # when they use it: see crm.services.segments.scope_key).
    shared_with = models.ManyToManyField(User, blank=True, related_name="segments_shared_with_me")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="segment_name_unique_per_owner")]

    def __str__(self) -> str:
        return self.name
