"""The member list's filters: one FilterSet for the page and the API, always applied to a scoped queryset.

Choices for region, branch and workplace come from the user's own scope, so a guessed id outside it
is rejected as an invalid choice rather than quietly matching nothing.
"""

from __future__ import annotations

import re

import django_filters
from django.db.models import F, Q, QuerySet

from crm.models import Member, Position, Sector, Tag
from crm.selectors import branches_visible_to, employers_visible_to, regions_visible_to, workplaces_visible_to

MAX_SEARCH_TERMS = 5
MAX_SEARCH_LENGTH = 100
YES_NO = [("true", "Yes"), ("false", "No")]
MEMBERSHIP_NUMBER = re.compile(r"^[A-Z]{0,3}[0-9]{3,}$")
# Search results in name order, spelt so that no index provides it: NULLS FIRST changes nothing (names are
# never null) but stops PostgreSQL walking the whole name index from "A" to reach the matches' letter; it
# fetches the matches through the search indexes and sorts those few instead (bench/bench_member_list.py).
SEARCH_RESULT_ORDER = (F("last_name").asc(nulls_first=True), F("first_name").asc(nulls_first=True), F("id").asc())


def _user(request):
    return getattr(request, "user", None)


def search_members(queryset: QuerySet[Member], text: str) -> QuerySet[Member]:
    """Every word must match the start of a first name, last name or email, or a membership number."""
    for term in text.split()[:MAX_SEARCH_TERMS]:
        if MEMBERSHIP_NUMBER.match(term.upper()):
            queryset = queryset.filter(membership_number__startswith=term.upper())
        elif "@" in term:
            queryset = queryset.filter(email__istartswith=term)
        else:
            queryset = queryset.filter(Q(last_name__istartswith=term) | Q(first_name__istartswith=term))
    return queryset


class MemberOrdering(django_filters.OrderingFilter):
    """Sorting by name means last name, then first name; every sort ends with the id so pages never overlap."""

    def filter(self, qs, value):
        if not value:
            return qs
        ordering: list[str] = []
        for param in value:
            sign = "-" if param.startswith("-") else ""
            field = self.param_map[param.lstrip("-")]
            ordering += [sign + f for f in (["last_name", "first_name"] if field == "last_name" else [field])]
        return qs.order_by(*ordering, "-id" if ordering[0].startswith("-") else "id")


class MemberFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="filter_search",
        max_length=MAX_SEARCH_LENGTH,
        help_text="Name, membership number or email",
    )
    region = django_filters.ModelChoiceFilter(
        label="Region",
        field_name="branch__region",
        method="filter_region",
        queryset=lambda request: regions_visible_to(_user(request)),
    )
    branch = django_filters.ModelChoiceFilter(queryset=lambda request: branches_visible_to(_user(request)))
    workplace = django_filters.ModelChoiceFilter(queryset=lambda request: workplaces_visible_to(_user(request)))
    employer = django_filters.ModelChoiceFilter(queryset=lambda request: employers_visible_to(_user(request)))
    sector = django_filters.ChoiceFilter(choices=Sector.choices)
    category = django_filters.ChoiceFilter(choices=Member.Category.choices)
    status = django_filters.ChoiceFilter(choices=Member.Status.choices)
    good_standing = django_filters.ChoiceFilter(
        label="In good standing", choices=YES_NO, empty_label="Any", method="filter_good_standing"
    )
    position = django_filters.ChoiceFilter(
        label="Holds position",
        choices=[("any", "Any position"), *Position.Kind.choices],
        method="filter_position",
    )
    tag = django_filters.ModelChoiceFilter(
        label="Tag", field_name="tags", to_field_name="name", queryset=Tag.objects.all()
    )
    has_mobile = django_filters.ChoiceFilter(
        label="Has a mobile", choices=YES_NO, empty_label="Any", method="filter_has_mobile"
    )
    consent = django_filters.ChoiceFilter(
        label="Consents to",
        choices=[("email", "Email"), ("sms", "SMS")],
        method="filter_consent",
    )
    ordering = MemberOrdering(
        label="Sort by",
        fields=(
            ("last_name", "name"),
            ("membership_number", "membership_number"),
            ("joined_on", "joined_on"),
            ("status", "status"),
        ),
        field_labels={
            "name": "Name",
            "membership_number": "Membership number",
            "joined_on": "Date joined",
            "status": "Status",
        },
    )

    class Meta:
        model = Member
        fields: list[str] = []

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if (self.form.cleaned_data.get("q") or "").strip() and not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by(*SEARCH_RESULT_ORDER)
        return queryset

    def filter_region(self, queryset, name, value):
        # The region's branch ids, not a join through branch: a condition on the member row itself lets
        # PostgreSQL use the (branch_id, name, status, category) search indexes.
        return queryset.filter(branch_id__in=list(value.branches.values_list("pk", flat=True)))

    def filter_search(self, queryset, name, value):
        return search_members(queryset, value) if value.strip() else queryset

    def filter_good_standing(self, queryset, name, value):
        return queryset.in_good_standing() if value == "true" else queryset.not_in_good_standing()

    def filter_position(self, queryset, name, value):
        positions = Position.objects.current()
        if value != "any":
            positions = positions.filter(kind=value)
        return queryset.filter(pk__in=positions.values("member_id"))

    def filter_has_mobile(self, queryset, name, value):
        return queryset.exclude(mobile="") if value == "true" else queryset.filter(mobile="")

    def filter_consent(self, queryset, name, value):
        return queryset.filter(**{f"{value}_consent": True})
