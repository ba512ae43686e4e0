"""Workflows that write events, registrations, attendance and certifications. Services are the only writers.

Each runs in one transaction and raises a ServiceError a person can read, with nothing changed. Anything
that counts places locks the event row first (select_for_update), so capacity is never exceeded however
many people register at once, and the waiting list is served in order.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Branch, Member, Message, Position, Region, User
from crm.models.equalities import EqualitiesAccess
from crm.permissions import can_manage_members_in
from crm.selectors import branches_visible_to, members_visible_to
from crm.selectors.equalities import STRAND_NAMES, strand_members
from crm.services import record_audit
from crm.services.messages import Attachment, queue_message
from events import ical, tokens
from events.exports import csv_text
from events.models import (
    STRAND_NETWORKS,
    Amendment,
    CallQuestion,
    Certification,
    Course,
    Delegate,
    DelegateAllocation,
    DelegateRule,
    Event,
    EventSeries,
    Motion,
    Registration,
    Steward,
)
from events.permissions import can_check_in, can_host_at, can_manage_event, can_register_others

MAX_WEEKS = 52
MAX_ACCESS_NEEDS = 2000
MAX_DIETARY = 255

EVENT_FIELDS = (
    "kind",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "venue",
    "online_url",
    "capacity",
    "registration_opens_at",
    "registration_closes_at",
    "audience",
    "audience_region",
    "audience_branch",
    "audience_sector",
    "audience_category",
    "audience_strand",
    "host_branch",
    "host_region",
    "course",
)


class RegistrationRefused(ServiceError):
    """A member cannot register (or cancel) now: the reason says why. Nothing was changed."""


class CheckInRefused(ServiceError):
    """A check-in code was not accepted: the reason says why. Nothing was changed."""


# --- Events -----------------------------------------------------------------------------------------------


def _clean_event(details: dict[str, Any]) -> dict[str, Any]:
    """Check an event's details as a whole; raise ServiceError naming the field at fault."""
    unknown = set(details) - set(EVENT_FIELDS)
    if unknown:
        raise ServiceError(f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    cleaned = {field: details.get(field) for field in EVENT_FIELDS}
    for text_field in ("description", "venue", "online_url", "audience_sector", "audience_category", "audience_strand"):
        cleaned[text_field] = (cleaned[text_field] or "").strip()
    cleaned["audience"] = cleaned["audience"] or Event.Audience.EVERYONE
    if cleaned["kind"] not in Event.Kind.values:
        raise ServiceError("Choose the kind of event.", field="kind")
    if not (cleaned["title"] or "").strip():
        raise ServiceError("Give the event a title.", field="title")
    for field in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
        value = cleaned[field]
        if not isinstance(value, datetime.datetime) or timezone.is_naive(value):
            raise ServiceError("Give a date and time.", field=field)
    if cleaned["ends_at"] <= cleaned["starts_at"]:
        raise ServiceError("The event must end after it starts.", field="ends_at")
    if cleaned["registration_closes_at"] <= cleaned["registration_opens_at"]:
        raise ServiceError("Registration must close after it opens.", field="registration_closes_at")
    if cleaned["registration_closes_at"] > cleaned["ends_at"]:
        raise ServiceError("Registration must close by the end of the event.", field="registration_closes_at")
    capacity = cleaned["capacity"]
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 100_000:
        raise ServiceError("Give the number of places, from 1 to 100,000.", field="capacity")
    if not cleaned["venue"] and not cleaned["online_url"]:
        raise ServiceError("Give a venue, an online link, or both.", field="venue")
    if cleaned["host_branch"] is not None and cleaned["host_region"] is not None:
        raise ServiceError("An event is run by one branch or one region, not both.", field="host_region")
    if cleaned["kind"] == Event.Kind.TRAINING and cleaned["course"] is None:
        raise ServiceError("A training session is a session of a course: choose the course.", field="course")
    if cleaned["kind"] != Event.Kind.TRAINING and cleaned["course"] is not None:
        raise ServiceError("Only training sessions belong to a course.", field="course")
    _clean_audience(cleaned)
    return cleaned


def _clean_audience(cleaned: dict[str, Any]) -> None:
    audience = cleaned["audience"]
    needs = {
        Event.Audience.REGION: ("audience_region", "Choose the region."),
        Event.Audience.BRANCH: ("audience_branch", "Choose the branch."),
        Event.Audience.SECTOR: ("audience_sector", "Choose the sector."),
        Event.Audience.CATEGORY: ("audience_category", "Choose the membership category."),
        Event.Audience.STRAND: ("audience_strand", "Choose the equalities strand."),
    }
    if audience not in Event.Audience.values:
        raise ServiceError("Choose who the event is for.", field="audience")
    strand = cleaned["audience_strand"]
    if audience == Event.Audience.STRAND and strand and strand not in STRAND_NAMES:
        raise ServiceError("Choose one of the equalities strands.", field="audience_strand")
    for kind, (field, message) in needs.items():
        if audience == kind and not cleaned[field]:
            raise ServiceError(message, field=field)
        if audience != kind:
            cleaned[field] = None if field in ("audience_region", "audience_branch") else ""


def _host(cleaned: dict[str, Any]) -> Branch | Region | None:
    return cleaned["host_branch"] or cleaned["host_region"]


@transaction.atomic
def create_event(*, actor: User, details: dict[str, Any], series: EventSeries | None = None) -> Event:
    """Add an event run by the actor's branch or region (or nationally, by national admins).

    Raises NotPermitted for a host outside the actor's patch, ServiceError for details that do not fit.
    """
    cleaned = _clean_event(details)
    if not can_host_at(actor, _host(cleaned)):
        raise NotPermitted(
            "You can only run events for a branch or region in your own patch."
            if _host(cleaned)
            else "Only national admins run national events: choose the branch or region running it.",
            field="host_branch",
        )
    event = Event.objects.create(**cleaned, series=series, created_by=actor)
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=event,
        summary=f"Created {event.get_kind_display().lower()} {event.title}"[:255],
        changes={"starts_at": [None, event.starts_at.isoformat()], "capacity": [None, event.capacity]},
    )
    return event


def _weekly(value: datetime.datetime, week: int) -> datetime.datetime:
    """The same local wall-clock time `week` weeks later: a 7pm call stays at 7pm across the clock change."""
    local = timezone.localtime(value)
    later = local.replace(tzinfo=None) + datetime.timedelta(weeks=week)
    return timezone.make_aware(later, timezone.get_current_timezone())


@transaction.atomic
def create_weekly_events(*, actor: User, details: dict[str, Any], weeks: int) -> list[Event]:
    """Make `weeks` events a week apart from the details of the first (each with its own places and
    registration window, shifted by whole weeks in local time). All are made, or none."""
    if not isinstance(weeks, int) or not 2 <= weeks <= MAX_WEEKS:
        raise ServiceError(f"A weekly event repeats from 2 to {MAX_WEEKS} times.", field="weeks")
    _clean_event(details)  # refuse before making the series
    series = EventSeries.objects.create(title=details["title"], weeks=weeks)
    shifted = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")
    return [
        create_event(actor=actor, details={**details, **{f: _weekly(details[f], week) for f in shifted}}, series=series)
        for week in range(weeks)
    ]


@transaction.atomic
def cancel_event(*, actor: User, event: Event) -> Event:
    """Call an event off: registration closes and everyone registered or waiting is told, once. Their
    registrations are kept, so the record shows what happened. Raises NotPermitted or ServiceError."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the event's organisers can cancel it.")
    if event.is_cancelled:
        raise ServiceError("This event is already cancelled.")
    if timezone.now() >= event.ends_at:
        raise ServiceError("This event is over: it can no longer be cancelled.")
    event.is_cancelled = True
    event.save(update_fields=["is_cancelled"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=event,
        summary=f"Cancelled {event.title}"[:255],
        changes={"is_cancelled": [False, True]},
    )
    live = event.registrations.exclude(status=Registration.Status.CANCELLED).select_related("member")
    for registration in live:
        registration.event = event
        _message_for(registration, "event-cancelled")
    return event


# Details an organiser may change once the event is made. Kind, host and course stay: they decide who runs
# it and what it certifies, so a different one is a different event.
EDITABLE_FIELDS = tuple(f for f in EVENT_FIELDS if f not in {"kind", "host_branch", "host_region", "course"})


def _audit_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


@transaction.atomic
def update_event(*, actor: User, event: Event, changes: dict[str, Any]) -> Event:
    """Change an event's details, checked as a whole like a new one, and audited field by field.

    More places are filled from the waiting list in its order; fewer places than people already registered
    is refused. A new time is sent to everyone registered or waiting, once per change (the message key holds
    the audit row of the change). Raises NotPermitted or ServiceError, with nothing changed.
    """
    event = Event.objects.select_for_update(of=("self",)).get(pk=event.pk)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the event's organisers can change it.")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceError(f"These details cannot be changed: {', '.join(sorted(unknown))}.")
    if event.is_cancelled:
        raise ServiceError("This event is cancelled: it can no longer be changed.")
    if timezone.now() >= event.ends_at:
        raise ServiceError("This event is over: it can no longer be changed.")
    current = {field: getattr(event, field) for field in EVENT_FIELDS}
    cleaned = _clean_event({**current, **changes})
    registered = event.registrations.filter(status=Registration.Status.REGISTERED).count()
    if cleaned["capacity"] < registered:
        raise ServiceError(
            f"{registered} people already have a place, so there must be at least {registered} places. "
            "Cancel registrations first to make fewer.",
            field="capacity",
        )
    live = event.registrations.exclude(status=Registration.Status.CANCELLED)
    strand_before = (current["audience"], current["audience_strand"]) if event.is_for_strand else None
    strand_after = (cleaned["audience"], cleaned["audience_strand"]) if cleaned["audience"] == "strand" else None
    if strand_before != strand_after and live.exists():
        # Its list of registrants would become (or stop being) a list of who self-identifies with a strand.
        raise ServiceError(
            "People have registered, so the event cannot become, or stop being, an equalities-network event.",
            field="audience",
        )
    diff = {
        f: [_audit_value(current[f]), _audit_value(cleaned[f])] for f in EDITABLE_FIELDS if current[f] != cleaned[f]
    }
    if not diff:
        raise ServiceError("Nothing was changed.")
    for field in diff:
        setattr(event, field, cleaned[field])
    event.save(update_fields=list(diff))
    entry = record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=event,
        summary=f"Changed {event.title}: {', '.join(diff)}"[:255],
        changes=diff,
    )
    if "capacity" in diff:
        _promote_waiting(event)
    if "starts_at" in diff or "ends_at" in diff:
        for registration in live.select_related("member"):
            registration.event = event
            _tell_of_new_time(registration, change_id=entry.pk)
    return event


def _tell_of_new_time(registration: Registration, *, change_id: int) -> None:
    """The new time, to one registrant, keyed by the change: queue_message keeps one message per key, so a
    retry of the same change cannot send it twice, while a later change is a message of its own."""
    event = registration.event
    starts = timezone.localtime(event.starts_at)
    ends = timezone.localtime(event.ends_at)
    queue_message(
        member=registration.member,
        channel=Message.Channel.EMAIL,
        basis=Message.Basis.SERVICE,
        key=f"event:{event.pk}:registration:{registration.pk}:moved:{change_id}",
        subject=f"New time: {event.title}",
        body=(
            f"Dear {registration.member.first_name},\n\n{event.title} has moved. It is now on "
            f"{starts:%A %-d %B %Y}, {starts:%H:%M} to {ends:%H:%M}"
            + (f" (ending {ends:%A %-d %B})" if ends.date() != starts.date() else "")
            + f", at {event.venue or event.online_url}.\n\n"
            + (
                "Your place is kept. If you can no longer come, please cancel so someone waiting can have it.\n"
                if registration.status == Registration.Status.REGISTERED
                else "You are still on the waiting list.\n"
            )
        ),
    )


# --- Stewards ---------------------------------------------------------------------------------------------


@transaction.atomic
def name_steward(*, actor: User, event: Event, username: str) -> Steward:
    """An organiser names a user (by their sign-in name) to check people in at this one event."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the event's organisers name its stewards.")
    if event.is_cancelled or timezone.now() >= event.ends_at:
        raise ServiceError("This event is cancelled or over: it needs no stewards.")
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise ServiceError("Give the steward's user name.", field="username")
    user = User.objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        raise ServiceError("No active user has that user name.", field="username")
    if can_manage_event(user, event):
        raise ServiceError(f"{user.get_username()} runs this event already and can check people in.", field="username")
    if event.stewards.filter(user=user).exists():
        raise ServiceError(f"{user.get_username()} is already a steward here.", field="username")
    steward = Steward.objects.create(event=event, user=user, named_by=actor)
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=steward,
        summary=f"Named {user.get_username()} steward of {event.title}"[:255],
    )
    return steward


@transaction.atomic
def remove_steward(*, actor: User, steward: Steward) -> None:
    event = Event.objects.select_for_update().get(pk=steward.event_id)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the event's organisers remove its stewards.")
    record_audit(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        target=steward,
        summary=f"Removed {steward.user.get_username()} as steward of {event.title}"[:255],
    )
    steward.delete()


# --- Strand events: reading who takes part ----------------------------------------------------------------


def log_strand_list_read(*, reader: User, event: Event, member_ids: list[int], via: str) -> int:
    """Seeing someone on a strand event's list tells the reader their equalities answer, so it is logged as
    a read of their answers (crm's EqualitiesAccess), one row per member shown. The reader's own record is
    not logged. Other events log nothing. Returns how many rows were written."""
    if not event.is_for_strand:
        return 0
    rows = [
        EqualitiesAccess(reader=reader, reader_name=reader.get_username(), member_id=member_id, via=via)
        for member_id in sorted(set(member_ids))
        if member_id != reader.member_id
    ]
    EqualitiesAccess.objects.bulk_create(rows)
    return len(rows)


# --- Who may register -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Standing:
    """What registration rules need to know about a member, read once (a page listing many events asks
    about each of them)."""

    course_ids_held: frozenset[int]
    is_rep: bool
    event_ids_registered: frozenset[int]
    # The strands the member self-identifies with, from their own answers: used only to decide what they
    # themselves may book, never shown or passed on.
    strands: frozenset[str] = frozenset()


def strands_of(member: Member) -> frozenset[str]:
    return frozenset(s for s in STRAND_NAMES if strand_members(s).filter(pk=member.pk).exists())


def standing_of(member: Member) -> Standing:
    return Standing(
        course_ids_held=frozenset(member.certifications.values_list("course_id", flat=True)),
        is_rep=member.positions.current().exists(),
        event_ids_registered=frozenset(
            member.event_registrations.exclude(status=Registration.Status.CANCELLED).values_list("event_id", flat=True)
        ),
        strands=strands_of(member),
    )


def _audit_member(event: Event, member: Member) -> Member | None:
    """The member an audit row is filed under. Not for a strand event: the member's history is read by reps
    and organisers, and "registered for the LGBT+ members' conference" would tell them an answer. The row is
    still kept (who, what, when), on the registration."""
    return None if event.is_for_strand else member


def in_audience(event: Event, member: Member, standing: Standing | None = None) -> bool:
    """Whether the event's audience rule includes the member. For a strand, only the member's own
    self-identification counts (crm.selectors.equalities.strand_members)."""
    audience = event.audience
    if audience == Event.Audience.EVERYONE:
        return True
    if audience == Event.Audience.REGION:
        return member.branch.region_id == event.audience_region_id
    if audience == Event.Audience.BRANCH:
        return member.branch_id == event.audience_branch_id
    if audience == Event.Audience.SECTOR:
        return member.sector == event.audience_sector
    if audience == Event.Audience.CATEGORY:
        return member.category == event.audience_category
    if audience == Event.Audience.REPS:
        return (standing or standing_of(member)).is_rep
    if audience == Event.Audience.STRAND:
        if standing is not None:
            return event.audience_strand in standing.strands
        return strand_members(event.audience_strand).filter(pk=member.pk).exists()
    return False


def missing_prerequisites(course: Course, member: Member, standing: Standing | None = None) -> list[Course]:
    held = (standing or standing_of(member)).course_ids_held
    return sorted((c for c in course.prerequisites.all() if c.pk not in held), key=lambda c: c.title)


def why_cannot_register(
    event: Event, member: Member, *, at: datetime.datetime | None = None, standing: Standing | None = None
) -> str:
    """The reason this member cannot register for this event now, or '' if they can. `standing` may be
    given when asking about many events; otherwise it is read now."""
    at = at or timezone.now()
    if event.is_cancelled:
        return "This event has been cancelled."
    if at < event.registration_opens_at:
        return f"Registration opens on {timezone.localtime(event.registration_opens_at):%-d %B %Y at %H:%M}."
    if at >= event.registration_closes_at:
        return "Registration for this event has closed."
    if member.status != Member.Status.ACTIVE:
        return "Only active members can register for events."
    standing = standing or standing_of(member)
    if not in_audience(event, member, standing):
        if event.is_for_strand:
            # Said only to the member about themselves: how to join, not what anyone answered.
            return (
                f"This event is for {STRAND_NETWORKS[event.audience_strand]}: members who say so in their own "
                "equalities answers (on your details page) can book it."
            )
        return f"This event is for {event.audience_label().lower()} only."
    if event.course_id:
        missing = missing_prerequisites(event.course, member, standing)
        if missing:
            return f"{event.course.title} needs {', '.join(c.title for c in missing)} first."
        if event.course_id in standing.course_ids_held:
            return f"{member.full_name} has already completed {event.course.title}."
    if event.pk in standing.event_ids_registered:
        return f"{member.full_name} is already registered for this event."
    return ""


def _may_act_for(actor: User, member: Member) -> bool:
    """A member acts for themselves; reps and organisers for the members they can see."""
    if not (actor and actor.is_authenticated and actor.is_active):
        return False
    if actor.member_id == member.pk:
        return True
    return can_register_others(actor) and members_visible_to(actor).filter(pk=member.pk).exists()


def _message_for(registration: Registration, what: str) -> None:
    event = registration.event
    when = f"{timezone.localtime(event.starts_at):%A %-d %B %Y, %H:%M}"
    where = event.venue or event.online_url
    subjects = {
        "confirmed": f"Your place at {event.title}",
        "waiting": f"You are on the waiting list for {event.title}",
        "promoted": f"A place has come up for you at {event.title}",
        "cancelled": f"Your registration for {event.title} is cancelled",
        "reminder": f"Reminder: {event.title}",
        "event-cancelled": f"Cancelled: {event.title}",
    }
    lines = {
        "confirmed": f"You have a place at {event.title} on {when}, at {where}.",
        "waiting": f"{event.title} on {when} is full, so you are on the waiting list. "
        "If a place comes up it is yours, and we will tell you.",
        "promoted": f"A place has come up and it is yours: {event.title} on {when}, at {where}.",
        "cancelled": f"Your registration for {event.title} on {when} is cancelled.",
        "reminder": f"{event.title} is on {when}, at {where}. Bring your check-in code: "
        f"{tokens.checkin_code(registration)}.",
        "event-cancelled": f"We are sorry: {event.title} on {when} has been cancelled.",
    }
    queue_message(
        member=registration.member,
        channel=Message.Channel.EMAIL,
        basis=Message.Basis.SERVICE,
        key=f"event:{event.pk}:registration:{registration.pk}:{what}",
        subject=subjects[what],
        body=f"Dear {registration.member.first_name},\n\n{lines[what]}\n",
        # A place confirmed comes with the event for the member's calendar.
        attachments=[Attachment(f"event-{event.pk}.ics", "text/calendar", ical.calendar([event], name=event.title))]
        if what in ("confirmed", "promoted")
        else [],
    )


# --- Registration -----------------------------------------------------------------------------------------


def _answers(access_needs: str, needs_childcare: bool, dietary_needs: str) -> dict[str, Any]:
    access_needs, dietary_needs = (access_needs or "").strip(), (dietary_needs or "").strip()
    if len(access_needs) > MAX_ACCESS_NEEDS:
        raise ServiceError(f"Keep access needs to {MAX_ACCESS_NEEDS} characters.", field="access_needs")
    if len(dietary_needs) > MAX_DIETARY:
        raise ServiceError(f"Keep dietary needs to {MAX_DIETARY} characters.", field="dietary_needs")
    return {"access_needs": access_needs, "needs_childcare": bool(needs_childcare), "dietary_needs": dietary_needs}


@transaction.atomic
def register_for_event(
    *,
    actor: User,
    event: Event,
    member: Member,
    access_needs: str = "",
    needs_childcare: bool = False,
    dietary_needs: str = "",
) -> Registration:
    """Give the member a place, or a place on the waiting list when the event is full.

    The event row is locked while places are counted, so concurrent registrations are served one at a
    time and capacity is never exceeded. Raises NotPermitted when the actor may not act for the member,
    RegistrationRefused (closed, not in the audience, missing prerequisites, already registered).
    """
    if not _may_act_for(actor, member):
        raise NotPermitted("You cannot register this member.")
    if event.audience == Event.Audience.STRAND and actor.member_id != member.pk:
        # Refused for everyone alike, before anything about the member is read: success or refusal would
        # otherwise tell a rep or organiser whether the member self-identifies.
        raise RegistrationRefused(
            "Members book equalities-network events themselves, so that nobody else learns who can take part."
        )
    answers = _answers(access_needs, needs_childcare, dietary_needs)
    event = Event.objects.select_for_update(of=("self",)).select_related("course").get(pk=event.pk)
    member = Member.objects.select_related("branch").get(pk=member.pk)
    reason = why_cannot_register(event, member)
    if reason:
        raise RegistrationRefused(reason)
    taken = event.registrations.filter(status=Registration.Status.REGISTERED).count()
    now = timezone.now()
    full = taken >= event.capacity
    try:
        with transaction.atomic():
            registration = Registration.objects.create(
                event=event,
                member=member,
                status=Registration.Status.WAITING if full else Registration.Status.REGISTERED,
                waiting_since=now if full else None,
                registered_by=actor,
                created_at=now,
                **answers,
            )
    except IntegrityError as error:  # the unique constraint: registered at the same moment elsewhere
        raise RegistrationRefused(f"{member.full_name} is already registered for this event.") from error
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=registration,
        member=_audit_member(event, member),
        # Never the answers: access needs are sensitive and the audit trail is read more widely.
        summary=f"{registration.get_status_display()} for {event.title}"[:255],
        changes={"status": [None, registration.status]},
    )
    _message_for(registration, "waiting" if full else "confirmed")
    return registration


def _promote_waiting(event: Event) -> list[Registration]:
    """Fill free places from the waiting list, first come first served. The caller holds the event lock."""
    free = event.capacity - event.registrations.filter(status=Registration.Status.REGISTERED).count()
    if free <= 0:
        return []
    promoted = list(
        event.registrations.filter(status=Registration.Status.WAITING)
        .select_related("member", "event")
        .order_by("waiting_since", "id")[:free]
    )
    for registration in promoted:
        registration.status = Registration.Status.REGISTERED
        registration.save(update_fields=["status"])
        record_audit(
            actor=None,
            action=AuditEntry.Action.UPDATE,
            target=registration,
            member=_audit_member(event, registration.member),
            summary=f"Given a place from the waiting list for {event.title}"[:255],
            changes={"status": [Registration.Status.WAITING, Registration.Status.REGISTERED]},
        )
        _message_for(registration, "promoted")
    return promoted


@transaction.atomic
def cancel_registration(*, actor: User, registration: Registration) -> Registration:
    """Cancel a place (or a place on the waiting list); a freed place goes to the first person waiting.

    The member, a rep or organiser who can see them, or the event's organisers may cancel, until the event
    starts. Raises NotPermitted or RegistrationRefused, with nothing changed.
    """
    event = Event.objects.select_for_update().get(pk=registration.event_id)  # the event first, as registering
    registration = Registration.objects.select_for_update().select_related("member").get(pk=registration.pk)
    registration.event = event
    acts_for = (
        actor.member_id == registration.member_id if event.is_for_strand else _may_act_for(actor, registration.member)
    )
    if not (acts_for or can_manage_event(actor, event)):
        raise NotPermitted("You cannot cancel this registration.")
    if registration.status == Registration.Status.CANCELLED:
        raise RegistrationRefused("This registration is already cancelled.")
    if timezone.now() >= event.starts_at:
        raise RegistrationRefused("This event has started: its registrations can no longer be cancelled.")
    was = registration.status
    registration.status, registration.cancelled_at = Registration.Status.CANCELLED, timezone.now()
    registration.save(update_fields=["status", "cancelled_at"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=registration,
        member=_audit_member(event, registration.member),
        summary=f"Cancelled registration for {event.title}"[:255],
        changes={"status": [was, registration.status]},
    )
    _message_for(registration, "cancelled")
    if was == Registration.Status.REGISTERED:
        _promote_waiting(event)
    return registration


# --- Check-in and attendance ------------------------------------------------------------------------------


@transaction.atomic
def check_in(*, actor: User, event: Event, code: str, via: str = EqualitiesAccess.Via.PAGE) -> Registration:
    """Mark the holder of a check-in code as attending this event.

    Raises NotPermitted unless the actor runs the event or stewards it; CheckInRefused for a code that is not ours, one
    for another event, a cancelled or waiting-list registration, or someone already checked in.
    """
    if not can_check_in(actor, event):
        raise NotPermitted("Only the event's organisers and stewards can check people in.")
    try:
        registration_id = tokens.registration_id_from_code(code)
        registration = (
            Registration.objects.select_for_update(of=("self",))
            .select_related("member", "event")
            .get(pk=registration_id)
        )
    except (tokens.BadToken, Registration.DoesNotExist) as error:
        raise CheckInRefused("This is not a valid check-in code.", field="code") from error
    if not tokens.verify_checkin_code(code, registration):
        raise CheckInRefused("This is not a valid check-in code.", field="code")
    if registration.event_id != event.pk:
        other = registration.event
        raise CheckInRefused(f"This code is for another event: {other}. It cannot be used here.", field="code")
    name = registration.member.full_name
    if registration.status == Registration.Status.CANCELLED:
        raise CheckInRefused(f"{name} cancelled their registration.", field="code")
    if registration.status == Registration.Status.WAITING:
        raise CheckInRefused(f"{name} is on the waiting list and has no place.", field="code")
    if registration.attendance == Registration.Attendance.ATTENDED:
        raise CheckInRefused(
            f"{name} was already checked in at {timezone.localtime(registration.checked_in_at):%H:%M}.", field="code"
        )
    was = registration.attendance
    registration.attendance = Registration.Attendance.ATTENDED
    registration.checked_in_at, registration.checked_in_by = timezone.now(), actor
    registration.save(update_fields=["attendance", "checked_in_at", "checked_in_by"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=registration,
        member=_audit_member(event, registration.member),
        summary=f"Checked in at {event.title}"[:255],
        changes={"attendance": [was, registration.attendance]},
    )
    log_strand_list_read(reader=actor, event=event, member_ids=[registration.member_id], via=via)
    return registration


@transaction.atomic
def record_no_shows(*, event_id: int) -> int:
    """After an event ends, everyone with a place who was not checked in did not attend. Returns how many
    were marked; a second run finds none left to mark."""
    event = Event.objects.select_for_update().get(pk=event_id)
    if event.is_cancelled or timezone.now() < event.ends_at:
        return 0
    absent = list(
        event.registrations.filter(
            status=Registration.Status.REGISTERED, attendance=Registration.Attendance.UNKNOWN
        ).select_related("member")
    )
    for registration in absent:
        registration.attendance = Registration.Attendance.NO_SHOW
        registration.save(update_fields=["attendance"])
        record_audit(
            actor=None,
            action=AuditEntry.Action.UPDATE,
            target=registration,
            member=_audit_member(event, registration.member),
            summary=f"Did not attend {event.title}"[:255],
            changes={"attendance": [Registration.Attendance.UNKNOWN, Registration.Attendance.NO_SHOW]},
        )
    return len(absent)


def send_reminders(*, event_id: int) -> int:
    """Queue a reminder to everyone with a place. Each reminder is keyed by the registration, so a second
    run sends nothing more. Returns how many reminders were newly queued."""
    event = Event.objects.get(pk=event_id)
    if event.is_cancelled:
        return 0
    queued = 0
    registrations = event.registrations.filter(status=Registration.Status.REGISTERED).select_related("member")
    for registration in registrations:
        registration.event = event
        key = f"event:{event.pk}:registration:{registration.pk}:reminder"
        if Message.objects.filter(key=key).exists():
            continue
        with transaction.atomic():
            _message_for(registration, "reminder")
        queued += 1
    return queued


def events_due_a_reminder(*, within: datetime.timedelta = datetime.timedelta(hours=24)) -> list[int]:
    now = timezone.now()
    return list(
        Event.objects.filter(is_cancelled=False, starts_at__gt=now, starts_at__lte=now + within).values_list(
            "pk", flat=True
        )
    )


def events_due_no_shows(*, since: datetime.timedelta = datetime.timedelta(days=7)) -> list[int]:
    now = timezone.now()
    return list(
        Event.objects.filter(is_cancelled=False, ends_at__lte=now, ends_at__gt=now - since)
        .filter(registrations__status=Registration.Status.REGISTERED, registrations__attendance="unknown")
        .distinct()
        .values_list("pk", flat=True)
    )


# --- Training ---------------------------------------------------------------------------------------------


@transaction.atomic
def award_certifications(*, actor: User | None, event_id: int) -> int:
    """Give everyone who attended a training session the certification for its course (once: a member who
    already holds it keeps the first). Returns how many were awarded. `actor` None is the scheduled task."""
    event = Event.objects.select_for_update(of=("self",)).select_related("course").get(pk=event_id)
    if actor is not None and not can_manage_event(actor, event):
        raise NotPermitted("Only the session's organisers can record completion.")
    if event.course_id is None:
        raise ServiceError("Only training sessions give certifications.")
    if timezone.now() < event.starts_at:
        raise ServiceError("Completion is recorded once the session has taken place.")
    attended = event.registrations.filter(
        status=Registration.Status.REGISTERED, attendance=Registration.Attendance.ATTENDED
    ).exclude(member__certifications__course_id=event.course_id)
    awarded = 0
    for registration in attended.select_related("member"):
        certification = Certification.objects.create(
            member=registration.member,
            course=event.course,
            completed_on=timezone.localdate(event.ends_at),
            session=event,
            awarded_by=actor,
        )
        record_audit(
            actor=actor,
            action=AuditEntry.Action.CREATE,
            target=certification,
            member=_audit_member(event, registration.member),
            summary=f"Completed {event.course.title}"[:255],
        )
        awarded += 1
    return awarded


# --- Export -----------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "Membership number",
    "First name",
    "Last name",
    "Branch",
    "Workplace",
    "Status",
    "Attendance",
    "Childcare",
    "Dietary needs",
    "Registered at",
)


@transaction.atomic
def export_registrations(*, actor: User, event: Event) -> str:
    """The event's registration list as CSV for its organisers, recorded in the audit trail. Access needs
    are not exported: they stay in Quorum, where reading them is limited to the organisers."""
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the event's organisers can export its registrations.")
    registrations = (
        event.registrations.exclude(status=Registration.Status.CANCELLED)
        .select_related("member__branch", "member__workplace")
        .order_by("status", "member__last_name", "member__first_name", "id")
    )
    rows = [
        (
            r.member.membership_number,
            r.member.first_name,
            r.member.last_name,
            r.member.branch.name,
            r.member.workplace.name if r.member.workplace else "",
            r.get_status_display(),
            r.get_attendance_display(),
            "yes" if r.needs_childcare else "no",
            r.dietary_needs,
            timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M"),
        )
        for r in registrations
    ]
    log_strand_list_read(reader=actor, event=event, member_ids=[r.member_id for r in registrations], via="page")
    record_audit(
        actor=actor,
        action=AuditEntry.Action.EXPORT,
        target=event,
        summary=f"Exported {len(rows)} registrations for {event.title}"[:255],
        changes={"rows": len(rows)},
    )
    return csv_text(EXPORT_COLUMNS, rows)


def registration_counts(event: Event) -> dict[str, int]:
    counts = dict(event.registrations.order_by().values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in Registration.Status.values}


def attendance_counts(event: Event) -> dict[str, int]:
    placed = Q(status=Registration.Status.REGISTERED)
    counts = dict(event.registrations.filter(placed).order_by().values_list("attendance").annotate(n=Count("pk")))
    return {value: counts.get(value, 0) for value in Registration.Attendance.values}


# --- Conferences: delegate allocation ---------------------------------------------------------------------


def delegates_for(members: int, *, members_per_delegate: int, minimum_per_branch: int) -> int:
    """One delegate per `members_per_delegate` members or part thereof, at least the minimum; a branch with
    no members sends none."""
    if members <= 0:
        return 0
    return max(minimum_per_branch, -(-members // members_per_delegate))


def _conference_branches(event: Event) -> QuerySet[Branch]:
    branches = Branch.objects.all()
    if event.audience == Event.Audience.REGION:
        return branches.filter(region_id=event.audience_region_id)
    if event.audience == Event.Audience.BRANCH:
        return branches.filter(pk=event.audience_branch_id)
    return branches


@transaction.atomic
def allocate_delegates(
    *, actor: User, event: Event, members_per_delegate: int, minimum_per_branch: int = 1
) -> list[DelegateAllocation]:
    """Share a conference's delegates between the branches it is for, from their active members today.

    Allocating again replaces the previous allocation (the rule and the day are recorded). Raises
    NotPermitted unless the actor runs the conference, ServiceError for an event that is not a conference
    or a rule that makes no sense.
    """
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the conference's organisers can allocate delegates.")
    if event.kind != Event.Kind.CONFERENCE:
        raise ServiceError("Delegates are allocated for conferences only.")
    for name, value, low in (
        ("members_per_delegate", members_per_delegate, 1),
        ("minimum_per_branch", minimum_per_branch, 0),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 100_000:
            raise ServiceError(f"Give a whole number from {low} to 100,000.", field=name)
    counts = dict(
        Member.objects.filter(status=Member.Status.ACTIVE, branch__in=_conference_branches(event))
        .order_by()
        .values_list("branch_id")
        .annotate(n=Count("*"))
    )
    rule, _ = DelegateRule.objects.update_or_create(
        event=event,
        defaults={
            "members_per_delegate": members_per_delegate,
            "minimum_per_branch": minimum_per_branch,
            "counted_on": timezone.localdate(),
            "allocated_by": actor,
        },
    )
    DelegateAllocation.objects.filter(event=event).delete()
    allocations = DelegateAllocation.objects.bulk_create(
        DelegateAllocation(
            event=event,
            branch=branch,
            members=counts.get(branch.pk, 0),
            delegates=delegates_for(
                counts.get(branch.pk, 0),
                members_per_delegate=members_per_delegate,
                minimum_per_branch=minimum_per_branch,
            ),
        )
        for branch in _conference_branches(event).order_by("pk")
    )
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=event,
        summary=f"Allocated {sum(a.delegates for a in allocations)} delegates for {event.title}"[:255],
        changes={
            "members_per_delegate": [None, members_per_delegate],
            "minimum_per_branch": [None, minimum_per_branch],
        },
    )
    return allocations


# --- Member calls: questions sent in beforehand -----------------------------------------------------------

MAX_QUESTION = 1000
MAX_QUESTIONS_EACH = 3


@transaction.atomic
def ask_question(*, actor: User, event: Event, text: str) -> CallQuestion:
    """A member registered for a member call sends in a question before it starts (up to three each).
    Raises ServiceError with the reason, and nothing is saved."""
    member = actor.member if actor and actor.is_authenticated else None
    if member is None:
        raise NotPermitted("Only members send in questions.")
    event = Event.objects.select_for_update().get(pk=event.pk)
    text = (text or "").strip()
    if event.kind != Event.Kind.MEMBER_CALL:
        raise ServiceError("Questions are sent in for member calls only.")
    if not text:
        raise ServiceError("Write your question.", field="text")
    if len(text) > MAX_QUESTION:
        raise ServiceError(f"Keep your question to {MAX_QUESTION} characters.", field="text")
    if timezone.now() >= event.starts_at:
        raise ServiceError("This call has started: questions are sent in beforehand.")
    if not event.registrations.filter(member=member).exclude(status=Registration.Status.CANCELLED).exists():
        raise ServiceError("Register for the call to send in a question.")
    if event.questions.filter(member=member).count() >= MAX_QUESTIONS_EACH:
        raise ServiceError(f"You have sent in {MAX_QUESTIONS_EACH} questions for this call, the most each member can.")
    question = CallQuestion.objects.create(event=event, member=member, text=text)
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=question,
        member=member,
        summary=f"Sent in a question for {event.title}"[:255],
    )
    return question


def can_name_delegates_for(actor: User, branch: Branch) -> bool:
    """The branch's organisers (and national admins), or its current branch secretary."""
    if can_manage_members_in(actor, branch):
        return True
    return bool(
        actor.is_authenticated
        and actor.member_id
        and Position.objects.current()
        .filter(member_id=actor.member_id, kind=Position.Kind.BRANCH_SECRETARY, branch=branch)
        .exists()
    )


@transaction.atomic
def name_delegate(*, actor: User, event: Event, branch: Branch, membership_number: str) -> Delegate:
    """A branch names one of its active members as a delegate, up to its allocation (counted under the
    event lock, so two people naming at once cannot overfill it). Raises NotPermitted or ServiceError."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not can_name_delegates_for(actor, branch):
        raise NotPermitted("Only the branch's organisers or its branch secretary name its delegates.")
    allocation = DelegateAllocation.objects.filter(event=event, branch=branch).first()
    if allocation is None:
        raise ServiceError(f"{branch} has no delegates allocated to {event.title}.")
    member = Member.objects.filter(membership_number=(membership_number or "").strip().upper(), branch=branch).first()
    if member is None:
        raise ServiceError(f"No member of {branch} branch has that number.", field="membership_number")
    if member.status != Member.Status.ACTIVE:
        raise ServiceError(f"{member.full_name} is not an active member.", field="membership_number")
    if Delegate.objects.filter(event=event, member=member).exists():
        raise ServiceError(f"{member.full_name} is already a delegate.", field="membership_number")
    if Delegate.objects.filter(event=event, branch=branch).count() >= allocation.delegates:
        raise ServiceError(f"{branch} has named all {allocation.delegates} of its delegates.")
    delegate = Delegate.objects.create(event=event, branch=branch, member=member, named_by=actor)
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=delegate,
        member=member,
        summary=f"Named delegate for {branch} to {event.title}"[:255],
    )
    return delegate


@transaction.atomic
def check_delegate_credential(*, actor: User, event: Event, code: str) -> Delegate:
    """At the conference, check a delegate's credential and record that it was shown. Raises NotPermitted
    unless the actor runs the conference; CheckInRefused for a forged code, another conference's, or one
    already checked."""
    if not can_check_in(actor, event):
        raise NotPermitted("Only the conference's organisers and stewards can check credentials.")
    try:
        delegate = (
            Delegate.objects.select_for_update(of=("self",))
            .select_related("member", "branch", "event")
            .get(pk=tokens.delegate_id_from_code(code))
        )
    except (tokens.BadToken, Delegate.DoesNotExist) as error:
        raise CheckInRefused("This is not a valid delegate credential.", field="code") from error
    if not tokens.verify_delegate_code(code, delegate):
        raise CheckInRefused("This is not a valid delegate credential.", field="code")
    if delegate.event_id != event.pk:
        raise CheckInRefused(f"This credential is for another conference: {delegate.event}.", field="code")
    if delegate.credential_checked_at:
        raise CheckInRefused(
            f"{delegate.member.full_name}'s credential was already checked at "
            f"{timezone.localtime(delegate.credential_checked_at):%H:%M}.",
            field="code",
        )
    delegate.credential_checked_at = timezone.now()
    delegate.save(update_fields=["credential_checked_at"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=delegate,
        member=delegate.member,
        summary=f"Delegate credential checked at {event.title}"[:255],
    )
    return delegate


# --- Conferences: motions, amendments, compositing, the agenda --------------------------------------------

MAX_MOTION = 10_000
MAX_AMENDMENT = 5_000


def _conference_for_motions(event: Event) -> Event:
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.kind != Event.Kind.CONFERENCE:
        raise ServiceError("Motions are for conferences only.")
    return event


@transaction.atomic
def set_motions_deadline(
    *,
    actor: User,
    event: Event,
    closes_at: datetime.datetime,
    amendments_close_at: datetime.datetime | None = None,
) -> Event:
    """Set when motions close and, if given, a later deadline for amendments (so branches can amend the
    motions once they are all known); without one, amendments close with the motions."""
    event = _conference_for_motions(event)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the conference's organisers set its deadline.")
    for field, value in (("closes_at", closes_at), ("amendments_close_at", amendments_close_at)):
        if value is None and field == "amendments_close_at":
            continue
        if not isinstance(value, datetime.datetime) or timezone.is_naive(value):
            raise ServiceError("Give a date and time.", field=field)
        if value > event.starts_at:
            raise ServiceError("Deadlines must be before the conference starts.", field=field)
    if amendments_close_at is not None and amendments_close_at < closes_at:
        raise ServiceError("Amendments cannot close before motions do.", field="amendments_close_at")
    old = [event.motions_close_at, event.amendments_close_at]
    event.motions_close_at, event.amendments_close_at = closes_at, amendments_close_at
    event.save(update_fields=["motions_close_at", "amendments_close_at"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=event,
        summary=f"Motions deadline for {event.title}"[:255],
        changes={
            "motions_close_at": [_audit_value(old[0]), closes_at.isoformat()],
            "amendments_close_at": [_audit_value(old[1]), _audit_value(amendments_close_at)],
        },
    )
    return event


def branches_acting_for(user: User, event: Event) -> QuerySet[Branch]:
    """The conference's branches the user may submit motions or name delegates for: an organiser's patch
    (national admins: all), and the branch where they are the current branch secretary."""
    conference = _conference_branches(event)
    if not (user and user.is_authenticated and user.is_active):
        return conference.none()
    acting = Q(
        pk__in=Position.objects.current()
        .filter(member_id=user.member_id, kind=Position.Kind.BRANCH_SECRETARY, branch__isnull=False)
        .values("branch_id")
    )
    if user.is_national:
        return conference
    if user.role == User.Role.ORGANISER:
        acting |= Q(pk__in=branches_visible_to(user).values("pk"))
    return conference.filter(acting)


def _check_branch_may_submit(actor: User, event: Event, branch: Branch, *, amendment: bool = False) -> None:
    if not can_name_delegates_for(actor, branch):
        raise NotPermitted("Only the branch's organisers or its branch secretary submit for it.")
    if not _conference_branches(event).filter(pk=branch.pk).exists():
        raise ServiceError(f"{branch} branch is not part of this conference.", field="branch")
    if event.motions_close_at is None:
        raise ServiceError("Motions are not open yet: the organisers have not set a deadline.")
    if amendment and timezone.now() >= event.amendments_deadline:
        raise ServiceError(
            "The deadline for amendments has passed."
            if event.amendments_close_at
            else "The deadline for motions and amendments has passed."
        )
    if not amendment and timezone.now() >= event.motions_close_at:
        raise ServiceError(
            "The deadline for motions has passed."
            if event.amendments_close_at
            else "The deadline for motions and amendments has passed."
        )


@transaction.atomic
def submit_motion(*, actor: User, event: Event, branch: Branch, title: str, text: str) -> Motion:
    """A branch submits a motion before the deadline. Raises NotPermitted or ServiceError, nothing saved."""
    event = _conference_for_motions(event)
    title, text = (title or "").strip(), (text or "").strip()
    if not title or len(title) > 200:
        raise ServiceError("Give the motion a title of up to 200 characters.", field="title")
    if not text or len(text) > MAX_MOTION:
        raise ServiceError(f"Write the motion, up to {MAX_MOTION:,} characters.", field="text")
    _check_branch_may_submit(actor, event, branch)
    motion = Motion.objects.create(event=event, branch=branch, title=title, text=text, submitted_by=actor)
    record_audit(
        actor=actor, action=AuditEntry.Action.CREATE, target=motion, summary=f"Motion from {branch}: {title}"[:255]
    )
    return motion


@transaction.atomic
def submit_amendment(*, actor: User, motion: Motion, branch: Branch, text: str) -> Amendment:
    """A branch amends a motion that is still before the conference, before the deadline."""
    event = _conference_for_motions(motion.event)
    motion = Motion.objects.get(pk=motion.pk)
    text = (text or "").strip()
    if not text or len(text) > MAX_AMENDMENT:
        raise ServiceError(f"Write the amendment, up to {MAX_AMENDMENT:,} characters.", field="text")
    if motion.status != Motion.Status.SUBMITTED:
        raise ServiceError("That motion has been composited: amend the composite motion.", field="motion")
    _check_branch_may_submit(actor, event, branch, amendment=True)
    amendment = Amendment.objects.create(motion=motion, branch=branch, text=text, submitted_by=actor)
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=amendment,
        summary=f"Amendment from {branch} to {motion}"[:255],
    )
    return amendment


@transaction.atomic
def composite_motions(*, actor: User, event: Event, motion_ids: list[int], title: str, text: str) -> Motion:
    """Merge motions on one subject into a composite motion; the originals are kept, marked as composited
    into it (their amendments stay with them, for the record)."""
    event = _conference_for_motions(event)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the conference's organisers composite motions.")
    title, text = (title or "").strip(), (text or "").strip()
    if not title or len(title) > 200:
        raise ServiceError("Give the composite a title of up to 200 characters.", field="title")
    if not text or len(text) > MAX_MOTION:
        raise ServiceError(f"Write the composite motion, up to {MAX_MOTION:,} characters.", field="text")
    parts = list(event.motions.select_for_update().filter(pk__in=set(motion_ids), status=Motion.Status.SUBMITTED))
    if len(parts) < 2 or len(parts) != len(set(motion_ids)):
        raise ServiceError(
            "Choose two or more of this conference's motions that are not already composited.", field="motions"
        )
    composite = Motion.objects.create(event=event, branch=None, title=title, text=text, submitted_by=actor)
    Motion.objects.filter(pk__in=[p.pk for p in parts]).update(
        status=Motion.Status.COMPOSITED, composite=composite, agenda_position=None
    )
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=composite,
        summary=f"Composite of {len(parts)} motions: {title}"[:255],
        changes={"parts": [None, sorted(p.pk for p in parts)]},
    )
    return composite


@transaction.atomic
def set_agenda(*, actor: User, event: Event, motion_ids: list[int]) -> list[Motion]:
    """Order the conference's motions (every motion still before it, each once) on the agenda."""
    event = _conference_for_motions(event)
    if not can_manage_event(actor, event):
        raise NotPermitted("Only the conference's organisers order the agenda.")
    live = {m.pk: m for m in event.motions.select_for_update().filter(status=Motion.Status.SUBMITTED)}
    if sorted(motion_ids) != sorted(live) or len(set(motion_ids)) != len(motion_ids):
        raise ServiceError("Place every motion on the agenda exactly once.", field="motions")
    for position, motion_id in enumerate(motion_ids, start=1):
        live[motion_id].agenda_position = position
    Motion.objects.bulk_update(live.values(), ["agenda_position"])
    record_audit(
        actor=actor, action=AuditEntry.Action.UPDATE, target=event, summary=f"Agenda ordered for {event.title}"[:255]
    )
    return sorted(live.values(), key=lambda m: m.agenda_position)
