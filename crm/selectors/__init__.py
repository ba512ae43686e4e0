"""Shared reads. Every read of members starts from members_visible_to(user): the one scope rule."""

from __future__ import annotations

import datetime

from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from crm.models import AuditEntry, Branch, Employer, Member, MembershipSnapshot, Position, Region, User, Workplace


def _is_active_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def organiser_branch_ids(user: User) -> list[int]:
    """The branches in an organiser's patch: those named, plus every branch of the regions named."""
    return list(
        Branch.objects.filter(Q(pk__in=user.branches.all()) | Q(region__in=user.regions.all()))
        .values_list("pk", flat=True)
        .distinct()
    )


def rep_workplace_ids(user: User, on: datetime.date | None = None) -> list[int]:
    """The workplaces where the user's member record holds a current position."""
    if not user.member_id:
        return []
    return list(
        Position.objects.current(on)
        .filter(member_id=user.member_id, workplace__isnull=False)
        .values_list("workplace_id", flat=True)
        .distinct()
    )


def members_visible_to(user: User) -> QuerySet[Member]:
    """Which members a user may see. National: all; organisers: their patch; reps: their workplaces
    (and themselves); members: themselves; scrutineers and everyone else: nobody."""
    members = Member.objects.all()
    if not _is_active_user(user):
        return members.none()
    if user.is_national:
        return members
    if user.role == User.Role.ORGANISER:
        return members.filter(branch_id__in=organiser_branch_ids(user))
    if user.role == User.Role.REP:
        return members.filter(Q(workplace_id__in=rep_workplace_ids(user)) | Q(pk=user.member_id))
    if user.role == User.Role.MEMBER and user.member_id:
        return members.filter(pk=user.member_id)
    return members.none()


def workplaces_visible_to(user: User) -> QuerySet[Workplace]:
    workplaces = Workplace.objects.select_related("branch__region", "employer")
    if not _is_active_user(user):
        return workplaces.none()
    if user.is_national:
        return workplaces
    if user.role == User.Role.ORGANISER:
        return workplaces.filter(branch_id__in=organiser_branch_ids(user))
    if user.role == User.Role.REP:
        return workplaces.filter(pk__in=rep_workplace_ids(user))
    return workplaces.none()


def branches_visible_to(user: User) -> QuerySet[Branch]:
    branches = Branch.objects.select_related("region")
    if not _is_active_user(user):
        return branches.none()
    if user.is_national:
        return branches
    if user.role == User.Role.ORGANISER:
        return branches.filter(pk__in=organiser_branch_ids(user))
    if user.role == User.Role.REP:
        return branches.filter(workplaces__in=rep_workplace_ids(user)).distinct()
    return branches.none()


def regions_visible_to(user: User) -> QuerySet[Region]:
    if not _is_active_user(user):
        return Region.objects.none()
    if user.is_national:
        return Region.objects.all()
    return Region.objects.filter(branches__in=branches_visible_to(user)).distinct()


def employers_visible_to(user: User) -> QuerySet[Employer]:
    """Employers are public bodies, not personal data: every staff role sees the full list."""
    if not _is_active_user(user) or not user.is_staff_role:
        return Employer.objects.none()
    return Employer.objects.all()


def positions_visible_to(user: User) -> QuerySet[Position]:
    return Position.objects.filter(member__in=members_visible_to(user)).select_related(
        "member", "workplace", "branch", "region"
    )


def member_list_for(user: User) -> QuerySet[Member]:
    """The member list's base query: scoped, with the joins a list row needs."""
    return members_visible_to(user).select_related("branch__region", "workplace")


def member_detail_for(user: User, member_id: int) -> Member:
    """One member, or Member.DoesNotExist if absent or out of scope (the two look the same)."""
    return (
        members_visible_to(user)
        .select_related("branch__region", "workplace__employer", "employer")
        .prefetch_related("tags")
        .get(pk=member_id)
    )


def positions_of(member: Member) -> QuerySet[Position]:
    return member.positions.select_related("workplace", "branch", "region").order_by("-started_on")


def audit_trail_of(member: Member, limit: int = 50) -> QuerySet[AuditEntry]:
    return member.audit_entries.order_by("-at", "-id")[:limit]


def workplaces_with_density(user: User) -> QuerySet[Workplace]:
    """Workplaces in scope with `members_count` (active members there) and `density` (0..1, None if no headcount)."""
    # A count per workplace row, not a join grouped by every workplace column: at a million members the
    # grouped join took seconds; this reads the (workplace, status) index, and only for the rows shown.
    active_here = (
        Member.objects.filter(workplace=OuterRef("pk"), status=Member.Status.ACTIVE)
        .order_by()
        .values("workplace")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        workplaces_visible_to(user)
        .annotate(members_count=Coalesce(Subquery(active_here), 0))
        .annotate(density=Cast(F("members_count"), FloatField()) / NullIf(Cast(F("eligible_staff"), FloatField()), 0.0))
    )


def reps_at(workplace: Workplace) -> QuerySet[Position]:
    return Position.objects.current().filter(workplace=workplace).select_related("member")


def dashboard_for(user: User, *, days: int = 30) -> dict:
    """Figures for the organiser dashboard, all within the user's scope."""
    members = members_visible_to(user)
    since = timezone.localdate() - datetime.timedelta(days=days)
    # Count("*"), not Count("pk"): the count then reads the (status, arrears) index alone.
    by_status = dict(members.order_by().values_list("status").annotate(n=Count("*")))
    return {
        "by_status": [(label, by_status.get(value, 0)) for value, label in Member.Status.choices],
        "total": sum(by_status.values()),
        "in_arrears": members.filter(status=Member.Status.ACTIVE, has_arrears=True).count(),
        "recent_joins": members.filter(joined_on__gte=since).select_related("workplace").order_by("-joined_on")[:10],
        "recent_joins_count": members.filter(joined_on__gte=since).count(),
        "recent_lapses": members.filter(status=Member.Status.LAPSED, status_changed_on__gte=since)
        .select_related("workplace")
        .order_by("-status_changed_on")[:10],
        "recent_lapses_count": members.filter(status=Member.Status.LAPSED, status_changed_on__gte=since).count(),
        "days": days,
    }


def membership_trend_for(user: User, *, days: int = 90) -> list[tuple[datetime.date, int]]:
    """Active members in scope per snapshot day, oldest first. Snapshots are kept by branch, so this is
    for national staff and organisers, whose scope is whole branches."""
    if not (_is_active_user(user) and (user.is_national or user.role == User.Role.ORGANISER)):
        return []
    since = timezone.localdate() - datetime.timedelta(days=days)
    branches = branches_visible_to(user)
    return list(
        MembershipSnapshot.objects.filter(branch__in=branches, status=Member.Status.ACTIVE, taken_on__gte=since)
        .order_by("taken_on")
        .values_list("taken_on")
        .annotate(total=Sum("members"))
    )
