"""Giving members positions and ending them through the API."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from crm.models import AuditEntry, Position

LIST = "api:position-list"


def detail(position: Position) -> str:
    return reverse("api:position-detail", args=[position.pk])


def test_organiser_gives_a_member_a_position(api_as, union):
    body = {
        "member": union.members.oak.pk,
        "kind": "health_safety_rep",
        "workplace": union.workplaces.oak.pk,
        "started_on": "2025-01-06",
    }
    response = api_as("organiser_north").post(reverse(LIST), body, format="json")
    assert response.status_code == 201, response.data
    position = Position.objects.get(pk=response.data["id"])
    assert (position.member, position.kind, position.workplace) == (
        union.members.oak,
        "health_safety_rep",
        union.workplaces.oak,
    )
    assert response.data["place_name"] == "Oak Primary"
    assert response.data["member_name"] == "Owen Oakley"
    assert response.data["is_current"] is True
    entry = AuditEntry.objects.get(target_type="crm.position", target_id=position.pk)
    assert (entry.action, entry.actor, entry.member) == ("create", union.users.organiser_north, union.members.oak)


def test_branch_positions_are_held_at_a_branch(api_as, union, db_snapshot):
    client = api_as("organiser_north")
    before = db_snapshot()
    wrong_place = {
        "member": union.members.elm.pk,
        "kind": "branch_secretary",
        "workplace": union.workplaces.elm.pk,
        "started_on": "2025-01-06",
    }
    response = client.post(reverse(LIST), wrong_place, format="json")
    assert response.status_code == 400 and set(response.data) == {"workplace"}
    two_places = {**wrong_place, "workplace": None, "branch": union.branches.york.pk, "region": union.regions.north.pk}
    response = client.post(reverse(LIST), two_places, format="json")
    assert response.status_code == 400 and set(response.data) == {"workplace"}
    assert db_snapshot() == before
    right = {**wrong_place, "workplace": None, "branch": union.branches.york.pk}
    assert client.post(reverse(LIST), right, format="json").status_code == 201


def test_only_members_in_good_standing_hold_positions(api_as, union, db_snapshot):
    before = db_snapshot()
    body = {
        "member": union.members.oak_lapsed.pk,
        "kind": "workplace_rep",
        "workplace": union.workplaces.oak.pk,
        "started_on": "2025-01-06",
    }
    response = api_as("organiser_north").post(reverse(LIST), body, format="json")
    assert response.status_code == 400
    assert set(response.data) == {"member"}
    assert db_snapshot() == before


def test_out_of_scope_member_or_place_is_an_invalid_choice(api_as, union, db_snapshot):
    before = db_snapshot()
    client = api_as("organiser_north")
    body = {"member": union.members.ash.pk, "kind": "branch_officer", "branch": union.branches.york.pk}
    response = client.post(reverse(LIST), {**body, "started_on": "2025-01-06"}, format="json")
    assert response.status_code == 400 and set(response.data) == {"member"}
    body = {"member": union.members.elm.pk, "kind": "branch_officer", "branch": union.branches.bristol.pk}
    response = client.post(reverse(LIST), {**body, "started_on": "2025-01-06"}, format="json")
    assert response.status_code == 400 and set(response.data) == {"branch"}
    assert db_snapshot() == before


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer"])
def test_reps_members_and_scrutineers_add_no_positions(api_as, union, db_snapshot, persona):
    before = db_snapshot()
    body = {
        "member": union.members.oak.pk,
        "kind": "learning_rep",
        "workplace": union.workplaces.oak.pk,
        "started_on": "2025-01-06",
    }
    response = api_as(persona).post(reverse(LIST), body, format="json")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_ending_a_position(api_as, union):
    response = api_as("organiser_north").patch(detail(union.rep_position), {"ended_on": "2024-12-31"}, format="json")
    assert response.status_code == 200, response.data
    union.rep_position.refresh_from_db()
    assert union.rep_position.ended_on == datetime.date(2024, 12, 31)
    assert response.data["is_current"] is False
    entry = AuditEntry.objects.get(target_type="crm.position", target_id=union.rep_position.pk)
    assert entry.changes == {"ended_on": [None, "2024-12-31"]}


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"ended_on": "2023-12-31"}, "ended_on", None),  # before it started: the service's error
        ({"ended_on": None}, "ended_on", None),
        ({}, "ended_on", None),
        ({"ended_on": "soon"}, "ended_on", None),
        ({"ended_on": "2024-12-31", "kind": "learning_rep"}, "kind", "This field is read-only."),
        ({"ended_on": "2024-12-31", "started_on": "2020-01-01"}, "started_on", "This field is read-only."),
        ({"ended_on": "2024-12-31", "member": 1}, "member", "This field is read-only."),
        ({"ended_on": "2024-12-31", "salary": 1}, "salary", "Unknown field."),
    ],
)
def test_only_the_end_date_can_change(api_as, union, db_snapshot, body, field, message):
    before = db_snapshot()
    response = api_as("organiser_north").patch(detail(union.rep_position), body, format="json")
    assert response.status_code == 400
    assert set(response.data) == {field}
    if message:
        assert response.data[field] == [message]
    assert db_snapshot() == before


def test_positions_filter_by_member_kind_and_current(api_as, union):
    from tests.factories import PositionFactory

    ended = PositionFactory(
        member=union.members.oak,
        kind="learning_rep",
        workplace=union.workplaces.oak,
        ended_on=datetime.date(2024, 6, 1),
    )
    client = api_as("organiser_north")

    def ids(**params):
        response = client.get(reverse(LIST), params)
        assert response.status_code == 200, response.data
        return {row["id"] for row in response.data["results"]}

    assert ids() == {union.rep_position.pk, ended.pk}
    assert ids(member=union.members.oak.pk) == {ended.pk}
    assert ids(kind="workplace_rep") == {union.rep_position.pk}
    assert ids(is_current="true") == {union.rep_position.pk}
    assert ids(is_current="false") == {ended.pk}
    for bad in ({"member": union.members.ash.pk}, {"member": "x"}, {"kind": "president"}):
        assert client.get(reverse(LIST), bad).status_code == 400
