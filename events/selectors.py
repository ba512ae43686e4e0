"""Shared reads for events. Reads of members start from crm.selectors.members_visible_to(user)."""

from __future__ import annotations

import datetime

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from crm.models import Branch, Member, Position, User
from crm.selectors import branches_visible_to, members_visible_to
from events import tokens
from events.models import CallQuestion, Certification, Course, Delegate, Event, Motion, Registration
from events.permissions import can_manage_event
from events.services import standing_of, strands_of, why_cannot_register
from events.training import REQUIRED_COURSES, required_course_codes


def _signed_in(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def events_visible_to(user: User) -> QuerySet[Event]:
    """Events are not personal data: every signed-in user may see them. Whether they may register is a
    separate question (events.services.why_cannot_register)."""
    events = Event.objects.select_related("course", "host_branch", "host_region", "audience_region", "audience_branch")
    return events if _signed_in(user) else events.none()


def strand_events_hidden_from(user: User) -> Q:
    """A filter for the strand events not shown in this user's lists: staff see every event (events are not
    personal data, and they run and promote them); a member sees only the strand events of the strands they
    self-identify with in their own answers. Nobody is told why an event is missing."""
    if _signed_in(user) and user.is_staff_role:
        return Q(pk__in=[])
    strands = strands_of(user.member) if _signed_in(user) and user.member_id else frozenset()
    return Q(audience=Event.Audience.STRAND) & ~Q(audience_strand__in=strands)


def upcoming_events_for(user: User, *, kind: str = "") -> QuerySet[Event]:
    events = events_visible_to(user).filter(ends_at__gte=timezone.now(), is_cancelled=False)
    events = events.exclude(strand_events_hidden_from(user))
    if kind:
        events = events.filter(kind=kind)
    return (
        events.annotate(
            places_taken=Count("registrations", filter=Q(registrations__status=Registration.Status.REGISTERED))
        )
        .prefetch_related("course__prerequisites")
        .order_by("starts_at", "id")
    )


def event_for(user: User, event_id: int) -> Event:
    """One event, or Event.DoesNotExist."""
    return events_visible_to(user).get(pk=event_id)


def strand_registrations_hidden_from(user: User) -> Q:
    """A filter for the strand-event registrations this user may not see: all but their own and those of the
    events they run. A list of who registered for a strand event is a list of who self-identifies, so reps
    (and organisers of other events) never see one; the event's organisers do, and their reads are logged
    (events.services.log_strand_list_read)."""
    hidden = Q(event__audience=Event.Audience.STRAND) & ~Q(event__in=events_managed_by(user))
    if _signed_in(user) and user.member_id:
        hidden &= ~Q(member_id=user.member_id)
    return hidden


def registrations_visible_to(user: User) -> QuerySet[Registration]:
    """Registrations of the members the user can see (a member: their own), whatever the event, but not
    other people's registrations for strand events they do not run."""
    return (
        Registration.objects.filter(member__in=members_visible_to(user))
        .exclude(strand_registrations_hidden_from(user))
        .select_related("event", "member__branch", "member__workplace")
    )


def registrations_of_event(user: User, event: Event) -> QuerySet[Registration]:
    """Everyone registered for an event, for its organisers (who must see them to run it); for anyone else,
    the registrations of members they can see."""
    if can_manage_event(user, event):
        registrations = event.registrations.all()
    else:
        registrations = registrations_visible_to(user).filter(event=event)
    # Places first (by name), then the waiting list in its order, then cancellations.
    place_order = Case(
        When(status=Registration.Status.REGISTERED, then=Value(0)),
        When(status=Registration.Status.WAITING, then=Value(1)),
        default=Value(2),
    )
    return registrations.select_related("member__branch", "member__workplace", "event").order_by(
        place_order, "waiting_since", "member__last_name", "member__first_name", "id"
    )


def own_registrations(member: Member) -> QuerySet[Registration]:
    return (
        member.event_registrations.exclude(status=Registration.Status.CANCELLED)
        .select_related("event__course")
        .order_by("event__starts_at", "id")
    )


def upcoming_registrations_of(member: Member) -> QuerySet[Registration]:
    """The member's places and waiting-list places at events not yet over: their portal's events list."""
    return own_registrations(member).filter(event__ends_at__gte=timezone.now())


def own_registration(member: Member, registration_id: int) -> Registration:
    """One of the member's own registrations (cancelled ones too), or Registration.DoesNotExist: another
    member's registration answers exactly as one that does not exist."""
    return Registration.objects.select_related("event__course", "member").get(pk=registration_id, member=member)


def events_open_to(user: User, member: Member, *, scan: int = 200) -> list[Event]:
    """Upcoming events this member may book now, decided as the event pages decide it
    (events.services.why_cannot_register), with the member's standing read once. Of the next `scan` events,
    as the event list shows them."""
    standing = standing_of(member)
    events = upcoming_events_for(user)[:scan]
    return [event for event in events if not why_cannot_register(event, member, standing=standing)]


def calendar_events_of(member: Member) -> QuerySet[Event]:
    """The events the member holds a place at, from a month back: their calendar feed."""
    since = timezone.now() - datetime.timedelta(days=31)
    return Event.objects.filter(
        registrations__member=member, registrations__status=Registration.Status.REGISTERED, ends_at__gte=since
    ).order_by("starts_at", "id")


def certifications_of(member: Member) -> QuerySet[Certification]:
    return member.certifications.select_related("course", "session").order_by("-completed_on", "id")


def own_certification(member: Member, certification_id: int) -> Certification:
    """One of the member's own certifications, or Certification.DoesNotExist: another member's answers
    exactly as one that does not exist."""
    return Certification.objects.select_related("course", "session", "awarded_by", "member").get(
        pk=certification_id, member=member
    )


def certification_for_code(code: str) -> Certification | None:
    """The certification a certificate's verification code was issued for, or None for anything else
    (malformed, forged, or for a certification since removed): all answer alike."""
    try:
        certification_id = tokens.certification_id_from_code(code)
    except tokens.BadToken:
        return None
    certification = Certification.objects.select_related("course", "member").filter(pk=certification_id).first()
    if certification is None or not tokens.verify_certificate_code(code, certification):
        return None
    return certification


def attendance_of(member: Member, limit: int = 20, *, viewer: User | None = None) -> QuerySet[Registration]:
    """The member's recent events. Shown to anyone but the member, it leaves out strand events: being at
    one says how the member self-identifies."""
    registrations = member.event_registrations.select_related("event").exclude(status=Registration.Status.CANCELLED)
    if viewer is None or viewer.member_id != member.pk:
        registrations = registrations.exclude(event__audience=Event.Audience.STRAND)
    return registrations.order_by("-event__starts_at", "-id")[:limit]


def training_status_of(member: Member) -> list[dict]:
    """For each current position: the courses it needs, and which of them the member has completed."""
    held = set(member.certifications.values_list("course__code", flat=True))
    courses = {c.code: c for c in Course.objects.filter(code__in={c for cs in REQUIRED_COURSES.values() for c in cs})}
    status = []
    for position in member.positions.current().select_related("workplace", "branch", "region"):
        needed = [courses[code] for code in required_course_codes(position.kind) if code in courses]
        missing = [course for course in needed if course.code not in held]
        status.append({"position": position, "needed": needed, "missing": missing, "is_complete": not missing})
    return status


def training_gaps_for(user: User) -> dict:
    """Reps in scope whose current position needs training they have not completed, with counts by region
    and branch. Organisers see their patch; national staff the whole union."""
    positions = (
        Position.objects.current()
        .filter(member__in=members_visible_to(user), member__branch__in=branches_visible_to(user))
        .select_related("member__branch__region", "workplace")
        .order_by("member__branch__region__name", "member__branch__name", "member__last_name", "id")
    )
    held: dict[int, set[str]] = {}
    for member_id, code in Certification.objects.filter(member__in=positions.values("member")).values_list(
        "member_id", "course__code"
    ):
        held.setdefault(member_id, set()).add(code)
    titles = dict(Course.objects.values_list("code", "title"))
    gaps, by_branch = [], {}
    for position in positions:
        branch = position.member.branch
        row = by_branch.setdefault(branch.pk, {"branch": branch, "region": branch.region, "positions": 0, "gaps": 0})
        row["positions"] += 1
        missing = [
            code for code in required_course_codes(position.kind) if code not in held.get(position.member_id, ())
        ]
        if missing:
            row["gaps"] += 1
            gaps.append({"position": position, "missing": [titles.get(code, code) for code in missing]})
    branches = sorted(by_branch.values(), key=lambda r: (r["region"].name, r["branch"].name))
    regions: dict[int, dict] = {}
    for row in branches:
        region = regions.setdefault(row["region"].pk, {"region": row["region"], "positions": 0, "gaps": 0})
        region["positions"] += row["positions"]
        region["gaps"] += row["gaps"]
    for row in [*branches, *regions.values()]:
        row["trained_percent"] = (
            round(100 * (row["positions"] - row["gaps"]) / row["positions"]) if row["positions"] else 0
        )
    return {"gaps": gaps, "branches": branches, "regions": list(regions.values())}


def courses_with_sessions(user: User) -> QuerySet[Course]:
    return Course.objects.prefetch_related("prerequisites").order_by("title")


def events_managed_by(user: User) -> QuerySet[Event]:
    """Events the user runs: hosted in their patch (national admins: all)."""
    if not _signed_in(user):
        return Event.objects.none()
    if user.is_national:
        return Event.objects.all()
    if user.role != User.Role.ORGANISER:
        return Event.objects.none()
    return Event.objects.filter(Q(host_branch__in=branches_visible_to(user)) | Q(host_region__in=user.regions.all()))


def registrations_for(user: User) -> QuerySet[Registration]:
    """Registrations of members the user can see, and every registration for the events they run (strand
    events: see strand_registrations_hidden_from)."""
    return (
        Registration.objects.filter(Q(member__in=members_visible_to(user)) | Q(event__in=events_managed_by(user)))
        .exclude(strand_registrations_hidden_from(user))
        .select_related("event", "member")
    )


def branches_naming_for(user: User) -> QuerySet[Branch]:
    """Branches whose delegates and motions the user handles: national admins all, organisers their patch,
    and the branch where they are the current branch secretary (as events.services.can_name_delegates_for)."""
    if not _signed_in(user):
        return Branch.objects.none()
    if user.is_national:
        return Branch.objects.all()
    secretary = Q(
        pk__in=Position.objects.current()
        .filter(member_id=user.member_id, kind=Position.Kind.BRANCH_SECRETARY, branch__isnull=False)
        .values("branch_id")
    )
    if user.role == User.Role.ORGANISER:
        secretary |= Q(pk__in=branches_visible_to(user).values("pk"))
    return Branch.objects.filter(secretary)


def delegates_visible_to(user: User) -> QuerySet[Delegate]:
    """Delegates by name, as on the delegates page: the conference's organisers see all, a branch's
    organisers and secretary see the branch's, and a delegate sees themselves."""
    if not _signed_in(user):
        return Delegate.objects.none()
    mine = Q(member_id=user.member_id) if user.member_id else Q(pk__in=[])
    return Delegate.objects.filter(
        Q(event__in=events_managed_by(user)) | Q(branch__in=branches_naming_for(user)) | mine
    ).select_related("member", "branch", "event")


def questions_visible_to(user: User) -> QuerySet[CallQuestion]:
    """Questions sent in for member calls: the call's organisers see all, a member their own."""
    if not _signed_in(user):
        return CallQuestion.objects.none()
    mine = Q(member_id=user.member_id) if user.member_id else Q(pk__in=[])
    return CallQuestion.objects.filter(Q(event__in=events_managed_by(user)) | mine).select_related("member", "event")


def motions_of_conferences(user: User) -> QuerySet[Motion]:
    """Conference motions are the union's business, read by every signed-in member, as on the page."""
    if not _signed_in(user):
        return Motion.objects.none()
    return Motion.objects.select_related("branch", "event").prefetch_related("amendments__branch")
