"""Who is in a segment or a filtered list: saved filters applied afresh, within the user's own scope;
and which segments a user may use (their own, and those shared with them by colleagues of the same scope)."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from django.db.models import Q, QuerySet
from django.http import QueryDict

from crm.errors import ServiceError
from crm.models import Member, Segment, User
from crm.selectors import members_visible_to, organiser_branch_ids, rep_workplace_ids


def filter_data(filters: Mapping) -> QueryDict:
    """A dict of lists (or single values) as the QueryDict a FilterSet reads."""
    data = QueryDict(mutable=True)
    for name, values in (filters or {}).items():
        data.setlist(str(name), [str(v) for v in (values if isinstance(values, list | tuple) else [values])])
    return data


def segment_filter_data(segment: Segment) -> QueryDict:
    return filter_data(segment.filters)


def members_matching(user: User, filters: Mapping, *, what: str = "These filters") -> QuerySet[Member]:
    """Members `user` may see that match the member list's filters. Raises ServiceError naming every filter
    that does not hold (an unknown value, a branch outside the scope), so nothing silently widens or empties."""
    from crm.filters import MemberFilter  # crm.filters imports the selectors package

    members = MemberFilter(
        data=filter_data(filters), queryset=members_visible_to(user), request=SimpleNamespace(user=user)
    )
    if not members.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in members.errors.items())
        raise ServiceError(f"{what} cannot be used: {problems}", field="filters")
    return members.qs


def segment_members(user: User, segment: Segment) -> QuerySet[Member]:
    """The members of `segment` that `user` may see now. Raises ServiceError if its filters no longer hold
    (a branch it names has left the user's scope, say): a segment never silently widens or empties."""
    try:
        return members_matching(user, segment.filters)
    except ServiceError as error:
        raise ServiceError(
            f"The segment “{segment.name}” no longer applies: {error.message.split(': ', 1)[1]}"
        ) from error


def scope_key(user: User | None) -> str | None:
    """What "the same scope" means for sharing a segment, as a comparable value.

    National admins (and superusers) share with national admins; an organiser with organisers whose patch
    covers exactly the same set of branches (however it was named: a region or its branches one by one);
    a rep with reps of exactly the same set of workplaces. Anyone else (members, scrutineers, staff with an
    empty scope) has no key and neither shares nor receives segments.
    """
    if not (user and user.is_authenticated and user.is_active):
        return None
    if user.is_national:
        return "national"
    if user.role == User.Role.ORGANISER:
        ids = sorted(organiser_branch_ids(user))
        return "branches:" + ",".join(map(str, ids)) if ids else None
    if user.role == User.Role.REP:
        ids = sorted(set(rep_workplace_ids(user)))
        return "workplaces:" + ",".join(map(str, ids)) if ids else None
    return None


def can_use_segment(user: User, segment: Segment) -> bool:
    """The owner; or a colleague it is shared with (to all, or by name) whose scope is still the owner's."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if segment.owner_id == user.pk:
        return scope_key(user) is not None
    if not (segment.is_shared or segment.shared_with.filter(pk=user.pk).exists()):
        return False
    mine = scope_key(user)
    return mine is not None and scope_key(segment.owner) == mine


def segments_for(user: User) -> tuple[list[Segment], list[Segment]]:
    """(mine, shared with me), each by name. Shared ones are checked against the owner's scope as it is now."""
    mine_key = scope_key(user)
    if mine_key is None:
        return [], []
    mine = list(Segment.objects.filter(owner=user).select_related("owner").prefetch_related("shared_with"))
    candidates = (
        Segment.objects.filter(Q(is_shared=True) | Q(shared_with=user))
        .exclude(owner=user)
        .filter(owner__is_active=True)
        .select_related("owner")
        .distinct()
    )
    if mine_key == "national":
        candidates = candidates.filter(Q(owner__role=User.Role.NATIONAL_ADMIN) | Q(owner__is_superuser=True))
    else:
        candidates = candidates.filter(owner__role=user.role, owner__is_superuser=False)
    keys: dict[int, str | None] = {}
    shared = []
    for segment in candidates:
        if segment.owner_id not in keys:
            keys[segment.owner_id] = scope_key(segment.owner)
        if keys[segment.owner_id] == mine_key:
            shared.append(segment)
    return mine, sorted(shared, key=lambda s: (s.name.lower(), s.pk))


def usable_segments(user: User) -> QuerySet[Segment]:
    """The segments `user` may use, as a queryset (for the API)."""
    mine, shared = segments_for(user)
    return (
        Segment.objects.filter(pk__in=[s.pk for s in mine + shared])
        .select_related("owner")
        .prefetch_related("shared_with")
        .order_by("name", "id")
    )
