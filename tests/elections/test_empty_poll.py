"""An election with no valid ballot (nobody voted, or every ballot blank or spoilt) is counted as nobody
elected, with its seats unfilled: certified by a recount, published with its turnout."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from elections.models import Count, Election, RollEntry
from elections.services import NO_VALID_VOTES, CountRefused, certify_count, closing, count_from_blt, recount, voting
from tests.elections.voting_helpers import contest, open_with_credentials

METHODS = [("irv", "", 1), ("stv", "scottish", 2), ("stv", "meek", 1), ("stv", "ers97", 2), ("fptp", "", 1)]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("method", "rule", "seats"), METHODS)
@pytest.mark.parametrize("how", ["nobody-voted", "all-blank-or-spoilt"])
def test_an_empty_poll_is_counted_certified_and_published(union, method, rule, seats, how):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep, m.elm], method=method, rule=rule, seats=seats)
    credentials = open_with_credentials(u.national, election)
    blank = {"ranking": []} if method != "fptp" else {"marks": []}
    cast = []
    if how == "all-blank-or-spoilt":
        cast.append(voting.cast_ballot(election=election, credential=credentials[m.oak.pk], choices={"spoilt": True}))
        cast.append(voting.cast_ballot(election=election, credential=credentials[m.ash.pk], choices=blank))
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    election.refresh_from_db()
    assert election.status == Election.Status.CLOSED
    counted = Count.objects.get(election=election)
    result = json.loads(counted.result_json)
    assert result["elected"] == [] and result["valid_poll"] == 0 and result["invalid"] == len(cast)
    assert result["notes"] == [NO_VALID_VOTES] and result["seats"] == seats
    assert result["method"] == method and (result["rule"] or "") == rule
    # Certifying recounts from the sealed ballots and must reproduce the stored result exactly.
    certified = certify_count(actor=u.scrutineer, count=counted)
    assert certified.is_certified and certified.recounts.get().is_identical
    assert client_for(u.national).post(reverse("elections:election_publish", args=[election.pk])).status_code == 302
    election.refresh_from_db()
    assert election.status == Election.Status.PUBLISHED
    page = client_for(u.member_oak).get(reverse("elections:results", args=[election.pk]))
    html = page.content.decode()
    on_roll = RollEntry.objects.filter(roll__election=election).count()
    assert page.status_code == 200 and NO_VALID_VOTES in html
    assert f"{len(cast)} of {on_roll}" in html
    # The count's own pages and downloads work as for any count.
    for name in ("count_detail", "count_print", "count_csv", "count_json", "count_blt"):
        assert client_for(u.scrutineer).get(reverse(f"elections:{name}", args=[counted.pk])).status_code == 200


def test_a_tampered_empty_count_is_not_reproduced(union):
    """The recount really compares: an empty poll's stored result altered afterwards no longer certifies."""
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep], method="irv")
    open_with_credentials(u.national, election)
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    counted = Count.objects.get(election=election)
    tampered = json.loads(counted.result_json)
    tampered["elected"] = ["Owen Oakley"]
    Count.objects.filter(pk=counted.pk).update(result_json=json.dumps(tampered, indent=2) + "\n")
    counted.refresh_from_db()
    assert not recount(counted, actor=u.scrutineer).is_identical


def test_an_uploaded_blt_with_no_valid_ballot_is_still_refused(union):
    """Counting a BLT file is unchanged: a file with no valid ballot is a mistake to report, not a result."""
    blt = '2 1\n1 0\n0\n"A"\n"B"\n"Empty"\n'
    with pytest.raises(CountRefused, match="no ballot with a preference"):
        count_from_blt(actor=union.users.national, title="Empty", blt_text=blt, method="irv", seed="s")
    assert not Count.objects.exists()
