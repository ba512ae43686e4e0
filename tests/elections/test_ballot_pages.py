"""The election pages: organisers set up and open, voters number, review and cast, reps chase, results wait."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from elections.models import Ballot, Election, RollEntry
from elections.services import closing, voting
from tests.elections.voting_helpers import contest, open_with_credentials


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_organiser_sets_up_a_branch_election_on_the_pages(union):
    client = client_for(union.users.organiser_north)
    now = timezone.now()
    form = {
        "title": "Leeds branch secretary",
        "kind": "seat",
        "method": "irv",
        "rule": "",
        "seats": "1",
        "reserved_seats": "0",
        "branch": str(union.branches.leeds.pk),
        "voting_opens_at": local(now - datetime.timedelta(hours=1)),
        "voting_closes_at": local(now + datetime.timedelta(days=1)),
        "statement_word_limit": "300",
        "nomination_route": "organiser",
        "nominations_needed": "1",
        "ballot_order": "surname",
        "electorate": "all",
        "requires_good_standing": "on",
        "cut_off_on": (timezone.localdate() + datetime.timedelta(days=1)).isoformat(),
    }
    bad = client.post(reverse("elections:election_create"), {**form, "title": "", "seats": "many"})
    assert bad.status_code == 400 and b"There is a problem" in bad.content and Election.objects.count() == 0
    outside = client.post(reverse("elections:election_create"), {**form, "branch": str(union.branches.bristol.pk)})
    assert outside.status_code == 400 and Election.objects.count() == 0
    response = client.post(reverse("elections:election_create"), form)
    election = Election.objects.get()
    assert response.status_code == 302 and election.branch == union.branches.leeds
    page = client.get(reverse("elections:election_detail", args=[election.pk])).content.decode()
    assert "Electorate, if voting opened now" in page and '<th scope="row">Leeds</th><td>2</td>' in page
    for member in (union.members.oak, union.members.rep):
        added = client.post(
            reverse("elections:candidate_add", args=[election.pk]),
            {"member": member.pk, "has_consented": "on", "statement": "Hello"},
        )
        assert added.status_code == 302
    assert client.post(reverse("elections:election_open", args=[election.pk])).status_code == 302
    election.refresh_from_db()
    assert election.status == Election.Status.VOTING and election.roll.entries.count() == 2
    # Out of scope looks the same as missing; members and scrutineers cannot manage.
    assert client_for(union.users.organiser_bristol).get(f"/elections/{election.pk}/").status_code == 404
    assert client_for(union.users.member_oak).get("/elections/").status_code == 403
    assert client_for(union.users.scrutineer).post(f"/elections/{election.pk}/close/").status_code == 403


def test_a_voter_numbers_reviews_casts_and_gets_a_receipt(union):
    m = union.members
    election = contest(union.users.national, [m.oak, m.rep, m.elm], method="stv", seats=2)
    owen, rita, ella = election.candidates.order_by("pk")
    credential = open_with_credentials(union.users.national, election)[m.ash.pk]
    client = Client()  # no sign-in: the credential is the key
    url = reverse("elections:vote", args=[election.pk])
    ballot = client.get(url, {"credential": credential})
    assert ballot.status_code == 200 and ballot["Cache-Control"].startswith("max-age=0")
    assert ballot["Referrer-Policy"] == "same-origin"
    assert f'<label for="rank-{rita.pk}">Rita Rep</label>' in ballot.content.decode()
    review = client.post(
        url, {"credential": credential, "step": "review", f"rank-{rita.pk}": "1", f"rank-{owen.pk}": "2"}
    )
    assert review.status_code == 200 and "1. Rita Rep" in review.content.decode() and Ballot.objects.count() == 0
    choices = re.search(r'name="choices" value="([^"]+)"', review.content.decode()).group(1).replace("&quot;", '"')
    changed = client.post(url, {"credential": credential, "step": "change", "choices": choices})
    assert f'name="rank-{owen.pk}" value="2"' in changed.content.decode()
    cast = client.post(url, {"credential": credential, "step": "cast", "choices": choices})
    receipt = re.search(r"<strong>([A-Z0-9-]{14})</strong>", cast.content.decode()).group(1)
    stored = Ballot.objects.get()
    assert stored.receipt_code == receipt and stored.choices == {"ranking": [rita.pk, owen.pk]}
    again = client.post(url, {"credential": credential, "step": "cast", "choices": choices})
    assert again.status_code == 403 and f"on {timezone.localdate():%-d %B %Y}" in again.content.decode()
    assert Ballot.objects.count() == 1


@pytest.mark.parametrize(
    "ranks, message",
    [
        ({"a": "1", "b": "1"}, "you gave 1 to more than one candidate"),
        ({"a": "1", "b": "3"}, "without gaps: there is no 2"),
        ({"a": "first"}, "a number from 1 to 3"),
        ({"a": "4"}, "a number from 1 to 3"),
        ({"a": "-1"}, "a number from 1 to 3"),
        ({"a": "1" * 5000}, "a number from 1 to 3"),
    ],
)
def test_rankings_that_cannot_be_read_are_refused_and_nothing_is_stored(union, ranks, message):
    m = union.members
    election = contest(union.users.national, [m.oak, m.rep, m.elm], method="stv", seats=2)
    ids = dict(zip("abc", election.candidates.order_by("pk").values_list("pk", flat=True), strict=True))
    credential = open_with_credentials(union.users.national, election)[m.ash.pk]
    post = {"credential": credential, "step": "review", **{f"rank-{ids[k]}": v for k, v in ranks.items()}}
    response = Client().post(reverse("elections:vote", args=[election.pk]), post)
    assert response.status_code == 400 and message in response.content.decode()
    assert Ballot.objects.count() == 0 and not RollEntry.objects.filter(has_voted=True).exists()
    for key, value in ranks.items():  # shown back as typed (cut short), for the voter to correct
        assert f'name="rank-{ids[key]}" value="{value[:4]}"' in response.content.decode()


def test_tampered_cast_requests_are_refused(union):
    m = union.members
    election = contest(union.users.national, [m.oak, m.rep], method="fptp")
    owen, _rita = election.candidates.order_by("pk")
    credential = open_with_credentials(union.users.national, election)[m.ash.pk]
    url = reverse("elections:vote", args=[election.pk])
    for choices in [
        '{"marks": [999999]}',
        f'{{"marks": [{owen.pk}, {owen.pk}]}}',
        "not json",
        '{"ranking": [1]}',
        "[]",
    ]:
        response = Client().post(url, {"credential": credential, "step": "cast", "choices": choices})
        assert response.status_code == 400, choices
    for credential_value in ["", "x" * 5000, "forged-credential-aaaaaaaaaaaaaaaaaaaaaaaaa"]:
        response = Client().post(url, {"credential": credential_value, "step": "cast", "choices": "{}"})
        assert response.status_code == 403 and "not valid" in response.content.decode()
    assert Ballot.objects.count() == 0


def test_turnout_pages_for_reps_and_organisers_and_no_results_before_the_close(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    credentials = open_with_credentials(u.national, election)
    voting.cast_ballot(election=election, credential=credentials[m.rep.pk], choices={})
    rep_page = client_for(u.rep_oak).get(f"/elections/{election.pk}/turnout/?by=workplace").content.decode()
    assert "Oak Primary" in rep_page and "1 / 2" in rep_page and "Owen Oakley" in rep_page
    assert "Ella" not in rep_page and "Rita Rep</th>" not in rep_page  # voted: not on the chase list
    north = client_for(u.organiser_north).get(f"/elections/{election.pk}/turnout/").content.decode()
    assert "Leeds" in north and "Bristol" not in north  # a national election, seen from the North patch
    assert client_for(u.member_oak).get(f"/elections/{election.pk}/turnout/").status_code == 404
    for user in (u.national, u.scrutineer, u.member_oak):
        assert client_for(user).get(f"/elections/{election.pk}/results/").status_code == 404
    assert Client().get(f"/elections/{election.pk}/receipts/").status_code == 404
    mine = client_for(u.member_oak).get(reverse("portal:ballots")).content.decode()
    assert "Send me a new voting link" in mine and election.title in mine


def test_results_and_receipts_after_the_close(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    owen, _rita = election.candidates.order_by("pk")
    credentials = open_with_credentials(u.national, election)
    receipt = voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [owen.pk]})
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    receipts = Client().get(f"/elections/{election.pk}/receipts/").content.decode()
    assert receipt.receipt_code in receipts and "1 ballot." in receipts
    assert client_for(u.member_oak).get(f"/elections/{election.pk}/results/").status_code == 404  # not published
    assert "Owen Oakley" in client_for(u.scrutineer).get(f"/elections/{election.pk}/results/").content.decode()
    from elections.services import certify_count

    certify_count(actor=u.scrutineer, count=election.count)
    client_for(u.national).post(f"/elections/{election.pk}/publish/")
    page = client_for(u.member_oak).get(f"/elections/{election.pk}/results/").content.decode()
    assert "1 of 4 (25.0%)" in page and "Owen Oakley" in page


def test_a_member_asks_for_a_new_link_and_the_old_one_dies(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.rep, m.elm])
    old = open_with_credentials(u.national, election)[m.oak.pk]
    entry = RollEntry.objects.get(roll__election=election, member=m.oak)
    not_on_roll = contest(u.national, [m.rep, m.elm], title="Another")
    client = client_for(u.member_oak)
    issue = entry.credential_issue
    # An election whose roll the member is not on (not even open): 404, as one that does not exist.
    assert client.post(reverse("portal:ballot_new_link", args=[not_on_roll.pk])).status_code == 404
    assert client.post(reverse("portal:ballot_new_link", args=[election.pk])).status_code == 302
    assert RollEntry.objects.get(pk=entry.pk).credential_issue == issue + 1
    from tests.elections.voting_helpers import credentials_sent

    new = credentials_sent(election)[m.oak.pk]
    assert new != old
    refused = Client().get(reverse("elections:vote", args=[election.pk]), {"credential": old})
    assert refused.status_code == 403 and "replaced by a newer one" in refused.content.decode()
    assert Client().get(reverse("elections:vote", args=[election.pk]), {"credential": new}).status_code == 200


def test_issuing_credentials_twice_sends_each_member_one(union):
    from crm.models import Message
    from elections import tasks
    from elections.services import setup

    u, m = union.users, union.members
    election = contest(u.national, [m.rep, m.elm])
    setup.open_voting(actor=u.national, election=election)
    assert tasks.issue_credentials(election.pk) == 4
    assert tasks.issue_credentials(election.pk) == 0
    assert Message.objects.filter(key__startswith=f"election:{election.pk}:credential:").count() == 4


def test_an_industrial_action_ballot_from_vote_to_published_thresholds(union):
    from elections.services import setup
    from tests.elections.voting_helpers import details

    u, m = union.users, union.members
    election = setup.create_election(
        actor=u.national, details=details(kind="ballot", method="", title="Strike ballot", is_industrial_action=True)
    )
    question = setup.add_question(actor=u.national, election=election, text="Will you strike?", options=["Yes", "No"])
    credentials = open_with_credentials(u.national, election)
    url = reverse("elections:vote", args=[election.pk])
    page = Client().get(url, {"credential": credentials[m.oak.pk]}).content.decode()
    assert f'<label for="q-{question.pk}-0">Yes</label>' in page and "Leave this question blank" in page
    bad = Client().post(url, {"credential": credentials[m.oak.pk], "step": "review", f"q-{question.pk}": "7"})
    assert bad.status_code == 400 and "Choose one of the options" in bad.content.decode()
    for member, answer in ((m.oak, "0"), (m.elm, "0"), (m.ash, "1")):
        review = Client().post(
            url, {"credential": credentials[member.pk], "step": "review", f"q-{question.pk}": answer}
        )
        choices = re.search(r'name="choices" value="([^"]+)"', review.content.decode()).group(1).replace("&quot;", '"')
        cast = Client().post(url, {"credential": credentials[member.pk], "step": "cast", "choices": choices})
        assert "Your vote has been cast" in cast.content.decode()
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    scrutineer = client_for(u.scrutineer)
    assert scrutineer.post(f"/elections/{election.pk}/certify/").status_code == 302
    assert client_for(u.national).post(f"/elections/{election.pk}/publish/").status_code == 302
    results = client_for(u.member_oak).get(f"/elections/{election.pk}/results/").content.decode()
    assert "Passed" in results and "75.00%" in results and "Met" in results and "3 of 4 (75.0%)" in results


def test_members_nominate_and_accept_on_my_ballots(union):
    from elections.services import setup
    from tests.elections.test_nominations import window
    from tests.factories import UserFactory

    u, m = union.users, union.members
    election = setup.create_election(actor=u.national, details=window(nomination_route="members"))
    ella = client_for(UserFactory(username="ella", member=m.elm))
    page = ella.get(reverse("portal:ballots")).content.decode()
    assert "Open for nominations" in page and election.title in page
    bad = ella.post(reverse("portal:nominate", args=[election.pk]), {"membership_number": "NOPE"}, follow=True)
    assert "No member has that number" in bad.content.decode()
    done = ella.post(
        reverse("portal:nominate", args=[election.pk]), {"membership_number": m.oak.membership_number}, follow=True
    )
    assert "You nominated Owen Oakley" in done.content.decode()
    owen = client_for(u.member_oak)
    assert "Accept and stand" in owen.get(reverse("portal:ballots")).content.decode()
    refused = owen.post(reverse("portal:accept_nomination", args=[election.pk]), {"statement": "Hi"}, follow=True)
    assert "must consent" in refused.content.decode() and not election.candidates.exists()
    owen.post(reverse("portal:accept_nomination", args=[election.pk]), {"statement": "Fair pay", "has_consented": "on"})
    assert election.candidates.get().member == m.oak
    detail = client_for(u.national).get(f"/elections/{election.pk}/").content.decode()
    assert "Owen Oakley</th><td>1 (enough)</td><td>Accepted" in detail
    # An account with no member record: refused by the portal (403); a member not in the electorate: 404.
    outsider = client_for(u.outsider).post(reverse("portal:nominate", args=[election.pk]), {"membership_number": "x"})
    assert outsider.status_code == 403


def test_the_election_page_shows_credentials_that_could_not_be_sent(union):
    from crm.models import Member

    u, m = union.users, union.members
    Member.objects.filter(pk=m.ash.pk).update(email="", mobile="")
    election = contest(u.national, [m.rep, m.elm])
    open_with_credentials(u.national, election)
    page = client_for(u.national).get(f"/elections/{election.pk}/").content.decode()
    assert "Credentials sent: 4 of 4" in page and "1 credential message could not be sent" in page
