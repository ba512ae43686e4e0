"""Creating and changing members through the API: who may, what is accepted, and that a refused write
changes nothing at all."""

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse

from crm.models import AuditEntry, Member, Tag

LIST = "api:member-list"


def detail(member: Member) -> str:
    return reverse("api:member-detail", args=[member.pk])


def new_member(**overrides) -> dict:
    return {"first_name": "Nia", "last_name": "Newcomer", "category": "teacher", **overrides}


# --- create ----------------------------------------------------------------------------------------------


def test_organiser_adds_a_member_in_their_patch(api_as, union):
    body = new_member(
        workplace=union.workplaces.elm.pk, email="nia@example.org", mobile="07911 123456", status="active"
    )
    response = api_as("organiser_north").post(reverse(LIST), body, format="json")
    assert response.status_code == 201, response.data
    member = Member.objects.get(pk=response.data["id"])
    # The workplace sets branch, employer and sector; the number comes from the series.
    assert (member.branch, member.employer, member.sector) == (union.branches.york, union.employers.trust, "secondary")
    assert member.membership_number == response.data["membership_number"] == "Q0000001"
    assert member.mobile == response.data["mobile"] == "+447911123456"
    assert member.joined_on == datetime.date.today()
    entry = AuditEntry.objects.get(target_type="crm.member", target_id=member.pk)
    assert (entry.action, entry.actor, entry.member) == ("create", union.users.organiser_north, member)
    assert response.data["branch_name"] == "York" and response.data["region_name"] == "North"
    assert response.data["is_in_good_standing"] is True


def test_create_with_a_chosen_membership_number_and_existing_tags(api_as, union):
    Tag.objects.create(name="Activist")
    body = new_member(branch=union.branches.leeds.pk, membership_number="X1234567", tags=["Activist"])
    response = api_as("national").post(reverse(LIST), body, format="json")
    assert response.status_code == 201, response.data
    assert response.data["membership_number"] == "X1234567"
    assert response.data["tags"] == ["Activist"]
    assert response.data["workplace"] is None and response.data["workplace_name"] is None


def test_organiser_cannot_add_a_member_in_another_branch(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("organiser_north").post(
        reverse(LIST), new_member(branch=union.branches.bristol.pk), format="json"
    )
    assert response.status_code == 400
    assert set(response.data) == {"branch"}  # not one of their choices: indistinguishable from a wrong id
    response = api_as("organiser_north").post(
        reverse(LIST), new_member(workplace=union.workplaces.ash.pk), format="json"
    )
    assert response.status_code == 400 and set(response.data) == {"workplace"}
    assert db_snapshot() == before


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_national_staff_and_organisers_add_members(api_as, union, db_snapshot, persona):
    before = db_snapshot()
    response = api_as(persona).post(reverse(LIST), new_member(branch=union.branches.leeds.pk), format="json")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_create_needs_a_branch_or_workplace_and_names(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("national").post(reverse(LIST), {"category": "teacher"}, format="json")
    assert response.status_code == 400
    assert {"first_name", "last_name"} <= set(response.data)
    response = api_as("national").post(reverse(LIST), new_member(), format="json")
    assert response.status_code == 400
    assert set(response.data) == {"branch"}  # the service's error, mapped to its field
    assert db_snapshot() == before


def test_workplace_and_branch_must_agree(api_as, union, db_snapshot):
    before = db_snapshot()
    body = new_member(workplace=union.workplaces.oak.pk, branch=union.branches.york.pk)
    response = api_as("organiser_north").post(reverse(LIST), body, format="json")
    assert response.status_code == 400
    assert "Leeds" in response.data["branch"][0]
    assert db_snapshot() == before


def test_a_membership_number_in_use_is_refused(api_as, union, db_snapshot):
    before = db_snapshot()
    body = new_member(branch=union.branches.leeds.pk, membership_number=union.members.oak.membership_number)
    response = api_as("national").post(reverse(LIST), body, format="json")
    assert response.status_code == 400
    assert set(response.data) == {"membership_number"}
    assert db_snapshot() == before


# --- update ----------------------------------------------------------------------------------------------


def test_organiser_changes_a_member_and_the_change_is_audited(api_as, union):
    member = union.members.oak
    response = api_as("organiser_north").patch(
        detail(member), {"status": "lapsed", "has_arrears": True, "town": "Leeds"}, format="json"
    )
    assert response.status_code == 200, response.data
    member.refresh_from_db()
    assert (member.status, member.has_arrears, member.town) == ("lapsed", True, "Leeds")
    assert member.status_changed_on == datetime.date.today()
    assert response.data["is_in_good_standing"] is False
    entry = AuditEntry.objects.get(target_type="crm.member", target_id=member.pk, action="update")
    assert entry.actor == union.users.organiser_north
    assert entry.changes["status"] == ["active", "lapsed"]


def test_rep_cannot_change_a_member_they_can_see(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("rep_oak").patch(detail(union.members.oak), {"first_name": "Changed"}, format="json")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_member_cannot_change_themselves_through_the_staff_api(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("member_oak").patch(detail(union.members.oak), {"first_name": "Changed"}, format="json")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_organiser_change_to_a_member_outside_their_patch_is_404(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("organiser_north").patch(detail(union.members.ash), {"first_name": "Changed"}, format="json")
    assert response.status_code == 404
    assert db_snapshot() == before


def test_organiser_cannot_move_a_member_out_of_their_patch(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("organiser_north").patch(
        detail(union.members.supply), {"branch": union.branches.bristol.pk}, format="json"
    )
    assert response.status_code == 400
    assert set(response.data) == {"branch"}
    assert db_snapshot() == before


def test_local_mobile_is_stored_as_e164(api_as, union):
    response = api_as("organiser_north").patch(detail(union.members.oak), {"mobile": "07911 123457"}, format="json")
    assert response.status_code == 200
    union.members.oak.refresh_from_db()
    assert union.members.oak.mobile == response.data["mobile"] == "+447911123457"


@pytest.mark.parametrize("mobile", ["12345", "not a number", "+44 7700 900 123 456 789"])
def test_invalid_mobile_is_400_on_mobile(api_as, union, db_snapshot, mobile):
    before = db_snapshot()
    response = api_as("organiser_north").patch(detail(union.members.oak), {"mobile": mobile}, format="json")
    assert response.status_code == 400
    assert set(response.data) == {"mobile"}
    assert db_snapshot() == before


def test_sms_consent_needs_a_mobile(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("organiser_north").patch(detail(union.members.oak), {"sms_consent": True}, format="json")
    assert response.status_code == 400
    assert set(response.data) == {"sms_consent"}
    assert db_snapshot() == before


def test_consent_is_stamped_by_the_service_not_the_caller(api_as, union):
    response = api_as("organiser_north").patch(detail(union.members.rep), {"sms_consent": True}, format="json")
    assert response.status_code == 200
    assert response.data["sms_consent_source"] == "conversation"
    assert response.data["sms_consent_at"] is not None


def test_tags_must_already_exist(api_as, union, db_snapshot):
    Tag.objects.create(name="Activist")
    before = db_snapshot()
    response = api_as("organiser_north").patch(detail(union.members.oak), {"tags": ["Activist", "Nope"]}, format="json")
    assert response.status_code == 400
    assert "Nope" in response.data["tags"][0]
    assert db_snapshot() == before
    response = api_as("organiser_north").patch(detail(union.members.oak), {"tags": ["Activist"]}, format="json")
    assert response.status_code == 200
    assert list(union.members.oak.tags.values_list("name", flat=True)) == ["Activist"]


def test_unknown_field_is_400(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("organiser_north").patch(
        detail(union.members.oak), {"first_name": "Owain", "is_superuser": True}, format="json"
    )
    assert response.status_code == 400
    assert response.data == {"is_superuser": ["Unknown field."]}
    response = api_as("organiser_north").post(
        reverse(LIST), new_member(branch=union.branches.leeds.pk, role="national_admin"), format="json"
    )
    assert response.status_code == 400 and set(response.data) == {"role"}
    assert db_snapshot() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("membership_number", "Q9999999"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("id", 4242),
        ("status_changed_on", "2020-01-01"),
        ("email_consent_source", "join_form"),
        ("email_consent_at", "2020-01-01T00:00:00Z"),
        ("sms_consent_source", "join_form"),
        ("is_in_good_standing", True),
        ("full_name", "Someone Else"),
        ("region", 1),
    ],
)
def test_read_only_fields_are_400_on_patch(api_as, union, db_snapshot, field, value):
    before = db_snapshot()
    response = api_as("national").patch(detail(union.members.oak), {"first_name": "Owain", field: value}, format="json")
    assert response.status_code == 400
    assert response.data == {field: ["This field is read-only."]}
    assert db_snapshot() == before


def test_read_only_fields_are_400_on_create(api_as, union, db_snapshot):
    before = db_snapshot()
    body = new_member(branch=union.branches.leeds.pk, created_at="2020-01-01T00:00:00Z", id=4242)
    response = api_as("national").post(reverse(LIST), body, format="json")
    assert response.status_code == 400
    assert response.data == {"created_at": ["This field is read-only."], "id": ["This field is read-only."]}
    assert db_snapshot() == before


def test_field_errors_and_unexpected_fields_are_reported_together(api_as, union):
    response = api_as("national").patch(
        detail(union.members.oak), {"status": "retired", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.data) == {"status", "colour"}


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "x" * 10_000},
        {"last_name": "x" * 101},
        {"postcode": "LS1 1AA EXTRA"},
        {"notes": "x" * 10_001},
        {"email": ("x" * 250) + "@example.org"},
        {"mobile": "0" * 10_000},
        {"tags": ["x" * 61]},
        {"tags": [f"t{i}" for i in range(51)]},
        {"status": "emeritus"},
        {"joined_on": "yesterday"},
        {"workplace": "oak"},
        {"workplace": 10**30},
        {"has_arrears": "perhaps"},
        {"first_name": None},
        {"first_name": ["a", "list"]},
    ],
    ids=lambda body: next(iter(body)),
)
def test_bad_values_are_400_on_their_field(api_as, union, db_snapshot, body):
    before = db_snapshot()
    response = api_as("national").patch(detail(union.members.oak), body, format="json")
    assert response.status_code == 400, response.data
    assert set(response.data) == set(body)
    assert db_snapshot() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"{" + b"x" * 1_000_000,  # a megabyte of garbage
        json.dumps({"notes": "x" * 9_000, "padding": ["y" * 1000] * 100}).encode(),  # well-formed but too large
        b"[" * 100_000 + b"]" * 100_000,  # nested deeper than a decoder can recurse (and too large)
        b"[" * 30_000 + b"]" * 30_000,  # nested too deeply, within the size limit
        b'{"first_name": NaN}',
        b"[1, 2, 3]",
        b'"just a string"',
        b"\xff\xfe not utf-8",
    ],
    ids=["garbage-1MB", "too-large", "deep-large", "deep", "nan", "list", "string", "bad-encoding"],
)
def test_malformed_or_oversized_bodies_are_400(api_as, union, db_snapshot, raw):
    before = db_snapshot()
    client = api_as("national")
    for response in (
        client.patch(detail(union.members.oak), raw, content_type="application/json"),
        client.post(reverse(LIST), raw, content_type="application/json"),
    ):
        assert response.status_code == 400, response.content[:200]
    assert db_snapshot() == before


def test_a_form_encoded_body_is_refused(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("national").patch(
        detail(union.members.oak), "first_name=Owain", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert db_snapshot() == before


def test_empty_patch_changes_nothing(api_as, union, db_snapshot):
    before = db_snapshot()
    response = api_as("national").patch(detail(union.members.oak), {}, format="json")
    assert response.status_code == 200
    assert response.data["first_name"] == "Owen"
    assert db_snapshot() == before


def test_rep_is_refused_before_the_body_is_even_read(api_as, union, db_snapshot):
    """A rep may never change a member, so an invalid body still answers 403 (not 400 with field hints)."""
    before = db_snapshot()
    for body in ({"status": "emeritus"}, {"colour": "red"}, {"first_name": "x" * 10_000}):
        response = api_as("rep_oak").patch(detail(union.members.oak), body, format="json")
        assert response.status_code == 403, body
    assert db_snapshot() == before
