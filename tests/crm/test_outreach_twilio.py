"""Twilio at the HTTP level: the real `twilio` client against recorded answers (only the HTTP layer is
mocked, with `responses`), and the webhooks with correctly and wrongly signed requests, replays and bad
bodies. Email delivery reports arrive through django-anymail's tracking webhook."""

import base64
import json
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core import mail
from twilio.request_validator import RequestValidator

from crm.models import InboundText, Message, ProviderEvent, SmsOptOut
from crm.services import messages as pipeline
from crm.services.messages import queue_message
from crm.sms import PermanentSendError, TemporarySendError
from crm.sms.twilio import SmsBackend

SID = "AC" + "0" * 32
TOKEN = "test-auth-token-not-a-secret"
SERVICE = "MG" + "1" * 32
SITE = "https://quorum.example.org"
API = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
STATUS_URL = "/webhooks/twilio/status/"
INBOUND_URL = "/webhooks/twilio/inbound/"


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
def twilio_settings(settings):
    settings.SMS_BACKEND = "crm.sms.twilio.SmsBackend"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_MESSAGING_SERVICE_SID = SERVICE
    settings.TWILIO_FROM_NUMBER = ""
    settings.QUORUM_SITE_URL = SITE
    settings.OUTREACH_RATE_PER_SECOND = {"sms": 0, "email": 0}
    settings.OUTREACH_RATE_LIMIT_REDIS_URL = ""
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}


def created(sid="SM" + "a" * 32):
    """Twilio's answer to a message create (trimmed to the fields the client reads)."""
    return {
        "sid": sid,
        "account_sid": SID,
        "messaging_service_sid": SERVICE,
        "to": "+447911123001",
        "body": "Hello",
        "status": "accepted",
        "num_segments": "0",
        "direction": "outbound-api",
        "date_created": "Mon, 23 Nov 2026 19:00:00 +0000",
        "error_code": None,
        "error_message": None,
        "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
    }


def error(status, code, message):
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@responses.activate
def test_a_text_goes_to_twilio_through_the_messaging_service_with_a_status_callback():
    responses.post(API, json=created(), status=201)
    assert SmsBackend().send(to="+447911123001", body="Hello £5 €", key="k1") == "SM" + "a" * 32
    sent = parse_qs(responses.calls[0].request.body)
    assert sent["To"] == ["+447911123001"] and sent["Body"] == ["Hello £5 €"]
    assert sent["MessagingServiceSid"] == [SERVICE]
    assert sent["StatusCallback"] == [SITE + STATUS_URL]
    auth = responses.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == f"{SID}:{TOKEN}"


@responses.activate
def test_a_named_sender_or_a_number_is_used_when_given(settings):
    responses.post(API, json=created(), status=201)
    SmsBackend().send(to="+447911123001", body="Hi", key="k", sender="NEU Leeds")
    assert parse_qs(responses.calls[0].request.body)["From"] == ["NEU Leeds"]
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_FROM_NUMBER = "+447700900999"
    SmsBackend().send(to="+447911123001", body="Hi", key="k")
    assert parse_qs(responses.calls[1].request.body)["From"] == ["+447700900999"]


@responses.activate
@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_temporary(status):
    responses.post(API, json=error(status, 20429 if status == 429 else 20500, "Try later"), status=status)
    with pytest.raises(TemporarySendError) as raised:
        SmsBackend().send(to="+447911123001", body="Hi", key="k")
    assert str(status) in str(raised.value)


@responses.activate
def test_no_answer_is_temporary():
    responses.post(API, body=requests.ConnectionError("connection refused"))
    with pytest.raises(TemporarySendError):
        SmsBackend().send(to="+447911123001", body="Hi", key="k")


@responses.activate
def test_an_invalid_number_is_permanent_and_an_unsubscribed_one_is_an_opt_out():
    responses.post(API, json=error(400, 21211, "The 'To' number +4400 is not a valid phone number."), status=400)
    with pytest.raises(PermanentSendError) as raised:
        SmsBackend().send(to="+4400", body="Hi", key="k")
    assert "21211" in str(raised.value) and not raised.value.is_opted_out
    responses.replace(
        responses.POST, API, json=error(400, 21610, "Attempt to send to unsubscribed recipient"), status=400
    )
    with pytest.raises(PermanentSendError) as raised:
        SmsBackend().send(to="+447911123001", body="Hi", key="k")
    assert raised.value.is_opted_out


@responses.activate
def test_through_the_pipeline_429_then_5xx_are_retried_and_21211_is_not(union, django_capture_on_commit_callbacks):
    rep = union.members.rep
    responses.post(API, json=error(429, 20429, "Too Many Requests"), status=429)
    responses.post(API, json=error(503, 20503, "Service Unavailable"), status=503)
    responses.post(API, json=created("SM" + "b" * 32), status=201)
    with django_capture_on_commit_callbacks(execute=False):
        message = queue_message(member=rep, channel="sms", basis="service", key="credential:1", body="Your code")
    for _ in range(2):
        with pytest.raises(TemporarySendError):
            pipeline.send_message(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == "queued"
    sent = pipeline.send_message(message_id=message.pk)
    assert (sent.status, sent.attempts, sent.provider_id) == ("sent", 3, "SM" + "b" * 32)
    assert len(responses.calls) == 3

    responses.reset()
    responses.post(API, json=error(400, 21211, "The 'To' number is not a valid phone number."), status=400)
    with django_capture_on_commit_callbacks(execute=False):
        other = queue_message(member=rep, channel="sms", basis="service", key="credential:2", body="Your code")
    failed = pipeline.send_message(message_id=other.pk)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert pipeline.send_message(message_id=other.pk).status == "failed"
    assert len(responses.calls) == 1  # never retried

    responses.reset()
    responses.post(API, json=error(400, 21610, "Attempt to send to unsubscribed recipient"), status=400)
    with django_capture_on_commit_callbacks(execute=False):
        third = queue_message(member=rep, channel="sms", basis="service", key="credential:3", body="Your code")
    assert pipeline.send_message(message_id=third.pk).status == "opted_out"
    assert SmsOptOut.objects.filter(number=rep.mobile, source="provider").exists()


# Webhooks -------------------------------------------------------------------------------------------------


def signed_post(client, path, params, *, token=TOKEN, **headers):
    signature = RequestValidator(token).compute_signature(SITE + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


@pytest.fixture
def sent_text(union):
    return Message.objects.create(
        key="campaign:1:member:1",
        member=union.members.rep,
        channel="sms",
        basis="service",
        to=union.members.rep.mobile,
        body="Hi",
        status="sent",
        sent_at="2026-11-23T19:00:00Z",
        provider_id="SM" + "c" * 32,
    )


def status_params(state="delivered", **extra):
    return {"MessageSid": "SM" + "c" * 32, "MessageStatus": state, "AccountSid": SID} | extra


def test_a_signed_status_callback_marks_the_text_delivered_once(client, sent_text):
    response = signed_post(client, STATUS_URL, status_params())
    assert response.status_code == 204
    sent_text.refresh_from_db()
    assert sent_text.status == "delivered"
    # Replayed: stored once, nothing changes (even if the message had moved on meanwhile).
    Message.objects.filter(pk=sent_text.pk).update(status="sent")
    assert signed_post(client, STATUS_URL, status_params()).status_code == 204
    sent_text.refresh_from_db()
    assert sent_text.status == "sent"
    assert ProviderEvent.objects.filter(provider="twilio").count() == 1


def test_a_late_sent_report_does_not_undo_delivered_and_failures_say_why(client, sent_text):
    signed_post(client, STATUS_URL, status_params("delivered"))
    signed_post(client, STATUS_URL, status_params("sent"))
    sent_text.refresh_from_db()
    assert sent_text.status == "delivered"
    signed_post(client, STATUS_URL, status_params("undelivered", ErrorCode="30003"))
    sent_text.refresh_from_db()
    assert sent_text.status == "failed" and "30003" in sent_text.reason


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature
        {"HTTP_X_TWILIO_SIGNATURE": "bm90IGEgc2lnbmF0dXJl"},
        {"HTTP_X_TWILIO_SIGNATURE": ""},
    ],
)
def test_unsigned_or_wrongly_signed_callbacks_get_403_and_change_nothing(client, sent_text, headers):
    response = client.post(STATUS_URL, status_params(), **headers)
    assert response.status_code == 403
    sent_text.refresh_from_db()
    assert sent_text.status == "sent" and not ProviderEvent.objects.exists()


def test_a_signature_with_another_token_or_for_other_params_is_refused(client, sent_text):
    assert signed_post(client, STATUS_URL, status_params(), token="someone-elses-token").status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(SITE + STATUS_URL, status_params("failed"))
    response = client.post(STATUS_URL, status_params("delivered"), HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    sent_text.refresh_from_db()
    assert sent_text.status == "sent" and not ProviderEvent.objects.exists()


def test_without_an_auth_token_every_webhook_is_refused(client, sent_text, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert signed_post(client, STATUS_URL, status_params()).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM" + "c" * 32},
        {"MessageSid": "S" * 65, "MessageStatus": "delivered"},
        {"MessageSid": "SM1", "MessageStatus": "x" * 21},
        {},
    ],
)
def test_malformed_status_callbacks_get_400_and_change_nothing(client, sent_text, params):
    assert signed_post(client, STATUS_URL, params).status_code == 400
    sent_text.refresh_from_db()
    assert sent_text.status == "sent" and not ProviderEvent.objects.exists()


def test_get_oversized_and_json_bodies_are_refused(client, sent_text):
    assert client.get(STATUS_URL).status_code == 405
    big = status_params(Padding="x" * 70_000)
    assert signed_post(client, STATUS_URL, big).status_code == 413
    response = client.post(STATUS_URL, data=json.dumps(status_params()), content_type="application/json")
    assert response.status_code == 403
    assert not ProviderEvent.objects.exists()


def inbound(body, sid="SM" + "d" * 32, number="+447911123001"):
    return {"MessageSid": sid, "From": number, "To": "+447700900999", "Body": body, "AccountSid": SID}


def test_stop_opts_the_number_out_at_once_and_is_confirmed(client, union, settings):
    response = signed_post(client, INBOUND_URL, inbound("Stop"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert settings.SMS_STOP_REPLY in response.content.decode()
    assert SmsOptOut.objects.filter(number="+447911123001", source="keyword").exists()
    # Replayed STOP: acknowledged, nothing new stored, no second confirmation.
    again = signed_post(client, INBOUND_URL, inbound("Stop"))
    assert again.status_code == 200 and "<Message>" not in again.content.decode()
    assert ProviderEvent.objects.filter(kind="inbound").count() == 1
    start = signed_post(client, INBOUND_URL, inbound("START", sid="SM" + "e" * 32))
    assert settings.SMS_START_REPLY in start.content.decode()
    assert not SmsOptOut.objects.exists()


def test_help_answers_and_other_replies_land_in_the_inbox_once(client, union, settings):
    help_reply = signed_post(client, INBOUND_URL, inbound("HELP", sid="SM1"))
    assert settings.SMS_HELP_REPLY in help_reply.content.decode()
    params = inbound("Can I bring a colleague to the meeting? <b>", sid="SM2")
    assert signed_post(client, INBOUND_URL, params).status_code == 200
    assert signed_post(client, INBOUND_URL, params).status_code == 200
    text = InboundText.objects.get()
    assert text.member == union.members.rep and text.body.endswith("<b>")
    assert not SmsOptOut.objects.exists()


def test_a_badly_signed_stop_changes_nothing(client, union):
    response = client.post(INBOUND_URL, inbound("STOP"), HTTP_X_TWILIO_SIGNATURE="forged")
    assert response.status_code == 403
    assert not SmsOptOut.objects.exists() and not ProviderEvent.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"MessageSid": "SM1", "Body": "STOP"},  # no From
        {"From": "+447911123001", "Body": "STOP"},  # no MessageSid
        {"MessageSid": "SM1", "From": "+4479111230019999999", "Body": "STOP"},
        {"MessageSid": "SM1", "From": "+447911123001", "Body": "x" * 2001},
    ],
)
def test_malformed_inbound_texts_get_400_and_change_nothing(client, union, params):
    assert signed_post(client, INBOUND_URL, params).status_code == 400
    assert not SmsOptOut.objects.exists() and not InboundText.objects.exists() and not ProviderEvent.objects.exists()


# Email delivery reports through django-anymail ------------------------------------------------------------

POSTMARK = "/anymail/postmark/tracking/"


def postmark(client, event, auth="hook:secret"):
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    return client.post(POSTMARK, data=json.dumps(event), content_type="application/json", **headers)


def test_email_delivery_and_bounces_are_recorded_once(client, union, django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_message(member=union.members.oak, channel="email", basis="service", key="w:1", body="Hi")
    assert len(mail.outbox) == 1
    delivered = {
        "RecordType": "Delivery",
        "MessageID": "pm-1",
        "Recipient": union.members.oak.email,
        "DeliveredAt": "2026-11-23T19:00:00Z",
        "Metadata": {"message_key": "w:1"},
    }
    assert postmark(client, delivered).status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"
    assert postmark(client, delivered).status_code == 200  # replay
    assert ProviderEvent.objects.count() == 1

    bounce = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "MessageID": "pm-1",
        "Email": union.members.oak.email,
        "BouncedAt": "2026-11-23T19:05:00Z",
        "Description": "The server was unable to deliver your message",
        "Metadata": {"message_key": "w:1"},
    }
    assert postmark(client, bounce).status_code == 200
    message.refresh_from_db()
    assert message.status == "failed" and "bounced" in message.reason


def test_email_reports_without_the_webhook_secret_change_nothing(client, union, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_message(member=union.members.oak, channel="email", basis="service", key="w:2", body="Hi")
    event = {"RecordType": "Delivery", "MessageID": "pm-2", "DeliveredAt": "2026-11-23T19:00:00Z"}
    event["Metadata"] = {"message_key": "w:2"}
    assert postmark(client, event, auth="hook:wrong").status_code == 400
    assert postmark(client, event, auth="").status_code == 400
    message.refresh_from_db()
    assert message.status == "sent" and not ProviderEvent.objects.exists()


def test_email_webhooks_are_off_without_a_secret(client, union, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    event = {"RecordType": "Delivery", "MessageID": "pm-3", "DeliveredAt": "2026-11-23T19:00:00Z"}
    assert postmark(client, event, auth="").status_code == 403
    assert not ProviderEvent.objects.exists()
