"""Workflows that write members, positions and the audit trail. Services are the only writers.

Each runs in one transaction, checks the acting user's scope first, and records who changed what.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Model
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Branch, Member, MembershipSnapshot, Position, Region, Tag, User, Workplace
from crm.permissions import can_manage_member, can_manage_members_in
from crm.phones import normalise_mobile

# Fields staff may set on a member through a form, the API or (later) an import.
MEMBER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "branch",
    "workplace",
    "employer",
    "sector",
    "category",
    "status",
    "joined_on",
    "has_arrears",
    "email_consent",
    "sms_consent",
    "notes",
)


def record_audit(
    *,
    actor: User | None,
    action: str,
    target: Model,
    summary: str = "",
    changes: dict | None = None,
    member: Member | None = None,
) -> AuditEntry:
    """Add one audit row. Call inside the transaction that made the change, so both land or neither."""
    if member is None and isinstance(target, Member):
        member = target
    return AuditEntry.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor and actor.is_authenticated else "system",
        action=action,
        target_type=target._meta.label_lower,
        target_id=target.pk,
        member=member,
        summary=summary[:255],
        changes=changes or {},
    )


def _audit_value(value: Any) -> Any:
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def next_membership_number() -> str:
    """The next free number in the Q0000001 series (numbers from elsewhere, e.g. imports, are kept as given)."""
    last = (
        Member.objects.filter(membership_number__regex=r"^Q[0-9]{7}$")
        .order_by("-membership_number")
        .values_list("membership_number", flat=True)
        .first()
    )
    return f"Q{int(last[1:]) + 1 if last else 1:07d}"


def _clean_details(details: dict[str, Any], member: Member | None) -> dict[str, Any]:
    """Normalise and cross-check the fields given; raise ServiceError naming the field at fault."""
    unknown = set(details) - set(MEMBER_FIELDS) - {"tags", "consent_source"}
    if unknown:
        raise ServiceError(f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    cleaned = dict(details)
    if "mobile" in cleaned:
        try:
            cleaned["mobile"] = normalise_mobile(cleaned["mobile"])
        except Exception as error:  # ValidationError carries the readable message
            raise ServiceError(getattr(error, "messages", [str(error)])[0], field="mobile") from error
    workplace: Workplace | None = cleaned.get("workplace", member.workplace if member else None)
    if workplace is not None:
        # A member at a workplace belongs to the workplace's branch, and to its employer unless told otherwise.
        # By id, which is what Model.__eq__ compares, without its checks: an import asks this of every row.
        if "branch" in cleaned and cleaned["branch"] is not None and cleaned["branch"].pk != workplace.branch_id:
            raise ServiceError(f"{workplace} is in {workplace.branch} branch, not {cleaned['branch']}.", field="branch")
        if "workplace" in cleaned:
            cleaned["branch"] = workplace.branch
            if not cleaned.get("employer"):
                cleaned["employer"] = workplace.employer
            if not cleaned.get("sector"):
                cleaned["sector"] = workplace.sector
    if cleaned.get("branch", member.branch if member else None) is None:
        raise ServiceError("A member must belong to a branch (or a workplace, which sets it).", field="branch")
    return cleaned


def _stamp_consent(member: Member, changed: set[str], source: str) -> None:
    """Record where and when consent changed for each channel whose consent field changed."""
    now = None  # read only when a consent changed: an import asks this of every row
    for channel in ("email", "sms"):
        if f"{channel}_consent" in changed:
            now = now or timezone.now()
            setattr(member, f"{channel}_consent_source", source)
            setattr(member, f"{channel}_consent_at", now)
    if member.sms_consent and not member.mobile:
        raise ServiceError("SMS consent needs a mobile number.", field="sms_consent")


@transaction.atomic
def create_member(*, actor: User, details: dict[str, Any], membership_number: str = "") -> Member:
    """Add a member within the actor's scope. Raises NotPermitted outside it, ServiceError on bad details."""
    cleaned = _clean_details(details, None)
    if not can_manage_members_in(actor, cleaned["branch"]):
        raise NotPermitted("You can only add members in your own branches.", field="branch")
    tags = cleaned.pop("tags", None)
    source = cleaned.pop("consent_source", "") or Member.ConsentSource.CONVERSATION
    member = Member(**cleaned)
    if member.status == Member.Status.ACTIVE and not member.joined_on:
        member.joined_on = timezone.localdate()
    member.status_changed_on = timezone.localdate()
    _stamp_consent(member, {k for k in ("email_consent", "sms_consent") if cleaned.get(k)}, source)
    for attempt in range(5):
        member.membership_number = membership_number or next_membership_number()
        try:
            with transaction.atomic():
                member.save()
            break
        except IntegrityError as error:
            if membership_number or attempt == 4:
                raise ServiceError("That membership number is already in use.", field="membership_number") from error
    if tags is not None:
        member.tags.set(tags)
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=member,
        summary=f"Added {member.full_name}",
        changes={f: [None, _audit_value(getattr(member, f))] for f in cleaned if f != "notes"},
    )
    return member


@transaction.atomic
def update_member(*, actor: User, member: Member, details: dict[str, Any]) -> Member:
    """Change the given fields of a member in the actor's scope, recording each change in the audit trail."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if not can_manage_member(actor, member):
        raise NotPermitted("You cannot change this member.")
    cleaned = _clean_details(details, member)
    if "branch" in cleaned and not can_manage_members_in(actor, cleaned["branch"]):
        raise NotPermitted("You can only move members into your own branches.", field="branch")
    tags = cleaned.pop("tags", None)
    source = cleaned.pop("consent_source", "") or Member.ConsentSource.CONVERSATION
    changes: dict[str, list] = {}
    for field, value in cleaned.items():
        old = getattr(member, field)
        if old != value:
            changes[field] = [_audit_value(old), _audit_value(value)]
            setattr(member, field, value)
    _stamp_consent(member, set(changes), source)
    if "status" in changes:
        member.status_changed_on = timezone.localdate()
        if member.status == Member.Status.ACTIVE and not member.joined_on:
            member.joined_on = timezone.localdate()
    if tags is not None:
        old_tags = sorted(t.name for t in member.tags.all())
        new_tags = sorted(t.name for t in tags)
        if old_tags != new_tags:
            changes["tags"] = [old_tags, new_tags]
            member.tags.set(tags)
    if not changes:
        return member
    member.save()
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=member,
        summary="Changed " + ", ".join(sorted(changes)),
        changes=changes,
    )
    return member


def _position_place(kind: str, workplace: Workplace | None, branch: Branch | None, region: Region | None):
    places = [p for p in (workplace, branch, region) if p is not None]
    if len(places) != 1:
        raise ServiceError("A position is held at exactly one workplace, branch or region.", field="workplace")
    if kind in Position.WORKPLACE_KINDS and workplace is None:
        raise ServiceError("This role is held at a workplace.", field="workplace")
    if kind not in Position.WORKPLACE_KINDS and workplace is not None:
        raise ServiceError("This role is held at a branch or region, not a workplace.", field="workplace")
    return places[0]


@transaction.atomic
def add_position(
    *,
    actor: User,
    member: Member,
    kind: str,
    started_on: datetime.date,
    workplace: Workplace | None = None,
    branch: Branch | None = None,
    region: Region | None = None,
    ended_on: datetime.date | None = None,
) -> Position:
    """Give a member a dated role. The member must be in the actor's scope and in good standing."""
    if not can_manage_member(actor, member):
        raise NotPermitted("You cannot change this member.")
    if kind not in Position.Kind.values:
        raise ServiceError("Choose a role from the list.", field="kind")
    _position_place(kind, workplace, branch, region)
    if ended_on is not None and ended_on < started_on:
        raise ServiceError("A position cannot end before it starts.", field="ended_on")
    if not member.is_in_good_standing:
        raise ServiceError("Only members in good standing can hold a position.", field="member")
    position = Position.objects.create(
        member=member,
        kind=kind,
        workplace=workplace,
        branch=branch,
        region=region,
        started_on=started_on,
        ended_on=ended_on,
    )
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=position,
        member=member,
        summary=f"Became {position}",
        changes={"started_on": [None, started_on.isoformat()]},
    )
    return position


@transaction.atomic
def end_position(*, actor: User, position: Position, ended_on: datetime.date) -> Position:
    """Close a position on a date (not before it started)."""
    position = Position.objects.select_for_update().select_related("member__branch").get(pk=position.pk)
    if not can_manage_member(actor, position.member):
        raise NotPermitted("You cannot change this member.")
    if ended_on < position.started_on:
        raise ServiceError("A position cannot end before it starts.", field="ended_on")
    old = position.ended_on
    position.ended_on = ended_on
    position.save(update_fields=["ended_on"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=position,
        member=position.member,
        summary=f"Ended {position}",
        changes={"ended_on": [_audit_value(old), ended_on.isoformat()]},
    )
    return position


def get_or_create_tags(names: list[str]) -> list[Tag]:
    return [Tag.objects.get_or_create(name=name.strip())[0] for name in names if name.strip()]


@transaction.atomic
def take_membership_snapshot(*, on: datetime.date | None = None) -> int:
    """Record members by branch and status for a day; taking it again the same day replaces it. Returns rows."""
    on = on or timezone.localdate()
    counts = Member.objects.order_by().values_list("branch_id", "status").annotate(n=Count("pk"))
    MembershipSnapshot.objects.filter(taken_on=on).delete()
    rows = [MembershipSnapshot(taken_on=on, branch_id=b, status=s, members=n) for b, s, n in counts]
    MembershipSnapshot.objects.bulk_create(rows)
    return len(rows)
