"""Filters for API lists other than members (members use crm.filters.MemberFilter, shared with the pages).

Choices for related ids come from the caller's scope, so an out-of-scope id is an invalid choice (400),
never a quiet empty result that would tell the caller the id exists.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from crm.models import Position
from crm.selectors import members_visible_to


def _scoped_members(request) -> QuerySet:
    return members_visible_to(getattr(request, "user", None))


class PositionFilter(django_filters.FilterSet):
    member = django_filters.ModelChoiceFilter(queryset=_scoped_members)
    kind = django_filters.ChoiceFilter(choices=Position.Kind.choices)
    is_current = django_filters.BooleanFilter(label="Held today", method="filter_is_current")

    class Meta:
        model = Position
        fields: list[str] = []

    def filter_is_current(self, queryset: QuerySet[Position], name: str, value: bool | None) -> QuerySet[Position]:
        if value is None:
            return queryset
        current = Q(pk__in=Position.objects.current(timezone.localdate()).values("pk"))
        return queryset.filter(current) if value else queryset.exclude(current)
