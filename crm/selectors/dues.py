"""Reads for dues pages and the API. Every member read starts from members_visible_to(user)."""

from __future__ import annotations

import datetime

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from crm.models import Member, User
from crm.models.dues import DuesAccount, DuesPayment, StripeEvent, SubscriptionRate
from crm.selectors import members_visible_to


def can_view_dues_overview(user: User) -> bool:
    """National admins and organisers: the figures for their scope."""
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == User.Role.ORGANISER))


def can_view_dues_of(user: User, member: Member) -> bool:
    """The member themselves, national admins and organisers in scope. Reps see standing, not payments."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.member_id == member.pk:
        return True
    return can_view_dues_overview(user) and members_visible_to(user).filter(pk=member.pk).exists()


def rates_on_offer() -> QuerySet[SubscriptionRate]:
    return SubscriptionRate.objects.filter(is_active=True)


def dues_account_of(member: Member) -> DuesAccount | None:
    return DuesAccount.objects.select_related("rate").filter(member=member).first()


def payments_of(member: Member, limit: int = 60) -> QuerySet[DuesPayment]:
    return member.dues_payments.order_by("-occurred_at", "-id")[:limit]


def _payments_in_scope(user: User) -> QuerySet[DuesPayment]:
    """Payments of the members the user may see; national staff see all without a subquery over every member."""
    if user.is_national:
        return DuesPayment.objects.all()
    return DuesPayment.objects.filter(member__in=members_visible_to(user))


def payments_visible_to(user: User) -> QuerySet[DuesPayment]:
    """Payments of members the user may see the dues of: their own, or (organisers, national) their scope."""
    if not (user.is_authenticated and user.is_active):
        return DuesPayment.objects.none()
    if can_view_dues_overview(user):
        return _payments_in_scope(user).select_related("member")
    if user.member_id:
        return DuesPayment.objects.filter(member_id=user.member_id).select_related("member")
    return DuesPayment.objects.none()


def arrears_by_branch(user: User) -> list[dict]:
    """Active members in arrears per branch in scope, largest first."""
    return list(
        members_visible_to(user)
        .filter(status=Member.Status.ACTIVE, has_arrears=True)
        .order_by()
        .values("branch_id", "branch__name")
        .annotate(members=Count("*"))
        .order_by("-members", "branch__name")
    )


def recent_failed_payments(user: User, *, days: int = 30, limit: int = 50) -> QuerySet[DuesPayment]:
    since = timezone.now() - datetime.timedelta(days=days)
    return (
        _payments_in_scope(user)
        .filter(outcome=DuesPayment.Outcome.FAILED, occurred_at__gte=since)
        .select_related("member__branch")
        .order_by("-occurred_at", "-id")[:limit]
    )


def monthly_income_by_category(user: User, *, months: int = 6) -> list[dict]:
    """Paid dues per calendar month and membership category (at the time of payment), in pence, oldest first."""
    today = timezone.localdate()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    rows = (
        _payments_in_scope(user)
        .filter(outcome=DuesPayment.Outcome.PAID, occurred_at__date__gte=first)
        .annotate(month=TruncMonth("occurred_at"))
        .order_by()
        .values("month", "category")
        .annotate(pence=Sum("amount_pence"), payments=Count("*"))
        .order_by("month", "category")
    )
    labels = dict(Member.Category.choices)
    return [
        {
            "month": row["month"].date() if isinstance(row["month"], datetime.datetime) else row["month"],
            "category": labels.get(row["category"], row["category"]),
            "pence": row["pence"],
            "payments": row["payments"],
        }
        for row in rows
    ]


def unfinished_joins(user: User, limit: int = 50) -> QuerySet[Member]:
    """Applicants in scope who started joining online: for an organiser to follow up."""
    return (
        members_visible_to(user)
        .filter(status=Member.Status.APPLICANT, dues__isnull=False)
        .select_related("dues__rate", "branch", "workplace")
        .order_by("-created_at")[:limit]
    )


def events_for_review(user: User, limit: int = 50) -> QuerySet[StripeEvent]:
    """Stripe events we could not match to a member. National admins only: they hold no scope."""
    if not (user.is_authenticated and user.is_active and user.is_national):
        return StripeEvent.objects.none()
    return StripeEvent.objects.filter(state=StripeEvent.State.UNMATCHED).order_by("-received_at")[:limit]
