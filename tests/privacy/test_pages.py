"""Staff pages: the export download and erasure (national admins only, audited, confirmed), the retention
report, and organisers acting on members' requests to close their membership. Hostile input changes nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, ClosureRequest, Member
from tests.api.conftest import take_snapshot

pytestmark = pytest.mark.django_db


def signed_in(union, persona: str, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(getattr(union.users, persona))
    return client


def test_a_national_admin_downloads_a_members_export_and_it_is_audited(owen, union):
    before = AuditEntry.objects.filter(member=owen.member, action="export").count()
    response = signed_in(union, "national").get(reverse("member_data_export", args=[owen.member.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    export = json.loads(response.content)
    assert export["member"]["email"] == owen.member.email
    entry = AuditEntry.objects.filter(member=owen.member, action="export").latest("id")
    assert AuditEntry.objects.filter(member=owen.member, action="export").count() == before + 1
    assert entry.actor == union.users.national and "national admin" in entry.summary


def test_the_member_page_offers_export_and_erasure_to_national_admins_only(owen, union):
    url = reverse("member_detail", args=[owen.member.pk])
    national = signed_in(union, "national").get(url).content.decode()
    assert reverse("member_data_export", args=[owen.member.pk]) in national
    assert reverse("member_erase", args=[owen.member.pk]) in national
    organiser = signed_in(union, "organiser_north").get(url).content.decode()
    assert reverse("member_data_export", args=[owen.member.pk]) not in organiser


@pytest.mark.parametrize("persona", ["organiser_north", "rep_oak", "member_oak"])
def test_staff_who_see_the_member_but_are_not_national_are_refused(owen, union, persona):
    client = signed_in(union, persona)
    before = take_snapshot()
    assert client.get(reverse("member_data_export", args=[owen.member.pk])).status_code == 403
    assert client.get(reverse("member_erase", args=[owen.member.pk])).status_code == 403
    post = client.post(reverse("member_erase", args=[owen.member.pk]), {"reason": "x", "confirm_number": "x"})
    assert post.status_code == 403
    assert take_snapshot() == before


def test_erasure_page_shows_refusals_for_a_current_member_and_erases_nothing(union):
    elm = union.members.elm
    client = signed_in(union, "national")
    page = client.get(reverse("member_erase", args=[elm.pk]))
    assert page.status_code == 200 and "still a member" in page.content.decode()
    before = take_snapshot()
    number = elm.membership_number
    response = client.post(reverse("member_erase", args=[elm.pk]), {"reason": "x", "confirm_number": number})
    assert response.status_code == 400
    assert take_snapshot() == before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"reason": "Asked", "confirm_number": ""},
        {"reason": "Asked", "confirm_number": "Q9999999"},
        {"reason": "", "confirm_number": "MATCH"},
        {"reason": "x" * 5000, "confirm_number": "MATCH"},
        {"reason": "<script>alert(1)</script>", "confirm_number": "MATCH' OR 1=1 --"},
    ],
)
def test_erasure_needs_a_reason_and_the_membership_number(owen, union, data):
    data = {k: owen.member.membership_number if v == "MATCH" else v for k, v in data.items()}
    before = take_snapshot()
    response = signed_in(union, "national").post(reverse("member_erase", args=[owen.member.pk]), data)
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert take_snapshot() == before


def test_a_national_admin_erases_with_confirmation(owen, union):
    client = signed_in(union, "national")
    assert "cannot be undone" in client.get(reverse("member_erase", args=[owen.member.pk])).content.decode()
    response = client.post(
        reverse("member_erase", args=[owen.member.pk]),
        {"reason": "Asked to be forgotten", "confirm_number": owen.member.membership_number.lower()},
    )
    assert response.status_code == 302
    assert Member.objects.get(pk=owen.member.pk).erased_at is not None


def test_a_forged_post_without_the_csrf_token_is_refused(owen, union):
    client = signed_in(union, "national", enforce_csrf_checks=True)
    response = client.post(
        reverse("member_erase", args=[owen.member.pk]),
        {"reason": "Forged", "confirm_number": owen.member.membership_number},
    )
    assert response.status_code == 403
    assert Member.objects.get(pk=owen.member.pk).erased_at is None


def test_out_of_scope_is_like_nonexistent(owen, union):
    # organiser_bristol cannot see Owen: 404, exactly like an id that does not exist.
    client = signed_in(union, "organiser_bristol")
    for name in ("member_data_export", "member_erase"):
        missing = client.get(reverse(name, args=[987_654]))
        hidden = client.get(reverse(name, args=[owen.member.pk]))
        assert (hidden.status_code, hidden.content) == (404, missing.content)


def test_the_retention_page_is_a_dry_run(owen, union):
    before = take_snapshot()
    response = signed_in(union, "national").get(reverse("retention"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "QUORUM_RETENTION_LEFT_MEMBER_YEARS" in html and "dry run" in html.lower()
    assert take_snapshot() == before
    assert signed_in(union, "organiser_north").get(reverse("retention")).status_code == 403


# --- Requests to close membership ---------------------------------------------------------------------------


@pytest.fixture
def open_request(union):
    return ClosureRequest.objects.create(
        member=union.members.oak, requested_by=union.users.member_oak, reason="Leaving teaching"
    )


def test_organisers_see_requests_in_their_patch_only(union, open_request):
    html = signed_in(union, "organiser_north").get(reverse("closure_request_list")).content.decode()
    assert "Owen Oakley" in html and "Leaving teaching" in html
    other = signed_in(union, "organiser_bristol").get(reverse("closure_request_list")).content.decode()
    assert "Owen Oakley" not in other
    assert signed_in(union, "rep_oak").get(reverse("closure_request_list")).status_code == 403


def test_an_organiser_closes_the_membership_on_request(union, open_request):
    url = reverse("closure_request_resolve", args=[open_request.pk])
    response = signed_in(union, "organiser_north").post(url, {"outcome": "close"})
    assert response.status_code == 302
    open_request.refresh_from_db()
    assert open_request.status == "closed" and open_request.handled_by == union.users.organiser_north
    assert Member.objects.get(pk=union.members.oak.pk).status == "resigned"
    assert AuditEntry.objects.filter(member=union.members.oak, summary="Closed membership on request").exists()
    # A second go is refused and changes nothing.
    before = take_snapshot()
    signed_in(union, "organiser_north").post(url, {"outcome": "resolve", "note": "again"})
    assert take_snapshot() == before


def test_resolving_without_closing_needs_a_note(union, open_request):
    url = reverse("closure_request_resolve", args=[open_request.pk])
    client = signed_in(union, "organiser_north")
    for data in ({"outcome": "resolve"}, {"outcome": "resolve", "note": "x" * 501}, {"outcome": "delete"}, {}):
        before = take_snapshot()
        client.post(url, data)
        open_request.refresh_from_db()
        assert open_request.status == "open" and take_snapshot() == before
    client.post(url, {"outcome": "resolve", "note": "Talked it through: staying"})
    open_request.refresh_from_db()
    assert open_request.status == "resolved"
    assert Member.objects.get(pk=union.members.oak.pk).status == "active"


@pytest.mark.parametrize("persona", ["organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"])
def test_others_cannot_act_on_a_request(union, open_request, persona):
    before = take_snapshot()
    response = signed_in(union, persona).post(
        reverse("closure_request_resolve", args=[open_request.pk]), {"outcome": "close"}
    )
    assert response.status_code in (403, 404)
    open_request.refresh_from_db()
    assert open_request.status == "open" and take_snapshot() == before


def test_the_demo_flush_empties_closure_requests_too(union, open_request):
    from crm.management.demo_seed import flush_crm_data

    flush_crm_data()
    assert not ClosureRequest.objects.exists() and not Member.objects.exists()
