"""Role × endpoint: each persona sees exactly its scope through every list and detail endpoint, and every
other id in the fixture (or an id that does not exist) answers 404. Expectations are written by hand here
(members: tests/conftest.visible_members_by_role), never derived from the selectors under test."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from crm.models import Position
from tests.conftest import visible_members_by_role
from tests.factories import PositionFactory

from .conftest import PERSONAS, take_snapshot

RESOURCES = ["region", "branch", "employer", "workplace", "member", "position"]
NO_SCOPE = ("member_oak", "scrutineer", "outsider")


@pytest.fixture
def positions(union):
    """Besides the rep's own position: a learning rep at Oak (member_oak themselves) and a Bristol officer."""
    oak_learning = PositionFactory(
        member=union.members.oak, kind=Position.Kind.LEARNING_REP, workplace=union.workplaces.oak
    )
    bristol_officer = PositionFactory(
        member=union.members.ash, kind=Position.Kind.BRANCH_OFFICER, workplace=None, branch=union.branches.bristol
    )
    return {"rep": union.rep_position, "oak_learning": oak_learning, "bristol_officer": bristol_officer}


def all_objects(union, positions) -> dict[str, set]:
    return {
        "region": set(vars(union.regions).values()),
        "branch": set(vars(union.branches).values()),
        "employer": set(vars(union.employers).values()),
        "workplace": set(vars(union.workplaces).values()),
        "member": set(vars(union.members).values()),
        "position": set(positions.values()),
    }


def expected_visible(union, positions) -> dict[str, dict[str, set]]:
    r, b, w, p = union.regions, union.branches, union.workplaces, positions
    nobody = {persona: set() for persona in NO_SCOPE}
    return {
        "region": {
            "national": {r.north, r.south},
            "organiser_north": {r.north},
            "organiser_bristol": {r.south},
            "rep_oak": {r.north},
            **nobody,
        },
        "branch": {
            "national": {b.leeds, b.york, b.bristol},
            "organiser_north": {b.leeds, b.york},
            "organiser_bristol": {b.bristol},
            "rep_oak": {b.leeds},
            **nobody,
        },
        # Employers are public bodies: every staff role sees them all; nobody else sees any.
        "employer": {
            **{persona: set(vars(union.employers).values()) for persona in PERSONAS if persona not in NO_SCOPE},
            **nobody,
        },
        "workplace": {
            "national": {w.oak, w.elm, w.ash},
            "organiser_north": {w.oak, w.elm},
            "organiser_bristol": {w.ash},
            "rep_oak": {w.oak},
            **nobody,
        },
        "member": visible_members_by_role(union),
        "position": {
            "national": {p["rep"], p["oak_learning"], p["bristol_officer"]},
            "organiser_north": {p["rep"], p["oak_learning"]},
            "organiser_bristol": {p["bristol_officer"]},
            "rep_oak": {p["rep"], p["oak_learning"]},
            "member_oak": {p["oak_learning"]},
            "scrutineer": set(),
            "outsider": set(),
        },
    }


def test_the_expectations_cover_every_persona_and_resource(union, positions):
    expected = expected_visible(union, positions)
    assert set(expected) == set(RESOURCES)
    for resource in RESOURCES:
        assert set(expected[resource]) == set(PERSONAS)
        # Somebody sees every object, and somebody is refused something: the matrix can fail both ways.
        assert set().union(*expected[resource].values()) == all_objects(union, positions)[resource]


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_list_shows_exactly_the_scope(api_as, union, positions, persona, resource):
    response = api_as(persona).get(reverse(f"api:{resource}-list"))
    assert response.status_code == 200
    assert response.data["count"] == len(response.data["results"])
    seen = {row["id"] for row in response.data["results"]}
    assert seen == {obj.pk for obj in expected_visible(union, positions)[resource][persona]}


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_of_every_id_in_the_fixture(api_as, union, positions, persona, resource):
    client = api_as(persona)
    visible = expected_visible(union, positions)[resource][persona]
    missing = client.get(reverse(f"api:{resource}-detail", args=[987_654]))
    assert missing.status_code == 404
    for obj in all_objects(union, positions)[resource]:
        response = client.get(reverse(f"api:{resource}-detail", args=[obj.pk]))
        if obj in visible:
            assert response.status_code == 200, (obj, response.data)
            assert response.data["id"] == obj.pk
        else:
            # Exactly what a nonexistent id answers: nothing tells the two apart.
            assert (response.status_code, response.data) == (404, missing.data), obj


def _expected_write_status(persona: str, visible: bool) -> int:
    if persona in NO_SCOPE:
        return 403  # never allowed to write, whatever the id: no way to probe which ids exist
    if not visible:
        return 404
    return 403 if persona == "rep_oak" else 200


@pytest.mark.parametrize("persona", PERSONAS)
def test_member_patch_for_every_id(api_as, union, persona):
    client = api_as(persona)
    visible = visible_members_by_role(union)[persona]
    for member in vars(union.members).values():
        before = take_snapshot()
        response = client.patch(
            reverse("api:member-detail", args=[member.pk]), {"notes": "Spoke at gate"}, format="json"
        )
        expected = _expected_write_status(persona, member in visible)
        assert response.status_code == expected, (member, response.data)
        member.refresh_from_db()
        if expected == 200:
            assert member.notes == "Spoke at gate"
        else:
            assert take_snapshot() == before
    guessed = client.patch(reverse("api:member-detail", args=[987_654]), {"notes": "x"}, format="json")
    assert guessed.status_code == (403 if persona in NO_SCOPE else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_position_patch_for_every_id(api_as, union, positions, persona):
    client = api_as(persona)
    visible = expected_visible(union, positions)["position"][persona]
    for position in positions.values():
        before = take_snapshot()
        response = client.patch(
            reverse("api:position-detail", args=[position.pk]), {"ended_on": "2025-12-31"}, format="json"
        )
        expected = _expected_write_status(persona, position in visible)
        assert response.status_code == expected, (position, response.data)
        position.refresh_from_db()
        if expected == 200:
            assert position.ended_on == datetime.date(2025, 12, 31)
        else:
            assert take_snapshot() == before


@pytest.mark.parametrize("resource", ["region", "branch", "employer", "workplace"])
def test_structure_is_read_only(api_as, union, resource):
    client = api_as("national")
    obj = next(iter(all_objects(union, {})[resource]))
    before = take_snapshot()
    assert client.post(reverse(f"api:{resource}-list"), {"name": "New"}, format="json").status_code == 405
    detail = reverse(f"api:{resource}-detail", args=[obj.pk])
    assert client.patch(detail, {"name": "Renamed"}, format="json").status_code == 405
    assert client.put(detail, {"name": "Renamed"}, format="json").status_code == 405
    assert client.delete(detail).status_code == 405
    assert take_snapshot() == before
    obj.refresh_from_db()
    assert obj.name != "Renamed"


def test_members_and_positions_cannot_be_deleted_or_replaced(api_as, union):
    client = api_as("national")
    before = take_snapshot()
    member_url = reverse("api:member-detail", args=[union.members.oak.pk])
    position_url = reverse("api:position-detail", args=[union.rep_position.pk])
    for url in (member_url, position_url):
        assert client.delete(url).status_code == 405
        assert client.put(url, {"notes": "x"}, format="json").status_code == 405
    assert take_snapshot() == before


def test_workplace_members_count_and_density(api_as, union):
    from tests.factories import WorkplaceFactory

    unknown_headcount = WorkplaceFactory(name="New School", branch=union.branches.leeds, eligible_staff=0)
    rows = {row["id"]: row for row in api_as("national").get(reverse("api:workplace-list")).data["results"]}
    oak = rows[union.workplaces.oak.pk]
    # Oak: Rita (rep) and Owen are active; Lara is lapsed and does not count.
    assert (oak["members_count"], oak["density"]) == (2, pytest.approx(2 / 40))
    assert rows[union.workplaces.elm.pk]["density"] == pytest.approx(1 / 80)
    assert rows[union.workplaces.ash.pk]["members_count"] == 1
    assert rows[unknown_headcount.pk]["members_count"] == 0
    assert rows[unknown_headcount.pk]["density"] is None
    assert oak["branch_name"] == "Leeds" and oak["region_name"] == "North"
    assert oak["employer_name"] == "Leeds City Council"
