"""Who is in a segment: its saved filters applied afresh, within the user's own scope."""

from __future__ import annotations

from types import SimpleNamespace

from django.db.models import QuerySet
from django.http import QueryDict

from crm.errors import ServiceError
from crm.models import Member, Segment, User
from crm.selectors import members_visible_to


def segment_filter_data(segment: Segment) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, values in (segment.filters or {}).items():
        data.setlist(name, [str(v) for v in (values if isinstance(values, list) else [values])])
    return data


def segment_members(user: User, segment: Segment) -> QuerySet[Member]:
    """The members of `segment` that `user` may see now. Raises ServiceError if its filters no longer hold
    (a branch it names has left the user's scope, say): a segment never silently widens or empties."""
    from crm.filters import MemberFilter  # crm.filters imports the selectors package

    members = MemberFilter(
        data=segment_filter_data(segment),
        queryset=members_visible_to(user),
        request=SimpleNamespace(user=user),
    )
    if not members.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in members.errors.items())
        raise ServiceError(f"The segment “{segment.name}” no longer applies: {problems}")
    return members.qs
