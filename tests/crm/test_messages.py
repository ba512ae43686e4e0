"""The message pipeline's core: once per key, consent checked when queued and again when sent."""

import pytest
from django.core import mail

from crm.models import Message
from crm.services.messages import MAX_ATTEMPTS, queue_message, send_message
from crm.sms import PermanentSendError, TemporarySendError, locmem
from crm.tasks import send_message as send_message_task


@pytest.fixture(autouse=True)
def eager_celery():
    """Run tasks in-process even when a broker is configured (`make test-services`): these tests check the
    pipeline's logic; tests/crm/test_outreach_worker.py runs it on a real worker."""
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


def queue(member, *, channel="email", basis=Message.Basis.SERVICE, key="welcome:1", **extra):
    return queue_message(member=member, channel=channel, basis=basis, key=key, subject="Welcome", body="Hello", **extra)


def test_a_service_email_is_sent_once_however_often_it_is_queued(union, django_capture_on_commit_callbacks):
    member = union.members.oak
    with django_capture_on_commit_callbacks(execute=True):
        first = queue(member, html_body="<p>Hello</p>")
        second = queue(member)
    assert first.pk == second.pk
    assert Message.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [member.email]
    assert mail.outbox[0].alternatives[0][0] == "<p>Hello</p>"
    first.refresh_from_db()
    assert first.status == Message.Status.SENT and first.sent_at is not None


def test_running_the_send_task_twice_sends_once(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = queue(union.members.oak)
    assert send_message_task.apply(args=[message.pk]).get() == "sent"
    assert send_message_task.apply(args=[message.pk]).get() == "sent"
    assert len(mail.outbox) == 1


def test_a_campaign_message_needs_consent_to_the_channel(union, django_capture_on_commit_callbacks):
    member = union.members.oak
    assert not member.sms_consent
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(member, channel="sms", basis=Message.Basis.CONSENT, key="campaign:1:member:1")
    assert message.status == Message.Status.SUPPRESSED
    assert "mobile" in message.reason or "consent" in message.reason.lower()
    assert mail.outbox == []


def test_a_text_goes_through_the_sms_backend(union, sms_outbox, django_capture_on_commit_callbacks):
    rep = union.members.rep
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(rep, channel="sms", key="credential:9")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [(t.to, t.body, t.key) for t in sms_outbox] == [(rep.mobile, "Hello", "credential:9")]


def test_a_member_who_withdraws_consent_after_queueing_is_not_sent(union, django_capture_on_commit_callbacks):
    member = union.members.oak
    member.email_consent, member.email_consent_source = True, "paper_form"
    member.save()
    with django_capture_on_commit_callbacks(execute=False):
        message = queue(member, basis=Message.Basis.CONSENT, key="campaign:2:member:1")
    assert message.status == Message.Status.QUEUED
    member.email_consent = False
    member.save()
    send_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert mail.outbox == []


def test_no_address_is_recorded_as_the_reason(union, django_capture_on_commit_callbacks):
    member = union.members.oak
    member.email = ""
    member.save()
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(member)
    assert (message.status, message.reason) == (Message.Status.SUPPRESSED, "No email address.")


class FlakyBackend:
    error = TemporarySendError

    def send(self, *, to, body, key):
        raise self.error("provider said no")


def test_temporary_errors_are_retried_then_fail_permanent_ones_fail_at_once(
    union, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("crm.services.messages.get_sms_backend", lambda: FlakyBackend())
    with django_capture_on_commit_callbacks(execute=False):
        message = queue(union.members.rep, channel="sms", key="t:1")
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(TemporarySendError):
            send_message(message_id=message.pk)
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Message.Status.QUEUED, attempt)
    assert send_message(message_id=message.pk).status == Message.Status.FAILED

    FlakyBackend.error = PermanentSendError
    try:
        with django_capture_on_commit_callbacks(execute=False):
            other = queue(union.members.rep, channel="sms", key="t:2")
        sent = send_message(message_id=other.pk)
        assert (sent.status, sent.attempts, sent.reason) == (Message.Status.FAILED, 1, "provider said no")
    finally:
        FlakyBackend.error = TemporarySendError
