"""My data: a member reads and downloads everything held on them (never anyone else's), and asks to close
their membership, which only creates a request. Forged and malformed posts change nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, ClosureRequest, EqualitiesAccess, EqualitiesAnswers, Member
from tests.api.conftest import take_snapshot

pytestmark = pytest.mark.django_db


def signed_in(union, persona: str = "member_oak", **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(getattr(union.users, persona))
    return client


def test_the_page_shows_what_is_held_and_nothing_of_anyone_else(union):
    union.members.oak.notes = "Prefers calls after school"
    union.members.oak.save()
    response = signed_in(union).get(reverse("portal:data"))
    assert response.status_code == 200
    html = response.content.decode()
    assert union.members.oak.email in html and "Prefers calls after school" in html
    assert "cannot be" in html and "ballot" in html.lower()  # ballots are not linkable, and it says so
    assert reverse("portal:data_json") in html and reverse("portal:data_close") in html
    for other in (union.members.rep, union.members.elm, union.members.oak_lapsed):
        assert other.email not in html and other.membership_number not in html


def test_the_download_is_the_same_export_and_is_audited(union):
    before = AuditEntry.objects.filter(member=union.members.oak, action="export").count()
    response = signed_in(union).get(reverse("portal:data_json"))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    export = json.loads(response.content)
    assert export["member"]["membership_number"] == union.members.oak.membership_number
    assert export["account"]["username"] == "member_oak"
    assert AuditEntry.objects.filter(member=union.members.oak, action="export").count() == before + 1


def test_reading_equalities_answers_here_is_logged_like_any_read(union):
    from django.utils import timezone

    EqualitiesAnswers.objects.create(
        member=union.members.oak, ethnicity="white_irish", entered_by="member", consent_wording_version="2026-1",
        consent_recorded_at=timezone.now(), consent_recorded_by=union.users.member_oak,
    )  # fmt: skip
    signed_in(union).get(reverse("portal:data"))
    assert EqualitiesAccess.objects.filter(member=union.members.oak, reader=union.users.member_oak).exists()


def test_a_query_string_naming_another_member_is_ignored(union):
    other = union.members.elm
    response = signed_in(union).get(reverse("portal:data_json"), {"member": other.pk, "member_id": other.pk})
    export = json.loads(response.content)
    assert export["member"]["id"] == union.members.oak.pk
    assert other.email not in response.content.decode()


@pytest.mark.parametrize("persona", ["national", "organiser_north", "scrutineer", "outsider"])
def test_accounts_without_a_member_record_are_refused(union, persona):
    client = signed_in(union, persona)
    for name in ("portal:data", "portal:data_json", "portal:data_close"):
        assert client.get(reverse(name)).status_code == 403
    before = take_snapshot()
    assert client.post(reverse("portal:data_close"), {"confirm": "on"}).status_code == 403
    assert take_snapshot() == before and not ClosureRequest.objects.exists()


def test_signed_out_goes_to_sign_in(union):
    for name in ("portal:data", "portal:data_json", "portal:data_close"):
        response = Client().get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    Client().post(reverse("portal:data_close"), {"confirm": "on"})
    assert not ClosureRequest.objects.exists()


def test_asking_to_close_membership_creates_a_request_and_changes_nothing_else(union):
    client = signed_in(union)
    assert "Send my request" in client.get(reverse("portal:data_close")).content.decode()
    member_before = list(Member.objects.values())
    response = client.post(reverse("portal:data_close"), {"confirm": "on", "reason": "Leaving teaching"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:data")
    request = ClosureRequest.objects.get()
    assert (request.member, request.status, request.reason) == (union.members.oak, "open", "Leaving teaching")
    assert list(Member.objects.values()) == member_before  # a request, not a change
    assert AuditEntry.objects.filter(member=union.members.oak, summary="Asked to close membership").exists()
    # Asking again while it is open makes no second request; the pages say it is waiting.
    client.post(reverse("portal:data_close"), {"confirm": "on", "reason": "again"})
    assert ClosureRequest.objects.count() == 1
    assert "You already asked" in client.get(reverse("portal:data_close")).content.decode()
    assert "An organiser will contact you" in client.get(reverse("portal:data")).content.decode()


@pytest.mark.parametrize(
    "data",
    [{}, {"reason": "no tick"}, {"confirm": "", "reason": "x"}, {"confirm": "on", "reason": "x" * 1001}],
)
def test_a_request_needs_confirmation_and_a_short_reason(union, data):
    before = take_snapshot()
    response = signed_in(union).post(reverse("portal:data_close"), data)
    assert response.status_code == 400 and "There is a problem" in response.content.decode()
    assert not ClosureRequest.objects.exists() and take_snapshot() == before


def test_a_forged_post_without_the_csrf_token_is_refused(union):
    response = signed_in(union, enforce_csrf_checks=True).post(reverse("portal:data_close"), {"confirm": "on"})
    assert response.status_code == 403
    assert not ClosureRequest.objects.exists()


def test_a_request_names_the_signed_in_member_whatever_the_form_says(union):
    signed_in(union).post(
        reverse("portal:data_close"),
        {"confirm": "on", "member": union.members.elm.pk, "member_id": union.members.elm.pk},
    )
    assert list(ClosureRequest.objects.values_list("member", flat=True)) == [union.members.oak.pk]


def test_the_portal_menu_and_home_link_to_my_data(union):
    html = signed_in(union).get(reverse("portal:home")).content.decode()
    assert html.count(f'href="{reverse("portal:data")}"') == 2
