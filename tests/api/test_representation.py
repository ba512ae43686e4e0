"""What each resource looks like: exact field sets, derived values, and nothing private that was not asked for."""

from __future__ import annotations

import datetime

from django.urls import reverse

MEMBER_FIELDS = {
    "id",
    "membership_number",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "mobile",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "branch",
    "branch_name",
    "region",
    "region_name",
    "workplace",
    "workplace_name",
    "employer",
    "employer_name",
    "sector",
    "category",
    "status",
    "joined_on",
    "status_changed_on",
    "has_arrears",
    "is_in_good_standing",
    "email_consent",
    "email_consent_source",
    "email_consent_at",
    "sms_consent",
    "sms_consent_source",
    "sms_consent_at",
    "tags",
    "notes",
    "created_at",
}


def test_member_representation(api_as, union):
    member = union.members.supply
    data = api_as("organiser_north").get(reverse("api:member-detail", args=[member.pk])).data
    assert set(data) == MEMBER_FIELDS
    assert data["full_name"] == "Sam Supply"
    assert (data["branch"], data["branch_name"]) == (union.branches.leeds.pk, "Leeds")
    assert (data["region"], data["region_name"]) == (union.regions.north.pk, "North")
    assert data["workplace"] is None and data["workplace_name"] is None
    assert data["employer"] is None and data["employer_name"] is None
    assert data["has_arrears"] is True and data["is_in_good_standing"] is False
    assert data["joined_on"] == "2020-09-01"
    assert data["tags"] == []


def test_member_representation_at_a_workplace(api_as, union):
    data = api_as("rep_oak").get(reverse("api:member-detail", args=[union.members.rep.pk])).data
    assert (data["workplace"], data["workplace_name"]) == (union.workplaces.oak.pk, "Oak Primary")
    assert (data["employer"], data["employer_name"]) == (union.employers.council.pk, "Leeds City Council")
    assert data["mobile"] == union.members.rep.mobile and data["mobile"].startswith("+44")
    assert data["is_in_good_standing"] is True


def test_structure_representations(api_as, union):
    client = api_as("national")
    region = client.get(reverse("api:region-detail", args=[union.regions.north.pk])).data
    assert region == {"id": union.regions.north.pk, "name": "North", "code": "north"}
    branch = client.get(reverse("api:branch-detail", args=[union.branches.york.pk])).data
    assert branch == {
        "id": union.branches.york.pk,
        "name": "York",
        "code": "york",
        "region": union.regions.north.pk,
        "region_name": "North",
    }
    employer = client.get(reverse("api:employer-detail", args=[union.employers.trust.pk])).data
    assert employer == {"id": union.employers.trust.pk, "name": "White Rose Trust", "kind": "academy_trust"}
    workplace = client.get(reverse("api:workplace-detail", args=[union.workplaces.ash.pk])).data
    assert set(workplace) == {
        "id",
        "name",
        "branch",
        "branch_name",
        "region",
        "region_name",
        "employer",
        "employer_name",
        "sector",
        "eligible_staff",
        "postcode",
        "members_count",
        "density",
    }
    assert (workplace["members_count"], workplace["eligible_staff"]) == (1, 120)


def test_position_representation(api_as, union):
    data = api_as("member_oak").get(reverse("api:position-list")).data
    assert data["count"] == 0  # the rep's position is not member_oak's to see
    data = api_as("rep_oak").get(reverse("api:position-detail", args=[union.rep_position.pk])).data
    assert data == {
        "id": union.rep_position.pk,
        "member": union.members.rep.pk,
        "member_name": "Rita Rep",
        "kind": "workplace_rep",
        "workplace": union.workplaces.oak.pk,
        "branch": None,
        "region": None,
        "place_name": "Oak Primary",
        "started_on": "2024-01-01",
        "ended_on": None,
        "is_current": union.rep_position.is_current(datetime.date.today()),
    }
