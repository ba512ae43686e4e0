"""Reads of conversations, follow-ups and assessments, always through the member scope."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from crm.models import Assessment, Conversation, Member, User
from crm.selectors import members_visible_to


def conversations_visible_to(user: User) -> QuerySet[Conversation]:
    """Conversations with members the user can see; staff roles only (members never see organisers' notes
    about them here: a subject access request goes to the union's data protection officer)."""
    if not (user.is_authenticated and user.is_active and user.is_staff_role):
        return Conversation.objects.none()
    return Conversation.objects.filter(member__in=members_visible_to(user)).select_related("member", "logged_by")


def assessments_visible_to(user: User) -> QuerySet[Assessment]:
    if not (user.is_authenticated and user.is_active and user.is_staff_role):
        return Assessment.objects.none()
    return Assessment.objects.filter(member__in=members_visible_to(user)).select_related("member", "assessed_by")


def follow_ups_for(user: User) -> QuerySet[Conversation]:
    """The user's open follow-ups on members still in their scope, overdue first (earliest date first)."""
    return (
        conversations_visible_to(user)
        .filter(logged_by=user, follow_up_on__isnull=False, follow_up_done_at__isnull=True)
        .order_by("follow_up_on", "id")
    )


def follow_ups_due(queryset: QuerySet[Conversation], on=None) -> QuerySet[Conversation]:
    on = on or timezone.localdate()
    return queryset.filter(follow_up_on__lte=on, follow_up_done_at__isnull=True)


def conversations_with(user: User, member: Member, limit: int = 20) -> QuerySet[Conversation]:
    return conversations_visible_to(user).filter(member=member).order_by("-held_on", "-id")[:limit]


def assessments_of(user: User, member: Member) -> QuerySet[Assessment]:
    """A member's assessments, latest first (the first is the current one)."""
    return assessments_visible_to(user).filter(member=member).order_by("-assessed_on", "-id")
