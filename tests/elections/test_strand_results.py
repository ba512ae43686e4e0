"""A strand election's results, downloads and history never give a small count: the roll's size and the
ballots cast under 5 are "<5", nothing is broken down by workplace, and no percentage comes from a hidden
figure."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry
from crm.selectors.equalities import SMALL
from elections.models import RollEntry
from elections.services import certify_count, closing, setup, voting
from tests.elections.test_strand_elections import _open_strand_election, answered  # noqa: F401 - fixture
from tests.elections.voting_helpers import credentials_sent


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _vote_close_publish(union, election, voters) -> None:
    setup.issue_credentials(election_id=election.pk)
    credentials = credentials_sent(election)
    candidate = election.candidates.first()
    for member in voters:
        voting.cast_ballot(election=election, credential=credentials[member.pk], choices={"ranking": [candidate.pk]})
    closing.close_election(actor=union.users.organiser_north, election=election, now=election.voting_closes_at)
    certify_count(actor=union.users.scrutineer, count=election.count)
    closing.publish_results(actor=union.users.organiser_north, election=election)


def test_a_small_strand_election_shows_no_small_figure_anywhere(answered):  # noqa: F811
    u, m = answered.users, answered.members
    election = _open_strand_election(answered, voters=0)
    on_roll = RollEntry.objects.filter(roll__election=election).count()
    assert 0 < on_roll < SMALL
    _vote_close_publish(answered, election, [m.oak])
    # The results page, for a member on the roll and for the organiser.
    for user in (u.member_oak, u.organiser_north):
        page = client_for(user).get(reverse("elections:results", args=[election.pk])).content.decode()
        assert "&lt;5 of &lt;5" in page
        assert f"1 of {on_roll}" not in page and "%)" not in page
    # The API: the figures are null, shown as "<5", and no percentage.
    api = client_for(u.organiser_north).get(f"/api/v1/elections/{election.pk}/results/").json()
    assert api["electorate"] is None and api["ballots_cast"] is None and api["turnout_percent"] is None
    assert api["electorate_shown"] == "<5" and api["ballots_cast_shown"] == "<5" and api["is_suppressed"]
    roll = client_for(u.organiser_north).get(f"/api/v1/elections/{election.pk}/roll/").json()
    assert roll["total"] is None and roll["credentials_sent"] is None
    # Turnout is never by workplace, and by branch it is suppressed with crm's suppress_row.
    by_workplace = client_for(u.organiser_north).get(f"/api/v1/elections/{election.pk}/turnout/?by=workplace").json()
    assert by_workplace["rows"] == [] and by_workplace["is_suppressed"]
    by_branch = client_for(u.organiser_north).get(f"/api/v1/elections/{election.pk}/turnout/?by=branch").json()
    assert by_branch["rows"] and all(row["on_roll_shown"] in ("<5", "hidden") for row in by_branch["rows"])
    assert all(row["on_roll"] is None and row["voted"] is None for row in by_branch["rows"])
    page = client_for(u.organiser_north).get(
        reverse("elections:election_turnout", args=[election.pk]) + "?by=workplace"
    )
    assert "Oak Primary" not in page.content.decode()
    # The election's history, which organisers read, gives "<5" too.
    history = list(AuditEntry.objects.filter(target_type="elections.election", target_id=election.pk))
    opened = next(entry for entry in history if entry.summary.startswith("Opened voting"))
    closed = next(entry for entry in history if entry.summary.startswith("Closed and sealed"))
    assert "with <5 members" in opened.summary and opened.changes["roll_size"] == "<5"
    assert "<5 ballots from a roll of <5" in closed.summary and closed.changes["electorate"] == "<5"
    detail = client_for(u.organiser_north).get(reverse("elections:election_detail", args=[election.pk]))
    assert f"roll of {on_roll}" not in detail.content.decode()


def test_the_ballots_download_names_no_branch_workplace_or_voter(answered):  # noqa: F811
    u, m = answered.users, answered.members
    election = _open_strand_election(answered, voters=0)
    _vote_close_publish(answered, election, [m.oak, m.rep])
    blt = client_for(u.scrutineer).get(reverse("elections:count_blt", args=[election.count.pk])).content.decode()
    assert "Rita Rep" in blt  # the candidates are on it, as on the ballot
    for private in ("Leeds", "York", "Oak Primary", "Elm Academy", m.oak.membership_number, m.rep.membership_number):
        assert private not in blt
    receipts = Client().get(reverse("elections:receipts", args=[election.pk])).content.decode()
    assert "Leeds" not in receipts and "Oak Primary" not in receipts


def test_a_larger_strand_election_shows_its_roll_but_not_a_small_turnout(answered):  # noqa: F811
    u, m = answered.users, answered.members
    election = _open_strand_election(answered, voters=6)
    on_roll = RollEntry.objects.filter(roll__election=election).count()
    assert on_roll >= SMALL
    _vote_close_publish(answered, election, [m.oak])
    api = client_for(u.member_oak).get(reverse("elections:results", args=[election.pk])).content.decode()
    assert f"&lt;5 of {on_roll}" in api and "%)" not in api
    data = client_for(u.organiser_north).get(f"/api/v1/elections/{election.pk}/results/").json()
    assert data["electorate"] == on_roll and data["ballots_cast"] is None and data["turnout_percent"] is None
