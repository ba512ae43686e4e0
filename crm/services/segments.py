"""Tags and segments: tag members one by one or a whole filtered list at once; save, share, rename and delete
segments (saved filters).

Audit: tagging one member writes one audit row on that member, as any change to a member does. A bulk tag
writes ONE audit row for the whole action, holding the tag, add or remove, the filters and how many
members changed: a row per member would be 100,000 rows for one click, and the filters with the time say
who was in the list. So a member's own history shows tags added one by one, not bulk ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, Segment, Tag, User
from crm.permissions import can_manage_member
from crm.selectors.segments import members_matching, scope_key
from crm.services import record_audit

TAG_NAME_MAX_LENGTH = 60
SEGMENT_NAME_MAX_LENGTH = 120
MAX_FILTER_VALUES = 20
MAX_FILTER_VALUE_LENGTH = 100
# Parameters of the member list that are not filters: never saved in a segment.
NOT_FILTERS = {"page", "csrfmiddlewaretoken"}


def can_tag_members(user: User) -> bool:
    """Tags change member records: national admins and organisers (in their patch). Reps read."""
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == User.Role.ORGANISER))


def clean_tag_name(name: object) -> str:
    """A tag name as typed, trimmed; ServiceError if empty, too long or holding control characters."""
    if not isinstance(name, str):
        raise ServiceError("Give the tag's name as text.", field="tag")
    name = " ".join(name.split())
    if not name:
        raise ServiceError("Give the tag a name.", field="tag")
    if len(name) > TAG_NAME_MAX_LENGTH:
        raise ServiceError(f"A tag name can be at most {TAG_NAME_MAX_LENGTH} characters.", field="tag")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ServiceError("A tag name cannot contain control characters.", field="tag")
    return name


def _existing_tag(name: str) -> Tag:
    try:
        return Tag.objects.get(name=name)
    except Tag.DoesNotExist as error:
        raise ServiceError(f"There is no tag called “{name}”.", field="tag") from error


@transaction.atomic
def tag_member(*, actor: User, member: Member, tag_name: str, remove: bool = False) -> bool:
    """Add a tag to one member (creating the tag if new) or remove it. Returns whether anything changed."""
    if not can_manage_member(actor, member):
        raise NotPermitted("You cannot change this member.")
    name = clean_tag_name(tag_name)
    tag = _existing_tag(name) if remove else Tag.objects.get_or_create(name=name)[0]
    member = Member.objects.select_for_update().get(pk=member.pk)
    before = sorted(member.tags.values_list("name", flat=True))
    if remove:
        member.tags.remove(tag)
    else:
        member.tags.add(tag)
    after = sorted(member.tags.values_list("name", flat=True))
    if before == after:
        return False
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=member,
        summary=f"{'Removed tag' if remove else 'Tagged'} {name}",
        changes={"tags": [before, after]},
    )
    return True


def clean_filters(filters: Mapping) -> dict[str, list[str]]:
    """The member list's query as a dict of lists of strings, without paging, within sane sizes."""
    if not isinstance(filters, Mapping):
        raise ServiceError("Filters must be a mapping of filter names to values.", field="filters")
    cleaned: dict[str, list[str]] = {}
    for name, values in filters.items():
        if not isinstance(name, str) or name in NOT_FILTERS:
            continue
        values = list(values) if isinstance(values, list | tuple) else [values]
        if len(values) > MAX_FILTER_VALUES:
            raise ServiceError(f"Too many values for the filter {name}.", field="filters")
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            raise ServiceError(f"The filter {name} must be text or numbers.", field="filters")
        values = [str(v).strip() for v in values if str(v).strip()]
        if any(len(v) > MAX_FILTER_VALUE_LENGTH for v in values):
            raise ServiceError(f"A value for the filter {name} is too long.", field="filters")
        if values:
            cleaned[name] = values
    return cleaned


def _known_filters(filters: dict[str, list[str]]) -> dict[str, list[str]]:
    from crm.filters import MemberFilter

    unknown = sorted(set(filters) - set(MemberFilter.base_filters))
    if unknown:
        raise ServiceError(f"Unknown filters: {', '.join(unknown)}.", field="filters")
    return filters


def _insert_tag_rows(members, tag: Tag) -> int:
    """INSERT … SELECT the tag onto every member of the queryset that lacks it, in one statement:
    at 100,000 members this never brings a member row into Python."""
    through = Member.tags.through
    quote = connection.ops.quote_name
    try:
        sql, params = members.order_by().values(chosen_id=F("pk")).query.get_compiler(using=members.db).as_sql()
    except EmptyResultSet:
        return 0
    table = quote(through._meta.db_table)
    # Only quoted identifiers and Django's own compiled SQL are interpolated; values go as parameters.
    statement = (
        f"INSERT INTO {table} ({quote('member_id')}, {quote('tag_id')}) "  # noqa: S608
        f"SELECT chosen.{quote('chosen_id')}, %s FROM ({sql}) chosen "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} already "
        f"WHERE already.{quote('member_id')} = chosen.{quote('chosen_id')} AND already.{quote('tag_id')} = %s) "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [tag.pk, *params, tag.pk])
        return max(cursor.rowcount, 0)


# A bulk tag works through the matching members in windows of this many member ids, reporting progress
# after each (the whole still one transaction).
BULK_TAG_WINDOW = 25_000


@transaction.atomic
def bulk_tag_members(
    *,
    actor: User,
    filters: Mapping,
    tag_name: str,
    remove: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Add a tag to (or remove it from) every member the actor can see that matches the member list's filters.

    All or nothing, in one transaction. Raises NotPermitted for users who cannot tag, ServiceError for an
    invalid or out-of-scope filter or a bad tag name (nothing tagged). Returns how many members changed;
    `progress(done, total)` is called as it goes (in member ids, so approximate). Running it again changes
    nothing and, having changed nothing, writes no audit row.
    """
    if not can_tag_members(actor):
        raise NotPermitted("Only organisers and national admins can tag members.")
    name = clean_tag_name(tag_name)
    cleaned = _known_filters(clean_filters(filters))
    members = members_matching(actor, cleaned).order_by()
    tag = _existing_tag(name) if remove else Tag.objects.get_or_create(name=name)[0]
    if remove:
        count = Member.tags.through.objects.filter(tag=tag, member_id__in=members.values("pk")).delete()[0]
    else:
        count = 0
        bounds = members.aggregate(first=Min("pk"), last=Max("pk"))
        if bounds["first"] is not None:
            first, last = bounds["first"], bounds["last"]
            for start in range(first, last + 1, BULK_TAG_WINDOW):
                count += _insert_tag_rows(members.filter(pk__gte=start, pk__lt=start + BULK_TAG_WINDOW), tag)
                if progress:
                    progress(min(start + BULK_TAG_WINDOW, last + 1) - first, last + 1 - first)
    if count:
        record_audit(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            target=tag,
            summary=f"{'Removed tag' if remove else 'Tagged'} {name} {'from' if remove else 'on'} {count} members",
            changes={"action": "remove" if remove else "add", "tag": name, "filters": cleaned, "members": count},
        )
    return count


# --- Segments -----------------------------------------------------------------------------------------------


def _clean_segment_name(name: object) -> str:
    if not isinstance(name, str) or not " ".join(name.split()):
        raise ServiceError("Give the segment a name.", field="name")
    name = " ".join(name.split())
    if len(name) > SEGMENT_NAME_MAX_LENGTH:
        raise ServiceError(f"A segment name can be at most {SEGMENT_NAME_MAX_LENGTH} characters.", field="name")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ServiceError("A segment name cannot contain control characters.", field="name")
    return name


def _colleagues(owner: User, usernames: Iterable[str]) -> list[User]:
    """The named colleagues, each of exactly the owner's scope; ServiceError naming any who are not."""
    names = sorted({str(n).strip() for n in usernames if str(n).strip()})
    if not names:
        return []
    found = {u.get_username(): u for u in User.objects.filter(username__in=names, is_active=True)}
    mine = scope_key(owner)
    wrong = [n for n in names if n not in found or found[n].pk == owner.pk or scope_key(found[n]) != mine]
    if wrong:
        raise ServiceError(
            "A segment can only be shared with colleagues who work in exactly the same area as you: "
            + ", ".join(wrong),
            field="shared_with",
        )
    return [found[n] for n in names]


def _check_name_free(owner: User, name: str, segment: Segment | None = None) -> None:
    taken = Segment.objects.filter(owner=owner, name=name)
    if segment is not None:
        taken = taken.exclude(pk=segment.pk)
    if taken.exists():
        raise ServiceError("You already have a segment with that name.", field="name")


@transaction.atomic
def save_segment(
    *,
    actor: User,
    name: str,
    filters: Mapping,
    is_shared: bool = False,
    shared_with: Iterable[str] = (),
) -> Segment:
    """Save the member list's current filters as a segment of the actor's. The filters must hold for the
    actor now (ServiceError otherwise); they are re-evaluated every time the segment is used."""
    if scope_key(actor) is None:
        raise NotPermitted("Only union staff with an area to work in can save segments.")
    name = _clean_segment_name(name)
    cleaned = _known_filters(clean_filters(filters))
    members_matching(actor, cleaned)  # refuse filters that do not hold for the actor
    _check_name_free(actor, name)
    colleagues = _colleagues(actor, shared_with)
    segment = Segment.objects.create(name=name, owner=actor, filters=cleaned, is_shared=bool(is_shared))
    segment.shared_with.set(colleagues)
    return segment


@transaction.atomic
def update_segment(
    *,
    actor: User,
    segment: Segment,
    name: str | None = None,
    is_shared: bool | None = None,
    shared_with: Iterable[str] | None = None,
) -> Segment:
    """Rename a segment or change who it is shared with. Only its owner may."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.owner_id != actor.pk:
        raise NotPermitted("Only the person who saved a segment can change it.")
    if name is not None:
        segment.name = _clean_segment_name(name)
        _check_name_free(actor, segment.name, segment)
    if is_shared is not None:
        segment.is_shared = bool(is_shared)
    if shared_with is not None:
        segment.shared_with.set(_colleagues(actor, shared_with))
    segment.updated_at = timezone.now()
    segment.save()
    return segment


@transaction.atomic
def delete_segment(*, actor: User, segment: Segment) -> None:
    """Delete a segment (its members are untouched). Only its owner may."""
    if segment.owner_id != actor.pk:
        raise NotPermitted("Only the person who saved a segment can delete it.")
    segment.delete()
