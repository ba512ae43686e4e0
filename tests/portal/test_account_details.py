"""My details: a member changes their own contact details and address; a workplace move waits for an
organiser in their patch. Forged fields are ignored, bad input refused with nothing changed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, WorkplaceChange
from crm.services import member_account

pytestmark = pytest.mark.django_db

DETAILS = {
    "email": "owen.new@example.org",
    "mobile": "07911 123 457",
    "address_line1": "1 Chapel Row",
    "address_line2": "",
    "town": "Leeds",
    "postcode": "LS1 1AA",
}


def snapshot(member: Member) -> dict:
    member.refresh_from_db()
    return {f.attname: getattr(member, f.attname) for f in Member._meta.concrete_fields}


@pytest.fixture
def owen(client, union):
    client.force_login(union.users.member_oak)
    return union.members.oak


def test_a_member_changes_their_contact_details_and_each_change_is_audited(client, union, owen):
    page = client.get(reverse("portal:details"))
    assert page.status_code == 200 and owen.membership_number in page.content.decode()
    response = client.post(reverse("portal:details"), DETAILS)
    assert response.status_code == 302
    owen.refresh_from_db()
    assert owen.email == "owen.new@example.org" and owen.mobile == "+447911123457"  # E.164
    assert (owen.address_line1, owen.town, owen.postcode) == ("1 Chapel Row", "Leeds", "LS1 1AA")
    entry = AuditEntry.objects.get(member=owen, action="update")
    assert entry.actor == union.users.member_oak
    assert entry.changes["mobile"] == ["", "+447911123457"] and "email" in entry.changes


def test_forged_fields_are_ignored(client, union, owen):
    before = snapshot(owen)
    forged = {
        "membership_number": "X1",
        "status": "resigned",
        "has_arrears": "on",
        "branch": union.branches.bristol.pk,
        "workplace": union.workplaces.ash.pk,
        "category": "leader",
        "first_name": "Mallory",
        "email_consent": "on",
        "member_id": union.members.elm.pk,
    }
    assert client.post(reverse("portal:details"), DETAILS | forged).status_code == 302
    after = snapshot(owen)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"email", "mobile", "address_line1", "town", "postcode"}
    assert snapshot(union.members.elm)["email"] != DETAILS["email"]
    with pytest.raises(ServiceError, match="cannot be changed here"):
        member_account.update_own_details(user=union.users.member_oak, details={"status": "resigned"})


@pytest.mark.parametrize(
    "bad",
    [
        {"mobile": "12"},
        {"mobile": "0" * 40},
        {"email": "not-an-email"},
        {"email": "a" * 300 + "@example.org"},
        {"postcode": "LS1 1AA" * 5},
        {"address_line1": "x" * 10_000},
    ],
)
def test_bad_details_are_refused_and_nothing_changes(client, union, owen, bad):
    before = snapshot(owen)
    response = client.post(reverse("portal:details"), DETAILS | bad)
    assert response.status_code == 400
    assert snapshot(owen) == before and not AuditEntry.objects.filter(member=owen).exists()


def test_hostile_text_is_stored_as_text_and_shown_escaped(client, owen):
    client.post(reverse("portal:details"), DETAILS | {"address_line2": "<script>alert(1)</script>"})
    html = client.get(reverse("portal:details")).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_another_members_address_is_refused(client, union, owen):
    before = snapshot(owen)
    response = client.post(reverse("portal:details"), DETAILS | {"email": union.members.elm.email.upper()})
    assert response.status_code == 400 and "contact your branch" in response.content.decode()
    assert snapshot(owen) == before


def test_removing_the_mobile_ends_text_consent(client, owen):
    Member.objects.filter(pk=owen.pk).update(mobile="+447911123457", sms_consent=True, sms_consent_source="join_form")
    assert client.post(reverse("portal:details"), DETAILS | {"mobile": ""}).status_code == 302
    owen.refresh_from_db()
    assert owen.mobile == "" and not owen.sms_consent and owen.sms_consent_source == "member_portal"


# --- Workplace moves ------------------------------------------------------------------------------------------


def test_search_by_name_or_postcode(client, union, owen):
    union.workplaces.elm.postcode = "YO1 7HH"
    union.workplaces.elm.save()
    for query in ("elm", "YO1", "yo17hh"):
        html = client.get(reverse("portal:workplace_change"), {"q": query}).content.decode()
        assert "Elm Academy" in html and "Ash College" not in html, query
    for query in ("e", "x" * 101):
        response = client.get(reverse("portal:workplace_change"), {"q": query})
        assert response.status_code == 400 and 'name="workplace"' not in response.content.decode()


def test_a_move_waits_for_the_organiser_of_the_patch(client, union, owen):
    elm = union.workplaces.elm
    response = client.post(reverse("portal:workplace_change"), {"q": "Elm", "workplace": elm.pk})
    assert response.status_code == 302
    change = WorkplaceChange.objects.get(member=owen, status="pending")
    owen.refresh_from_db()
    assert owen.workplace == union.workplaces.oak  # nothing applied yet
    assert "waiting" in client.get(reverse("portal:details")).content.decode().lower()

    # Bristol's organiser neither sees it nor can decide it: 404, like a request that does not exist.
    client.force_login(union.users.organiser_bristol)
    assert "Owen" not in client.get(reverse("workplace_change_list")).content.decode()
    decide = reverse("workplace_change_decide", args=[change.pk])
    assert client.post(decide, {"decision": "confirm"}).status_code == 404
    with pytest.raises(NotPermitted):
        member_account.decide_workplace_change(actor=union.users.organiser_bristol, change_id=change.pk, confirm=True)

    client.force_login(union.users.organiser_north)
    assert "Owen Oakley" in client.get(reverse("workplace_change_list")).content.decode()
    assert "asked to move to Elm Academy" in client.get(reverse("member_detail", args=[owen.pk])).content.decode()
    assert client.post(decide, {"decision": "confirm", "note": "Welcome to York"}).status_code == 302
    owen.refresh_from_db()
    change.refresh_from_db()
    assert owen.workplace == elm and owen.branch == union.branches.york
    assert change.status == "confirmed" and change.decided_by == union.users.organiser_north
    assert AuditEntry.objects.filter(member=owen, summary__startswith="Changed").exists()
    # Decided once: a second decision finds nothing waiting.
    assert client.post(decide, {"decision": "reject"}).status_code == 404


def test_a_rejected_move_changes_nothing_and_the_member_sees_the_note(client, union, owen):
    member_account.request_workplace_change(user=union.users.member_oak, workplace=union.workplaces.elm)
    change = WorkplaceChange.objects.get()
    client.force_login(union.users.organiser_north)
    client.post(reverse("workplace_change_decide", args=[change.pk]), {"decision": "reject", "note": "Not on staff"})
    owen.refresh_from_db()
    assert owen.workplace == union.workplaces.oak
    client.force_login(union.users.member_oak)
    assert "Not on staff" in client.get(reverse("portal:details")).content.decode()


@pytest.mark.parametrize("workplace", ["987654", "abc", "", "<script>"])
def test_a_forged_or_missing_workplace_choice_is_refused(client, union, owen, workplace):
    response = client.post(reverse("portal:workplace_change"), {"q": "Elm", "workplace": workplace})
    assert response.status_code == 400 and not WorkplaceChange.objects.exists()


def test_a_workplace_outside_the_search_cannot_be_chosen(client, union, owen):
    response = client.post(reverse("portal:workplace_change"), {"q": "Elm", "workplace": union.workplaces.ash.pk})
    assert response.status_code == 400 and not WorkplaceChange.objects.exists()


def test_asking_again_replaces_the_waiting_request_and_withdraw_ends_it(client, union, owen):
    member_account.request_workplace_change(user=union.users.member_oak, workplace=union.workplaces.elm)
    member_account.request_workplace_change(user=union.users.member_oak, workplace=union.workplaces.ash)
    assert list(WorkplaceChange.objects.order_by("pk").values_list("status", flat=True)) == ["withdrawn", "pending"]
    assert client.post(reverse("portal:workplace_change_withdraw")).status_code == 302
    assert not WorkplaceChange.objects.filter(status="pending").exists()
    with pytest.raises(ServiceError, match="already your workplace"):
        member_account.request_workplace_change(user=union.users.member_oak, workplace=union.workplaces.oak)


def test_staff_decisions_need_a_decision(client, union, owen):
    member_account.request_workplace_change(user=union.users.member_oak, workplace=union.workplaces.elm)
    change = WorkplaceChange.objects.get()
    client.force_login(union.users.organiser_north)
    for bad in ({}, {"decision": "maybe"}, {"decision": "confirm", "note": "x" * 301}):
        client.post(reverse("workplace_change_decide", args=[change.pk]), bad)
        change.refresh_from_db()
        assert change.status == "pending", bad
    owen.refresh_from_db()
    assert owen.workplace == union.workplaces.oak


def test_a_move_out_of_the_organisers_patch_waits_for_a_national_admin(client, union, owen):
    member_account.request_workplace_change(user=union.users.member_oak, workplace=union.workplaces.ash)
    change = WorkplaceChange.objects.get()
    client.force_login(union.users.organiser_north)
    response = client.post(reverse("workplace_change_decide", args=[change.pk]), {"decision": "confirm"}, follow=True)
    assert "a national admin confirms this move" in response.content.decode()
    owen.refresh_from_db()
    change.refresh_from_db()
    assert owen.workplace == union.workplaces.oak and change.status == "pending"
    client.force_login(union.users.national)
    client.post(reverse("workplace_change_decide", args=[change.pk]), {"decision": "confirm"})
    owen.refresh_from_db()
    assert owen.workplace == union.workplaces.ash and owen.branch == union.branches.bristol
