"""The organising API: segments, bulk tags, conversations, assessments and equalities, with the same scope
as the pages, and bad input refused with nothing changed."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Permission

from crm.models import Assessment, AuditEntry, Conversation, EqualitiesAccess, EqualitiesAnswers, Member, Segment, User
from crm.services.conversations import log_conversation, record_assessment
from crm.services.equalities import save_own_equalities_answers
from crm.services.segments import save_segment
from tests.api.conftest import PERSONAS, take_snapshot
from tests.factories import UserFactory

TODAY = datetime.date.today


def snapshot() -> dict:
    return take_snapshot() | {
        "conversations": list(Conversation.objects.values()),
        "assessments": list(Assessment.objects.values()),
        "segments": list(Segment.objects.values()),
        "equalities": list(EqualitiesAnswers.objects.values()),
    }


# --- anonymous ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/v1/segments/", "/api/v1/conversations/", "/api/v1/assessments/", "/api/v1/members/bulk-tag/",
     "/api/v1/equalities/me/", "/api/v1/equalities/summary/", "/api/v1/equalities/members/1/"],
)  # fmt: skip
def test_anonymous_callers_get_401(api_as, url):
    client = api_as(None)
    assert client.get(url).status_code == 401
    assert client.post(url, {}, format="json").status_code in (401, 405)


# --- segments -----------------------------------------------------------------------------------------------


def test_segment_crud_and_members(api_as, union):
    client = api_as("organiser_north")
    response = client.post("/api/v1/segments/", {"name": "Lapsed", "filters": {"status": ["lapsed"]}}, format="json")
    assert response.status_code == 201, response.json()
    segment_id = response.json()["id"]
    assert response.json()["filters"] == {"status": ["lapsed"]} and response.json()["is_mine"] is True
    members = client.get(f"/api/v1/segments/{segment_id}/members/").json()
    assert [row["id"] for row in members["results"]] == [union.members.oak_lapsed.pk]
    response = client.patch(
        f"/api/v1/segments/{segment_id}/", {"name": "Lapsed North", "is_shared": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["name"] == "Lapsed North"
    assert client.delete(f"/api/v1/segments/{segment_id}/").status_code == 204
    assert not Segment.objects.exists()


def test_segments_follow_the_scope(api_as, union):
    north2 = UserFactory(username="north2", role=User.Role.ORGANISER)
    north2.regions.add(union.regions.north)
    segment = save_segment(actor=union.users.organiser_north, name="All", filters={}, is_shared=True)
    from rest_framework.test import APIClient

    colleague = APIClient()
    colleague.force_authenticate(north2)
    assert [s["id"] for s in colleague.get("/api/v1/segments/").json()["results"]] == [segment.pk]
    members = colleague.get(f"/api/v1/segments/{segment.pk}/members/").json()
    assert members["count"] == 5  # the North's members: the same scope
    before = snapshot()
    assert colleague.patch(f"/api/v1/segments/{segment.pk}/", {"name": "Mine now"}, format="json").status_code == 403
    assert colleague.delete(f"/api/v1/segments/{segment.pk}/").status_code == 403
    for persona in ("organiser_bristol", "national", "rep_oak", "member_oak", "scrutineer"):
        client = api_as(persona)
        assert client.get("/api/v1/segments/").json()["results"] == []
        assert client.get(f"/api/v1/segments/{segment.pk}/").status_code == 404
        assert client.get(f"/api/v1/segments/{segment.pk}/members/").status_code == 404
        assert client.delete(f"/api/v1/segments/{segment.pk}/").status_code in (403, 404)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "shared_with": ["organiser_bristol"]},  # another scope
        {"name": "x", "filters": {"branch": ["BRISTOL"]}},
        {"name": "x", "filters": {"status": ["nonsense"]}},
        {"name": "x", "filters": {"made_up": ["1"]}},
        {"name": "x", "filters": "status=active"},
        {"name": ""},
        {"name": "x" * 121},
        {"name": "x", "owner": "national"},
        {"name": "x", "filters": {"status": ["active"] * 21}},
    ],
)
def test_bad_segments_are_refused(api_as, union, body):
    if body.get("filters") == {"branch": ["BRISTOL"]}:
        body = body | {"filters": {"branch": [str(union.branches.bristol.pk)]}}
    before = snapshot()
    response = api_as("organiser_north").post("/api/v1/segments/", body, format="json")
    assert response.status_code == 400, response.json()
    assert snapshot() == before


# --- bulk tag -----------------------------------------------------------------------------------------------


def test_bulk_tag_and_untag(api_as, union):
    client = api_as("organiser_north")
    body = {"filters": {"workplace": [str(union.workplaces.oak.pk)]}, "tag": "ballot", "action": "add"}
    response = client.post("/api/v1/members/bulk-tag/", body, format="json")
    assert response.status_code == 200 and response.json() == {"tag": "ballot", "action": "add", "members": 3}
    assert set(Member.objects.filter(tags__name="ballot")) == {
        union.members.rep,
        union.members.oak,
        union.members.oak_lapsed,
    }
    response = client.post("/api/v1/members/bulk-tag/", body | {"action": "remove"}, format="json")
    assert response.json()["members"] == 3 and not Member.objects.filter(tags__name="ballot").exists()
    assert AuditEntry.objects.filter(target_type="crm.tag").count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"filters": {"status": ["bogus"]}, "tag": "x", "action": "add"},
        {"filters": {"region": ["SOUTH"]}, "tag": "x", "action": "add"},
        {"filters": {"status": ["active"]}, "tag": "<script>alert(1)</script>", "action": "remove"},
        {"filters": {}, "tag": "", "action": "add"},
        {"filters": {}, "tag": "x", "action": "delete everything"},
        {"filters": {}, "tag": "x" * 61, "action": "add"},
        {"tag": "x"},
        [],
    ],
)
def test_bulk_tag_with_bad_input_tags_nobody(api_as, union, body):
    if isinstance(body, dict) and body.get("filters") == {"region": ["SOUTH"]}:
        body = body | {"filters": {"region": [str(union.regions.south.pk)]}}
    before = snapshot()
    response = api_as("organiser_north").post("/api/v1/members/bulk-tag/", body, format="json")
    assert response.status_code == 400
    assert "<script>" not in response.content.decode() or response["Content-Type"] == "application/json"
    assert snapshot() == before


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "outsider"])
def test_bulk_tag_is_refused_to_everyone_but_organisers_and_national(api_as, union, persona):
    before = snapshot()
    response = api_as(persona).post(
        "/api/v1/members/bulk-tag/", {"filters": {}, "tag": "x", "action": "add"}, format="json"
    )
    assert response.status_code == 403
    assert snapshot() == before


# --- conversations and assessments --------------------------------------------------------------------------


@pytest.fixture
def talked(union):
    """A conversation and an assessment for each of Oak's member, Elm's member and Ash's member."""
    national = union.users.national
    for member in (union.members.oak, union.members.elm, union.members.ash):
        log_conversation(actor=national, member=member, channel="phone", outcome="undecided",
                         held_on=TODAY() - datetime.timedelta(days=3), follow_up_on=TODAY())  # fmt: skip
        record_assessment(actor=national, member=member, score=2, assessed_on=TODAY())
    return union


@pytest.mark.parametrize("persona", PERSONAS)
def test_conversations_and_assessments_follow_scope(api_as, talked, persona, expected_scope):
    client = api_as(persona)
    talked_with = {talked.members.oak, talked.members.elm, talked.members.ash}
    user = getattr(talked.users, persona)
    expected = {m.pk for m in expected_scope[persona] & talked_with} if user.is_staff_role else set()
    for url in ("/api/v1/conversations/", "/api/v1/assessments/"):
        assert {row["member"] for row in client.get(url).json()["results"]} == expected, url
    for conversation in Conversation.objects.all():
        status = client.get(f"/api/v1/conversations/{conversation.pk}/").status_code
        assert status == (200 if conversation.member_id in expected else 404)


def test_filter_by_member_and_follow_up_due(api_as, talked):
    client = api_as("organiser_north")
    rows = client.get(f"/api/v1/conversations/?member={talked.members.oak.pk}").json()["results"]
    assert [r["member"] for r in rows] == [talked.members.oak.pk]
    due = client.get("/api/v1/conversations/?follow_up_due=true").json()["results"]
    assert {r["member"] for r in due} == {talked.members.oak.pk, talked.members.elm.pk}
    # A member outside the scope is an invalid choice, exactly like one that does not exist.
    response = client.get(f"/api/v1/conversations/?member={talked.members.ash.pk}")
    assert response.status_code == 400 and "member" in response.json()
    conversation = Conversation.objects.get(member=talked.members.oak)
    assert client.post(f"/api/v1/conversations/{conversation.pk}/follow-up-done/").status_code == 200
    due = client.get("/api/v1/conversations/?follow_up_due=true").json()["results"]
    assert {r["member"] for r in due} == {talked.members.elm.pk}
    assert client.get("/api/v1/conversations/?follow_up_due=soon").status_code == 400
    bristol = api_as("organiser_bristol")
    assert bristol.post(f"/api/v1/conversations/{conversation.pk}/follow-up-done/").status_code == 404


def test_a_rep_logs_a_conversation_and_an_assessment_for_their_workplace_only(api_as, union):
    client = api_as("rep_oak")
    body = {"member": union.members.oak.pk, "channel": "in_person", "held_on": str(TODAY()), "outcome": "supportive"}
    response = client.post("/api/v1/conversations/", body, format="json")
    assert response.status_code == 201 and response.json()["logged_by"] == "rep_oak"
    response = client.post("/api/v1/conversations/", body | {"member": union.members.elm.pk}, format="json")
    assert response.status_code == 400 and "member" in response.json()  # not one they can see
    response = client.post("/api/v1/conversations/", body | {"member": union.members.rep.pk}, format="json")
    assert response.status_code == 403  # themselves
    assessment = {"member": union.members.oak.pk, "score": 1, "assessed_on": str(TODAY())}
    response = client.post("/api/v1/assessments/", assessment, format="json")
    assert response.status_code == 201 and response.json()["score"] == 1
    assert Conversation.objects.count() == 1 and Assessment.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"follow_up_on": "2000-01-01"},
        {"notes": "x" * 10_001},
        {"notes": "x" * 1_000_000},
        {"channel": "fax"},
        {"outcome": ""},
        {"held_on": "tomorrow"},
        {"held_on": "2999-01-01"},
        {"logged_by": "national"},
        {"member": "1 OR 1=1"},
    ],
)
def test_bad_conversations_change_nothing(api_as, union, change):
    before = snapshot()
    body = {"member": union.members.oak.pk, "channel": "phone", "held_on": str(TODAY()), "outcome": "supportive"}
    response = api_as("organiser_north").post("/api/v1/conversations/", body | change, format="json")
    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("score", [0, 6, "x", None, 2.5, True, "", [1]])
def test_bad_assessments_change_nothing(api_as, union, score):
    before = snapshot()
    body = {"member": union.members.oak.pk, "score": score, "assessed_on": str(TODAY())}
    response = api_as("organiser_north").post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 400 and "score" in response.json()
    assert snapshot() == before


# --- equalities ---------------------------------------------------------------------------------------------

ANSWERS = {"ethnicity": "black_caribbean", "black_member": "yes", "lgbt_member": "no",
           "disabled_member": "prefer_not_to_say", "woman_member": ""}  # fmt: skip


def test_a_member_reads_and_writes_their_own_answers(api_as, union):
    client = api_as("member_oak")
    assert client.get("/api/v1/equalities/me/").json()["ethnicity"] == ""
    response = client.put("/api/v1/equalities/me/", ANSWERS, format="json")
    assert response.status_code == 200 and response.json()["black_member"] == "yes"
    assert response.json()["entered_by"] == "member"
    assert client.get("/api/v1/equalities/me/").json()["ethnicity"] == "black_caribbean"
    assert EqualitiesAccess.objects.filter(via="api", member=union.members.oak).count() == 2
    for bad in ({"ethnicity": "martian"}, {"lgbt_member": True}, {"religion": "none"}, {"entered_by": "staff"}):
        before = snapshot()
        assert client.put("/api/v1/equalities/me/", ANSWERS | bad, format="json").status_code == 400
        assert snapshot() == before
    assert api_as("scrutineer").get("/api/v1/equalities/me/").status_code == 403


def test_one_members_answers_need_the_permission_and_every_read_is_logged(api_as, union):
    save_own_equalities_answers(user=union.users.member_oak, answers=ANSWERS)
    url = f"/api/v1/equalities/members/{union.members.oak.pk}/"
    for persona in ("national", "organiser_north", "rep_oak"):
        response = api_as(persona).get(url)
        assert response.status_code == 403 and "black_caribbean" not in response.content.decode()
    assert api_as("organiser_bristol").get(url).status_code == 404
    assert not EqualitiesAccess.objects.exists()
    organiser = union.users.organiser_north
    organiser.user_permissions.add(Permission.objects.get(codename="view_equalities_answers"))
    union.users.organiser_north = User.objects.get(pk=organiser.pk)  # permissions are cached per instance
    response = api_as("organiser_north").get(url)
    assert response.status_code == 200 and response.json()["ethnicity"] == "black_caribbean"
    access = EqualitiesAccess.objects.get()
    assert (access.reader_id, access.member_id, access.via) == (organiser.pk, union.members.oak.pk, "api")
    response = api_as("organiser_north").get(f"/api/v1/equalities/members/{union.members.ash.pk}/")
    assert response.status_code == 404 and EqualitiesAccess.objects.count() == 1


def test_the_summary_is_suppressed_and_scoped(api_as, union):
    save_own_equalities_answers(user=union.users.member_oak, answers=ANSWERS)
    response = api_as("organiser_north").get("/api/v1/equalities/summary/")
    assert response.status_code == 200
    data = response.json()
    assert data["members"] == 4
    for row in data["strands"]:
        assert all(cell["count"] is None for cell in row["cells"])  # 4 members: every figure is under 5
    assert "black_caribbean" not in response.content.decode()
    assert (
        api_as("organiser_north").get(f"/api/v1/equalities/summary/?branch={union.branches.leeds.pk}").status_code
        == 200
    )
    response = api_as("organiser_north").get(f"/api/v1/equalities/summary/?branch={union.branches.bristol.pk}")
    assert response.status_code == 400 and "branch" in response.json()
    assert api_as("organiser_north").get("/api/v1/equalities/summary/?region=abc").status_code == 400
    for persona in ("rep_oak", "member_oak", "scrutineer", "outsider"):
        assert api_as(persona).get("/api/v1/equalities/summary/").status_code == 403


def test_the_members_endpoint_never_carries_equalities_answers(api_as, union):
    save_own_equalities_answers(user=union.users.member_oak, answers=ANSWERS)
    organiser = union.users.organiser_north
    organiser.user_permissions.add(Permission.objects.get(codename="view_equalities_answers"))
    union.users.organiser_north = User.objects.get(pk=organiser.pk)
    client = api_as("organiser_north")  # even with the permission: answers only at their own endpoint
    for url in ("/api/v1/members/", f"/api/v1/members/{union.members.oak.pk}/"):
        body = client.get(url).content.decode()
        assert "black_caribbean" not in body and "ethnicity" not in body and "equalities" not in body
    assert not EqualitiesAccess.objects.exists()


# --- organising figures -------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_organising_workplaces_follow_scope(api_as, union, persona):
    expected = {
        "national": {"Oak Primary", "Elm Academy", "Ash College"},
        "organiser_north": {"Oak Primary", "Elm Academy"},
        "organiser_bristol": {"Ash College"},
        "rep_oak": {"Oak Primary"},
    }
    response = api_as(persona).get("/api/v1/organising/workplaces/")
    if persona not in expected:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert {row["name"] for row in response.json()["results"]} == expected[persona]


def test_organising_workplaces_figures(api_as, union):
    record_assessment(actor=union.users.national, member=union.members.oak, score=1, assessed_on=TODAY())
    rows = {r["name"]: r for r in api_as("national").get("/api/v1/organising/workplaces/").json()["results"]}
    oak = rows["Oak Primary"]
    assert oak["members_count"] == 2 and oak["density"] == 2 / 40 and oak["has_workplace_rep"] is True
    assert oak["assessments"] == {"leader": 1, "supporter": 0, "undecided": 0, "opposed": 0, "hostile": 0,
                                  "not_assessed": 1}  # fmt: skip
    assert [t["months_ago"] for t in oak["trend"]] == [3, 12]
    assert rows["Elm Academy"]["has_workplace_rep"] is False
    without = api_as("national").get("/api/v1/organising/workplaces/?without_rep=true").json()["results"]
    assert {r["name"] for r in without} == {"Elm Academy", "Ash College"}
    assert api_as("national").get("/api/v1/organising/workplaces/?without_rep=perhaps").status_code == 400
