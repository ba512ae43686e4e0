"""The API for conference motions, delegates and member-call questions, scoped like their pages."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Position, User
from events import services
from events.models import Amendment, CallQuestion, Delegate, Motion
from tests.events.conftest import snapshot
from tests.factories import MemberFactory, PositionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as(union):
    def client_for(user_or_persona):
        client = APIClient()
        user = getattr(union.users, user_or_persona) if isinstance(user_or_persona, str) else user_or_persona
        client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def conference(union, make_event):
    event = make_event(
        kind="conference", title="North conference", audience="region", audience_region=union.regions.north
    )
    services.set_motions_deadline(
        actor=union.users.organiser_north, event=event, closes_at=timezone.now() + datetime.timedelta(days=3)
    )
    return event


@pytest.fixture
def york_secretary(union):
    """A member-role user who is York's branch secretary: they act for York, and only York."""
    member = MemberFactory(first_name="Yasmin", last_name="York", workplace=union.workplaces.elm)
    PositionFactory(member=member, workplace=None, branch=union.branches.york, kind=Position.Kind.BRANCH_SECRETARY)
    return UserFactory(username="york_secretary", role=User.Role.MEMBER, member=member)


def motion_rows():
    return snapshot(), list(Motion.objects.values()), list(Amendment.objects.values())


def test_motions_submitted_amended_composited_and_ordered(union, api_as, conference, york_secretary):
    organiser = api_as("organiser_north")
    leeds = organiser.post(
        "/api/v1/motions/",
        {"event": conference.pk, "branch": union.branches.leeds.pk, "title": "Pay", "text": "Pay now."},
        format="json",
    )
    assert leeds.status_code == 201, leeds.json()
    york = api_as(york_secretary).post(
        "/api/v1/motions/",
        {"event": conference.pk, "branch": union.branches.york.pk, "title": "Pay (York)", "text": "Funded pay."},
        format="json",
    )
    assert york.status_code == 201 and york.json()["branch_name"] == "York"
    amended = api_as(york_secretary).post(
        f"/api/v1/motions/{leeds.json()['id']}/amendments/",
        {"branch": union.branches.york.pk, "text": "Add: fully funded."},
        format="json",
    )
    assert amended.status_code == 201
    # Every signed-in user reads the motions, with their amendments, as on the page.
    listed = api_as("member_oak").get(f"/api/v1/motions/?event={conference.pk}").json()["results"]
    assert [m["title"] for m in listed] == ["Pay", "Pay (York)"]
    assert listed[0]["amendments"][0]["text"] == "Add: fully funded."
    composite = organiser.post(
        "/api/v1/motions/composite/",
        {"event": conference.pk, "motions": [leeds.json()["id"], york.json()["id"]], "title": "C1", "text": "Pay."},
        format="json",
    )
    assert composite.status_code == 201 and composite.json()["branch"] is None
    workload = organiser.post(
        "/api/v1/motions/",
        {"event": conference.pk, "branch": union.branches.leeds.pk, "title": "Workload", "text": "Less."},
        format="json",
    ).json()
    agenda = organiser.post(
        "/api/v1/motions/agenda/",
        {"event": conference.pk, "motions": [workload["id"], composite.json()["id"]]},
        format="json",
    )
    assert agenda.status_code == 200
    assert [(m["title"], m["agenda_position"]) for m in agenda.json()] == [("Workload", 1), ("C1", 2)]


def test_motion_writes_are_refused_clearly_with_nothing_changed(union, api_as, conference, york_secretary):
    motion = services.submit_motion(
        actor=union.users.organiser_north, event=conference, branch=union.branches.leeds, title="Pay", text="Now."
    )
    before = motion_rows()
    body = {"event": conference.pk, "branch": union.branches.leeds.pk, "title": "T", "text": "X"}
    # Acting for a branch that is not theirs: 403.
    assert api_as(york_secretary).post("/api/v1/motions/", body, format="json").status_code == 403
    assert api_as("member_oak").post("/api/v1/motions/", body, format="json").status_code == 403
    assert api_as("organiser_bristol").post("/api/v1/motions/", body, format="json").status_code == 403
    bristol = {**body, "branch": union.branches.bristol.pk}  # theirs, but not part of a North conference
    refused = api_as("organiser_bristol").post("/api/v1/motions/", bristol, format="json")
    assert refused.status_code == 400 and "not part of this conference" in str(refused.json())
    organiser = api_as("organiser_north")
    for bad in (
        {**body, "title": ""},
        {**body, "title": "x" * 201},
        {**body, "text": "x" * 10_001},
        {**body, "branch": 999999},
        {**body, "event": "one"},
        {**body, "status": "composited"},
        ["not", "a", "mapping"],
    ):
        assert organiser.post("/api/v1/motions/", bad, format="json").status_code == 400, bad
    for bad in ({"event": conference.pk, "motions": [motion.pk], "title": "C", "text": "T"},
                {"event": conference.pk, "motions": [motion.pk, 999999], "title": "C", "text": "T"},
                {"event": conference.pk, "motions": "all", "title": "C", "text": "T"}):  # fmt: skip
        assert organiser.post("/api/v1/motions/composite/", bad, format="json").status_code == 400, bad
    assert (
        organiser.post(
            "/api/v1/motions/agenda/", {"event": conference.pk, "motions": [motion.pk, motion.pk]}, format="json"
        ).status_code
        == 400
    )
    assert (
        api_as("rep_oak")
        .post("/api/v1/motions/agenda/", {"event": conference.pk, "motions": [motion.pk]}, format="json")
        .status_code
        == 403
    )
    assert (
        api_as(york_secretary)
        .post(f"/api/v1/motions/{motion.pk}/amendments/", {"branch": union.branches.york.pk, "text": ""}, format="json")
        .status_code
        == 400
    )
    assert api_as(york_secretary).post("/api/v1/motions/999999/amendments/", {}, format="json").status_code == 404
    assert motion_rows() == before


def test_a_later_amendments_deadline(union, api_as, conference):
    organiser = api_as("organiser_north")
    now = timezone.now()
    url = f"/api/v1/events/{conference.pk}/motions-deadline/"
    before = motion_rows()
    for bad in (
        {"closes_at": (now + datetime.timedelta(days=2)).isoformat(), "amendments_close_at": now.isoformat()},
        {"closes_at": (now + datetime.timedelta(days=30)).isoformat()},  # after the conference starts
        {"closes_at": "soon"},
        {},
    ):
        assert organiser.post(url, bad, format="json").status_code == 400, bad
    assert api_as("rep_oak").post(url, {"closes_at": now.isoformat()}, format="json").status_code == 403
    assert motion_rows() == before
    motion = services.submit_motion(
        actor=union.users.organiser_north, event=conference, branch=union.branches.leeds, title="Pay", text="Now."
    )
    # Motions closed a moment ago; amendments stay open two more days.
    done = organiser.post(
        url,
        {"closes_at": (now - datetime.timedelta(minutes=1)).isoformat(),
         "amendments_close_at": (now + datetime.timedelta(days=2)).isoformat()},
        format="json",
    )  # fmt: skip
    assert done.status_code == 200 and done.json()["amendments_close_at"] > done.json()["motions_close_at"]
    with pytest.raises(services.ServiceError, match="deadline for motions has passed"):
        services.submit_motion(
            actor=union.users.organiser_north, event=conference, branch=union.branches.york, title="Late", text="X"
        )
    services.submit_amendment(actor=union.users.organiser_north, motion=motion, branch=union.branches.york, text="A")
    conference.refresh_from_db()
    services.set_motions_deadline(
        actor=union.users.organiser_north, event=conference, closes_at=now - datetime.timedelta(minutes=2)
    )
    with pytest.raises(services.ServiceError, match="deadline for motions and amendments has passed"):
        services.submit_amendment(
            actor=union.users.organiser_north, motion=motion, branch=union.branches.york, text="B"
        )


def test_delegates_named_and_seen_only_by_those_the_page_shows_them_to(union, api_as, conference, york_secretary):
    MemberFactory.create_batch(3, workplace=union.workplaces.elm)
    organiser = api_as("organiser_north")
    allocations_url = f"/api/v1/events/{conference.pk}/delegate-allocations/"
    assert organiser.post(allocations_url, {"members_per_delegate": 0}, format="json").status_code == 400
    assert api_as("rep_oak").post(allocations_url, {"members_per_delegate": 2}, format="json").status_code == 403
    allocated = organiser.post(allocations_url, {"members_per_delegate": 2}, format="json")
    assert allocated.status_code == 200
    york = next(a for a in allocated.json() if a["branch_name"] == "York")
    assert york["members"] == 5 and york["delegates"] == 3 and york["named"] == 0
    body = {"event": conference.pk, "branch": union.branches.york.pk, "membership_number": ""}
    secretary = api_as(york_secretary)
    before = snapshot(), list(Delegate.objects.values())
    assert secretary.post("/api/v1/delegates/", body, format="json").status_code == 400
    number = union.members.oak.membership_number  # a Leeds member, not York's
    assert secretary.post("/api/v1/delegates/", {**body, "membership_number": number}, format="json").status_code == 400
    leeds = {**body, "branch": union.branches.leeds.pk, "membership_number": number}
    assert secretary.post("/api/v1/delegates/", leeds, format="json").status_code == 403
    assert (snapshot(), list(Delegate.objects.values())) == before
    named = secretary.post(
        "/api/v1/delegates/", {**body, "membership_number": union.members.elm.membership_number}, format="json"
    )
    assert named.status_code == 201 and named.json()["member_name"] == "Ella Elmore"
    assert [d["member_name"] for d in secretary.get("/api/v1/delegates/").json()["results"]] == ["Ella Elmore"]
    assert len(organiser.get(f"/api/v1/delegates/?event={conference.pk}").json()["results"]) == 1
    # A member of another branch, a rep and Bristol's organiser see no names; the delegate sees themselves.
    for persona in ("member_oak", "rep_oak", "organiser_bristol"):
        assert api_as(persona).get("/api/v1/delegates/").json()["results"] == [], persona
        assert api_as(persona).get(f"/api/v1/delegates/{named.json()['id']}/").status_code == 404
    elm_user = UserFactory(username="member_elm", role=User.Role.MEMBER, member=union.members.elm)
    assert len(api_as(elm_user).get("/api/v1/delegates/").json()["results"]) == 1
    # Counts are for everyone signed in, as on the page.
    counts = api_as("member_oak").get(allocations_url).json()
    assert next(a for a in counts if a["branch_name"] == "York")["named"] == 1


def test_questions_seen_by_the_calls_organisers_and_the_member_who_asked(union, api_as, make_event):
    call = make_event(kind="member_call", title="Weekly call", venue="", online_url="https://calls.example.org/w")
    member = api_as("member_oak")
    refused = member.post("/api/v1/call-questions/", {"event": call.pk, "text": "Why?"}, format="json")
    assert refused.status_code == 400 and "Register for the call" in str(refused.json())
    services.register_for_event(actor=union.users.member_oak, event=call, member=union.members.oak)
    before = snapshot(), list(CallQuestion.objects.values())
    for bad in ({"event": call.pk, "text": ""}, {"event": call.pk, "text": "x" * 1001}, {"event": call.pk},
                {"event": call.pk, "text": "Hi", "member": union.members.rep.pk}, {"text": "Hi"}):  # fmt: skip
        assert member.post("/api/v1/call-questions/", bad, format="json").status_code == 400, bad
    assert (snapshot(), list(CallQuestion.objects.values())) == before
    asked = member.post("/api/v1/call-questions/", {"event": call.pk, "text": "  Pay?  "}, format="json")
    assert asked.status_code == 201 and asked.json()["text"] == "Pay?"
    assert len(member.get("/api/v1/call-questions/").json()["results"]) == 1
    assert len(api_as("organiser_north").get(f"/api/v1/call-questions/?event={call.pk}").json()["results"]) == 1
    for persona in ("rep_oak", "organiser_bristol", "outsider"):
        assert api_as(persona).get("/api/v1/call-questions/").json()["results"] == [], persona
        assert api_as(persona).get(f"/api/v1/call-questions/{asked.json()['id']}/").status_code == 404
    assert (
        api_as("outsider").post("/api/v1/call-questions/", {"event": call.pk, "text": "Me?"}, format="json").status_code
        == 403
    )
    assert APIClient().get("/api/v1/call-questions/").status_code == 401
