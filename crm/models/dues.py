"""Dues: subscription rates, each member's dues account with Stripe, payments, and Stripe's events as received.

Money is in integer pence. Good standing stays derived from Member (active and not has_arrears); the account
holds how a member pays and what Stripe last told us, never a second good-standing flag.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Member


class SubscriptionRate(models.Model):
    """A monthly subscription for a membership category and pay band, e.g. teacher, full time, £24.50."""

    category = models.CharField(max_length=20, choices=Member.Category.choices)
    pay_band = models.CharField(max_length=60, help_text="As members know it, e.g. 'Full time' or 'Under £20,000'.")
    monthly_pence = models.PositiveIntegerField(help_text="Monthly subscription in pence; 0 for exempt categories.")
    is_active = models.BooleanField(default=True, help_text="Offered on the join page.")
    # The Stripe Price for this amount; cleared when the amount changes (Stripe prices cannot change).
    stripe_price_id = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "monthly_pence", "pay_band"]
        constraints = [
            models.UniqueConstraint(fields=["category", "pay_band"], name="rate_unique_band_in_category"),
            models.CheckConstraint(condition=Q(monthly_pence__lte=100_000), name="rate_monthly_pence_sane"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}, {self.pay_band}: £{self.monthly_pence / 100:.2f} a month"


class DuesAccount(models.Model):
    """How one member pays, and what Stripe last told us about their customer, subscription and mandate."""

    class Method(models.TextChoices):
        STRIPE = "stripe", "Card or Direct Debit (Stripe)"
        PAYROLL = "payroll", "Payroll deduction"
        EXEMPT = "exempt", "Exempt (student, retired)"

    member = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="dues")
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.STRIPE)
    rate = models.ForeignKey(SubscriptionRate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    stripe_customer_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    subscription_status = models.CharField(max_length=30, blank=True, help_text="As Stripe last reported it.")
    mandate_status = models.CharField(max_length=30, blank=True, help_text="Direct Debit mandate, as Stripe reported.")
    checkout_session_id = models.CharField(max_length=100, blank=True)
    checkout_status = models.CharField(max_length=20, blank=True, help_text="open, complete or expired.")
    checkout_attempts = models.PositiveSmallIntegerField(default=0)
    # When the member fell into arrears (the grace period runs from here); empty when not in arrears.
    arrears_since = models.DateField(null=True, blank=True)
    # Time of the newest Stripe event that changed the member's standing: an older event delivered late
    # is recorded in the history but does not change the standing back.
    standing_event_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["arrears_since"], name="dues_arrears_since")]

    def __str__(self) -> str:
        return f"Dues of {self.member_id} ({self.method})"


class DuesPayment(models.Model):
    """One outcome of one Stripe invoice: paid, or a failed attempt. The member page's payment history."""

    class Outcome(models.TextChoices):
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="dues_payments")
    stripe_invoice_id = models.CharField(max_length=100)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    amount_pence = models.PositiveIntegerField()
    category = models.CharField(max_length=20, choices=Member.Category.choices, help_text="At the time of payment.")
    attempts = models.PositiveSmallIntegerField(default=1)
    reason = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["member", "occurred_at"], name="dues_payment_member"),
            models.Index(fields=["outcome", "occurred_at"], name="dues_payment_outcome"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["stripe_invoice_id", "outcome"], name="dues_payment_once_per_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_invoice_id} {self.outcome} £{self.amount_pence / 100:.2f}"


class StripeEvent(models.Model):
    """A Stripe webhook event, stored once under Stripe's id before it is processed (DESIGN.md rule 6)."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Not a kind we act on"
        UNMATCHED = "unmatched", "No member found: kept for review"

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    created_at = models.DateTimeField(help_text="When Stripe created the event.")
    customer_id = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    member = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["state", "received_at"], name="stripe_event_state")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.state})"
