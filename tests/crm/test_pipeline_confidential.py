"""Confidential messages (voting credentials): the body is kept only while the message may still be sent, is
wiped in the transaction that records its final state, and is never shown on a page, in the API or a log."""

import datetime
import logging
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.core import mail
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Cast
from django.test import Client
from django.utils import timezone

from crm.models import Message
from crm.models.messages import CONFIDENTIAL_REMOVED
from crm.services.messages import MAX_ATTEMPTS, queue_message, recover_stalled, send_message
from crm.services.outreach import receive_text
from crm.sms import TemporarySendError, locmem
from crm.tasks import send_message as send_message_task
from tests.conftest import PASSWORD
from tests.elections.voting_helpers import contest

SECRET = "s3cret-Credential-Xy9"
CREDENTIAL_IN_LINK = re.compile(r"credential=([A-Za-z0-9_-]+)")


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


def queue_secret(member, *, channel="email", key="secret:1", **extra):
    return queue_message(
        member=member,
        channel=channel,
        basis=Message.Basis.SERVICE,
        key=key,
        subject="Your vote",
        body=f"Your link: https://vote.example/?credential={SECRET}",
        html_body=f"<p>{SECRET}</p>" if channel == "email" else "",
        confidential=True,
        **extra,
    )


def holds_secret(message: Message) -> bool:
    message.refresh_from_db()
    return SECRET in message.body or SECRET in message.html_body


def test_a_confidential_email_goes_out_whole_and_is_wiped_when_sent(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_secret(union.members.oak)
    assert SECRET in mail.outbox[0].body and SECRET in mail.outbox[0].alternatives[0][0]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert (message.body, message.html_body) == (CONFIDENTIAL_REMOVED, CONFIDENTIAL_REMOVED)


def test_an_ordinary_message_keeps_its_body_after_sending(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_message(
            member=union.members.oak, channel="email", basis="service", key="plain:1", subject="Hi", body=SECRET
        )
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.body == SECRET


def test_a_message_that_cannot_be_sent_never_stores_the_secret(union):
    member = union.members.oak
    member.email = ""
    member.save()
    message = queue_secret(member)
    assert message.status == Message.Status.SUPPRESSED
    assert not holds_secret(message)


def test_a_retry_keeps_the_body_until_the_last_attempt_fails(union, monkeypatch, django_capture_on_commit_callbacks):
    class Flaky:
        def send(self, **kwargs):
            raise TemporarySendError("provider busy")

    monkeypatch.setattr("crm.services.messages.get_sms_backend", lambda: Flaky())
    with django_capture_on_commit_callbacks(execute=False):
        message = queue_secret(union.members.rep, channel="sms")
    for _attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(TemporarySendError):
            send_message(message_id=message.pk)
        assert holds_secret(message) and message.status == Message.Status.QUEUED
    assert send_message(message_id=message.pk).status == Message.Status.FAILED
    assert not holds_secret(message)


def test_stop_while_queued_and_a_dead_worker_both_wipe_the_body(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        texted = queue_secret(union.members.rep, channel="sms")
        emailed = queue_secret(union.members.oak, key="secret:2")
    receive_text(from_number=union.members.rep.mobile, body="STOP", provider_id="SM1")
    texted.refresh_from_db()
    assert texted.status == Message.Status.OPTED_OUT and not holds_secret(texted)

    long_ago = timezone.now() - datetime.timedelta(hours=1)
    Message.objects.filter(pk=emailed.pk).update(status=Message.Status.SENDING, claimed_at=long_ago)
    assert recover_stalled(older_than=datetime.timedelta(minutes=5))["unknown"] == 1
    emailed.refresh_from_db()
    assert emailed.status == Message.Status.UNKNOWN and not holds_secret(emailed)


def test_the_database_refuses_a_final_state_that_still_holds_the_secret(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = queue_secret(union.members.oak)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.filter(pk=message.pk).update(status=Message.Status.SENT, sent_at=timezone.now())
    assert holds_secret(message) and message.status == Message.Status.QUEUED


def test_sending_twice_sends_once_and_leaves_it_wiped(union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = queue_secret(union.members.oak)
    assert send_message_task.apply(args=[message.pk]).get() == "sent"
    assert send_message_task.apply(args=[message.pk]).get() == "sent"
    assert len(mail.outbox) == 1 and not holds_secret(message)


def test_confidential_bodies_stay_out_of_logs(union, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        queue_secret(union.members.oak)
        queue_secret(union.members.rep, channel="sms", key="secret:sms")
    assert len(mail.outbox) == 1 and len(locmem.outbox) == 1
    assert SECRET not in caplog.text
    assert SECRET not in str(Message.objects.get(key="secret:1"))
    assert Message.objects.get(key="secret:1").shown_body == "[confidential]"


def test_not_shown_in_the_api_or_the_admin_even_before_sending(union, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    with django_capture_on_commit_callbacks(execute=False):
        message = queue_secret(union.members.oak)
    api = APIClient()
    api.force_authenticate(union.users.national)
    listed = api.get("/api/v1/messages/")
    assert listed.status_code == 200 and SECRET not in listed.content.decode()
    assert api.get(f"/api/v1/messages/{message.pk}/").status_code == 404  # not a campaign's message
    # The admin has no message pages at all: nothing there can show a body.
    assert Message not in admin.site._registry
    union.users.national.is_staff = union.users.national.is_superuser = True
    union.users.national.save()
    browser = Client()
    browser.login(username="national", password=PASSWORD)
    assert SECRET not in browser.get("/admin/").content.decode()
    assert holds_secret(message)  # still waiting to be sent: kept until then


def text_columns():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                yield model, field


def rows_holding(secret: str) -> list[str]:
    """Every (model, column) whose text holds `secret`, searched in the database itself."""
    found = []
    for model, field in text_columns():
        column = Cast(field.name, models.TextField()) if isinstance(field, models.JSONField) else None
        queryset = model._base_manager.all()
        if column is not None:
            queryset = queryset.annotate(_as_text=column).filter(_as_text__contains=secret)
        else:
            queryset = queryset.filter(**{f"{field.name}__contains": secret})
        if queryset.exists():
            found.append(f"{model._meta.label}.{field.name}")
    return found


def test_after_a_credential_is_sent_no_table_holds_it(union, django_capture_on_commit_callbacks):
    from elections.services import setup

    election = contest(union.users.national, [union.members.rep, union.members.elm])
    with django_capture_on_commit_callbacks(execute=True):
        setup.open_voting(actor=union.users.national, election=election)
        setup.issue_credentials(election_id=election.pk)
    received = [m.body for m in mail.outbox] + [t.body for t in locmem.outbox]
    credentials = [CREDENTIAL_IN_LINK.search(body).group(1) for body in received if "credential=" in body]
    assert len(credentials) >= 3
    for credential in credentials:
        assert rows_holding(credential) == [], credential
    sent = Message.objects.filter(key__startswith=f"election:{election.pk}:credential:")
    assert sent.filter(confidential=True).count() == sent.count() >= 3
    assert set(sent.values_list("status", flat=True)) <= set(Message.FINAL_STATUSES)


def test_the_search_finds_a_secret_that_is_still_stored(union, django_capture_on_commit_callbacks):
    """The control for the test above: a credential waiting to be sent is found, in both its columns."""
    with django_capture_on_commit_callbacks(execute=False):
        queue_secret(union.members.oak)
    assert rows_holding(SECRET) == ["crm.Message.body", "crm.Message.html_body"]


@pytest.mark.services
def test_credentials_sent_by_a_real_worker_leave_no_secret_behind(union, celery_worker_process):
    """On PostgreSQL the worker records a batch in one UPDATE ... FROM (VALUES ...): the wipe is in that statement."""
    from config.celery import app
    from crm.tasks import send_message_chunk
    from elections.services import setup

    app.conf.task_always_eager = False  # the eager_celery fixture puts it back
    union.members.rep.email = ""  # Rita gets hers by text, the others by email
    union.members.rep.save()
    election = contest(union.users.national, [union.members.rep, union.members.elm])
    setup.open_voting(actor=union.users.national, election=election)
    setup.issue_credentials(election_id=election.pk)
    sent = Message.objects.filter(key__startswith=f"election:{election.pk}:credential:", status="queued")
    credentials = {pk: CREDENTIAL_IN_LINK.search(body).group(1) for pk, body in sent.values_list("pk", "body")}
    assert len(credentials) == 4 and sent.filter(channel="sms").count() == 1
    for credential in credentials.values():
        assert rows_holding(credential) == ["crm.Message.body"]  # the control: found while waiting

    send_message_chunk.apply_async((sorted(credentials),), queue=celery_worker_process).get(timeout=60)
    statuses = set(Message.objects.filter(pk__in=credentials).values_list("status", flat=True))
    assert statuses == {Message.Status.SENT}
    for credential in credentials.values():
        assert rows_holding(credential) == [], credential


def test_the_migration_protects_credentials_stored_before_it(union):
    from importlib import import_module

    migration = import_module("crm.migrations.0008_pipeline_audiences")
    common = {"member": union.members.oak, "channel": "email", "basis": "service", "to": "o@example.org"}
    sent = Message.objects.create(
        key="election:1:credential:5:1", body=SECRET, status="sent", sent_at=timezone.now(), **common
    )
    waiting = Message.objects.create(key="election:1:credential:6:1", body=SECRET, **common)
    other = Message.objects.create(key="welcome:1", body=SECRET, status="sent", sent_at=timezone.now(), **common)
    migration.protect_credentials_already_stored(apps, None)
    for message in (sent, waiting, other):
        message.refresh_from_db()
    assert (sent.confidential, sent.body) == (True, CONFIDENTIAL_REMOVED)
    assert (waiting.confidential, waiting.body) == (True, SECRET)  # still to be sent: kept until then
    assert (other.confidential, other.body) == (False, SECRET)
