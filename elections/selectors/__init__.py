"""Reads shared by the count pages (and later the API)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from elections.models import Count, Recount
from elections.permissions import can_view_results


def counts_for(user: Any) -> QuerySet[Count]:
    """The counts this user may see (none for those who may not see results), newest first."""
    if not can_view_results(user):
        return Count.objects.none()
    return Count.objects.select_related("counted_by", "certified_by").defer("blt_text", "result_json")


def count_for(user: Any, count_id: int) -> Count:
    """One count, or Count.DoesNotExist when it is missing or outside the user's sight (the same answer)."""
    if not can_view_results(user):
        raise Count.DoesNotExist
    return Count.objects.select_related("counted_by", "certified_by").get(pk=count_id)


def recounts_of(count: Count) -> QuerySet[Recount]:
    return count.recounts.select_related("recounted_by")


from elections.selectors.voting import (  # noqa: E402, F401
    election_area,
    election_for,
    elections_for,
    electorate_of,
    electorate_preview,
    nominations_of,
    nominations_open_to,
    non_voters_for,
    receipts_of,
    roll_entries_of,
    turnout,
)
