"""Nominations: by branches (recorded by an organiser) or by members, within the nomination window.

A nominee with enough nominations stands by accepting: consenting and giving a statement within the word
limit; they become a candidate through the same checks as a candidate an organiser adds.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from crm.errors import NotPermitted
from crm.models import Branch, Member, User
from crm.permissions import can_manage_members_in
from crm.services import record_audit
from elections.models import Candidate, Election, Nomination
from elections.selectors import election_area, electorate_of
from elections.services.setup import ElectionRefused, put_on_ballot


def _require_window(election: Election, now: datetime.datetime) -> None:
    if election.status != Election.Status.DRAFT or not election.nominations_open_at:
        raise ElectionRefused("This election is not taking nominations.")
    if now < election.nominations_open_at:
        opens = timezone.localtime(election.nominations_open_at)
        raise ElectionRefused(f"Nominations open at {opens:%H:%M on %d %B %Y}.")
    if now >= election.nominations_close_at:
        raise ElectionRefused(
            f"Nominations closed at {timezone.localtime(election.nominations_close_at):%H:%M on %d %B %Y}."
        )


def _require_eligible(election: Election, nominee: Member) -> None:
    if not nominee.is_in_good_standing:
        raise ElectionRefused(f"{nominee.full_name} is not in good standing, so cannot stand.", field="nominee")
    # In a strand election the strand is left out here: whether someone else's nomination of a member were
    # refused would tell the nominator how that member answered. The nominee's own acceptance checks it.
    if not electorate_of(election, with_strand=False).filter(pk=nominee.pk).exists():
        raise ElectionRefused(f"{nominee.full_name} is not in this election's electorate.", field="nominee")
    if election.candidates.filter(member=nominee).exists():
        raise ElectionRefused(f"{nominee.full_name} is already standing.", field="nominee")


@transaction.atomic
def nominate_by_member(
    *, actor: User, election: Election, nominee: Member, now: datetime.datetime | None = None
) -> Nomination:
    """A member in the electorate nominates another (up to one nominee per seat). Audited."""
    now = now or timezone.now()
    election = Election.objects.select_for_update().get(pk=election.pk)
    if election.nomination_route != Election.NominationRoute.MEMBERS:
        raise ElectionRefused("In this election candidates are not nominated by members.")
    _require_window(election, now)
    nominator = actor.member if actor.is_authenticated else None
    if nominator is None or not electorate_of(election).filter(pk=nominator.pk).exists():
        raise NotPermitted("Only members in this election's electorate can nominate.")
    if nominator.pk == nominee.pk:
        raise ElectionRefused("You cannot nominate yourself.", field="nominee")
    _require_eligible(election, nominee)
    made = Nomination.objects.filter(election=election, by_member=nominator)
    if made.filter(nominee=nominee).exists():
        raise ElectionRefused(f"You have already nominated {nominee.full_name}.", field="nominee")
    if made.count() >= election.seats:
        raise ElectionRefused(f"You can nominate at most {election.seats} (one per seat).", field="nominee")
    nomination = Nomination.objects.create(election=election, nominee=nominee, by_member=nominator, recorded_by=actor)
    record_audit(
        actor=actor,
        action="create",
        target=nomination,
        member=nominee,
        summary=f"{nominator.full_name} nominated {nominee.full_name} in {election.title}",
        changes={"election": election.pk, "by_member": nominator.pk},
    )
    return nomination


@transaction.atomic
def nominate_by_branch(
    *, actor: User, election: Election, branch: Branch, nominee: Member, now: datetime.datetime | None = None
) -> Nomination:
    """Record a branch's nomination (an organiser for that branch, or a national admin). Audited."""
    now = now or timezone.now()
    election = Election.objects.select_for_update().get(pk=election.pk)
    if election.nomination_route != Election.NominationRoute.BRANCHES:
        raise ElectionRefused("In this election candidates are not nominated by branches.")
    if not can_manage_members_in(actor, branch):
        raise NotPermitted("You cannot record nominations for that branch.")
    _require_window(election, now)
    if not election_area(election).filter(branch=branch).exists():
        raise ElectionRefused(f"{branch.name} branch is not part of {election.held_by}.", field="branch")
    _require_eligible(election, nominee)
    made = Nomination.objects.filter(election=election, by_branch=branch)
    if made.filter(nominee=nominee).exists():
        raise ElectionRefused(f"{branch.name} has already nominated {nominee.full_name}.", field="nominee")
    if made.count() >= election.seats:
        raise ElectionRefused(f"A branch can nominate at most {election.seats} (one per seat).", field="nominee")
    nomination = Nomination.objects.create(election=election, nominee=nominee, by_branch=branch, recorded_by=actor)
    record_audit(
        actor=actor,
        action="create",
        target=nomination,
        member=nominee,
        summary=f"{branch.name} branch nominated {nominee.full_name} in {election.title}",
        changes={"election": election.pk, "by_branch": branch.pk},
    )
    return nomination


@transaction.atomic
def accept_nomination(
    *,
    actor: User,
    election: Election,
    statement: str,
    has_consented: bool,
    count_for_reserved_seats: bool = False,
    now: datetime.datetime | None = None,
) -> Candidate:
    """The nominee (signed in as themselves) consents to stand, with a statement, once they have enough
    nominations and before nominations close. With count_for_reserved_seats they also ask to be counted for
    the election's reserved seats for a strand, which their own equalities answers must bear out (shown
    beside their name from then on). Returns the candidate; audited."""
    now = now or timezone.now()
    election = Election.objects.select_for_update().get(pk=election.pk)
    nominee = actor.member if actor.is_authenticated else None
    if nominee is None:
        raise NotPermitted("Only the member nominated can accept.")
    _require_window(election, now)
    if count_for_reserved_seats and not election.reserved_strand:
        raise ElectionRefused("This election has no reserved seats for an equalities strand.")
    count = Nomination.objects.filter(election=election, nominee=nominee).count()
    if count < election.nominations_needed:
        raise ElectionRefused(
            f"You have {count} nomination{'s' if count != 1 else ''}; "
            f"{election.nominations_needed} are needed to stand."
        )
    return put_on_ballot(
        actor=actor,
        election=election,
        member=nominee,
        name="",
        statement=statement,
        is_in_reserved_group=bool(count_for_reserved_seats) and bool(election.reserved_strand),
        has_consented=has_consented,
    )
