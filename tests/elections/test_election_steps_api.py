"""Opening, closing, publishing and branch nominations through /api/v1/elections/: the same services and
checks as the pages, scoped the same way, and any input they do not take refused."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from elections import services
from elections.models import Count, Election, Nomination
from elections.services import voting
from tests.elections.voting_helpers import contest, credentials_sent, details


def api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(user, url: str, data=None):
    return api(user).post(url, data if data is not None else {}, content_type="application/json")


def test_open_close_and_publish_through_the_api(union):
    u, m = union.users, union.members
    election = contest(u.organiser_north, [m.oak, m.rep], region=union.regions.north)
    url = f"/api/v1/elections/{election.pk}"
    assert post(u.organiser_bristol, f"{url}/open/").status_code == 404  # not in their sight
    assert post(u.rep_oak, f"{url}/open/").status_code == 403
    opened = post(u.organiser_north, f"{url}/open/")
    assert opened.status_code == 200 and opened.json()["status"] == "voting" and opened.json()["seed"]
    again = post(u.organiser_north, f"{url}/open/")
    assert again.status_code == 400 and "Voting has opened" in str(again.json())
    services.setup.issue_credentials(election_id=election.pk)  # the task queued when the transaction commits
    credentials = credentials_sent(election)
    owen = election.candidates.get(member=m.oak)
    voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [owen.pk]})
    early = post(u.organiser_north, f"{url}/close/")
    assert early.status_code == 400 and "cannot be closed early" in str(early.json())
    Election.objects.filter(pk=election.pk).update(voting_closes_at=timezone.now() - datetime.timedelta(seconds=1))
    closed = post(u.organiser_north, f"{url}/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["ballots_sha256"]
    uncertified = post(u.organiser_north, f"{url}/publish/")
    assert uncertified.status_code == 400 and "certify" in str(uncertified.json())
    services.certify_count(actor=u.scrutineer, count=Count.objects.get(election=election))
    assert post(u.scrutineer, f"{url}/publish/").status_code == 403  # scrutineers certify; organisers publish
    published = post(u.organiser_north, f"{url}/publish/")
    assert published.status_code == 200 and published.json()["status"] == "published"


@pytest.mark.parametrize("payload", [{"status": "voting"}, {"force": True}, ["open"], "open"])
def test_a_step_takes_no_input_and_changes_nothing_when_sent_some(union, payload):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    response = post(u.national, f"/api/v1/elections/{election.pk}/open/", payload)
    assert response.status_code == 400
    assert Election.objects.get(pk=election.pk).status == Election.Status.DRAFT


def nominations_window(**overrides) -> dict:
    now = timezone.now()
    return details(
        nomination_route="branches",
        nominations_open_at=now - datetime.timedelta(days=1),
        nominations_close_at=now + datetime.timedelta(days=1),
        voting_opens_at=now + datetime.timedelta(days=2),
        voting_closes_at=now + datetime.timedelta(days=9),
        **overrides,
    )


def test_branch_nominations_through_the_api(union):
    u, m = union.users, union.members
    election = services.setup.create_election(actor=u.national, details=nominations_window())
    url = f"/api/v1/elections/{election.pk}/nominations/"
    made = post(
        u.organiser_north, url, {"branch": union.branches.york.pk, "membership_number": m.ash.membership_number}
    )
    assert made.status_code == 201
    assert made.json() == [{"nominee": "Ash Ashworth", "nominations": 1, "is_enough": True, "is_standing": False}]
    assert api(u.scrutineer).get(url).json() == made.json()
    assert api(u.organiser_north).get(url).status_code == 403  # a whole-union election: not theirs to manage
    twice = post(
        u.organiser_north, url, {"branch": union.branches.york.pk, "membership_number": m.ash.membership_number}
    )
    assert twice.status_code == 400 and "already nominated" in str(twice.json())
    assert Nomination.objects.count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"membership_number": "NOPE-1"}, "branch"),
        ({"branch": 999999, "membership_number": "X"}, "branch"),
        ({"branch": "york", "membership_number": "X"}, "branch"),
        ({"membership_number": "X" * 500}, "membership_number"),
        ({"branch": None, "membership_number": None}, "membership_number"),
        ({"branch": 1, "membership_number": "no-such-member"}, "membership_number"),
        ({"branch": 1, "membership_number": "x", "by_member": 1}, "by_member"),
    ],
)
def test_bad_nominations_are_refused_with_the_field_and_nothing_stored(union, payload, field):
    u = union.users
    election = services.setup.create_election(actor=u.national, details=nominations_window())
    if payload.get("branch") == 1:
        payload = {**payload, "branch": union.branches.york.pk}
    response = post(u.organiser_north, f"/api/v1/elections/{election.pk}/nominations/", payload)
    assert response.status_code == 400 and field in response.json()
    assert not Nomination.objects.exists()


def test_an_organiser_cannot_nominate_for_a_branch_outside_their_patch(union):
    u, m = union.users, union.members
    election = services.setup.create_election(actor=u.national, details=nominations_window())
    response = post(
        u.organiser_north,
        f"/api/v1/elections/{election.pk}/nominations/",
        {"branch": union.branches.bristol.pk, "membership_number": m.ash.membership_number},
    )
    assert response.status_code == 400 and "branch" in response.json()
    assert not Nomination.objects.exists()
