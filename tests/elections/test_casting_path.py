"""The cast as a voter's browser makes it: no cookie, no CSRF token, a cross-site post refused; the hash of a
credential is unchanged by the faster code, so links already sent keep working."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.crypto import salted_hmac

from elections.credentials import hash_credential, new_credential
from elections.models import Ballot, RollEntry
from elections.services import voting
from tests.elections.voting_helpers import contest, open_with_credentials


@pytest.fixture
def open_election(union):
    election = contest(union.users.national, [union.members.rep, union.members.oak])
    credentials = open_with_credentials(union.users.national, election)
    return election, credentials, list(election.candidates.values_list("pk", flat=True))


def cast_form(credential: str, ranking: list[int]) -> dict:
    return {"credential": credential, "step": "cast", "choices": json.dumps({"ranking": ranking})}


@pytest.mark.parametrize("credential", ["x", "a" * 32, " padded-credential ", "ünïcödé-credential"])
def test_the_credential_hash_is_the_same_hmac_as_before(credential):
    expected = salted_hmac("quorum.elections.credential", credential.strip(), algorithm="sha256").hexdigest()
    assert hash_credential(credential) == expected


def test_a_new_credential_is_192_bits_and_hashes_to_what_is_stored():
    credential, digest = new_credential()
    assert len(credential) == 32 and hash_credential(credential) == digest


def test_the_ballot_page_sets_no_cookie_and_the_cast_needs_no_csrf_token(open_election, union):
    election, credentials, candidates = open_election
    client = Client(enforce_csrf_checks=True)
    credential = credentials[union.members.oak.pk]
    page = client.get(reverse("elections:vote", args=[election.pk]), {"credential": credential})
    assert page.status_code == 200 and "Set-Cookie" not in page.headers and not page.cookies
    assert b"csrfmiddlewaretoken" not in page.content
    url = reverse("elections:vote", args=[election.pk])
    response = client.post(url, cast_form(credential, candidates), HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200 and b"receipt" in response.content.lower()
    assert Ballot.objects.filter(election=election).count() == 1
    assert RollEntry.objects.get(roll__election=election, member=union.members.oak).has_voted


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_REFERER": "https://evil.example/vote"},
        {"HTTP_ORIGIN": "http://testserver.evil.example"},
    ],
)
def test_a_cast_posted_from_another_site_is_refused_and_stores_nothing(open_election, union, headers):
    election, credentials, candidates = open_election
    credential = credentials[union.members.oak.pk]
    response = Client().post(
        reverse("elections:vote", args=[election.pk]), cast_form(credential, candidates), **headers
    )
    assert response.status_code == 403
    assert not Ballot.objects.exists()
    assert not RollEntry.objects.filter(has_voted=True).exists()


def test_a_used_credential_with_unreadable_choices_is_told_about_the_credential_first(open_election, union):
    election, credentials, candidates = open_election
    credential = credentials[union.members.oak.pk]
    voting.cast_ballot(election=election, credential=credential, choices={"ranking": candidates})
    with pytest.raises(voting.CredentialRefused, match="already been used"):
        voting.cast_ballot(election=election, credential=credential, choices={"ranking": "nonsense"})
    with pytest.raises(voting.BallotRefused):
        voting.cast_ballot(
            election=election, credential=credentials[union.members.rep.pk], choices={"ranking": [candidates[0]] * 2}
        )
    assert Ballot.objects.count() == 1


def test_a_credential_from_another_election_casts_nothing_here(open_election, union):
    election, credentials, candidates = open_election
    other = contest(union.users.national, [union.members.rep, union.members.oak], title="Another election")
    other_credentials = open_with_credentials(union.users.national, other)
    with pytest.raises(voting.CredentialRefused, match="another election"):
        voting.cast_ballot(
            election=election, credential=other_credentials[union.members.oak.pk], choices={"ranking": candidates}
        )
    assert not Ballot.objects.exists() and not RollEntry.objects.filter(has_voted=True).exists()


@pytest.mark.parametrize("election_id", ["0", "99999", "9" * 30])
def test_a_missing_or_impossible_election_in_a_voting_link_is_404(db, election_id):
    assert Client().get(f"/elections/{election_id}/vote/", {"credential": "x"}).status_code == 404
    assert Client().post(f"/elections/{election_id}/vote/", {"credential": "x", "step": "cast"}).status_code == 404


def test_an_election_still_being_set_up_has_no_ballot_page(union):
    election = contest(union.users.national, [union.members.rep, union.members.oak])
    assert Client().get(reverse("elections:vote", args=[election.pk]), {"credential": "x"}).status_code == 404
