"""The member list's filters through the API (crm.filters.MemberFilter), pagination and query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Member, Tag
from tests.factories import MemberFactory


def list_url() -> str:
    return reverse("api:member-list")


@pytest.fixture
def national(api_as):
    return api_as("national")


def names(client, **params) -> set[str]:
    response = client.get(list_url(), params)
    assert response.status_code == 200, response.data
    return {row["first_name"] for row in response.data["results"]}


EVERYONE = {"Rita", "Owen", "Lara", "Ella", "Ash", "Sam"}


def test_no_filter_lists_everyone(national):
    assert names(national) == EVERYONE


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status": "lapsed"}, {"Lara"}),
        ({"status": "active"}, {"Rita", "Owen", "Ella", "Ash", "Sam"}),
        ({"good_standing": "true"}, {"Rita", "Owen", "Ella", "Ash"}),
        ({"good_standing": "false"}, {"Lara", "Sam"}),
        ({"sector": "further_education"}, {"Ash"}),
        ({"sector": "supply"}, {"Sam"}),
        ({"category": "support_staff"}, {"Ella"}),
        ({"category": "lecturer"}, {"Ash"}),
        ({"position": "workplace_rep"}, {"Rita"}),
        ({"position": "any"}, {"Rita"}),
        ({"position": "branch_secretary"}, set()),
        ({"has_mobile": "true"}, {"Rita"}),
        ({"has_mobile": "false"}, {"Owen", "Lara", "Ella", "Ash", "Sam"}),
        ({"q": "oak"}, {"Owen"}),
        ({"q": "ELLA"}, {"Ella"}),
        ({"q": "ash.ashworth@"}, {"Ash"}),
        ({"q": "sam supply"}, {"Sam"}),
        ({"q": "sam oakley"}, set()),
        ({"q": "   "}, EVERYONE),
        ({"status": "active", "good_standing": "false"}, {"Sam"}),
    ],
)
def test_each_filter_narrows(national, params, expected):
    assert names(national, **params) == expected


def test_structure_filters(national, union):
    assert names(national, branch=union.branches.leeds.pk) == {"Rita", "Owen", "Lara", "Sam"}
    assert names(national, workplace=union.workplaces.oak.pk) == {"Rita", "Owen", "Lara"}
    assert names(national, region=union.regions.south.pk) == {"Ash"}
    assert names(national, region=union.regions.north.pk) == EVERYONE - {"Ash"}
    assert names(national, employer=union.employers.trust.pk) == {"Ella"}


def test_tag_and_consent_filters(national, union):
    activist = Tag.objects.create(name="Activist")
    union.members.elm.tags.add(activist)
    Member.objects.filter(pk=union.members.oak.pk).update(email_consent=True, email_consent_source="join_form")
    Member.objects.filter(pk=union.members.rep.pk).update(sms_consent=True, sms_consent_source="join_form")
    assert names(national, tag="Activist") == {"Ella"}
    assert names(national, consent="email") == {"Owen"}
    assert names(national, consent="sms") == {"Rita"}


def test_search_by_membership_number(national, union):
    assert names(national, q=union.members.ash.membership_number) == {"Ash"}
    assert names(national, q=union.members.ash.membership_number.lower()) == {"Ash"}


def test_filters_only_narrow_the_callers_scope(api_as, union):
    rep = api_as("rep_oak")
    assert names(rep) == {"Rita", "Owen", "Lara"}
    assert names(rep, status="active") == {"Rita", "Owen"}
    assert names(rep, category="support_staff") == set()  # Ella exists, but not for the rep
    assert names(api_as("member_oak"), q="ella") == set()


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("name", ["Ash", "Ella", "Lara", "Owen", "Rita", "Sam"]),  # by last name: Ashworth, Elmore, Lapsed...
        ("-name", ["Sam", "Rita", "Owen", "Lara", "Ella", "Ash"]),
    ],
)
def test_ordering_by_name(national, ordering, expected):
    response = national.get(list_url(), {"ordering": ordering})
    assert [row["first_name"] for row in response.data["results"]] == expected


def test_search_results_come_in_name_order(national, union):
    # Created out of name order, so an id order would fail this.
    MemberFactory(first_name="Zoe", last_name="Oxley", workplace=union.workplaces.oak)
    MemberFactory(first_name="Anna", last_name="Oakes", workplace=union.workplaces.oak)
    response = national.get(list_url(), {"q": "o"})
    assert [row["last_name"] for row in response.data["results"]] == ["Oakes", "Oakley", "Oxley"]


def test_ordering_by_membership_number_and_status(national):
    numbers = [
        row["membership_number"] for row in national.get(list_url(), {"ordering": "-membership_number"}).data["results"]
    ]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 6
    statuses = [row["status"] for row in national.get(list_url(), {"ordering": "status"}).data["results"]]
    assert statuses == sorted(statuses) and statuses != sorted(statuses, reverse=True)


@pytest.mark.parametrize(
    "persona, params",
    [
        ("national", {"status": "emeritus"}),
        ("national", {"branch": "leeds"}),
        ("national", {"branch": "987654"}),
        ("national", {"branch": str(10**30)}),
        ("national", {"workplace": "1.5"}),
        ("national", {"sector": "university"}),
        ("national", {"category": "governor"}),
        ("national", {"position": "president"}),
        ("national", {"consent": "post"}),
        ("national", {"good_standing": "maybe"}),
        ("national", {"has_mobile": "1; DROP TABLE"}),
        ("national", {"tag": "No such tag"}),
        ("national", {"ordering": "password"}),
        ("national", {"q": "x" * 101}),
        ("organiser_north", {"branch": "BRISTOL"}),
        ("organiser_north", {"workplace": "ASH"}),
        ("organiser_north", {"region": "SOUTH"}),
        ("rep_oak", {"workplace": "ELM"}),
        ("member_oak", {"employer": "COUNCIL"}),
    ],
)
def test_invalid_filter_values_are_400_with_field_messages(api_as, union, persona, params):
    ids = {
        "BRISTOL": union.branches.bristol.pk,
        "ASH": union.workplaces.ash.pk,
        "ELM": union.workplaces.elm.pk,
        "SOUTH": union.regions.south.pk,
        "COUNCIL": union.employers.council.pk,
    }
    params = {key: str(ids.get(value, value)) for key, value in params.items()}
    response = api_as(persona).get(list_url(), params)
    assert response.status_code == 400, response.data
    assert set(response.data) == set(params)
    assert all(isinstance(message, str) for message in response.data[next(iter(params))])


def test_out_of_scope_filter_id_is_refused_like_a_missing_one(api_as, union):
    client = api_as("organiser_north")
    out_of_scope = client.get(list_url(), {"branch": union.branches.bristol.pk})
    missing = client.get(list_url(), {"branch": 987_654})
    assert out_of_scope.status_code == missing.status_code == 400
    assert out_of_scope.data["branch"][0].code == missing.data["branch"][0].code


def test_pagination_is_50_a_page_with_a_count(national, union):
    MemberFactory.create_batch(54, workplace=union.workplaces.ash)
    first = national.get(list_url())
    assert first.data["count"] == 60
    assert len(first.data["results"]) == 50
    assert first.data["next"] and first.data["previous"] is None
    second = national.get(first.data["next"])
    assert len(second.data["results"]) == 10 and second.data["next"] is None
    seen = {row["id"] for row in first.data["results"]} | {row["id"] for row in second.data["results"]}
    assert len(seen) == 60
    assert national.get(list_url(), {"page": 9}).status_code == 404


@pytest.mark.parametrize("persona", ["national", "organiser_north", "rep_oak"])
def test_member_list_runs_a_constant_number_of_queries(api_as, union, django_assert_max_num_queries, persona):
    client = api_as(persona)
    params = {"status": "active", "workplace": union.workplaces.oak.pk, "q": "o"}
    with CaptureQueriesContext(connection) as few_members:
        assert client.get(list_url(), params).status_code == 200

    tags = [Tag.objects.create(name=f"Tag {n}") for n in range(3)]
    for n in range(40):
        member = MemberFactory(workplace=union.workplaces.oak, first_name=f"Olive{n}")
        member.tags.set(tags)
    # Scope lookups for the filter's choices, then count, page and tags: never one per row.
    with django_assert_max_num_queries(len(few_members)):
        response = client.get(list_url(), params)
    assert len(few_members) <= 8
    assert response.status_code == 200
    assert len(response.data["results"]) > 40
    row = next(r for r in response.data["results"] if r["tags"])
    assert row["tags"] == ["Tag 0", "Tag 1", "Tag 2"]
    assert row["workplace_name"] == "Oak Primary" and row["region_name"] == "North"
    assert row["employer_name"] == "Leeds City Council"
