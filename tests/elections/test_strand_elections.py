"""Strand electorates and reserved seats by strand: members' own equalities answers decide, nobody sees them."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import Member
from crm.models.equalities import CONSENT_WORDING_VERSION, EqualitiesAnswers
from elections.models import Candidate, Election, RollEntry
from elections.selectors import electorate_of, electorate_preview, non_voters_for, turnout
from elections.services import closing, nominations, setup
from tests.elections.voting_helpers import details
from tests.factories import MemberFactory, UserFactory


def answer(member, **answers) -> None:
    EqualitiesAnswers.objects.update_or_create(
        member=member,
        defaults={
            **answers,
            "entered_by": EqualitiesAnswers.EnteredBy.MEMBER,
            "consent_wording_version": CONSENT_WORDING_VERSION,
            "consent_recorded_at": timezone.now(),
        },
    )


def window(**overrides) -> dict:
    now = timezone.now()
    return details(
        nominations_open_at=now - datetime.timedelta(days=1),
        nominations_close_at=now + datetime.timedelta(hours=1),
        voting_opens_at=now + datetime.timedelta(hours=2),
        voting_closes_at=now + datetime.timedelta(days=9),
        **overrides,
    )


def women_of_the_north(union, **overrides) -> Election:
    return setup.create_election(
        actor=union.users.organiser_north,
        details=window(
            **{
                "region": union.regions.north,
                "electorate": "strand",
                "electorate_values": ["woman_member"],
                "nomination_route": "members",
                **overrides,
            }
        ),
    )


@pytest.fixture
def answered(union):
    m = union.members
    for member in (m.rep, m.oak, m.oak_lapsed, m.ash, m.supply):
        answer(member, woman_member="yes")
    answer(m.elm, woman_member="no", lgbt_member="yes")
    return union


@pytest.mark.parametrize(
    "values",
    [[], ["martian"], ["woman_member", "lgbt_member"], "woman_member", [None], [["woman_member"]]],
)
def test_a_strand_rule_needs_exactly_one_known_strand(union, values):
    with pytest.raises(ServiceError) as refused:
        women_of_the_north(union, electorate_values=values)
    assert refused.value.field == "electorate_values"
    assert not Election.objects.exists()


def test_a_strand_election_cannot_have_organisers_pick_candidates(union):
    with pytest.raises(ServiceError) as refused:
        women_of_the_north(union, nomination_route="organiser")
    assert refused.value.field == "nomination_route"


def test_the_electorate_is_the_strand_within_the_area_and_good_standing(answered):
    m = answered.members
    election = women_of_the_north(answered)
    # Lapsed, in arrears, South region, and "no" are all out; Rita and Owen are women members in the North.
    assert set(electorate_of(election)) == {m.rep, m.oak}
    assert set(electorate_of(election, with_strand=False)) == {m.rep, m.oak, m.elm}
    withdrawn = EqualitiesAnswers.objects.get(member=m.oak)
    withdrawn.woman_member = "prefer_not_to_say"
    withdrawn.save()
    assert set(electorate_of(election)) == {m.rep}


def test_the_preview_shows_suppressed_counts_by_branch_only(answered, client):
    u = answered.users
    for index in range(6):
        answer(MemberFactory(first_name=f"Wendy{index}", workplace=answered.workplaces.elm), woman_member="yes")
    election = women_of_the_north(answered)
    preview = electorate_preview(election)
    shown = {row["branch__name"]: (row["members"], row["members_shown"]) for row in preview["branches"]}
    # Leeds has 2: "<5"; York's 6 would give Leeds away from the total, so it is hidden too.
    assert shown == {"Leeds": (None, "<5"), "York": (None, "hidden")}
    assert (preview["total"], preview["total_shown"]) == (8, "8")
    client.force_login(u.organiser_north)
    page = client.get(reverse("elections:election_detail", args=[election.pk])).content.decode()
    assert "&lt;5" in page and "hidden" in page and "8 members" in page
    for member in answered.members.__dict__.values():
        assert member.full_name not in page and member.membership_number not in page
    assert "Wendy" not in page


def test_a_small_electorate_total_is_suppressed_too(answered):
    preview = electorate_preview(women_of_the_north(answered))
    assert (preview["total"], preview["total_shown"]) == (None, "<5")


def test_other_rules_still_show_plain_counts(union):
    election = setup.create_election(actor=union.users.national, details=details())
    preview = electorate_preview(election)
    assert preview["is_suppressed"] is False and preview["total_shown"] == str(preview["total"])


def _open_strand_election(union, voters: int = 6) -> Election:
    """Women members of the North, with `voters` more at Elm and two candidates who stand themselves."""
    m, u = union.members, union.users
    for index in range(voters):
        answer(MemberFactory(first_name=f"Wendy{index}", workplace=union.workplaces.elm), woman_member="yes")
    election = women_of_the_north(union, method="stv", seats=1)
    rita, owen = u.rep_oak, u.member_oak
    nominations.nominate_by_member(actor=owen, election=election, nominee=m.rep)
    nominations.nominate_by_member(actor=rita, election=election, nominee=m.oak)
    nominations.accept_nomination(actor=rita, election=election, statement="", has_consented=True)
    nominations.accept_nomination(actor=owen, election=election, statement="", has_consented=True)
    Election.objects.filter(pk=election.pk).update(voting_opens_at=timezone.now() - datetime.timedelta(minutes=1))
    election.refresh_from_db()
    setup.open_voting(actor=u.organiser_north, election=election)
    election.refresh_from_db()
    return election


def test_the_roll_of_a_strand_election_is_shown_only_as_suppressed_counts(answered, client):
    u, m = answered.users, answered.members
    election = _open_strand_election(answered)
    wendys = set(Member.objects.filter(first_name__startswith="Wendy").values_list("pk", flat=True))
    on_roll = set(RollEntry.objects.filter(roll__election=election).values_list("member", flat=True))
    assert len(wendys) == 6 and on_roll == {m.rep.pk, m.oak.pk} | wendys
    seen = turnout(u.organiser_north, election, by="branch")
    assert seen["is_suppressed"] and seen["on_roll"] == 8 and seen["voted"] is None
    rows = {row["name"]: (row["on_roll_shown"], row["voted_shown"], row["percent"]) for row in seen["rows"]}
    assert rows == {"Leeds": ("<5", "<5", None), "York": ("hidden", "<5", None)}
    assert turnout(u.organiser_north, election, by="workplace")["rows"] == []
    assert turnout(u.rep_oak, election)["rows"] == []  # a rep's workplaces are too small to count
    assert not non_voters_for(u.organiser_north, election).exists()
    assert not non_voters_for(u.national, election).exists()
    client.force_login(u.organiser_north)
    page = client.get(reverse("elections:election_turnout", args=[election.pk])).content.decode()
    assert "Not voted yet" not in page and "Wendy" not in page and "Oakley" not in page
    assert client.get(reverse("elections:election_turnout", args=[election.pk]) + "?by=workplace").status_code == 200
    client.force_login(u.rep_oak)
    assert client.get(reverse("elections:election_turnout", args=[election.pk])).status_code == 403
    api = client.get(f"/api/v1/elections/{election.pk}/roll/")
    assert api.status_code in (403, 404)
    client.force_login(u.organiser_north)
    roll = client.get(f"/api/v1/elections/{election.pk}/roll/").json()
    assert roll["total"] == 8 and {row["shown"] for row in roll["by_branch"]} == {"<5", "hidden"}


def test_a_strand_roll_takes_no_late_additions_and_only_the_member_gets_a_new_link(answered):
    u, m = answered.users, answered.members
    election = _open_strand_election(answered)
    with pytest.raises(ServiceError, match="no late additions"):
        setup.add_to_roll(actor=u.organiser_north, election=election, member=m.elm, reason="Missed")
    entry = RollEntry.objects.get(roll__election=election, member=m.oak)
    with pytest.raises(NotPermitted):
        setup.reissue_credential(actor=u.organiser_north, entry=entry)
    message = setup.reissue_credential(actor=u.member_oak, entry=entry)
    assert message.member_id == m.oak.pk


def test_my_ballots_shows_a_member_their_own_place_on_a_strand_roll(answered, client):
    election = _open_strand_election(answered)
    client.force_login(answered.users.member_oak)
    page = client.get(reverse("portal:ballots")).content.decode()
    assert election.title in page and "Wendy" not in page


# --- Reserved seats for a strand ----------------------------------------------------------------------------


def reserved_election(union, **overrides) -> Election:
    return setup.create_election(
        actor=union.users.national,
        details=window(
            nomination_route="members",
            method="stv",
            seats=2,
            reserved_seats=1,
            reserved_strand="woman_member",
            **overrides,
        ),
    )


def test_reserved_strand_set_up_is_checked(union):
    election = reserved_election(union)
    assert election.reserved_label == "women members"  # named from the strand when not given
    for bad, field in (
        ({"reserved_strand": "martian"}, "reserved_strand"),
        ({"reserved_strand": "woman_member", "reserved_seats": 0}, "reserved_seats"),
    ):
        with pytest.raises(ServiceError) as refused:
            setup.create_election(actor=union.users.national, details=window(method="stv", seats=2, **bad))
        assert refused.value.field == field


def test_a_candidate_counts_themselves_in_from_their_own_answers(answered):
    u, m = answered.users, answered.members
    election = reserved_election(answered)
    ella = UserFactory(username="ella-c", member=m.elm)
    rita = answered.users.rep_oak
    nominations.nominate_by_member(actor=rita, election=election, nominee=m.elm)
    nominations.nominate_by_member(actor=ella, election=election, nominee=m.rep)
    # Ella answered "no": asking to be counted is refused, to her alone, and she does not stand by accident.
    with pytest.raises(ServiceError, match="do not say"):
        nominations.accept_nomination(
            actor=ella, election=election, statement="", has_consented=True, count_for_reserved_seats=True
        )
    assert not Candidate.objects.exists()
    ella_candidate = nominations.accept_nomination(actor=ella, election=election, statement="", has_consented=True)
    rita_candidate = nominations.accept_nomination(
        actor=rita, election=election, statement="", has_consented=True, count_for_reserved_seats=True
    )
    assert rita_candidate.is_in_reserved_group and rita_candidate.reserved_group_consent_at is not None
    assert not ella_candidate.is_in_reserved_group
    # Nobody else can say it for them, whatever they know.
    with pytest.raises(NotPermitted):
        setup.count_for_reserved_seats(actor=u.national, candidate=ella_candidate, counts=True)
    with pytest.raises(ServiceError, match="do not say"):
        setup.count_for_reserved_seats(actor=ella, candidate=ella_candidate, counts=True)
    # She changes her mind, then the count uses the tick as the reserved-seat group.
    setup.count_for_reserved_seats(actor=rita, candidate=rita_candidate, counts=False)
    assert not Candidate.objects.get(pk=rita_candidate.pk).is_in_reserved_group
    setup.count_for_reserved_seats(actor=rita, candidate=rita_candidate, counts=True)
    candidates = list(election.candidates.all())
    group = closing._reserved(election, candidates)
    assert group.label == "women members"
    assert {candidates[i].member_id for i in group.group} == {m.rep.pk}


def test_organisers_cannot_put_a_candidate_in_a_strand_group(union):
    election = setup.create_election(
        actor=union.users.national,
        details=details(method="stv", seats=2, reserved_seats=1, reserved_strand="woman_member"),
    )
    answer(union.members.oak, woman_member="yes")
    with pytest.raises(ServiceError, match="Only the candidate"):
        setup.add_candidate(
            actor=union.users.national,
            election=election,
            member=union.members.oak,
            has_consented=True,
            is_in_reserved_group=True,
        )
    assert not Candidate.objects.exists()


def test_nominating_in_a_strand_election_does_not_tell_the_nominator_how_the_nominee_answered(answered):
    m = answered.members
    election = women_of_the_north(answered)
    rita = answered.users.rep_oak
    # Ella answered "no", but she is in the area and in good standing: the nomination is recorded either way.
    nominations.nominate_by_member(actor=rita, election=election, nominee=m.elm)
    ella = UserFactory(username="ella-n", member=m.elm)
    with pytest.raises(NotPermitted):  # she is not in the electorate herself, so cannot nominate
        nominations.nominate_by_member(actor=ella, election=election, nominee=m.rep)
    with pytest.raises(ServiceError, match="not in this election's electorate"):
        nominations.accept_nomination(actor=ella, election=election, statement="", has_consented=True)


def test_the_reserved_seats_tick_through_the_page(answered, client):
    m = answered.members
    election = reserved_election(answered)
    rita = answered.users.rep_oak
    candidate = Candidate.objects.create(
        election=election, member=m.rep, name="Rita Rep", sort_name="Rep Rita", has_consented=True
    )
    client.force_login(rita)
    page = client.get(reverse("portal:ballots")).content.decode()
    assert "Count me" in page
    url = reverse("portal:reserved_seats", args=[candidate.pk])
    assert client.post(url, {"counts": "on"}).status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).is_in_reserved_group
    assert client.post(url, {}).status_code == 302  # no tick: counts her out
    assert not Candidate.objects.get(pk=candidate.pk).is_in_reserved_group
    client.force_login(answered.users.member_oak)
    assert client.post(url, {"counts": "on"}).status_code == 404
