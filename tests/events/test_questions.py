"""Questions members send in before a member call."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from events import services
from events.models import CallQuestion, Event
from tests.events.conftest import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(union, make_event):
    return make_event(kind="member_call", title="Weekly call", venue="", online_url="https://calls.example.org/w")


def test_a_registered_member_sends_in_up_to_three_questions(union, call):
    services.register_for_event(actor=union.users.member_oak, event=call, member=union.members.oak)
    for n in range(3):
        services.ask_question(actor=union.users.member_oak, event=call, text=f"  Question {n}?  ")
    assert list(CallQuestion.objects.values_list("text", flat=True)) == ["Question 0?", "Question 1?", "Question 2?"]
    before = snapshot(), CallQuestion.objects.count()
    with pytest.raises(ServiceError, match="the most each member can"):
        services.ask_question(actor=union.users.member_oak, event=call, text="A fourth?")
    assert (snapshot(), CallQuestion.objects.count()) == before


@pytest.mark.parametrize(
    ("persona", "text", "error"),
    [
        ("member_oak", "Why?", "Register for the call"),  # not registered
        ("outsider", "Why?", "Only members"),
        ("member_oak", "   ", "Write your question."),
        ("member_oak", "x" * 1001, "1000 characters"),
    ],
)
def test_questions_are_refused_clearly(union, call, persona, text, error):
    before = snapshot(), CallQuestion.objects.count()
    with pytest.raises((ServiceError, NotPermitted), match=error):
        services.ask_question(actor=getattr(union.users, persona), event=call, text=text)
    assert (snapshot(), CallQuestion.objects.count()) == before


def test_no_questions_for_other_events_or_after_the_start(union, call, make_event):
    meeting = make_event()
    services.register_for_event(actor=union.users.member_oak, event=meeting, member=union.members.oak)
    with pytest.raises(ServiceError, match="member calls only"):
        services.ask_question(actor=union.users.member_oak, event=meeting, text="Why?")
    services.register_for_event(actor=union.users.member_oak, event=call, member=union.members.oak)
    Event.objects.filter(pk=call.pk).update(starts_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(ServiceError, match="has started"):
        services.ask_question(actor=union.users.member_oak, event=call, text="Why?")
    assert not CallQuestion.objects.exists()


def test_questions_on_the_pages(client, union, call):
    services.register_for_event(actor=union.users.member_oak, event=call, member=union.members.oak)
    client.force_login(union.users.member_oak)
    url = reverse("events:event_detail", args=[call.pk])
    assert client.post(url, {"action": "question", "question-text": ""}).status_code == 400
    assert client.post(url, {"action": "question", "question-text": "What about supply pay?"}).status_code == 302
    assert "What about supply pay?" in client.get(url).content.decode()
    client.force_login(union.users.organiser_north)
    manage = client.get(reverse("events:event_manage", args=[call.pk])).content.decode()
    assert "What about supply pay?" in manage and "Owen Oakley" in manage
