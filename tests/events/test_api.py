"""Events API: scope, registration with the waiting list, sensitive answers, check-in, bad input."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from events import services, tokens
from events.models import Event, Registration
from tests.events.conftest import certify, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as(union):
    def client_for(persona):
        client = APIClient()
        if persona:
            client.force_authenticate(getattr(union.users, persona))
        return client

    return client_for


def event_body(union, **overrides):
    now = timezone.now()
    body = {
        "kind": "meeting",
        "title": "API meeting",
        "starts_at": (now + datetime.timedelta(days=5)).isoformat(),
        "ends_at": (now + datetime.timedelta(days=5, hours=1)).isoformat(),
        "online_url": "https://calls.example.org/x",
        "capacity": 1,
        "registration_opens_at": (now - datetime.timedelta(days=1)).isoformat(),
        "registration_closes_at": (now + datetime.timedelta(days=4)).isoformat(),
        "host_region": union.regions.north.pk,
    }
    body.update(overrides)
    return body


def test_an_organiser_creates_an_event_and_members_register_with_a_waiting_list(union, api_as):
    created = api_as("organiser_north").post("/api/v1/events/", event_body(union), format="json")
    assert created.status_code == 201, created.json()
    event_id = created.json()[0]["id"]
    first = api_as("member_oak").post(
        "/api/v1/registrations/", {"event": event_id, "access_needs": "BSL interpreter"}, format="json"
    )
    assert first.status_code == 201 and first.json()["status"] == "registered"
    assert first.json()["access_needs"] == "BSL interpreter"
    second = api_as("rep_oak").post("/api/v1/registrations/", {"event": event_id}, format="json")
    assert second.json()["status"] == "waiting"
    listed = api_as("rep_oak").get("/api/v1/registrations/").json()["results"]
    oak = next(r for r in listed if r["member"] == union.members.oak.pk)
    assert "access_needs" not in oak  # a rep sees their member's registration, never the access needs
    organiser_view = api_as("organiser_north").get(f"/api/v1/registrations/?event={event_id}").json()["results"]
    assert {r["access_needs"] for r in organiser_view} == {"BSL interpreter", ""}
    cancelled = api_as("member_oak").post(f"/api/v1/registrations/{first.json()['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert Registration.objects.get(pk=second.json()["id"]).status == "registered"


@pytest.mark.parametrize(
    ("persona", "body", "code"),
    [
        ("member_oak", {"event": 999999}, 400),
        ("member_oak", {"event": "one"}, 400),
        ("member_oak", {"event": None}, 400),
        ("member_oak", {"event": "EVENT", "member": "ELM"}, 400),  # a member out of scope: invalid id
        ("member_oak", {"event": "EVENT", "status": "registered"}, 400),  # not writable
        ("member_oak", {"event": "EVENT", "dietary_needs": "x" * 256}, 400),
        ("outsider", {"event": "EVENT"}, 403),  # no member record
        (None, {"event": "EVENT"}, 401),
        ("member_oak", ["EVENT"], 400),
    ],
)
def test_bad_registration_requests_are_refused_and_change_nothing(union, api_as, make_event, persona, body, code):
    event = make_event()

    def fill(value):
        return {"EVENT": event.pk, "ELM": union.members.elm.pk}.get(value, value) if isinstance(value, str) else value

    body = [fill(v) for v in body] if isinstance(body, list) else {k: fill(v) for k, v in body.items()}
    before = snapshot()
    response = api_as(persona).post("/api/v1/registrations/", body, format="json")
    assert response.status_code == code, response.content
    assert snapshot() == before


def test_refusals_from_the_service_are_400_with_the_reason(union, api_as, make_event, course):
    closed = make_event(registration_closes_at=timezone.now() + datetime.timedelta(seconds=1))
    Event.objects.filter(pk=closed.pk).update(registration_closes_at=timezone.now() - datetime.timedelta(minutes=1))
    stage2 = make_event(kind="training", course=course["health-safety-2"])
    client = api_as("rep_oak")
    before = snapshot()
    response = client.post("/api/v1/registrations/", {"event": closed.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Registration for this event has closed."]}
    response = client.post("/api/v1/registrations/", {"event": stage2.pk}, format="json")
    assert "needs Health and safety stage 1 first" in response.json()["non_field_errors"][0]
    assert snapshot() == before


def test_members_cannot_create_events_and_organisers_only_in_their_patch(union, api_as):
    before = snapshot()
    assert api_as("member_oak").post("/api/v1/events/", event_body(union), format="json").status_code == 403
    body = event_body(union, host_region=union.regions.south.pk)
    assert api_as("organiser_north").post("/api/v1/events/", body, format="json").status_code == 400
    body = event_body(union, audience="strand")
    response = api_as("national").post("/api/v1/events/", body, format="json")
    assert response.status_code == 400 and "Choose the equalities strand." in response.json()["audience_strand"][0]
    body = event_body(union, audience="strand", audience_strand="black_member; DROP TABLE")
    assert api_as("national").post("/api/v1/events/", body, format="json").status_code == 400
    assert api_as("national").post("/api/v1/events/", event_body(union, surprise=1), format="json").status_code == 400
    assert snapshot() == before


def test_check_in_through_the_api(union, api_as, make_event):
    event, other = make_event(), make_event(title="Other")
    registration = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    url = f"/api/v1/events/{event.pk}/check-in/"
    assert api_as("rep_oak").post(url, {"code": tokens.checkin_code(registration)}, format="json").status_code == 403
    wrong = services.register_for_event(actor=union.users.national, event=other, member=union.members.oak)
    response = api_as("organiser_north").post(url, {"code": tokens.checkin_code(wrong)}, format="json")
    assert response.status_code == 400 and "another event" in response.json()["code"][0]
    response = api_as("organiser_north").post(url, {"code": tokens.checkin_code(registration)}, format="json")
    assert response.status_code == 200 and response.json()["attendance"] == "attended"


def test_training_records_follow_the_member_scope(union, api_as, course):
    certify(union.members.oak, course["foundation"])
    certify(union.members.ash, course["foundation"])
    seen = {r["member"] for r in api_as("rep_oak").get("/api/v1/training-records/").json()["results"]}
    assert seen == {union.members.oak.pk}
    assert {r["member"] for r in api_as("national").get("/api/v1/training-records/").json()["results"]} == {
        union.members.oak.pk,
        union.members.ash.pk,
    }
    assert api_as("member_oak").get("/api/v1/training-records/").json()["count"] == 1
    ash_record = union.members.ash.certifications.get().pk
    assert api_as("organiser_north").get(f"/api/v1/training-records/{ash_record}/").status_code == 404


# --- Reps by training status ------------------------------------------------------------------------------


def test_reps_by_training_status_in_the_callers_patch(union, course, api_as):
    from tests.factories import PositionFactory

    PositionFactory(member=union.members.elm, workplace=union.workplaces.elm)
    PositionFactory(member=union.members.ash, workplace=union.workplaces.ash)
    certify(union.members.elm, course["foundation"])
    url = "/api/v1/organising/training-gaps/"
    north = api_as("organiser_north").get(url)
    assert north.status_code == 200
    body = north.json()
    # Rita (Leeds) still needs the foundation course; Ella (York) has it; Ash (Bristol) is outside the patch.
    assert [(g["name"], g["position"], g["missing"]) for g in body["gaps"]] == [
        ("Rita Rep", "Workplace rep", [course["foundation"].title])
    ]
    assert {(b["branch_name"], b["positions"], b["gaps"], b["trained_percent"]) for b in body["branches"]} == {
        ("Leeds", 1, 1, 0),
        ("York", 1, 0, 100),
    }
    assert [(r["region_name"], r["positions"], r["gaps"]) for r in body["regions"]] == [("North", 2, 1)]
    assert api_as("rep_oak").get(url).status_code == 403
    assert api_as("member_oak").get(url).status_code == 403
    assert api_as(None).get(url).status_code == 401
