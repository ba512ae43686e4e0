"""Organising conversations with members, and assessments of their support (1 = leader … 5 = hostile)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from crm.models import Member, User

NOTES_MAX_LENGTH = 10_000


class Conversation(models.Model):
    """One conversation an organiser or rep had with a member, with an optional follow-up date."""

    class Channel(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        PHONE = "phone", "Phone"
        TEXT = "text", "Text message"
        EMAIL = "email", "Email"
        VIDEO = "video", "Video call"

    class Outcome(models.TextChoices):
        AGREED_TO_ACT = "agreed_to_act", "Agreed to take action"
        SUPPORTIVE = "supportive", "Supportive"
        UNDECIDED = "undecided", "Undecided"
        OPPOSED = "opposed", "Opposed"
        NOT_REACHED = "not_reached", "Not reached"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="conversations")
    logged_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="conversations_logged")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    held_on = models.DateField()
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    notes = models.TextField(blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    follow_up_done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [
            models.Index(fields=["member", "held_on"], name="conversation_member"),
            # "My follow-ups": the open ones, by date, for one user.
            models.Index(
                fields=["logged_by", "follow_up_on"],
                name="conversation_open_follow_up",
                condition=Q(follow_up_on__isnull=False, follow_up_done_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(follow_up_on__isnull=True) | Q(follow_up_on__gte=F("held_on")),
                name="conversation_follow_up_not_before_it",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} with {self.member} on {self.held_on}"

    @property
    def is_follow_up_open(self) -> bool:
        return self.follow_up_on is not None and self.follow_up_done_at is None


class Assessment(models.Model):
    """An assessment of a member's support, dated. Every one is kept; the latest is the member's current one."""

    class Score(models.IntegerChoices):
        LEADER = 1, "1 – Leader"
        SUPPORTER = 2, "2 – Supporter"
        UNDECIDED = 3, "3 – Undecided"
        OPPOSED = 4, "4 – Opposed"
        HOSTILE = 5, "5 – Hostile"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="assessments")
    score = models.PositiveSmallIntegerField(choices=Score.choices)
    assessed_on = models.DateField()
    assessed_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="assessments_made")
    notes = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-assessed_on", "-id"]
        indexes = [models.Index(fields=["member", "-assessed_on", "-id"], name="assessment_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="assessment_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.member}: {self.score} on {self.assessed_on}"
