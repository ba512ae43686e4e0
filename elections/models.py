"""Certified counts. (Elections, rolls and ballots come with a later issue; a Count will then belong to one.)

A Count keeps the anonymised ballots as canonical BLT (identical ballots aggregated and sorted, so nothing
about the order of casting survives), the SHA-256 of that text, and the result exactly as the counting code
printed it. Anyone with the BLT and the seed can recount and must get the same bytes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Method(models.TextChoices):
    STV = "stv", "Single transferable vote"
    IRV = "irv", "Alternative vote (instant run-off)"
    FPTP = "fptp", "First past the post"
    APPROVAL = "approval", "Approval voting"


class Rule(models.TextChoices):
    NONE = "", "None (not STV)"
    SCOTTISH = "scottish", "Scottish STV (2007 Order, rules 45-52)"
    ERS97 = "ers97", "ERS97 (Electoral Reform Society, 1997)"
    MEEK = "meek", "Meek STV"


class Count(models.Model):
    title = models.CharField(max_length=200)
    method = models.CharField(max_length=10, choices=Method.choices)
    rule = models.CharField(max_length=10, choices=Rule.choices, blank=True)
    seats = models.PositiveSmallIntegerField()
    seed = models.CharField(max_length=200, help_text="Published before the count; decides any drawing of lots.")
    reserved_seats = models.PositiveSmallIntegerField(default=0)
    reserved_group = models.JSONField(default=list, blank=True, help_text="Candidate numbers (from 1).")
    reserved_label = models.CharField(max_length=100, blank=True)
    blt_text = models.TextField(help_text="The anonymised ballots, as canonical BLT.")
    blt_sha256 = models.CharField(max_length=64)
    source_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file as uploaded.")
    result_json = models.TextField(help_text="The result exactly as the counting code produced it.")
    result_sha256 = models.CharField(max_length=64)
    counted_at = models.DateTimeField(default=timezone.now)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    certified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-counted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(method="stv") & ~Q(rule="")) | (~Q(method="stv") & Q(rule="")),
                name="count_rule_only_for_stv",
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="count_has_seats"),
            models.CheckConstraint(
                condition=Q(reserved_seats__lte=models.F("seats")), name="count_reserved_within_seats"
            ),
            models.CheckConstraint(
                condition=Q(blt_sha256__regex=r"^[0-9a-f]{64}$") & Q(result_sha256__regex=r"^[0-9a-f]{64}$"),
                name="count_hashes_are_sha256",
            ),
            models.CheckConstraint(
                condition=Q(certified_at__isnull=True) | Q(certified_by__isnull=False),
                name="count_certified_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_certified(self) -> bool:
        return self.certified_at is not None


class Recount(models.Model):
    """A recount from the stored BLT, and whether it reproduced the stored result byte for byte."""

    count = models.ForeignKey(Count, on_delete=models.CASCADE, related_name="recounts")
    recounted_at = models.DateTimeField(default=timezone.now)
    recounted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    blt_sha256 = models.CharField(max_length=64)
    result_sha256 = models.CharField(max_length=64)
    is_identical = models.BooleanField()
    difference = models.TextField(blank=True, help_text="Where the results first differ, if they do.")

    class Meta:
        ordering = ["-recounted_at", "-id"]

    def __str__(self) -> str:
        return f"Recount of {self.count} ({'identical' if self.is_identical else 'DIFFERENT'})"
