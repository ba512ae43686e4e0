"""Tasks run twice do their work once; the iCalendar file and feed; tokens."""

import datetime

import pytest
from django.utils import timezone

from crm.models import Message
from events import ical, services, tasks, tokens
from events.models import Certification, Event, Registration

pytestmark = pytest.mark.django_db


def test_reminders_task_twice_queues_each_reminder_once(union, make_event):
    event = make_event(capacity=1)
    placed = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    services.register_for_event(actor=union.users.national, event=event, member=union.members.rep)  # waiting
    assert tasks.send_event_reminders.apply(args=[event.pk]).get() == 1
    assert tasks.send_event_reminders.apply(args=[event.pk]).get() == 0
    reminders = Message.objects.filter(key__endswith=":reminder")
    assert list(reminders.values_list("key", flat=True)) == [f"event:{event.pk}:registration:{placed.pk}:reminder"]
    assert tokens.checkin_code(placed) in reminders.get().body


def test_due_reminders_pick_events_starting_within_a_day(union, make_event):
    soon = make_event(
        starts_at=timezone.now() + datetime.timedelta(hours=5),
        ends_at=timezone.now() + datetime.timedelta(hours=7),
        registration_closes_at=timezone.now() + datetime.timedelta(hours=4),
    )
    later = make_event()
    services.register_for_event(actor=union.users.national, event=soon, member=union.members.oak)
    services.register_for_event(actor=union.users.national, event=later, member=union.members.oak)
    assert tasks.send_due_reminders.apply().get() == 1
    assert tasks.send_due_reminders.apply().get() == 0


def test_no_show_and_certification_tasks_twice_do_their_work_once(union, course):
    from tests.events.conftest import event_details

    session = services.create_event(
        actor=union.users.organiser_north,
        details=event_details(union, kind=Event.Kind.TRAINING, course=course["foundation"], capacity=5),
    )
    came = services.register_for_event(actor=union.users.national, event=session, member=union.members.rep)
    services.register_for_event(actor=union.users.national, event=session, member=union.members.oak)
    services.check_in(actor=union.users.organiser_north, event=session, code=tokens.checkin_code(came))
    Event.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - datetime.timedelta(hours=3), ends_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert tasks.record_due_no_shows.apply().get() == 1
    assert tasks.record_due_no_shows.apply().get() == 0
    assert tasks.record_no_shows.apply(args=[session.pk]).get() == 0
    assert tasks.award_certifications.apply(args=[session.pk]).get() == 1
    assert tasks.award_certifications.apply(args=[session.pk]).get() == 0
    assert Certification.objects.filter(member=union.members.rep).count() == 1
    assert Registration.objects.filter(attendance="no_show").count() == 1


def test_the_icalendar_file_follows_rfc_5545(union, make_event):
    event = make_event(title="Pay, workload; and you", description="Line one\nLine two " + "é" * 80)
    text = ical.calendar([event], name="Quorum")
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "SUMMARY:Pay\\, workload\\; and you\r\n" in text
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    assert "DESCRIPTION:Line one\\nLine two " + "é" * 80 in unfolded
    assert f"DTSTART:{event.starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" in text
    assert f"UID:event-{event.pk}@quorum" in text


def test_calendar_tokens_are_signed(union):
    token = tokens.calendar_token(union.members.oak)
    assert tokens.member_id_from_calendar_token(token) == union.members.oak.pk
    for forged in (
        token[:-1] + ("x" if token[-1] != "x" else "y"),
        f"{union.members.rep.pk}:{token.split(':')[1]}",
        "",
        "1",
    ):
        with pytest.raises(tokens.BadToken):
            tokens.member_id_from_calendar_token(forged)
