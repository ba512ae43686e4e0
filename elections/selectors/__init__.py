"""Reads shared by the count pages (and later the API)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from elections.models import Count, Recount
from elections.permissions import can_run_counts, can_view_results


def _counts_in_sight(user: Any) -> QuerySet[Count]:
    """Counts of uploaded BLT files: everyone who sees results. The count of an election: national admins and
    scrutineers always; organisers who may manage that election (elections.permissions.can_manage_election:
    a branch in their patch, or a region wholly theirs) from the close; every other organiser only once its
    results are published, so a closed election's count does not travel outside its patch early."""
    counts = Count.objects.select_related("counted_by", "certified_by", "election")
    if not can_view_results(user):
        return counts.none()
    if can_run_counts(user):
        return counts
    from crm.selectors import organiser_branch_ids
    from elections.models import Election

    managed = Q(election__branch_id__in=list(organiser_branch_ids(user))) | Q(
        election__region_id__in=list(user.regions.values_list("pk", flat=True))
    )
    return counts.filter(Q(election__isnull=True) | Q(election__status=Election.Status.PUBLISHED) | managed)


def counts_for(user: Any) -> QuerySet[Count]:
    """The counts this user may see (see _counts_in_sight), newest first."""
    return _counts_in_sight(user).defer("blt_text", "result_json")


def count_for(user: Any, count_id: int) -> Count:
    """One count, or Count.DoesNotExist when it is missing or outside the user's sight (the same answer)."""
    return _counts_in_sight(user).get(pk=count_id)


def recounts_of(count: Count) -> QuerySet[Recount]:
    return count.recounts.select_related("recounted_by")


from elections.selectors.voting import (  # noqa: E402, F401
    audit_count,
    candidate_photo_for,
    closed_elections_of,
    election_area,
    election_for,
    elections_for,
    electorate_of,
    electorate_preview,
    is_receipt_in_count,
    nominations_of,
    nominations_open_to,
    non_voters_for,
    receipts_of,
    results_turnout,
    roll_entries_of,
    roll_entry_of,
    shown_count,
    standing_candidacies,
    turnout,
)
