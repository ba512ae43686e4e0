"""Conversations, follow-ups and assessments: from the member page and a rep's workplace page, within scope."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import Assessment, Conversation
from crm.services.conversations import complete_follow_up, log_conversation, record_assessment
from tests.api.conftest import take_snapshot

ROLES = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]
TODAY = datetime.date.today


def snapshot() -> dict:
    return take_snapshot() | {
        "conversations": list(Conversation.objects.values()),
        "assessments": list(Assessment.objects.values()),
    }


def conversation_form(**overrides) -> dict:
    data = {"channel": "phone", "held_on": TODAY().isoformat(), "outcome": "supportive", "notes": "Keen on the ballot."}
    return data | overrides


def test_a_rep_logs_a_conversation_from_their_workplace_page_and_goes_back_there(client, union):
    client.force_login(union.users.rep_oak)
    workplace_url = reverse("workplace_detail", args=[union.workplaces.oak.pk])
    html = client.get(workplace_url).content.decode()
    create_url = reverse("conversation_create", args=[union.members.oak.pk])
    assert f'href="{create_url}?from=workplace"' in html
    # The rep's own row has no such link: nobody logs conversations with themselves.
    assert reverse("conversation_create", args=[union.members.rep.pk]) not in html
    follow_up = (TODAY() + datetime.timedelta(days=7)).isoformat()
    response = client.post(create_url + "?from=workplace", conversation_form(follow_up_on=follow_up))
    assert response.status_code == 302 and response["Location"] == workplace_url
    conversation = Conversation.objects.get()
    assert conversation.member == union.members.oak and conversation.logged_by == union.users.rep_oak
    assert conversation.follow_up_on.isoformat() == follow_up


def test_the_member_page_shows_conversations_and_the_latest_assessment_with_history(client, union):
    organiser, member = union.users.organiser_north, union.members.oak
    log_conversation(actor=organiser, member=member, channel="in_person", held_on=TODAY(), outcome="agreed_to_act",
                     notes="<b>bold</b> plans")  # fmt: skip
    record_assessment(actor=organiser, member=member, score=3, assessed_on=TODAY() - datetime.timedelta(days=30))
    record_assessment(actor=organiser, member=member, score=1, assessed_on=TODAY(), notes="Will lead the ballot")
    client.force_login(union.users.rep_oak)
    html = client.get(reverse("member_detail", args=[member.pk])).content.decode()
    assert "<strong>1 – Leader</strong>" in html and "3 – Undecided" in html  # latest, then history
    assert "Agreed to take action" in html and "&lt;b&gt;bold&lt;/b&gt; plans" in html
    assert Assessment.objects.filter(member=member).count() == 2  # history kept


@pytest.mark.parametrize("score", ["0", "6", "x", "", "2.5", "-1"])
def test_an_assessment_outside_1_to_5_is_refused(client, union, score):
    client.force_login(union.users.organiser_north)
    before = snapshot()
    url = reverse("assessment_create", args=[union.members.oak.pk])
    response = client.post(url, {"score": score, "assessed_on": TODAY().isoformat()})
    assert response.status_code == 400 and "There is a problem" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("score", [0, 6, "3", True, None, 2.0])
def test_the_assessment_service_refuses_anything_but_1_to_5(union, score):
    with pytest.raises(ServiceError, match="whole number from 1"):
        record_assessment(actor=union.users.national, member=union.members.oak, score=score, assessed_on=TODAY())
    assert not Assessment.objects.exists()


def test_bad_conversations_are_refused_with_a_clear_error(client, union):
    client.force_login(union.users.organiser_north)
    url = reverse("conversation_create", args=[union.members.oak.pk])
    before = snapshot()
    yesterday = (TODAY() - datetime.timedelta(days=1)).isoformat()
    cases = {
        "cannot be before the conversation": conversation_form(follow_up_on=yesterday),
        "at most 10000 characters": conversation_form(notes="x" * 1_000_000),
        "Select a valid choice": conversation_form(channel="carrier pigeon"),
        "Enter a valid date": conversation_form(held_on="31/02/2026"),
    }
    for message, data in cases.items():
        response = client.post(url, data)
        html = response.content.decode()
        assert response.status_code == 400, message
        assert message.replace("10000", "10,000") in html or message in html, message
    assert snapshot() == before


def test_the_conversation_service_checks_dates_and_lengths(union):
    organiser, member = union.users.organiser_north, union.members.oak
    with pytest.raises(ServiceError, match="future"):
        log_conversation(actor=organiser, member=member, channel="phone", outcome="supportive",
                         held_on=TODAY() + datetime.timedelta(days=1))  # fmt: skip
    with pytest.raises(ServiceError, match="before the conversation"):
        log_conversation(actor=organiser, member=member, channel="phone", outcome="supportive", held_on=TODAY(),
                         follow_up_on=TODAY() - datetime.timedelta(days=1))  # fmt: skip
    with pytest.raises(ServiceError, match="at most"):
        log_conversation(actor=organiser, member=member, channel="phone", outcome="supportive", held_on=TODAY(),
                         notes="x" * 10_001)  # fmt: skip
    with pytest.raises(ServiceError, match="outcome"):
        log_conversation(actor=organiser, member=member, channel="phone", outcome="great", held_on=TODAY())
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("persona", ROLES)
def test_conversation_and_assessment_pages_follow_scope(client, union, persona, expected_scope):
    user = getattr(union.users, persona)
    client.force_login(user)
    before = snapshot()
    for member in [union.members.oak, union.members.elm, union.members.ash]:
        for name in ("conversation_create", "assessment_create"):
            response = client.get(reverse(name, args=[member.pk]))
            if member not in expected_scope[persona]:
                assert response.status_code == 404, (name, member)
            elif user.is_staff_role:
                assert response.status_code == 200, (name, member)
            else:
                assert response.status_code == 403, (name, member)  # a member, about themselves
    assert snapshot() == before


def test_an_organiser_outside_their_patch_gets_404_and_changes_nothing(client, union):
    client.force_login(union.users.organiser_bristol)
    before = snapshot()
    response = client.post(reverse("conversation_create", args=[union.members.oak.pk]), conversation_form())
    assert response.status_code == 404
    response = client.post(
        reverse("assessment_create", args=[union.members.oak.pk]), {"score": "1", "assessed_on": TODAY()}
    )
    assert response.status_code == 404
    with pytest.raises(NotPermitted):
        log_conversation(actor=union.users.organiser_bristol, member=union.members.oak, channel="phone",
                         outcome="supportive", held_on=TODAY())  # fmt: skip
    assert snapshot() == before


def test_my_follow_ups_lists_open_ones_overdue_first_and_only_mine(client, union):
    organiser, rep = union.users.organiser_north, union.users.rep_oak
    m = union.members
    long_ago = TODAY() - datetime.timedelta(days=20)

    def log(actor, member, days):
        return log_conversation(actor=actor, member=member, channel="phone", outcome="undecided", held_on=long_ago,
                                follow_up_on=TODAY() + datetime.timedelta(days=days))  # fmt: skip

    later = log(organiser, m.elm, 5)
    overdue = log(organiser, m.oak, -3)
    done = log(organiser, m.supply, -1)
    complete_follow_up(actor=organiser, conversation=done)
    complete_follow_up(actor=organiser, conversation=done)  # twice: still done once
    log(rep, m.oak, -10)  # the rep's, not the organiser's
    log_conversation(actor=organiser, member=m.rep, channel="email", outcome="supportive", held_on=TODAY())
    client.force_login(organiser)
    html = client.get(reverse("follow_up_list")).content.decode()
    assert html.index(overdue.member.full_name) < html.index(later.member.full_name)
    assert "overdue" in html and m.supply.full_name not in html and m.rep.full_name not in html
    response = client.post(reverse("follow_up_done", args=[overdue.pk]))
    assert response.status_code == 302
    overdue.refresh_from_db()
    assert overdue.follow_up_done_at is not None
    # Someone outside the member's scope cannot close it, and cannot tell it exists.
    client.force_login(union.users.organiser_bristol)
    assert client.post(reverse("follow_up_done", args=[later.pk])).status_code == 404
    later.refresh_from_db()
    assert later.follow_up_done_at is None


@pytest.mark.parametrize("persona", ["member_oak", "scrutineer", "outsider"])
def test_follow_ups_are_for_staff(client, union, persona):
    client.force_login(getattr(union.users, persona))
    assert client.get(reverse("follow_up_list")).status_code == 403


def test_a_member_page_shows_no_organising_notes_to_the_member_themselves(client, union):
    log_conversation(actor=union.users.organiser_north, member=union.members.oak, channel="phone",
                     outcome="opposed", held_on=TODAY(), notes="Thinks the union is a waste of money")  # fmt: skip
    record_assessment(
        actor=union.users.organiser_north, member=union.members.oak, score=5, assessed_on=timezone.localdate()
    )
    client.force_login(union.users.member_oak)
    html = client.get(reverse("member_detail", args=[union.members.oak.pk])).content.decode()
    assert "waste of money" not in html and "Hostile" not in html and "Conversations" not in html
