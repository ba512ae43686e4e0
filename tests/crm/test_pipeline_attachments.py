"""Attachments: small files sent with an email (an event's calendar entry); texts refuse them."""

import pytest
from django.core import mail

from crm.errors import ServiceError
from crm.models import Message, MessageAttachment
from crm.services.messages import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, Attachment, queue_message
from crm.sms import locmem
from events import services as events
from tests.events.conftest import event_details

CALENDAR = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


@pytest.fixture(autouse=True)
def eager_celery():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "crm.sms.locmem.SmsBackend"
    locmem.outbox.clear()
    return locmem.outbox


def queue(member, attachments, *, channel="email", key="with:1", **extra):
    return queue_message(
        member=member,
        channel=channel,
        basis=Message.Basis.SERVICE,
        key=key,
        subject="See you there",
        body="Details attached.",
        attachments=attachments,
        **extra,
    )


def test_an_email_carries_its_attachments(union, django_capture_on_commit_callbacks):
    files = [
        Attachment("meeting.ics", "text/calendar", CALENDAR),
        Attachment("agenda.pdf", "application/pdf", b"%PDF-1.4 \x00\xff"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(union.members.oak, files)
        again = queue(union.members.oak, files)  # the same key: nothing added, nothing sent twice
    assert again.pk == message.pk and MessageAttachment.objects.count() == 2
    assert len(mail.outbox) == 1
    sent = {name: (content, kind) for name, content, kind in mail.outbox[0].attachments}
    assert sent["meeting.ics"] == (CALENDAR, "text/calendar")
    assert sent["agenda.pdf"] == (b"%PDF-1.4 \x00\xff", "application/pdf")


@pytest.mark.parametrize(
    ("channel", "files", "extra", "error"),
    [
        ("sms", [Attachment("a.ics", "text/calendar", CALENDAR)], {}, "text message cannot carry attachments"),
        ("email", [Attachment("a.ics", "text/calendar", CALENDAR)], {"confidential": True}, "confidential"),
        ("email", [Attachment(f"f{n}.txt", "text/plain", "x") for n in range(MAX_ATTACHMENTS + 1)], {}, "at most"),
        ("email", [Attachment("big.bin", "application/octet-stream", b"x" * (MAX_ATTACHMENT_BYTES + 1))], {}, "large"),
        ("email", [Attachment("../../etc/passwd", "text/plain", "x")], {}, "file name"),
        ("email", [Attachment("", "text/plain", "x")], {}, "file name"),
        ("email", [Attachment("a\r\nb.txt", "text/plain", "x")], {}, "file name"),
        ("email", [Attachment("x" * 101, "text/plain", "x")], {}, "file name"),
        ("email", [Attachment("a.txt", "text/plain\r\nX-Evil: 1", "x")], {}, "content type"),
        ("email", [Attachment("a.txt", "", "x")], {}, "content type"),
        ("email", [Attachment("a.txt", "text/plain", None)], {}, "needs a file name"),
        ("email", ["not an attachment"], {}, "needs a file name"),
    ],
)
def test_bad_attachments_are_refused_and_nothing_is_queued(union, channel, files, extra, error):
    with pytest.raises(ServiceError, match=error) as raised:
        queue(union.members.rep, files, channel=channel, **extra)
    assert raised.value.field == "attachments"
    assert Message.objects.count() == 0 and MessageAttachment.objects.count() == 0


def test_an_attachment_at_the_size_limit_is_accepted(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue(union.members.oak, [Attachment("big.bin", "application/octet-stream", b"x" * MAX_ATTACHMENT_BYTES)])
    assert len(mail.outbox[0].attachments[0][1]) == MAX_ATTACHMENT_BYTES


def test_a_place_at_an_event_is_confirmed_with_its_calendar_entry(union, django_capture_on_commit_callbacks):
    event = events.create_event(actor=union.users.organiser_north, details=event_details(union, capacity=1))
    with django_capture_on_commit_callbacks(execute=True):
        events.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
        events.register_for_event(actor=union.users.rep_oak, event=event, member=union.members.rep)
    by_member = {m.to[0]: m for m in mail.outbox}
    confirmed = by_member[union.members.oak.email]
    ((filename, content, kind),) = confirmed.attachments
    assert (filename, kind) == (f"event-{event.pk}.ics", "text/calendar")
    assert f"UID:event-{event.pk}@" in content and "SUMMARY:North members' meeting" in content
    waiting = by_member[union.members.rep.email]  # on the waiting list: no calendar entry yet
    assert "waiting list" in waiting.subject and waiting.attachments == []
