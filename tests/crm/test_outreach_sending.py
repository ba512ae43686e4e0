"""Campaigns through the message pipeline: who gets them, once each, merge fields, SMS length, quiet hours,
STOP mid-campaign, cancelling, retries and recovery after a worker died."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import Campaign, Message, Segment, SmsOptOut
from crm.ratelimit import BURST, _local_reserve
from crm.services import messages as pipeline
from crm.services import outreach
from crm.sms import PermanentSendError, TemporarySendError, locmem
from crm.tasks import queue_campaign, recover_stalled_sends, release_due_outreach, send_message_chunk

UK = ZoneInfo("Europe/London")


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
    settings.OUTREACH_RATE_PER_SECOND = {"sms": 0, "email": 0}
    settings.OUTREACH_RATE_LIMIT_REDIS_URL = ""
    settings.QUORUM_SITE_URL = "https://quorum.example.org"
    locmem.outbox.clear()
    return locmem.outbox


@pytest.fixture(autouse=True)
def daytime(monkeypatch):
    """Texts wait through quiet hours (21:00-08:00 UK time), so these tests send at midday UK time whenever
    they run; the clock still moves. The quiet-hours test sets its own clock on top."""
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now().astimezone(ZoneInfo("Europe/London")).replace(hour=12))


@pytest.fixture
def consenting(union):
    """Rep and Owen (Oak) and Ella (Elm) agreed to texts and emails; the others did not."""
    m = union.members
    for member, mobile in ((m.rep, "+447911123001"), (m.oak, "+447911123002"), (m.elm, "+447911123003")):
        member.mobile = mobile
        member.sms_consent, member.sms_consent_source = True, "join_form"
        member.email_consent, member.email_consent_source = True, "join_form"
        member.save()
    m.ash.mobile = "+447911123004"
    m.ash.save()
    return union


def make_campaign(user, *, channel="sms", purpose="news", filters=None, **extra):
    segment = Segment.objects.create(name=f"Seg {Segment.objects.count()}", owner=user, filters=filters or {})
    details = {"name": "Turnout push", "channel": channel, "purpose": purpose, "segment": segment}
    details["body"] = "Hi {first_name} at {workplace} ({branch}): vote by Friday."
    if channel == "email":
        details["subject"] = "Ballot for {first_name}"
    return outreach.create_campaign(actor=user, details=details | extra)


def send_now(campaign, user, capture):
    with capture(execute=True):
        outreach.schedule_campaign(actor=user, campaign=campaign, at=None)
    campaign.refresh_from_db()
    return campaign


def statuses(campaign):
    return {m.member.first_name: m.status for m in campaign.messages.select_related("member")}


def test_a_text_campaign_reaches_only_members_who_consented_each_once(consenting, sms_outbox, capture):
    national = consenting.users.national
    campaign = send_now(make_campaign(national), national, capture)
    assert campaign.status == Campaign.Status.SENT and campaign.recipients == 6
    assert statuses(campaign) == {
        "Rita": "sent",
        "Owen": "sent",
        "Ella": "sent",
        "Ash": "suppressed",  # a mobile, but no consent
        "Lara": "suppressed",
        "Sam": "suppressed",
    }
    assert sorted(t.to for t in sms_outbox) == ["+447911123001", "+447911123002", "+447911123003"]
    owen = next(t for t in sms_outbox if t.to == "+447911123002")
    assert owen.body == "Hi Owen at Oak Primary (Leeds): vote by Friday."
    # Running the build and the send tasks again sends nothing more.
    ids = list(campaign.messages.values_list("pk", flat=True))
    queue_campaign.apply(args=[campaign.pk])
    send_message_chunk.apply(args=[ids])
    assert len(sms_outbox) == 3 and campaign.messages.count() == 6


def test_a_campaign_reaches_only_members_its_author_may_see(consenting, sms_outbox, capture):
    organiser = consenting.users.organiser_bristol
    consenting.members.ash.sms_consent, consenting.members.ash.sms_consent_source = True, "join_form"
    consenting.members.ash.save()
    campaign = send_now(make_campaign(organiser), organiser, capture)
    assert statuses(campaign) == {"Ash": "sent"}
    assert [t.to for t in sms_outbox] == ["+447911123004"]


def test_service_notices_go_without_campaign_consent_but_never_to_an_opted_out_number(consenting, sms_outbox, capture):
    SmsOptOut.objects.create(number="+447911123002")  # Owen texted STOP once
    national = consenting.users.national
    campaign = make_campaign(national, purpose="ballot_notice")
    counts = outreach.count_recipients(actor=national, campaign=campaign)
    assert counts == {"audience": 6, "no_address": 2, "no_consent": 0, "opted_out": 1, "sendable": 3}
    send_now(campaign, national, capture)
    assert statuses(campaign) == {
        "Rita": "sent",
        "Owen": "opted_out",
        "Ella": "sent",
        "Ash": "sent",
        "Lara": "suppressed",
        "Sam": "suppressed",
    }


def test_recipient_count_matches_what_is_sent(consenting, sms_outbox, capture):
    national = consenting.users.national
    SmsOptOut.objects.create(number="+447911123003")
    campaign = make_campaign(national)
    counts = outreach.count_recipients(actor=national, campaign=campaign)
    assert counts == {"audience": 6, "no_address": 2, "no_consent": 1, "opted_out": 1, "sendable": 2}
    send_now(campaign, national, capture)
    assert len(sms_outbox) == counts["sendable"]


def test_stop_during_a_campaign_already_sending_stops_the_texts_to_that_number(consenting, sms_outbox, capture):
    national = consenting.users.national
    campaign = make_campaign(national)
    with capture(execute=False):  # built and queued, not yet sent
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    queue_campaign.apply(args=[campaign.pk])
    reply = outreach.receive_text(from_number="+447911123002", body=" stop ", provider_id="SMin1")
    assert "no more texts" in reply
    ids = list(campaign.messages.values_list("pk", flat=True))
    send_message_chunk.apply(args=[ids])
    assert sorted(t.to for t in sms_outbox) == ["+447911123001", "+447911123003"]
    assert statuses(campaign)["Owen"] == "opted_out"


def test_an_opt_out_that_lands_after_the_bulk_update_is_still_checked_at_send_time(consenting, sms_outbox, capture):
    national = consenting.users.national
    campaign = make_campaign(national)
    with capture(execute=False):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    queue_campaign.apply(args=[campaign.pk])
    SmsOptOut.objects.create(number="+447911123001")  # written straight in: no queued rows were touched
    send_message_chunk.apply(args=[list(campaign.messages.values_list("pk", flat=True))])
    assert "+447911123001" not in [t.to for t in sms_outbox]
    assert statuses(campaign)["Rita"] == "opted_out"


def test_start_opts_back_in_and_help_answers(consenting):
    outreach.receive_text(from_number="+447911123002", body="STOPALL", provider_id="SM1")
    assert SmsOptOut.objects.filter(number="+447911123002").exists()
    assert "again" in outreach.receive_text(from_number="+447911123002", body="Unstop", provider_id="SM2")
    assert not SmsOptOut.objects.exists()
    assert "STOP" in outreach.receive_text(from_number="+447911123002", body="help", provider_id="SM3")
    for word in ("UNSUBSCRIBE", "cancel", "End", "quit.", "STOP"):
        SmsOptOut.objects.all().delete()
        outreach.receive_text(from_number="+447911123002", body=word, provider_id=f"SM-{word}")
        assert SmsOptOut.objects.filter(number="+447911123002").exists(), word


def test_cancelling_while_sending_stops_the_rest(consenting, sms_outbox, capture):
    national = consenting.users.national
    campaign = make_campaign(national)
    with capture(execute=False):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    queue_campaign.apply(args=[campaign.pk])
    ids = list(campaign.messages.filter(status="queued").order_by("pk").values_list("pk", flat=True))
    send_message_chunk.apply(args=[ids[:1]])
    outreach.cancel_campaign(actor=national, campaign=campaign)
    send_message_chunk.apply(args=[ids])
    assert len(sms_outbox) == 1
    assert sorted(campaign.messages.values_list("status", flat=True)) == sorted(
        ["sent", "cancelled", "cancelled", "suppressed", "suppressed", "suppressed"]
    )
    with pytest.raises(ServiceError):
        outreach.cancel_campaign(actor=national, campaign=campaign)


def at_uk(hour, minute=0, day=23):
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=UK)


def test_texts_wait_through_quiet_hours_unless_urgent(consenting, sms_outbox, capture, monkeypatch, settings):
    settings.SMS_QUIET_HOURS = (21, 8)
    national = consenting.users.national
    monkeypatch.setattr(timezone, "now", lambda: at_uk(22, 30))
    campaign = send_now(make_campaign(national), national, capture)
    assert sms_outbox == []
    held = campaign.messages.filter(status="queued")
    assert held.count() == 3
    assert {m.send_after for m in held} == {at_uk(8, 0, day=24)}
    assert campaign.status == Campaign.Status.SENDING  # deferred, not dropped

    release_due_outreach.apply()  # still night: nothing is due
    assert sms_outbox == []
    monkeypatch.setattr(timezone, "now", lambda: at_uk(8, 1, day=24))
    release_due_outreach.apply()
    assert len(sms_outbox) == 3
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT

    urgent = make_campaign(national, is_urgent=True)
    monkeypatch.setattr(timezone, "now", lambda: at_uk(23, 0, day=24))
    send_now(urgent, national, capture)
    assert len(sms_outbox) == 6


def test_quiet_hours_edges(settings):
    settings.SMS_QUIET_HOURS = (21, 8)
    assert pipeline.in_quiet_hours(at_uk(21, 0)) and pipeline.in_quiet_hours(at_uk(7, 59))
    assert not pipeline.in_quiet_hours(at_uk(8, 0)) and not pipeline.in_quiet_hours(at_uk(20, 59))
    # Summer time: 20:30 UTC is 21:30 in London.
    assert pipeline.in_quiet_hours(datetime.datetime(2026, 7, 1, 20, 30, tzinfo=datetime.UTC))
    assert pipeline.end_of_quiet_hours(at_uk(6, 0)) == at_uk(8, 0)


def test_a_scheduled_campaign_starts_when_due(consenting, sms_outbox, capture, monkeypatch):
    national = consenting.users.national
    campaign = make_campaign(national, is_urgent=True)
    outreach.schedule_campaign(actor=national, campaign=campaign, at=timezone.now() + datetime.timedelta(hours=1))
    with capture(execute=True):
        release_due_outreach.apply()
    assert sms_outbox == []
    later = timezone.now() + datetime.timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with capture(execute=True):
        release_due_outreach.apply()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT and len(sms_outbox) == 3


class OnceBusyBackend:
    calls = 0

    def send(self, *, to, body, key, **options):
        OnceBusyBackend.calls += 1
        if OnceBusyBackend.calls == 1:
            raise TemporarySendError("Twilio 429: too many requests")
        return f"SM{OnceBusyBackend.calls}"


class RefusingBackend:
    def send(self, *, to, body, key, **options):
        raise PermanentSendError("Twilio 400 error 21211: invalid 'To' number")


def test_a_temporary_error_is_retried_and_a_permanent_one_is_not(consenting, capture, monkeypatch):
    national = consenting.users.national
    OnceBusyBackend.calls = 0
    monkeypatch.setattr(pipeline, "get_sms_backend", lambda: OnceBusyBackend())
    retried = []
    monkeypatch.setattr("crm.tasks.send_message.apply_async", lambda args, countdown: retried.append((args, countdown)))
    campaign = send_now(
        make_campaign(national, filters={"workplace": [str(consenting.workplaces.oak.pk)]}), national, capture
    )
    first = campaign.messages.get(attempts=1, status="queued")
    assert retried == [((first.pk,), 5)]  # handed back with a backoff; the chunk went on
    assert first.reason.startswith("Twilio 429")
    assert campaign.messages.filter(status="sent").count() == 1
    pipeline.send_message(message_id=first.pk)  # the retry
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("sent", 2)

    monkeypatch.setattr(pipeline, "get_sms_backend", lambda: RefusingBackend())
    refused = send_now(
        make_campaign(national, filters={"workplace": [str(consenting.workplaces.elm.pk)]}), national, capture
    )
    message = refused.messages.get(member=consenting.members.elm)
    assert (message.status, message.attempts) == ("failed", 1)
    assert "21211" in message.reason


def test_recovery_settles_messages_a_dead_worker_left_sending(consenting, sms_outbox, capture):
    national = consenting.users.national
    campaign = make_campaign(national)
    with capture(execute=False):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    queue_campaign.apply(args=[campaign.pk])
    rita, owen, ella = (
        campaign.messages.get(member=m)
        for m in (consenting.members.rep, consenting.members.oak, consenting.members.elm)
    )
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    Message.objects.filter(pk__in=[rita.pk, owen.pk]).update(status="sending", attempts=1, claimed_at=long_ago)
    Message.objects.filter(pk=ella.pk).update(status="sending", attempts=1, claimed_at=timezone.now())
    # Rita's text reached the provider before the worker died; Owen's did not; Ella's is still in hand.
    sms_outbox.append(locmem.SentText(to=rita.to, body=rita.body, key=rita.key))
    with capture(execute=True):
        outcome = recover_stalled_sends.apply(kwargs={"older_than_seconds": 600}).get()
    assert outcome["sent"] == 1 and outcome["requeued"] == 1
    for message in (rita, owen, ella):
        message.refresh_from_db()
    assert (rita.status, owen.status, ella.status) == ("sent", "sent", "sending")
    assert [t.key for t in sms_outbox].count(rita.key) == 1
    assert [t.key for t in sms_outbox].count(owen.key) == 1


def test_recovery_never_resends_when_the_provider_cannot_be_asked(consenting, settings, capture):
    settings.SMS_BACKEND = "crm.sms.console.SmsBackend"
    national = consenting.users.national
    campaign = make_campaign(national)
    with capture(execute=False):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    queue_campaign.apply(args=[campaign.pk])
    message = campaign.messages.filter(status="queued").first()
    Message.objects.filter(pk=message.pk).update(
        status="sending", claimed_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert pipeline.recover_stalled()["unknown"] == 1
    message.refresh_from_db()
    assert message.status == "unknown" and "check with the provider" in message.reason
    assert pipeline.send_message(message_id=message.pk).status == "unknown"


def test_an_email_campaign_carries_one_click_unsubscribe(consenting, capture, client):
    national = consenting.users.national
    campaign = make_campaign(national, channel="email", filters={"workplace": [str(consenting.workplaces.oak.pk)]})
    send_now(campaign, national, capture)
    assert len(mail.outbox) == 2
    email = next(e for e in mail.outbox if e.to == [consenting.members.oak.email])
    assert email.subject == "Ballot for Owen"
    link = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in email.body and link in email.alternatives[0][0]
    path = link.removeprefix("https://quorum.example.org")
    assert client.get(path).status_code == 200  # asking changes nothing
    consenting.members.oak.refresh_from_db()
    assert consenting.members.oak.email_consent
    response = client.post(path, {"List-Unsubscribe": "One-Click"})  # no session, no CSRF token
    assert response.status_code == 200
    consenting.members.oak.refresh_from_db()
    assert not consenting.members.oak.email_consent
    again = make_campaign(national, channel="email", filters={"workplace": [str(consenting.workplaces.oak.pk)]})
    assert statuses(send_now(again, national, capture))["Owen"] == "suppressed"


def test_a_forged_or_broken_opt_out_link_changes_nothing(consenting, client):
    oak = consenting.members.oak
    token = pipeline.opt_out_token(oak.pk, "email")
    other = pipeline.opt_out_token(consenting.members.elm.pk, "email")
    forged = token.split("-")[0] + "-" + other.split("-")[1]
    for bad in (forged, token[:-2], "e1-", "x" * 39, "%00", token.replace("e", "s", 1)):
        assert client.post(f"/o/{bad}/").status_code == 404, bad
    oak.refresh_from_db()
    assert oak.email_consent
    assert not SmsOptOut.objects.exists()


def test_a_named_sender_text_carries_a_short_opt_out_link(consenting, sms_outbox, capture, client):
    national = consenting.users.national
    campaign = make_campaign(
        national, sender_name="NEU Leeds", filters={"workplace": [str(consenting.workplaces.oak.pk)]}
    )
    send_now(campaign, national, capture)
    owen = next(t for t in sms_outbox if t.to == "+447911123002")
    link = owen.body.split("Stop texts: ")[1]
    assert len(link) < 60
    client.post(link.removeprefix("https://quorum.example.org"))
    assert SmsOptOut.objects.filter(number="+447911123002", source="link").exists()


def test_merge_fields_and_sms_length():
    assert outreach.sms_length("a" * 160).segments == 1
    assert outreach.sms_length("a" * 161).segments == 2
    assert outreach.sms_length("a" * 306).segments == 2 and outreach.sms_length("a" * 307).segments == 3
    euro = outreach.sms_length("€" * 80)  # extension characters take two septets
    assert (euro.encoding, euro.units, euro.segments) == ("GSM-7", 160, 1)
    curly = outreach.sms_length("Don’t miss it")  # a curly apostrophe is not GSM-7
    assert (curly.encoding, curly.segments, curly.non_gsm) == ("UCS-2", 1, ["’"])
    assert outreach.sms_length("✊" * 70).segments == 1 and outreach.sms_length("✊" * 71).segments == 2
    assert outreach.sms_length("😀" * 35).units == 70  # outside the BMP: two UTF-16 units each
    assert outreach.estimated_cost_pence(2, 1000) == 8000
    assert outreach.unknown_merge_fields("Hi {first_name} {shoe_size}") == ["shoe_size"]


def test_preview_for_a_sample_member_and_a_test_send(consenting, sms_outbox, capture):
    national = consenting.users.national
    national.member = consenting.members.ash  # a member of staff who is also a member
    national.save()
    campaign = make_campaign(national)
    preview = outreach.preview_campaign(actor=national, campaign=campaign, member=consenting.members.elm)
    assert preview.body == "Hi Ella at Elm Academy (York): vote by Friday."
    assert preview.sms.encoding == "GSM-7" and preview.sms.segments == 1
    with capture(execute=True):
        message = outreach.send_test(actor=national, campaign=campaign)
    assert [t.to for t in sms_outbox] == [consenting.members.ash.mobile]
    assert message.key.startswith(f"campaign:{campaign.pk}:test:")
    assert outreach.campaign_progress(campaign)["total"] == 0  # a test is not part of the campaign
    with pytest.raises(ServiceError):  # outside the audience
        other = make_campaign(consenting.users.organiser_bristol)
        outreach.preview_campaign(
            actor=consenting.users.organiser_bristol, campaign=other, member=consenting.members.oak
        )


def test_reps_and_members_may_not_send(consenting):
    for persona in ("rep_oak", "member_oak", "scrutineer", "outsider"):
        user = getattr(consenting.users, persona)
        with pytest.raises(NotPermitted):
            make_campaign(user)
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"channel": "fax"}, "channel"),
        ({"purpose": "spam"}, "purpose"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 1001}, "body"),
        ({"body": "Hi {shoe_size}"}, "body"),
        ({"sender_name": "A very long sender"}, "sender_name"),
        ({"sender_name": "12345"}, "sender_name"),
        ({"channel": "email", "subject": ""}, "subject"),
        ({"channel": "email", "subject": "Hi\r\nBcc: everyone@example.org"}, "subject"),
        ({"channel": "email", "subject": "x", "html_body": "<script>alert(1)</script>"}, "html_body"),
        ({"channel": "email", "subject": "x", "html_body": '<a href="javascript:alert(1)">x</a>'}, "html_body"),
        ({"channel": "email", "subject": "x", "html_body": '<p onclick="x()">x</p>'}, "html_body"),
    ],
)
def test_bad_campaign_content_is_refused_and_nothing_is_saved(consenting, change, field):
    national = consenting.users.national
    with pytest.raises(ServiceError) as refused:
        make_campaign(national, **change)
    assert refused.value.field == field
    assert not Campaign.objects.exists()


def test_someone_elses_private_segment_cannot_be_used(consenting):
    private = Segment.objects.create(name="Mine", owner=consenting.users.organiser_north, filters={})
    details = {"name": "x", "channel": "sms", "purpose": "news", "segment": private, "body": "Hi"}
    with pytest.raises(ServiceError) as refused:
        outreach.create_campaign(actor=consenting.users.organiser_bristol, details=details)
    assert refused.value.field == "segment"
    private.is_shared = True
    private.save()
    campaign = outreach.create_campaign(actor=consenting.users.organiser_bristol, details=details)
    # Shared, but evaluated within the Bristol organiser's own scope.
    assert outreach.count_recipients(actor=consenting.users.organiser_bristol, campaign=campaign)["audience"] == 1


def test_scheduling_in_the_past_or_twice_is_refused(consenting, capture):
    national = consenting.users.national
    campaign = make_campaign(national)
    with pytest.raises(ServiceError):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=timezone.now() - datetime.timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    send_now(campaign, national, capture)
    with pytest.raises(ServiceError):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    with pytest.raises(ServiceError):
        outreach.update_campaign(actor=national, campaign=campaign, details={"body": "changed"})


def test_the_send_rate_is_paced_by_reserved_slots():
    """Each reservation moves the channel's next slot on by 1/rate; a sender may catch up on at most BURST
    slots it fell behind on, then waits grow by 1/rate each."""
    waits = [_local_reserve("test-channel", 0.1) for _ in range(15)]
    steps = {round(b - a, 3) for a, b in zip(waits, waits[1:], strict=False)}
    assert steps == {0.1}
    assert round(waits[0], 2) == -BURST * 0.1 and round(waits[BURST], 2) == 0.0 and round(waits[-1], 2) == 0.4


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_clean_up_forgets_old_webhook_events_and_running_it_twice_changes_nothing(db):
    from crm.models import ProviderEvent
    from crm.tasks import clean_up_outreach

    old = ProviderEvent.objects.create(provider="twilio", event_id="old", kind="inbound")
    ProviderEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - datetime.timedelta(days=91))
    ProviderEvent.objects.create(provider="twilio", event_id="new", kind="inbound")
    assert clean_up_outreach.apply().get() == 1
    assert clean_up_outreach.apply().get() == 0
    assert list(ProviderEvent.objects.values_list("event_id", flat=True)) == ["new"]


def test_a_reply_is_handed_to_the_conversations_hook_once(consenting, django_capture_on_commit_callbacks):
    received = []

    def hook(sender, text, **kwargs):
        received.append(text.body)

    outreach.inbound_text_received.connect(hook)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outreach.receive_text(from_number="+447911123002", body="Count me in", provider_id="SM9")
            outreach.receive_text(from_number="+447911123002", body="Count me in", provider_id="SM9")
    finally:
        outreach.inbound_text_received.disconnect(hook)
    assert received == ["Count me in"]


def test_recovery_run_twice_settles_once(consenting, sms_outbox, capture):
    national = consenting.users.national
    campaign = make_campaign(national)
    with capture(execute=False):
        outreach.schedule_campaign(actor=national, campaign=campaign, at=None)
    queue_campaign.apply(args=[campaign.pk])
    message = campaign.messages.filter(status="queued").first()
    Message.objects.filter(pk=message.pk).update(
        status="sending", claimed_at=timezone.now() - datetime.timedelta(hours=1)
    )
    with capture(execute=True):
        first = recover_stalled_sends.apply(kwargs={"older_than_seconds": 600}).get()
        second = recover_stalled_sends.apply(kwargs={"older_than_seconds": 600}).get()
    assert first["requeued"] == 1 and second["requeued"] == 0
    assert [t.key for t in sms_outbox] == [message.key]
