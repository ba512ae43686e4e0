"""Role × endpoint: each persona sees exactly its scope through every list and detail endpoint, and every
other id in the fixture (or an id that does not exist) answers 404. Expectations are written by hand here
(members: tests/conftest.visible_members_by_role), never derived from the selectors under test."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

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


# --- Every route in the URLconf ---------------------------------------------------------------------------
# The matrix above covers the API's resources in depth. Below, every route the URLconf has (pages, API,
# auth, admin) must have an entry in ROUTES, saying what GET answers for each persona; a route without one
# fails test_every_route_has_a_scope_expectation, with the line to add. For routes that take an id, every
# object of that kind in the fixture is tried: an object outside the persona's scope answers 404 with
# exactly the body a nonexistent id gets.

SIGNED_IN = frozenset(PERSONAS)
STAFF = frozenset({"national", "organiser_north", "organiser_bristol", "rep_oak"})
MANAGERS = frozenset({"national", "organiser_north", "organiser_bristol"})
RESULTS = frozenset({"national", "organiser_north", "organiser_bristol", "scrutineer"})
COUNTERS = frozenset({"national", "scrutineer"})
MEMBERS = frozenset({"rep_oak", "member_oak"})  # the personas whose account is a member's
NO_SUCH_ID = 987_654


@dataclass(frozen=True)
class Route:
    anonymous: int | None = None  # GET without signing in (302: sent to sign in)
    allowed: frozenset[str] = frozenset()  # signed-in personas answered `ok`; the others get `refused`
    ok: int = 200
    refused: int = 403
    objects: str | None = None  # the kind of object the route's id names; out of scope answers 404
    kwargs: dict | None = None  # sample values for parameters that are not object ids
    api_resource: str | None = None  # covered in depth by the API matrix above
    own_record: int | None = None  # what a persona gets for their own member record, whatever their role


def _api(resource: str) -> Route:
    return Route(api_resource=resource)


ROUTES: dict[str, Route] = {
    # Sign-in and accounts
    "login": Route(anonymous=200, allowed=SIGNED_IN),
    "logout": Route(anonymous=405, allowed=SIGNED_IN, ok=405),  # sign-out is a POST
    "password_change": Route(anonymous=302, allowed=SIGNED_IN),
    "password_change_done": Route(anonymous=302, allowed=SIGNED_IN),
    "password_reset": Route(anonymous=200, allowed=SIGNED_IN),
    "password_reset_done": Route(anonymous=200, allowed=SIGNED_IN),
    "password_reset_confirm": Route(anonymous=200, allowed=SIGNED_IN, kwargs={"uidb64": "MQ", "token": "x-y"}),
    "password_reset_complete": Route(anonymous=200, allowed=SIGNED_IN),
    "two_factor_setup": Route(anonymous=302, allowed=SIGNED_IN),
    # Without an app yet, these send the user on to set one up.
    "two_factor_verify": Route(anonymous=302, allowed=SIGNED_IN, ok=302),
    "recovery_codes": Route(anonymous=302, allowed=SIGNED_IN, ok=302),
    "healthz": Route(anonymous=200, allowed=SIGNED_IN),
    # Pages
    "home": Route(anonymous=302, allowed=SIGNED_IN - {"outsider"}, ok=302, refused=200),  # sends each role on
    "dashboard": Route(anonymous=302, allowed=MANAGERS),
    "member_list": Route(anonymous=302, allowed=STAFF),
    "member_create": Route(anonymous=302, allowed=MANAGERS),
    "member_detail": Route(anonymous=302, allowed=SIGNED_IN, objects="member"),
    "member_edit": Route(anonymous=302, allowed=MANAGERS, objects="member"),
    "position_create": Route(anonymous=302, allowed=MANAGERS, objects="member"),
    "position_end": Route(anonymous=302, allowed=MANAGERS, objects="position"),
    "workplace_detail": Route(anonymous=302, allowed=STAFF, objects="workplace"),
    "my_workplaces": Route(anonymous=302, allowed=STAFF),
    # The member portal: a signed-in member's own pages; an account with no member record gets 403
    "portal:home": Route(anonymous=302, allowed=MEMBERS),
    # Member sign-in by code: public pages (the code page sends anyone without a pending request back to
    # the first step; the link page only asks, its POST signs in)
    "portal:sign_in": Route(anonymous=200, allowed=SIGNED_IN),
    "portal:sign_in_code": Route(anonymous=302, allowed=SIGNED_IN, ok=302),
    "portal:sign_in_link": Route(anonymous=200, allowed=SIGNED_IN, kwargs={"token": "not-a-token"}),
    "portal:details": Route(anonymous=302, allowed=MEMBERS),
    "portal:workplace_change": Route(anonymous=302, allowed=MEMBERS),
    "portal:workplace_change_withdraw": Route(anonymous=302, allowed=MEMBERS, ok=405),
    "portal:preferences": Route(anonymous=302, allowed=MEMBERS),
    "portal:equalities": Route(anonymous=302, allowed=MEMBERS),
    "portal:equalities_erase": Route(anonymous=302, allowed=MEMBERS, ok=405),
    # Workplace moves members asked for, for organisers to confirm (the decision is a POST)
    "workplace_change_list": Route(anonymous=302, allowed=MANAGERS),
    "workplace_change_decide": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"change_id": NO_SUCH_ID}),
    # Activity: ids are looked up among the member's own rows only, so any other id answers 404 (see
    # tests/portal/test_activity_*.py for another member's real ids); the actions are POST only (cancel: GET asks)
    "portal:events": Route(anonymous=302, allowed=MEMBERS),
    "portal:registration": Route(anonymous=302, allowed=MEMBERS, ok=404, kwargs={"registration_id": NO_SUCH_ID}),
    "portal:registration_cancel": Route(anonymous=302, allowed=MEMBERS, ok=404, kwargs={"registration_id": NO_SUCH_ID}),
    "portal:training": Route(anonymous=302, allowed=MEMBERS),
    "portal:certificate": Route(anonymous=302, allowed=MEMBERS, ok=404, kwargs={"certification_id": NO_SUCH_ID}),
    # The certificate checker is public by design: whoever is shown a certificate checks its code, no account
    "certificates:check": Route(anonymous=200, allowed=SIGNED_IN),
    "portal:ballots": Route(anonymous=302, allowed=MEMBERS),
    "portal:receipt_check": Route(anonymous=302, allowed=MEMBERS),
    **{
        f"portal:{name}": Route(anonymous=302, allowed=MEMBERS, ok=405, kwargs={"election_id": NO_SUCH_ID})
        for name in ("ballot_vote", "ballot_new_link", "nominate", "accept_nomination")
    },
    "portal:reserved_seats": Route(anonymous=302, allowed=MEMBERS, ok=405, kwargs={"candidate_id": NO_SUCH_ID}),
    "portal:candidate_photo": Route(anonymous=302, allowed=MEMBERS, ok=405, kwargs={"candidate_id": NO_SUCH_ID}),
    "portal:data": Route(anonymous=302, allowed=MEMBERS),
    "portal:data_json": Route(anonymous=302, allowed=MEMBERS),
    "portal:data_close": Route(anonymous=302, allowed=MEMBERS),
    # Data protection: one member's whole record and its erasure for national admins only (out of scope: 404,
    # a member's own record too: members use the portal); requests to close membership for their organisers
    "member_data_export": Route(anonymous=302, allowed=frozenset({"national"}), objects="member"),
    "member_erase": Route(anonymous=302, allowed=frozenset({"national"}), objects="member"),
    "retention": Route(anonymous=302, allowed=frozenset({"national"})),
    "closure_request_list": Route(anonymous=302, allowed=MANAGERS),
    "closure_request_resolve": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"request_id": NO_SUCH_ID}),
    # Counts (no member data: results are for staff and scrutineers, counting for national and scrutineers)
    "elections:count_list": Route(anonymous=302, allowed=RESULTS),
    "elections:count_create": Route(anonymous=302, allowed=COUNTERS),
    **{
        f"elections:{name}": Route(anonymous=302, allowed=RESULTS, objects="count")
        for name in ("count_detail", "count_json", "count_csv", "count_blt", "count_print", "count_recount")
    },
    "elections:count_certify": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"count_id": NO_SUCH_ID}),
    # Joining and paying (public by design: the join form, its thank-you page and the unpaid-join link sent
    # by email, which answers only to its token; Stripe's webhook is POST only and checks Stripe's signature)
    "join": Route(anonymous=200, allowed=SIGNED_IN),
    "join_done": Route(anonymous=200, allowed=SIGNED_IN),
    "join_unpaid": Route(anonymous=404, allowed=SIGNED_IN, ok=404, kwargs={"token": "not-a-token"}),
    "join_pay": Route(anonymous=405, allowed=SIGNED_IN, ok=405, kwargs={"token": "not-a-token"}),
    "stripe_webhook": Route(anonymous=405, allowed=SIGNED_IN, ok=405),
    # Dues: organisers read (national admins also change rates); a member sees their own; a rep gets 403
    # A rep sees a colleague's good standing on the member page, never their payments; their own dues they see.
    "member_dues": Route(anonymous=302, allowed=MANAGERS | {"member_oak"}, objects="member", own_record=200),
    "member_dues_method": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"member_id": NO_SUCH_ID}),
    "member_dues_portal": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"member_id": NO_SUCH_ID}),
    "member_confirm": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"member_id": NO_SUCH_ID}),
    "dues_overview": Route(anonymous=302, allowed=MANAGERS),
    "rate_list": Route(anonymous=302, allowed=MANAGERS),
    "rate_create": Route(anonymous=302, allowed=frozenset({"national"})),
    "rate_edit": Route(anonymous=302, allowed=frozenset({"national"}), ok=404, kwargs={"rate_id": NO_SUCH_ID}),
    # Organising: reps read and log conversations at their workplaces; one member's equalities answers need
    # the permission nobody in the fixture holds; members see their own answers only
    "bulk_tag": Route(anonymous=302, allowed=MANAGERS),
    "bulk_tag_job": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"job_id": "no-such-job"}),
    "member_tag": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"member_id": NO_SUCH_ID}),
    "conversation_create": Route(anonymous=302, allowed=STAFF, objects="member", own_record=403),  # not with yourself
    "assessment_create": Route(anonymous=302, allowed=STAFF, objects="member", own_record=403),  # not with yourself
    "member_equalities": Route(anonymous=302, allowed=frozenset(), objects="member"),
    "member_equalities_edit": Route(anonymous=302, allowed=frozenset(), objects="member"),
    "follow_up_done": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"conversation_id": NO_SUCH_ID}),
    "organising_home": Route(anonymous=302, allowed=STAFF),
    "organising_density": Route(anonymous=302, allowed=STAFF),
    "organising_assessments": Route(anonymous=302, allowed=STAFF),
    "organising_without_reps": Route(anonymous=302, allowed=STAFF),
    "equalities_summary": Route(anonymous=302, allowed=MANAGERS),
    "follow_up_list": Route(anonymous=302, allowed=STAFF),
    "segment_list": Route(anonymous=302, allowed=STAFF),
    "segment_create": Route(anonymous=302, allowed=STAFF),
    "segment_edit": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"segment_id": NO_SUCH_ID}),
    "segment_delete": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"segment_id": NO_SUCH_ID}),
    # Import (national admins and organisers) and export (the member list's scope, reps included)
    "member_export": Route(anonymous=302, allowed=STAFF),
    "import_list": Route(anonymous=302, allowed=MANAGERS),
    "import_new": Route(anonymous=302, allowed=MANAGERS),
    **{
        name: Route(anonymous=302, allowed=MANAGERS, ok=404, kwargs={"job_id": NO_SUCH_ID})
        for name in ("import_detail", "import_mapping", "import_report_csv")
    },
    "import_confirm": Route(anonymous=405, allowed=SIGNED_IN, ok=405, kwargs={"job_id": NO_SUCH_ID}),  # POST only
    # Outreach: national admins and organisers; the opt-out link is public by design (it answers only to its
    # signed token) and Twilio's webhooks are POST only, checked against Twilio's signature
    "campaign_list": Route(anonymous=302, allowed=MANAGERS),
    "campaign_create": Route(anonymous=302, allowed=MANAGERS),
    "campaign_detail": Route(anonymous=302, allowed=MANAGERS, ok=404, kwargs={"campaign_id": NO_SUCH_ID}),
    "campaign_edit": Route(anonymous=302, allowed=MANAGERS, ok=404, kwargs={"campaign_id": NO_SUCH_ID}),
    "campaign_test": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"campaign_id": NO_SUCH_ID}),
    "campaign_schedule": Route(anonymous=302, allowed=MANAGERS, ok=404, kwargs={"campaign_id": NO_SUCH_ID}),
    "campaign_cancel": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"campaign_id": NO_SUCH_ID}),
    "campaign_progress": Route(anonymous=302, allowed=MANAGERS, ok=404, kwargs={"campaign_id": NO_SUCH_ID}),
    "outreach_inbox": Route(anonymous=302, allowed=MANAGERS),
    "outreach_inbox_handled": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"text_id": NO_SUCH_ID}),
    "opt_out": Route(anonymous=404, allowed=SIGNED_IN, ok=404, kwargs={"token": "not-a-token"}),
    "twilio_status": Route(anonymous=405, allowed=SIGNED_IN, ok=405),
    "twilio_inbound": Route(anonymous=405, allowed=SIGNED_IN, ok=405),
    # Events: members find and register; organisers manage theirs. The calendar feed is public by design: it
    # answers only to its signed token (a calendar app cannot sign in)
    "events:event_list": Route(anonymous=302, allowed=SIGNED_IN),
    "events:event_create": Route(anonymous=302, allowed=MANAGERS),
    "events:event_detail": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:event_ics": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:event_manage": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:event_export": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:event_check_in": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:event_cancel": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"event_id": NO_SUCH_ID}),
    "events:event_award": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"event_id": NO_SUCH_ID}),
    "events:conference_motions": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:conference_delegates": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:registration_detail": Route(
        anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"registration_id": NO_SUCH_ID}
    ),
    "events:registration_cancel": Route(
        anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"registration_id": NO_SUCH_ID}
    ),
    "events:delegate_credential": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"delegate_id": NO_SUCH_ID}),
    "events:calendar_feed": Route(anonymous=404, allowed=SIGNED_IN, ok=404, kwargs={"token": "not-a-token"}),
    "events:course_list": Route(anonymous=302, allowed=SIGNED_IN),
    # A member's own record is in the portal (portal:training): their own id sends them there.
    "events:member_training": Route(anonymous=302, allowed=SIGNED_IN, objects="member", own_record=302),
    "events:training_gaps": Route(anonymous=302, allowed=MANAGERS),
    # Elections: the ballot and receipts pages are public by design (a voter's credential, not a login, opens
    # them); anything else is for the roles in the README's table
    "elections:election_list": Route(anonymous=302, allowed=SIGNED_IN - {"member_oak", "outsider"}),
    "elections:election_create": Route(anonymous=302, allowed=MANAGERS),
    "elections:election_detail": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:election_edit": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:candidate_add": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:candidate_withdraw": Route(
        anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID, "candidate_id": NO_SUCH_ID}
    ),
    "elections:ballot_order": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID}),
    "elections:branch_nomination_add": Route(
        anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}
    ),
    "elections:question_add": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:election_open": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID}),
    "elections:roll_add": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:roll_reissue": Route(
        anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID, "entry_id": NO_SUCH_ID}
    ),
    "elections:election_turnout": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:election_close": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID}),
    "elections:election_certify": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID}),
    "elections:election_publish": Route(anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"election_id": NO_SUCH_ID}),
    "elections:vote": Route(anonymous=404, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:results": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    "elections:receipts": Route(anonymous=404, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID}),
    # API areas other than the matrix above: 401 signed out; an id that does not exist answers 404 to those
    # the endpoint serves, 403 to the rest
    "api:member-bulk-tag": Route(anonymous=401, allowed=SIGNED_IN, ok=405),
    "api:equalities-me": Route(anonymous=401, allowed=frozenset({"rep_oak", "member_oak"})),
    "api:equalities-summary": Route(anonymous=401, allowed=MANAGERS),
    "api:equalities-member": Route(anonymous=401, allowed=frozenset(), objects="member"),
    "api:member-export": Route(anonymous=401, allowed=STAFF),
    "api:dues-rate-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:dues-rate-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:dues-member-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:dues-payment-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:dues-payment-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:campaign-list": Route(anonymous=401, allowed=MANAGERS),
    "api:campaign-detail": Route(anonymous=401, allowed=MANAGERS, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:campaign-cancel": Route(anonymous=401, allowed=MANAGERS, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:campaign-preview": Route(anonymous=401, allowed=MANAGERS, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:campaign-progress": Route(anonymous=401, allowed=MANAGERS, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:campaign-schedule": Route(anonymous=401, allowed=MANAGERS, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:message-list": Route(anonymous=401, allowed=MANAGERS),
    "api:message-detail": Route(anonymous=401, allowed=MANAGERS, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:segment-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:segment-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:segment-members": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:conversation-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:conversation-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:conversation-follow-up-done": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:assessment-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:assessment-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:organising-workplace-list": Route(anonymous=401, allowed=STAFF),
    "api:training-gaps": Route(anonymous=401, allowed=MANAGERS),
    "api:event-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:event-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:event-check-in": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:registration-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:registration-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:registration-cancel": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:training-record-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:training-record-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:election-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:election-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:election-candidates": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:election-questions": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:election-results": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:election-roll": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:election-turnout": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    # Election steps (POST only) and branch nominations; an unknown election is 404 like one out of scope.
    "api:election-open-voting": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:election-close": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:election-publish": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:election-nominations": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    # Candidates' photos: the picture itself needs no sign-in on the ballot page's signed link, so anonymous
    # and signed-in alike get 404 for one that does not exist or may not be seen.
    "elections:candidate_photo": Route(
        anonymous=404, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID, "candidate_id": NO_SUCH_ID}
    ),
    "elections:candidate_photo_edit": Route(
        anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"election_id": NO_SUCH_ID, "candidate_id": NO_SUCH_ID}
    ),
    # Conferences and member calls: branch secretaries and members write too, so every signed-in user reaches
    # the lists (each shows only what the user may see; the services refuse the rest).
    "api:event-motions-deadline": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:event-delegate-allocations": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:event-stewards": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:motion-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:motion-agenda": Route(anonymous=401, allowed=SIGNED_IN, ok=405),
    "api:motion-composite": Route(anonymous=401, allowed=SIGNED_IN, ok=405),
    "api:motion-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:motion-amendments": Route(anonymous=401, allowed=SIGNED_IN, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:delegate-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:delegate-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:call-question-list": Route(anonymous=401, allowed=SIGNED_IN),
    "api:call-question-detail": Route(anonymous=401, allowed=SIGNED_IN, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "events:event_edit": Route(anonymous=302, allowed=SIGNED_IN, ok=404, kwargs={"event_id": NO_SUCH_ID}),
    "events:steward_remove": Route(
        anonymous=302, allowed=SIGNED_IN, ok=405, kwargs={"event_id": NO_SUCH_ID, "steward_id": NO_SUCH_ID}
    ),
    "api:import-list": Route(anonymous=401, allowed=MANAGERS),
    "api:import-detail": Route(anonymous=401, allowed=MANAGERS, ok=404, kwargs={"pk": NO_SUCH_ID}),
    "api:import-confirm": Route(anonymous=401, allowed=MANAGERS, ok=405, kwargs={"pk": NO_SUCH_ID}),
    "api:import-report": Route(anonymous=401, allowed=MANAGERS, ok=404, kwargs={"pk": NO_SUCH_ID}),
    # API
    "api:token": Route(anonymous=405, allowed=SIGNED_IN, ok=405),  # POST only
    "api:schema": Route(anonymous=200, allowed=SIGNED_IN),
    "api:docs": Route(anonymous=200, allowed=SIGNED_IN),
    **{f"api:{resource}-{kind}": _api(resource) for resource in RESOURCES for kind in ("list", "detail")},
}
# The admin has a route per model and action; tests/crm/test_admin.py covers its scope. Here: staff only.
ADMIN_PREFIX = "admin/"


def url_routes() -> list[tuple[str, str, list[str]]]:
    """(name, pattern, parameter names) for every route in the URLconf, found by walking it."""

    def walk(patterns, prefix: str, namespace: str | None):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(filter(None, [namespace, entry.namespace])) or None
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                params = list(entry.pattern.converters) or list(entry.pattern.regex.groupindex)
                yield name or "", prefix + str(entry.pattern), params

    return list(walk(get_resolver().url_patterns, "", None))


# The email provider's webhooks (django-anymail, one route per provider it supports): public by design, as
# a provider cannot sign in; each answers only to the shared secret in ANYMAIL's WEBHOOK_SECRET, so a GET
# without it is refused (403) for everyone.
ROUTES.update(
    {
        name: Route(anonymous=403, allowed=frozenset(), refused=403)
        for name, _pattern, _params in url_routes()
        if name.startswith("anymail:")
    }
)


def _suggested_entry(name: str, pattern: str, params: list[str]) -> str:
    """The ROUTES line to fill in for a route that has none: its name, a guess at what signed-out GET answers
    (401 for the API, 302 to sign in for a page) and a placeholder for each parameter."""
    anonymous = 401 if name.startswith("api:") else 302
    args = [f"anonymous={anonymous}", "allowed=STAFF"]
    if len(params) == 1 and params[0] not in {"token", "job_id"}:
        args.append('objects="..."')  # the kind of object named by <params[0]>; see route_objects()
    elif params:
        args.append("kwargs={" + ", ".join(f'"{param}": NO_SUCH_ID' for param in params) + "}")
    return f"    {name!r}: Route({', '.join(args)}),  # /{pattern}"


def test_every_route_has_a_scope_expectation():
    missing = [
        _suggested_entry(name or "(unnamed)", pattern, params)
        for name, pattern, params in url_routes()
        if not pattern.startswith(ADMIN_PREFIX) and name not in ROUTES
    ]
    assert not missing, (
        f"{len(missing)} route(s) have no scope expectation. Add each line below to ROUTES in "
        "tests/api/test_scope_matrix.py and correct it from the route's permissions and its README table:\n"
        "  anonymous: what GET answers signed out (302 to sign in, 401 for the API; a public page: 200, with the "
        "reason in a comment)\n"
        "  allowed: the personas served (SIGNED_IN, STAFF, MANAGERS, RESULTS, COUNTERS or a frozenset); ok: what "
        "they get (405 for POST only); refused: what the others get (403)\n"
        "  objects: for a route taking one id, the kind of object (add the kind to route_objects(): every "
        "object of it in the fixture and who sees which; out of scope must answer like a nonexistent id)\n"
        "  kwargs: otherwise, a value for each parameter (NO_SUCH_ID, or a bad token)\n\n" + "\n".join(missing)
    )
    stale = set(ROUTES) - {name for name, _pattern, _params in url_routes()}
    assert not stale, f"ROUTES names routes the URLconf no longer has: {sorted(stale)}"
    for name, route in ROUTES.items():
        if route.api_resource:
            assert route.api_resource in RESOURCES, f"{name}: add {route.api_resource!r} to the API matrix above"


@pytest.fixture
def route_objects(union, positions):
    """For each kind of object a route's id can name: every object in the fixture, and who sees which."""
    from elections.services import count_from_blt
    from tests.elections.test_pages import BLT

    count = count_from_blt(
        actor=union.users.scrutineer, title="Branch committee", blt_text=BLT, method="stv", rule="scottish", seed="s"
    )
    expected = expected_visible(union, positions)
    objects = all_objects(union, positions)
    return {
        "member": (objects["member"], expected["member"]),
        "position": (objects["position"], expected["position"]),
        "workplace": (objects["workplace"], expected["workplace"]),
        "count": ({count}, {persona: {count} if persona in RESULTS else set() for persona in PERSONAS}),
    }


def _client(union, persona):
    client = Client()
    if persona is not None:
        client.force_login(getattr(union.users, persona))
    return client


ROUTE_NAMES = [name for name, route in ROUTES.items() if route.api_resource is None]


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_route_answers_each_persona_as_expected(union, route_objects, settings, name):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # who gets what, whether or not a worker runs (/healthz)
    route = ROUTES[name]
    params = next(params for route_name, _pattern, params in url_routes() if route_name == name)
    if route.objects is None:
        url = reverse(name, kwargs=route.kwargs or {})
        assert _client(union, None).get(url).status_code == route.anonymous, "anonymous"
        for persona in PERSONAS:
            expected = route.ok if persona in route.allowed else route.refused
            assert _client(union, persona).get(url).status_code == expected, persona
        return
    (param,) = params
    objects, visible = route_objects[route.objects]
    some = next(iter(objects))
    assert _client(union, None).get(reverse(name, kwargs={param: some.pk})).status_code == route.anonymous
    for persona in PERSONAS:
        client = _client(union, persona)
        missing = client.get(reverse(name, kwargs={param: NO_SUCH_ID}))
        if persona in route.allowed or visible[persona]:
            assert missing.status_code == 404, persona
        for obj in objects:
            response = client.get(reverse(name, kwargs={param: obj.pk}))
            if obj not in visible[persona]:
                # Out of scope looks exactly like a nonexistent id.
                assert (response.status_code, response.content) == (404, missing.content), (persona, obj)
            else:
                expected = route.ok if persona in route.allowed else route.refused
                if route.own_record is not None and obj == getattr(union.users, persona).member:
                    expected = route.own_record
                assert response.status_code == expected, (persona, obj)


@pytest.mark.parametrize("persona", [None, "organiser_north", "rep_oak", "member_oak", "scrutineer"])
def test_the_admin_is_for_admin_staff_only(union, persona):
    response = _client(union, persona).get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
