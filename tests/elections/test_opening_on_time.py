"""Opening voting on the clock: beat opens each election set to open on time once its time has come."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from crm.errors import NotPermitted
from crm.models import AuditEntry
from elections.models import Election, RollEntry
from elections.services import setup
from elections.tasks import open_due_elections
from tests.elections.voting_helpers import contest


def later(**overrides) -> dict:
    now = timezone.now()
    return {
        "voting_opens_at": now + datetime.timedelta(hours=1),
        "voting_closes_at": now + datetime.timedelta(days=2),
        "opens_on_time": True,
        **overrides,
    }


def test_an_election_set_to_open_on_time_opens_at_its_time_and_only_once(union):
    m = union.members
    election = contest(union.users.national, [m.rep, m.oak], **later())
    by_hand = contest(union.users.national, [m.rep, m.oak], **later(opens_on_time=False, title="By hand"))
    assert setup.open_due_elections()["opened"] == []  # not yet
    at = election.voting_opens_at + datetime.timedelta(seconds=5)
    assert setup.open_due_elections(now=at) == {"opened": [election.pk], "not_ready": []}
    election.refresh_from_db()
    assert election.status == Election.Status.VOTING and election.roll.frozen_by is None
    assert RollEntry.objects.filter(roll__election=election).count() == 4
    assert setup.open_due_elections(now=at) == {"opened": [], "not_ready": []}
    assert Election.objects.get(pk=by_hand.pk).status == Election.Status.DRAFT
    opened = AuditEntry.objects.get(
        target_type="elections.election", target_id=election.pk, summary__startswith="Opened"
    )
    assert opened.actor_name == "system"


def test_an_election_not_ready_stays_in_draft_and_says_why_once(union):
    election = contest(union.users.national, [union.members.rep], **later(method="stv", seats=2))
    at = election.voting_opens_at + datetime.timedelta(minutes=1)
    for _ in range(3):
        assert setup.open_due_elections(now=at) == {"opened": [], "not_ready": [election.pk]}
    assert Election.objects.get(pk=election.pk).status == Election.Status.DRAFT
    why = AuditEntry.objects.filter(
        target_type="elections.election", target_id=election.pk, summary__contains="on time"
    )
    assert why.count() == 1 and "only 1 candidates" in why.get().summary


def test_the_task_runs_the_service_and_beat_runs_it_each_minute(union):
    election = contest(union.users.national, [union.members.rep, union.members.oak], **later())
    Election.objects.filter(pk=election.pk).update(voting_opens_at=timezone.now() - datetime.timedelta(minutes=1))
    assert open_due_elections.apply().get() == {"opened": [election.pk], "not_ready": []}
    schedule = settings.CELERY_BEAT_SCHEDULE["open-due-elections"]
    assert schedule == {"task": "elections.tasks.open_due_elections", "schedule": 60}


def test_opening_without_an_actor_is_only_for_the_timetable(union):
    election = contest(union.users.national, [union.members.rep, union.members.oak], **later())
    with pytest.raises(NotPermitted):
        setup.open_voting(actor=None, election=election, now=election.voting_opens_at)
    assert Election.objects.get(pk=election.pk).status == Election.Status.DRAFT


@pytest.mark.parametrize("value", ["yes please", [True], {"a": 1}])
def test_opens_on_time_through_the_api_takes_only_a_boolean(union, client, value):
    client.force_login(union.users.national)
    now = timezone.now()
    body = {
        "title": "On time",
        "kind": "seat",
        "method": "irv",
        "voting_opens_at": (now + datetime.timedelta(hours=1)).isoformat(),
        "voting_closes_at": (now + datetime.timedelta(days=1)).isoformat(),
        "opens_on_time": value,
    }
    response = client.post("/api/v1/elections/", body, content_type="application/json")
    assert response.status_code == 400 and "opens_on_time" in response.json()
    assert not Election.objects.exists()
    body["opens_on_time"] = True
    response = client.post("/api/v1/elections/", body, content_type="application/json")
    assert response.status_code == 201 and response.json()["opens_on_time"] is True
