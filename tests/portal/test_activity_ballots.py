"""My ballots in the portal: open ballots with a vote button into the ballot flow, past results, and the
receipt checker. Another member's or a made-up election answers 404 alike; forged and malformed posts change
nothing; nothing about anyone's ballot is revealed or recorded."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from crm.errors import NotPermitted
from crm.models import AuditEntry, Message
from elections.models import Ballot, RollEntry
from elections.services import closing, setup, voting
from tests.elections.voting_helpers import contest, credentials_sent, open_with_credentials

pytestmark = pytest.mark.django_db

NO_SUCH_ID = 987_654


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state() -> dict:
    """Everything a ballot action could change: roll entries (credentials too), ballots, messages, audit."""
    return {
        "entries": list(RollEntry.objects.order_by("pk").values()),
        "ballots": list(Ballot.objects.order_by("receipt_code").values_list("receipt_code", flat=True)),
        "messages": list(Message.objects.order_by("pk").values_list("key", "status")),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)),
    }


@pytest.fixture
def open_election(union):
    """An IRV election for everyone, open, with each member's credential sent by message."""
    u, m = union.users, union.members
    election = contest(u.national, [m.rep, m.elm], title="Branch secretary")
    credentials = open_with_credentials(u.national, election)
    return election, credentials


def test_my_ballots_lists_open_ballots_with_a_vote_button(union, open_election):
    election, _credentials = open_election
    page = signed_in(union.users.member_oak).get(reverse("portal:ballots")).content.decode()
    open_part = page.split('id="past-heading"')[0]
    assert "Branch secretary" in open_part
    assert f'<form method="post" action="{reverse("portal:ballot_vote", args=[election.pk])}"' in open_part
    assert reverse("portal:ballot_new_link", args=[election.pk]) in open_part
    assert "<script" not in page


def test_vote_opens_the_ballot_with_a_fresh_credential_and_the_flow_casts_once(union, open_election):
    election, credentials = open_election
    m = union.members
    old = credentials[m.oak.pk]
    client = signed_in(union.users.member_oak)
    response = client.post(reverse("portal:ballot_vote", args=[election.pk]))
    page = response.content.decode()
    assert response.status_code == 200 and "Number the candidates" in page
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "same-origin"
    credential = re.search(r'name="credential" value="([^"]+)"', page).group(1)
    assert credential != old
    # The link in the message stops working at once, saying why.
    with pytest.raises(voting.CredentialRefused, match="replaced by a newer one"):
        voting.check_credential(election=election, credential=old)
    # Audited as who, which election, which issue: never the credential, and no message is sent for it.
    entry = RollEntry.objects.get(roll__election=election, member=m.oak)
    audit = AuditEntry.objects.get(target_type="elections.rollentry", target_id=entry.pk)
    assert audit.actor == union.users.member_oak and audit.changes["in_portal"] is True
    assert credential not in str(audit.changes) + audit.summary
    assert not Message.objects.filter(key=f"election:{election.pk}:credential:{entry.pk}:{entry.credential_issue}")

    # On through the existing ballot flow: review, then cast, as from the message's link.
    rita = election.candidates.get(member=m.rep)
    vote_url = reverse("elections:vote", args=[election.pk])
    review = client.post(vote_url, {"credential": credential, "step": "review", f"rank-{rita.pk}": "1"})
    assert "Check your vote" in review.content.decode()
    choices = re.search(r'name="choices" value="([^"]+)"', review.content.decode()).group(1).replace("&quot;", '"')
    cast = client.post(vote_url, {"credential": credential, "step": "cast", "choices": choices})
    receipt = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", cast.content.decode()).group(0)
    assert Ballot.objects.get().receipt_code == receipt
    assert RollEntry.objects.get(pk=entry.pk).has_voted

    # Voting again from the portal: refused with the day, nothing changed.
    before = state()
    again = client.post(reverse("portal:ballot_vote", args=[election.pk]), follow=True)
    assert "already voted" in again.content.decode() and state() == before
    assert "You voted" in client.get(reverse("portal:ballots")).content.decode()


def test_only_the_member_may_have_a_credential_handed_to_them(union, open_election):
    election, _credentials = open_election
    entry = RollEntry.objects.get(roll__election=election, member=union.members.oak)
    before = state()
    for actor in (union.users.national, union.users.organiser_north, union.users.rep_oak):
        with pytest.raises(NotPermitted):
            setup.credential_for_portal_vote(actor=actor, entry=entry)
    assert state() == before


def test_another_election_answers_as_one_that_does_not_exist(union, open_election):
    election, _credentials = open_election
    u, m = union.users, union.members
    # A North-only election: Owen (Oak, North) is on its roll, Ash (Bristol) is not.
    north = contest(u.national, [m.rep, m.elm], title="North regional", region=union.regions.north, electorate="all")
    open_with_credentials(u.national, north)
    ash = signed_in(_user_for(union, m.ash))
    before = state()
    for name in ("portal:ballot_vote", "portal:ballot_new_link"):
        missing = ash.post(reverse(name, args=[NO_SUCH_ID]))
        not_on_roll = ash.post(reverse(name, args=[north.pk]))
        assert missing.status_code == not_on_roll.status_code == 404
        assert missing.content == not_on_roll.content
    assert state() == before
    assert "North regional" not in ash.get(reverse("portal:ballots")).content.decode()


def _user_for(union, member):
    from tests.factories import UserFactory

    return UserFactory(username=f"member_{member.pk}", member=member)


def test_forged_and_malformed_posts_change_nothing(union, open_election):
    election, _credentials = open_election
    before = state()
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(union.users.member_oak)
    for name in ("portal:ballot_vote", "portal:ballot_new_link"):
        assert forged.post(reverse(name, args=[election.pk])).status_code == 403  # no CSRF token
    client = signed_in(union.users.member_oak)
    assert client.get(reverse("portal:ballot_vote", args=[election.pk])).status_code == 405  # a link cannot vote
    assert client.post(f"/me/ballots/{election.pk}x/vote/").status_code == 404
    assert client.post(f"/me/ballots/{'9' * 30}/vote/").status_code == 404
    for persona in ("national", "outsider", "scrutineer"):
        staff = signed_in(getattr(union.users, persona))
        assert staff.post(reverse("portal:ballot_vote", args=[election.pk])).status_code == 403
        assert staff.get(reverse("portal:ballots")).status_code == 403
        assert staff.get(reverse("portal:receipt_check")).status_code == 403
    assert state() == before


def test_a_new_link_by_message_from_the_portal(union, open_election):
    election, credentials = open_election
    client = signed_in(union.users.member_oak)
    response = client.post(reverse("portal:ballot_new_link", args=[election.pk]), follow=True)
    assert "A new voting link is on its way" in response.content.decode()
    assert credentials_sent(election)[union.members.oak.pk] != credentials[union.members.oak.pk]


@pytest.fixture
def closed_election(union, open_election):
    """The open election, with Rita's ballot cast and voting then closed: its receipt list is published."""
    election, credentials = open_election
    ballot = voting.cast_ballot(election=election, credential=credentials[union.members.rep.pk], choices={})
    closing.close_election(actor=union.users.national, election=election, now=election.voting_closes_at)
    return election, ballot.receipt_code


def test_past_ballots_and_the_receipt_checker(union, closed_election):
    election, receipt = closed_election
    client = signed_in(union.users.member_oak)
    page = client.get(reverse("portal:ballots")).content.decode()
    past = page.split('id="past-heading"')[1]
    assert "Branch secretary" in past and reverse("elections:receipts", args=[election.pk]) in past
    assert "You did not vote." in past  # Owen's own roll entry; nothing about anyone else's
    url = reverse("portal:receipt_check")
    form = client.get(url).content.decode()
    assert f'<option value="{election.pk}"' in form and "csrfmiddlewaretoken" in form
    before = state()
    found = client.post(url, {"election": election.pk, "receipt_code": receipt})
    assert found.status_code == 200 and "Counted." in found.content.decode()
    typed = client.post(url, {"election": election.pk, "receipt_code": f"  {receipt.replace('-', ' ').lower()} "})
    assert "Counted." in typed.content.decode()
    unknown = "ZZZZ-ZZZZ-ZZZZ" if receipt != "ZZZZ-ZZZZ-ZZZZ" else "YYYY-YYYY-YYYY"
    missing = client.post(url, {"election": election.pk, "receipt_code": unknown})
    assert missing.status_code == 200 and "Not found." in missing.content.decode()
    assert state() == before  # a check stores and logs nothing


def test_the_receipt_checker_refuses_bad_input_clearly(union, closed_election):
    election, receipt = closed_election
    u, m = union.users, union.members
    still_open = contest(u.national, [m.rep, m.elm], title="Still open")
    open_with_credentials(u.national, still_open)
    client = signed_in(u.member_oak)
    url = reverse("portal:receipt_check")
    assert f'<option value="{still_open.pk}"' not in client.get(url).content.decode()  # not closed: not offered
    cases = [
        ({"election": election.pk, "receipt_code": ""}, "This field is required"),
        ({"election": election.pk, "receipt_code": "ABCD-EFGH"}, "twelve letters and digits"),
        ({"election": election.pk, "receipt_code": "ABCD-EFGH-JK<>"}, "twelve letters and digits"),
        ({"election": election.pk, "receipt_code": "A" * 5000}, "at most 40 characters"),
        ({"election": still_open.pk, "receipt_code": receipt}, "Select a valid choice"),
        ({"election": NO_SUCH_ID, "receipt_code": receipt}, "Select a valid choice"),
        ({"election": "1 OR 1=1", "receipt_code": receipt}, "Select a valid choice"),
        ({"election": "9" * 30, "receipt_code": receipt}, "Select a valid choice"),
        ({"receipt_code": receipt}, "This field is required"),
    ]
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 400, data
        page = response.content.decode()
        assert message in page and "Counted." not in page and "Not found." not in page, data
