"""/api/v1/elections/: scoped set-up, roll counts, turnout, and results only after the close."""

from __future__ import annotations

import datetime

from django.test import Client
from django.utils import timezone

from crm.models import AuditEntry
from elections.models import Election
from elections.services import closing, voting
from tests.elections.voting_helpers import contest, open_with_credentials


def api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(**overrides) -> dict:
    now = timezone.now()
    data = {
        "title": "York delegates",
        "kind": "delegate",
        "method": "stv",
        "rule": "ers97",
        "seats": 1,
        "voting_opens_at": (now + datetime.timedelta(days=1)).isoformat(),
        "voting_closes_at": (now + datetime.timedelta(days=8)).isoformat(),
        "electorate": "workplace",
        "electorate_values": [],
    }
    data.update(overrides)
    return data


def test_organisers_set_up_elections_in_their_patch_through_the_api(union):
    client = api(union.users.organiser_north)
    ok = body(branch=union.branches.york.pk, electorate_values=[str(union.workplaces.elm.pk)])
    created = client.post("/api/v1/elections/", ok, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["electorate_values"] == [union.workplaces.elm.pk] and created.json()["seed"] == ""
    election_id = created.json()["id"]
    assert AuditEntry.objects.filter(target_type="elections.election", target_id=election_id).exists()
    bad = [
        (body(branch=union.branches.bristol.pk), 400),  # not in scope: like a missing id
        ({**ok, "status": "published"}, 400),  # read-only
        ({**ok, "secret_field": 1}, 400),
        ({**ok, "seats": "lots"}, 400),
        ({**ok, "electorate_values": ["1; drop table"]}, 400),
        ({**ok, "electorate": "strand", "electorate_values": ["women"]}, 400),
        ({**ok, "voting_closes_at": "yesterday"}, 400),
        ({**ok, "title": "x" * 5000}, 400),
        (body(), 403),  # the whole union: national admins only
    ]
    for data, code in bad:
        response = client.post("/api/v1/elections/", data, content_type="application/json")
        assert response.status_code == code, (data, response.content)
    assert Election.objects.count() == 1
    changed = client.patch(f"/api/v1/elections/{election_id}/", {"title": "York delegates 2027"}, "application/json")
    assert changed.status_code == 200 and changed.json()["title"] == "York delegates 2027"
    assert api(union.users.organiser_bristol).get(f"/api/v1/elections/{election_id}/").status_code == 404
    assert api(union.users.member_oak).get("/api/v1/elections/").json()["count"] == 0
    assert (
        api(union.users.member_oak).post("/api/v1/elections/", ok, content_type="application/json").status_code == 403
    )
    roll = client.get(f"/api/v1/elections/{election_id}/roll/").json()
    assert roll == {
        "is_frozen": False,
        "total": 1,
        "by_branch": [{"branch": union.branches.york.pk, "name": "York", "members": 1, "shown": "1"}],
        "late_additions": 0,
        "credentials_sent": 0,
    }
    assert Client().get("/api/v1/elections/").status_code == 401


def test_turnout_and_results_through_the_api(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    owen, _rita = election.candidates.order_by("pk")
    credentials = open_with_credentials(u.national, election)
    voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [owen.pk]})
    turnout = api(u.organiser_north).get(f"/api/v1/elections/{election.pk}/turnout/?by=branch").json()
    assert turnout["on_roll"] == 3 and turnout["voted"] == 1  # Leeds and York only
    assert api(u.national).get(f"/api/v1/elections/{election.pk}/turnout/?by=ballot").status_code == 400
    assert api(u.national).get(f"/api/v1/elections/{election.pk}/roll/").json()["credentials_sent"] == 4
    assert api(u.rep_oak).get(f"/api/v1/elections/{election.pk}/roll/").status_code == 403
    for user in (u.national, u.scrutineer, u.organiser_north):
        assert api(user).get(f"/api/v1/elections/{election.pk}/results/").status_code == 404
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    results = api(u.scrutineer).get(f"/api/v1/elections/{election.pk}/results/").json()
    assert results["ballots_cast"] == 1 and results["count"]["elected"] == ["Owen Oakley"]
    assert results["is_published"] is False
    assert api(u.organiser_north).get(f"/api/v1/elections/{election.pk}/results/").status_code == 404


def test_candidates_and_questions_through_the_api(union):
    u, m = union.users, union.members
    client = api(u.organiser_north)
    election = client.post(
        "/api/v1/elections/", body(branch=union.branches.leeds.pk, electorate="all"), content_type="application/json"
    ).json()["id"]
    url = f"/api/v1/elections/{election}/candidates/"
    added = client.post(url, {"member": m.oak.pk, "has_consented": True, "statement": "Hi"}, "application/json")
    assert added.status_code == 201 and added.json()["name"] == "Owen Oakley"
    for data, code in [
        ({"member": m.ash.pk, "has_consented": True}, 400),  # not in the organiser's scope
        ({"member": m.rep.pk, "has_consented": False}, 400),
        ({"member": m.rep.pk, "has_consented": True, "votes": 100}, 400),
        ({"member": "x", "has_consented": True}, 400),
    ]:
        response = client.post(url, data, "application/json")
        assert response.status_code == code, (data, response.content)
    refused = client.post(
        f"/api/v1/elections/{election}/questions/", {"text": "Q?", "options": ["Yes", "No"]}, "application/json"
    )
    assert refused.status_code == 400 and "Only a ballot" in refused.content.decode()
    assert (
        api(u.organiser_bristol).post(url, {"member": m.ash.pk, "has_consented": True}, "application/json").status_code
        == 404
    )
    assert (
        api(u.member_oak).post(url, {"member": m.oak.pk, "has_consented": True}, "application/json").status_code == 403
    )
    ballot = api(u.national).post(
        "/api/v1/elections/", body(kind="ballot", method="", electorate="all"), content_type="application/json"
    )
    question = api(u.national).post(
        f"/api/v1/elections/{ballot.json()['id']}/questions/",
        {"text": "Strike?", "options": ["Yes", "No"]},
        "application/json",
    )
    assert question.status_code == 201 and question.json()["options"] == ["Yes", "No"]
    assert api(u.national).get(f"/api/v1/elections/{election}/").json()["candidates"][0]["name"] == "Owen Oakley"
