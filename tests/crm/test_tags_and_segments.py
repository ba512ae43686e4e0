"""Tags (one member, or a whole filtered list) and segments (saved filters shared within the same scope)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, Segment, Tag, User
from crm.selectors.segments import can_use_segment, scope_key, segments_for
from crm.services.segments import bulk_tag_members, save_segment, tag_member, update_segment
from tests.api.conftest import take_snapshot
from tests.factories import PositionFactory, UserFactory

SCRIPT = "<script>alert('tag')</script>"


def tagged(tag_name: str) -> set[Member]:
    return set(Member.objects.filter(tags__name=tag_name))


# --- one member ---------------------------------------------------------------------------------------------


def test_tagging_one_member_creates_the_tag_and_audits_it(union):
    assert tag_member(actor=union.users.organiser_north, member=union.members.oak, tag_name="  strike   committee ")
    assert tagged("strike committee") == {union.members.oak}
    entry = AuditEntry.objects.get(member=union.members.oak)
    assert entry.summary == "Tagged strike committee" and entry.changes == {"tags": [[], ["strike committee"]]}
    # Again: nothing changes and no second audit row.
    assert not tag_member(actor=union.users.organiser_north, member=union.members.oak, tag_name="strike committee")
    assert AuditEntry.objects.filter(member=union.members.oak).count() == 1


def test_a_tag_with_script_in_it_is_escaped_on_the_member_page(client, union):
    client.force_login(union.users.organiser_north)
    url = reverse("member_tag", args=[union.members.oak.pk])
    assert client.post(url, {"tag": SCRIPT, "action": "add"}).status_code == 302
    html = client.get(reverse("member_detail", args=[union.members.oak.pk])).content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in html


def test_removing_an_unknown_tag_with_script_is_an_escaped_error_and_changes_nothing(client, union):
    client.force_login(union.users.organiser_north)
    before = take_snapshot()
    response = client.post(reverse("member_tag", args=[union.members.oak.pk]), {"tag": SCRIPT, "action": "remove"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "There is no tag called" in html and SCRIPT not in html and "&lt;script&gt;" in html
    assert take_snapshot() == before


@pytest.mark.parametrize("bad", ["", "   ", "x" * 61, "nul\x00", "bell\x07", "zero\u200bwidth", 42])
def test_bad_tag_names_are_refused(union, bad):
    before = take_snapshot()
    with pytest.raises(ServiceError):
        tag_member(actor=union.users.national, member=union.members.oak, tag_name=bad)
    assert take_snapshot() == before


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "organiser_bristol"])
def test_only_organisers_of_the_patch_and_national_tag_a_member(client, union, persona):
    client.force_login(getattr(union.users, persona))
    before = take_snapshot()
    response = client.post(reverse("member_tag", args=[union.members.oak.pk]), {"tag": "x", "action": "add"})
    # Outside the scope: 404, like a member that does not exist; seen but not theirs to change: 403.
    assert response.status_code == (403 if persona in {"rep_oak", "member_oak"} else 404)
    assert take_snapshot() == before


# --- bulk ---------------------------------------------------------------------------------------------------


def test_bulk_tag_tags_exactly_the_matching_members_in_scope_with_one_audit_row(union):
    m = union.members
    Tag.objects.create(name="ballot")
    m.oak.tags.add(Tag.objects.get(name="ballot"))  # already tagged: not counted again
    count = bulk_tag_members(actor=union.users.organiser_north, filters={"status": ["active"]}, tag_name="ballot")
    # Active members in the North: rep, oak, elm, supply (Ash in Bristol and the lapsed Lara are untouched).
    assert tagged("ballot") == {m.rep, m.oak, m.elm, m.supply}
    assert count == 3
    entry = AuditEntry.objects.get(target_type="crm.tag")
    assert entry.changes == {"action": "add", "tag": "ballot", "filters": {"status": ["active"]}, "members": 3}
    assert AuditEntry.objects.count() == 1  # one row for the action, none per member

    removed = bulk_tag_members(
        actor=union.users.organiser_north,
        filters={"workplace": [str(union.workplaces.oak.pk)]},
        tag_name="ballot",
        remove=True,
    )
    assert removed == 2 and tagged("ballot") == {m.elm, m.supply}


@pytest.mark.parametrize(
    "filters",
    [
        {"status": ["bogus"]},
        {"branch": ["BRISTOL"]},
        {"nonsense": ["1"]},
        {"status": [["nested"]]},
        {"q": ["x" * 101]},
        "status=active",
    ],
)
def test_bulk_tag_with_an_invalid_filter_tags_nobody(union, filters):
    if filters == {"branch": ["BRISTOL"]}:
        filters = {"branch": [str(union.branches.bristol.pk)]}  # a branch outside the North organiser's patch
    before = take_snapshot()
    with pytest.raises(ServiceError):
        bulk_tag_members(actor=union.users.organiser_north, filters=filters, tag_name="new tag")
    assert take_snapshot() == before


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "outsider"])
def test_bulk_tag_is_for_organisers_and_national_admins(union, persona):
    with pytest.raises(NotPermitted):
        bulk_tag_members(actor=getattr(union.users, persona), filters={}, tag_name="x")


def test_bulk_tag_from_the_member_list_page(client, union):
    client.force_login(union.users.organiser_north)
    query = urlencode({"status": "active", "category": "teacher"})
    listing = client.get(reverse("member_list") + "?" + query).content.decode()
    assert "Tag all 2 matching members with" in listing  # Rita and Owen: active teachers in the North
    response = client.post(reverse("bulk_tag"), {"query": query, "tag": "rally", "action": "add"})
    assert response.status_code == 302 and response["Location"].endswith("?" + query)
    assert tagged("rally") == {union.members.rep, union.members.oak}
    assert "Tagged 2 members" in client.get(response["Location"]).content.decode()


def test_bulk_tag_page_with_a_bad_filter_says_so_and_tags_nobody(client, union):
    client.force_login(union.users.organiser_north)
    before = take_snapshot()
    query = urlencode({"branch": union.branches.bristol.pk})
    response = client.post(reverse("bulk_tag"), {"query": query, "tag": SCRIPT, "action": "add"})
    html = response.content.decode()
    assert response.status_code == 400 and "cannot be used" in html and SCRIPT not in html
    assert take_snapshot() == before


def test_the_bulk_tag_page_counts_first(client, union):
    client.force_login(union.users.organiser_bristol)
    response = client.get(reverse("bulk_tag") + "?status=active")
    assert response.status_code == 200 and "1 member match" in response.content.decode()
    client.force_login(union.users.rep_oak)
    assert client.get(reverse("bulk_tag")).status_code == 403


# --- scope keys and sharing ---------------------------------------------------------------------------------


def test_same_scope_means_the_same_set_of_branches_or_workplaces(union):
    u = union.users
    north_by_branches = UserFactory(username="north_branches", role=User.Role.ORGANISER)
    north_by_branches.branches.add(union.branches.leeds, union.branches.york)
    leeds_only = UserFactory(username="leeds_only", role=User.Role.ORGANISER)
    leeds_only.branches.add(union.branches.leeds)
    other_national = UserFactory(username="national2", role=User.Role.NATIONAL_ADMIN)
    assert scope_key(north_by_branches) == scope_key(u.organiser_north)  # a region or its branches: the same
    assert scope_key(leeds_only) != scope_key(u.organiser_north)
    assert scope_key(other_national) == scope_key(u.national) == "national"
    assert scope_key(u.organiser_bristol) != scope_key(u.organiser_north)
    assert scope_key(u.rep_oak) == f"workplaces:{union.workplaces.oak.pk}"
    assert scope_key(u.member_oak) is None and scope_key(u.scrutineer) is None and scope_key(u.outsider) is None


@pytest.fixture
def colleagues(union):
    """A second North organiser (by branches), a second Oak rep, and a Leeds-only organiser."""
    north2 = UserFactory(username="north2", role=User.Role.ORGANISER)
    north2.branches.add(union.branches.leeds, union.branches.york)
    leeds_only = UserFactory(username="leeds_only", role=User.Role.ORGANISER)
    leeds_only.branches.add(union.branches.leeds)
    rep2_member = union.members.oak
    PositionFactory(member=rep2_member, workplace=union.workplaces.oak, kind="health_safety_rep")
    union.users.member_oak.role = User.Role.REP
    union.users.member_oak.save()
    return type("Colleagues", (), {"north2": north2, "leeds_only": leeds_only, "rep2": union.users.member_oak})


def test_a_shared_segment_is_seen_by_colleagues_of_the_same_scope_only(union, colleagues):
    segment = save_segment(
        actor=union.users.organiser_north, name="Active", filters={"status": ["active"]}, is_shared=True
    )
    assert can_use_segment(colleagues.north2, segment)
    assert not can_use_segment(colleagues.leeds_only, segment)
    assert not can_use_segment(union.users.organiser_bristol, segment)
    assert not can_use_segment(union.users.national, segment)  # national admins share with national admins
    assert segments_for(colleagues.north2) == ([], [segment])
    # If the owner's patch changes, the colleague no longer has the same scope, and loses it.
    union.users.organiser_north.branches.add(union.branches.bristol)
    assert not can_use_segment(colleagues.north2, segment)


def test_sharing_by_name_only_with_the_same_scope(union, colleagues):
    before = take_snapshot()
    with pytest.raises(ServiceError, match="exactly the same area"):
        save_segment(actor=union.users.organiser_north, name="A", filters={}, shared_with=["leeds_only"])
    with pytest.raises(ServiceError, match="exactly the same area"):
        save_segment(actor=union.users.organiser_north, name="A", filters={}, shared_with=["north2", "nobody"])
    assert take_snapshot() == before and not Segment.objects.exists()
    segment = save_segment(actor=union.users.organiser_north, name="A", filters={}, shared_with=["north2"])
    assert can_use_segment(colleagues.north2, segment) and not segment.is_shared
    rep_segment = save_segment(
        actor=union.users.rep_oak, name="Oak", filters={}, shared_with=[colleagues.rep2.username]
    )
    assert can_use_segment(colleagues.rep2, rep_segment)
    with pytest.raises(ServiceError):
        update_segment(actor=union.users.organiser_north, segment=segment, shared_with=["organiser_bristol"])
    assert list(segment.shared_with.all()) == [colleagues.north2]


def test_members_and_scrutineers_cannot_save_segments(union):
    for persona in ("member_oak", "scrutineer", "outsider"):
        with pytest.raises(NotPermitted):
            save_segment(actor=getattr(union.users, persona), name="x", filters={})


def test_a_segment_cannot_be_saved_with_filters_outside_the_scope(union):
    with pytest.raises(ServiceError, match="cannot be used"):
        save_segment(actor=union.users.organiser_north, name="x", filters={"branch": [str(union.branches.bristol.pk)]})
    assert not Segment.objects.exists()


# --- segment pages ------------------------------------------------------------------------------------------


def test_save_the_member_list_as_a_segment_then_open_rename_and_delete_it(client, union, colleagues):
    client.force_login(union.users.organiser_north)
    query = urlencode({"status": "lapsed", "page": "2"})
    response = client.post(reverse("segment_create"), {"query": query, "name": "Lapsed", "is_shared": "on"})
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.filters == {"status": ["lapsed"]} and segment.is_shared  # the page number is not a filter
    html = client.get(reverse("segment_list")).content.decode()
    assert 'href="/members/?status=lapsed"' in html
    assert "<strong>1</strong> member match" in client.get("/members/?status=lapsed").content.decode()

    client.force_login(colleagues.north2)
    assert "Lapsed" in client.get(reverse("segment_list")).content.decode()
    assert client.get(reverse("segment_edit", args=[segment.pk])).status_code == 403  # shared, not theirs
    assert client.post(reverse("segment_delete", args=[segment.pk])).status_code == 403
    client.force_login(union.users.organiser_bristol)
    assert "Lapsed" not in client.get(reverse("segment_list")).content.decode()
    assert client.get(reverse("segment_edit", args=[segment.pk])).status_code == 404

    client.force_login(union.users.organiser_north)
    response = client.post(reverse("segment_edit", args=[segment.pk]), {"name": SCRIPT, "shared_with": ""})
    assert response.status_code == 302
    html = client.get(reverse("segment_list")).content.decode()
    assert SCRIPT not in html and "&lt;script&gt;" in html
    response = client.post(
        reverse("segment_edit", args=[segment.pk]), {"name": "x", "shared_with": "organiser_bristol"}
    )
    assert response.status_code == 400 and "exactly the same area" in response.content.decode()
    assert client.post(reverse("segment_delete", args=[segment.pk])).status_code == 302
    assert not Segment.objects.exists()


def test_segment_form_errors(client, union):
    client.force_login(union.users.organiser_north)
    response = client.post(reverse("segment_create"), {"query": "status=bogus", "name": "Bad"})
    assert response.status_code == 400 and "cannot be used" in response.content.decode()
    response = client.post(reverse("segment_create"), {"query": "", "name": ""})
    assert response.status_code == 400
    save_segment(actor=union.users.organiser_north, name="Twice", filters={})
    response = client.post(reverse("segment_create"), {"query": "", "name": "Twice"})
    assert response.status_code == 400 and "already have a segment" in response.content.decode()
    assert Segment.objects.count() == 1


@pytest.mark.parametrize("persona", ["member_oak", "scrutineer", "outsider"])
def test_segment_pages_are_not_for_members_or_scrutineers(client, union, persona):
    client.force_login(getattr(union.users, persona))
    assert client.get(reverse("segment_list")).status_code == 403
    assert client.post(reverse("segment_create"), {"query": "", "name": "x"}).status_code == 403
    assert not Segment.objects.exists()


# --- long lists in the background ---------------------------------------------------------------------------


def test_the_bulk_tag_task_reports_progress_and_running_it_twice_changes_nothing(union):
    from crm import tasks

    user = union.users.organiser_north
    first = tasks.bulk_tag_members.apply(args=[user.pk, {"status": ["active"]}, "ballot"]).get()
    second = tasks.bulk_tag_members.apply(args=[user.pk, {"status": ["active"]}, "ballot"]).get()
    assert (first, second) == (4, 0)
    assert tagged("ballot") == {union.members.rep, union.members.oak, union.members.elm, union.members.supply}
    assert AuditEntry.objects.filter(target_type="crm.tag").count() == 1  # the second run changed nothing
    reports = []
    bulk_tag_members(
        actor=user, filters={}, tag_name="everyone", progress=lambda done, total: reports.append((done, total))
    )
    assert reports and reports[-1][0] == reports[-1][1]


def test_a_bulk_tag_job_page_is_only_for_the_session_that_started_it(client, union):
    client.force_login(union.users.organiser_north)
    assert client.get(reverse("bulk_tag_job", args=["made-up-id"])).status_code == 404


@pytest.mark.services
def test_a_long_list_is_tagged_by_a_worker_with_a_progress_page(client, union, celery_worker_process, monkeypatch):
    import time

    from crm import tasks
    from crm.views import segments as segment_views

    monkeypatch.setattr(segment_views, "BULK_TAG_IN_BACKGROUND", 0)  # every list goes to the worker
    monkeypatch.setattr(tasks.bulk_tag_members, "delay", lambda *args: tasks.bulk_tag_members.apply_async(
        args=args, queue=celery_worker_process))  # fmt: skip
    client.force_login(union.users.organiser_north)
    response = client.post(reverse("bulk_tag"), {"query": "status=active", "tag": "rally", "action": "add"})
    assert response.status_code == 302 and "/members/bulk-tag/jobs/" in response["Location"]
    deadline = time.monotonic() + 60
    while True:
        html = client.get(response["Location"]).content.decode()
        if "Done:" in html or time.monotonic() > deadline:
            break
        assert 'http-equiv="refresh"' in html
        time.sleep(0.5)
    assert "Done: 4 members gained the tag." in html
    assert tagged("rally") == {union.members.rep, union.members.oak, union.members.elm, union.members.supply}
