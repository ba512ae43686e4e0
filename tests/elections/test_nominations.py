"""Nominations by members and by branches, within the window; the nominee accepts to stand."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry
from elections.models import Candidate, Election
from elections.selectors import nominations_of, nominations_open_to
from elections.services import nominations, setup
from tests.elections.voting_helpers import details
from tests.factories import UserFactory


def window(**overrides):
    now = timezone.now()
    return details(
        nominations_open_at=now - datetime.timedelta(days=1),
        nominations_close_at=now + datetime.timedelta(days=1),
        voting_opens_at=now + datetime.timedelta(days=2),
        voting_closes_at=now + datetime.timedelta(days=9),
        **overrides,
    )


def test_members_nominate_and_the_nominee_accepts_with_a_statement(union):
    u, m = union.users, union.members
    election = setup.create_election(
        actor=u.national,
        details=window(nomination_route="members", nominations_needed=2, statement_word_limit=4, method="stv", seats=1),
    )
    ella = UserFactory(username="ella", member=m.elm)
    ash = UserFactory(username="ash", member=m.ash)
    with pytest.raises(ServiceError, match="nominated"):
        setup.add_candidate(actor=u.national, election=election, member=m.oak, has_consented=True)
    nominations.nominate_by_member(actor=ella, election=election, nominee=m.oak)
    with pytest.raises(ServiceError, match="already nominated"):
        nominations.nominate_by_member(actor=ella, election=election, nominee=m.oak)
    with pytest.raises(ServiceError, match="at most 1"):
        nominations.nominate_by_member(actor=ella, election=election, nominee=m.rep)
    with pytest.raises(ServiceError, match="yourself"):
        nominations.nominate_by_member(actor=ash, election=election, nominee=m.ash)
    with pytest.raises(ServiceError, match="good standing"):
        nominations.nominate_by_member(actor=ash, election=election, nominee=m.oak_lapsed)
    with pytest.raises(NotPermitted):
        nominations.nominate_by_member(actor=u.outsider, election=election, nominee=m.oak)
    with pytest.raises(ServiceError, match="1 nomination; 2 are needed"):
        nominations.accept_nomination(actor=u.member_oak, election=election, statement="Yes", has_consented=True)
    nominations.nominate_by_member(actor=ash, election=election, nominee=m.oak)
    assert nominations_of(election) == [
        {"nominee": "Owen Oakley", "nominations": 2, "is_enough": True, "is_standing": False}
    ]
    assert nominations_open_to(m.oak)[0]["received"] == 2
    with pytest.raises(ServiceError, match="consent"):
        nominations.accept_nomination(actor=u.member_oak, election=election, statement="Yes", has_consented=False)
    with pytest.raises(ServiceError, match="5 words; the limit is 4"):
        nominations.accept_nomination(
            actor=u.member_oak, election=election, statement="one two three four five", has_consented=True
        )
    candidate = nominations.accept_nomination(
        actor=u.member_oak, election=election, statement="Fair pay now.", has_consented=True
    )
    assert candidate.member == m.oak and candidate.statement == "Fair pay now."
    assert AuditEntry.objects.filter(target_type="elections.nomination").count() == 2
    # The candidate withdraws themselves before the deadline.
    setup.withdraw_candidate(actor=u.member_oak, candidate=candidate)
    assert Candidate.objects.get().withdrawn_at is not None


def test_branches_nominate_within_the_window_recorded_by_their_organiser(union):
    u, m = union.users, union.members
    election = setup.create_election(actor=u.national, details=window(nomination_route="branches"))
    with pytest.raises(NotPermitted):
        nominations.nominate_by_branch(
            actor=u.organiser_north, election=election, branch=union.branches.bristol, nominee=m.ash
        )
    york = union.branches.york
    nominations.nominate_by_branch(actor=u.organiser_north, election=election, branch=york, nominee=m.ash)
    with pytest.raises(ServiceError, match="York has already nominated"):
        nominations.nominate_by_branch(actor=u.organiser_north, election=election, branch=york, nominee=m.ash)
    later = election.nominations_close_at + datetime.timedelta(minutes=1)
    with pytest.raises(ServiceError, match="Nominations closed"):
        nominations.nominate_by_branch(
            actor=u.organiser_north, election=election, branch=union.branches.leeds, nominee=m.ash, now=later
        )
    ash = UserFactory(username="ash2", member=m.ash)
    candidate = nominations.accept_nomination(actor=ash, election=election, statement="", has_consented=True)
    assert candidate.member == m.ash
    with pytest.raises(ServiceError, match="Nominations closed"):
        nominations.accept_nomination(actor=ash, election=election, statement="", has_consented=True, now=later)


def test_nomination_set_up_and_withdrawal_deadline_are_checked(union):
    u, m = union.users, union.members
    with pytest.raises(ServiceError) as refused:
        setup.create_election(actor=u.national, details=details(nomination_route="members"))
    assert refused.value.field == "nominations_open_at"
    with pytest.raises(ServiceError) as refused:
        setup.create_election(actor=u.national, details=window(kind="ballot", method="", nomination_route="members"))
    assert refused.value.field == "nomination_route"
    now = timezone.now()
    election = setup.create_election(
        actor=u.national,
        details=details(
            voting_opens_at=now + datetime.timedelta(days=2),
            voting_closes_at=now + datetime.timedelta(days=3),
            withdrawal_deadline_at=now + datetime.timedelta(days=1),
        ),
    )
    candidate = setup.add_candidate(actor=u.national, election=election, member=m.oak, has_consented=True)
    with pytest.raises(NotPermitted):
        setup.withdraw_candidate(actor=u.outsider, candidate=candidate)
    with pytest.raises(ServiceError, match="withdrawal deadline"):
        setup.withdraw_candidate(actor=u.national, candidate=candidate, now=now + datetime.timedelta(days=1, hours=1))
    assert Election.objects.get(pk=election.pk).withdrawal_deadline_at is not None
