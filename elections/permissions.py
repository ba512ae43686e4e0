"""Who may do what with counts: small predicates shared by pages, services and (later) the API."""

from __future__ import annotations

from typing import Any


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_run_counts(user: Any) -> bool:
    """Upload, certify and recount: national admins (and superusers) and scrutineers."""
    return _signed_in(user) and (user.is_national or user.role == "scrutineer")


def can_view_results(user: Any) -> bool:
    """See counts and their results: those who run counts, and organisers."""
    return _signed_in(user) and (can_run_counts(user) or user.role == "organiser")


def _patch_branch_ids(user: Any) -> set[int]:
    from crm.selectors import organiser_branch_ids

    return set(organiser_branch_ids(user))


def can_create_elections(user: Any) -> bool:
    return _signed_in(user) and (user.is_national or user.role == "organiser")


def can_hold_election_for(user: Any, *, region: Any = None, branch: Any = None) -> bool:
    """National admins hold elections anywhere (the whole union too); organisers for a branch in their patch,
    or for a region that is wholly theirs."""
    if not _signed_in(user):
        return False
    if user.is_national:
        return True
    if user.role != "organiser":
        return False
    if branch is not None:
        return branch.pk in _patch_branch_ids(user)
    if region is not None:
        return user.regions.filter(pk=region.pk).exists()
    return False


def can_manage_election(user: Any, election: Any) -> bool:
    """Set up, freeze the roll, add late entries, reissue credentials, close and publish."""
    return can_hold_election_for(user, region=election.region, branch=election.branch)


def can_scrutinise(user: Any) -> bool:
    """Scrutineers (and national admins) read every election's setup, roll counts and seals, and certify."""
    return _signed_in(user) and (user.is_national or user.role == "scrutineer")


def can_see_turnout(user: Any, election: Any) -> bool:
    """Turnout (never how anyone voted): those who manage or scrutinise the election, organisers for their
    patch and reps for their own workplaces (elections.selectors narrows what each sees)."""
    if not _signed_in(user):
        return False
    if can_manage_election(user, election) or can_scrutinise(user) or user.role == "organiser":
        return True
    # A rep's workplaces are too small to count a strand's members in (as for crm's equalities aggregates).
    return user.role == "rep" and election.electorate != "strand"
