"""Campaign audiences beyond segments: an open election's members who have not voted yet (a reminder to vote),
and an event's registrants. Both within what the sender may see; the election one reads only has-voted."""

import datetime
import html
from io import StringIO

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from crm.errors import NotPermitted, ServiceError
from crm.models import (
    Campaign,
    Conversation,
    DuesAccount,
    DuesPayment,
    Member,
    Message,
    MessageAttachment,
    SmsOptOut,
)
from crm.services import outreach
from crm.services.messages import VOTED_REASON
from crm.sms import locmem
from elections.models import Ballot, Election, RollEntry
from elections.services import voting
from events import services as events
from events.models import Registration
from tests.elections.voting_helpers import contest, open_with_credentials
from tests.events.conftest import event_details


@pytest.fixture(autouse=True)
def eager_celery():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def quiet_backends(settings):
    settings.SMS_BACKEND = "crm.sms.locmem.SmsBackend"
    settings.OUTREACH_RATE_PER_SECOND = {"sms": 0, "email": 0}
    settings.OUTREACH_RATE_LIMIT_REDIS_URL = ""
    locmem.outbox.clear()


@pytest.fixture
def election(union):
    """A whole-union election open for voting; Ella (Elm, York) has voted. On the roll: Rita and Owen (Oak,
    Leeds), Ella (York), Ash (Bristol); Lara (lapsed) and Sam (in arrears) are not in good standing."""
    m = union.members
    election = contest(union.users.national, [m.rep, m.oak])
    credentials = open_with_credentials(union.users.national, election)
    rita = election.candidates.get(member=m.rep)
    voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [rita.pk]})
    election.refresh_from_db()
    return election


def reminder(user, election, **extra):
    details = {
        "name": "Have you voted?",
        "channel": "email",
        "purpose": Campaign.Purpose.BALLOT_NOTICE,
        "audience_kind": Campaign.AudienceKind.NON_VOTERS,
        "election": election,
        "subject": "Vote by Friday",
        "body": "Dear {first_name}, your ballot closes on Friday.",
    }
    return outreach.create_campaign(actor=user, details=details | extra)


def names(members) -> set[str]:
    return {member.first_name for member in members}


def test_non_voters_are_those_on_the_roll_who_have_not_voted_within_the_senders_sight(union, election):
    u = union.users
    assert RollEntry.objects.filter(roll__election=election).count() == 4
    national = reminder(u.national, election)
    assert national.audience_kind == "non_voters" and national.segment is None
    assert names(outreach.audience_for(national).members(u.national)) == {"Rita", "Owen", "Ash"}
    assert names(outreach.audience_for(reminder(u.organiser_north, election)).members(u.organiser_north)) == {
        "Rita",
        "Owen",
    }
    bristol = reminder(u.organiser_bristol, election)
    assert names(outreach.audience_for(bristol).members(u.organiser_bristol)) == {"Ash"}
    assert outreach.count_recipients(actor=u.organiser_bristol, campaign=bristol)["audience"] == 1
    assert national.audience_name == f"Not yet voted: {election.title}"


def test_a_reminder_goes_to_non_voters_once_and_not_to_who_voted_meanwhile(
    union, election, django_capture_on_commit_callbacks
):
    u, m = union.users, union.members
    campaign = reminder(u.national, election)
    with django_capture_on_commit_callbacks(execute=False):
        outreach.schedule_campaign(actor=u.national, campaign=campaign, at=None)
        outreach.queue_campaign(campaign_id=campaign.pk)
    queued = {msg.member.first_name: msg for msg in campaign.messages.select_related("member")}
    assert set(queued) == {"Rita", "Owen", "Ash"}
    # Owen votes after the reminder was queued, before it went: it is not sent.
    Message.objects.filter(key__startswith=f"election:{election.pk}:credential:").delete()
    RollEntry.objects.filter(roll__election=election, member=m.oak).update(
        has_voted=True, voted_on=timezone.localdate()
    )
    mail.outbox.clear()
    from crm.tasks import send_message_chunk

    send_message_chunk.apply(args=[[msg.pk for msg in queued.values()]]).get()
    assert sorted(email.to[0] for email in mail.outbox) == sorted([m.rep.email, m.ash.email])
    owen = Message.objects.get(pk=queued["Owen"].pk)
    assert (owen.status, owen.reason) == (Message.Status.CANCELLED, VOTED_REASON)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_bad_election_choices_are_refused(union, election):
    u = union.users
    draft = contest(u.national, [union.members.rep], title="Not open yet")
    for chosen in (None, draft, "1", union.members.rep):
        with pytest.raises(ServiceError, match="open for voting") as raised:
            reminder(u.national, chosen)
        assert raised.value.field == "election"
    with pytest.raises(NotPermitted):
        reminder(u.rep_oak, election)
    with pytest.raises(ServiceError, match="who the campaign goes to"):
        reminder(u.national, election, audience_kind="everyone")
    assert not Campaign.objects.exists()


def test_a_reminder_cannot_be_scheduled_after_voting_closes(union, election):
    campaign = reminder(union.users.national, election)
    late = election.voting_closes_at + datetime.timedelta(minutes=5)
    with pytest.raises(ServiceError, match="closed by then"):
        outreach.schedule_campaign(actor=union.users.national, campaign=campaign, at=late)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


@pytest.fixture
def event(union):
    """Room for one: Owen has the place, Rita waits, Ella registered and cancelled."""
    u, m = union.users, union.members
    event = events.create_event(actor=u.organiser_north, details=event_details(union, capacity=1))
    events.register_for_event(actor=u.national, event=event, member=m.oak)
    events.register_for_event(actor=u.national, event=event, member=m.rep)
    ella = events.register_for_event(actor=u.national, event=event, member=m.elm)
    Registration.objects.filter(pk=ella.pk).update(status=Registration.Status.CANCELLED)
    return event


def to_registrants(user, event, **extra):
    details = {
        "name": "Room change",
        "channel": "email",
        "purpose": Campaign.Purpose.EVENT_NOTICE,
        "audience_kind": Campaign.AudienceKind.REGISTRANTS,
        "event": event,
        "subject": "New room",
        "body": "We have moved to the main hall.",
    }
    return outreach.create_campaign(actor=user, details=details | extra)


def test_registrants_with_and_without_the_waiting_list(union, event):
    u = union.users
    placed = to_registrants(u.national, event)
    assert names(outreach.audience_for(placed).members(u.national)) == {"Owen"}
    everyone = to_registrants(u.national, event, include_waiting_list=True)
    assert names(outreach.audience_for(everyone).members(u.national)) == {"Owen", "Rita"}
    assert everyone.audience_name.endswith("(and waiting list)")
    # Organisers reach only members they may see: Bristol's organiser sees none of these.
    bristol = to_registrants(u.organiser_bristol, event, include_waiting_list=True)
    assert outreach.count_recipients(actor=u.organiser_bristol, campaign=bristol)["audience"] == 0


def test_bad_event_choices_are_refused(union, event):
    old = events.create_event(
        actor=union.users.organiser_north,
        details=event_details(
            union,
            starts_at=timezone.now() - datetime.timedelta(days=60),
            ends_at=timezone.now() - datetime.timedelta(days=59),
            registration_opens_at=timezone.now() - datetime.timedelta(days=90),
            registration_closes_at=timezone.now() - datetime.timedelta(days=61),
        ),
    )
    for chosen in (None, old, event.pk):
        with pytest.raises(ServiceError, match="event") as raised:
            to_registrants(union.users.national, chosen)
        assert raised.value.field == "event"
    assert not Campaign.objects.exists()


def test_editing_a_campaign_to_another_audience_keeps_only_that_reference(union, election, event):
    u = union.users
    campaign = reminder(u.national, election)
    outreach.update_campaign(
        actor=u.national, campaign=campaign, details={"audience_kind": "registrants", "event": event}
    )
    campaign.refresh_from_db()
    assert (campaign.audience_kind, campaign.election, campaign.event) == ("registrants", None, event)


def test_the_compose_page_takes_each_audience_and_shows_errors_on_the_field(client, union, election, event):
    client.force_login(union.users.organiser_north)
    page = client.get("/outreach/new/").content.decode()
    assert election.title in page and html.escape(event.title) in page and 'name="audience_kind"' in page
    assert "<legend>Who it goes to</legend>" in page
    for name in ("name", "channel", "purpose", "segment", "include_waiting_list", "subject", "body", "is_urgent"):
        assert f'name="{name}"' in page, name
    base = {"name": "Reminder", "channel": "email", "purpose": "ballot_notice", "subject": "Vote", "body": "Vote!"}
    missing = client.post("/outreach/new/", base | {"audience_kind": "non_voters"})
    assert missing.status_code == 200 and "Choose an election that is open for voting." in missing.content.decode()
    hostile = client.post("/outreach/new/", base | {"audience_kind": "non_voters", "election": "1 OR 1=1"})
    assert hostile.status_code == 200 and not Campaign.objects.exists()
    made = client.post("/outreach/new/", base | {"audience_kind": "non_voters", "election": election.pk})
    campaign = Campaign.objects.get()
    assert made.status_code == 302 and campaign.election == election
    detail = client.get(f"/outreach/{campaign.pk}/").content.decode()
    assert f"Not yet voted: {election.title}" in detail
    made = client.post(
        "/outreach/new/",
        base
        | {"purpose": "event_notice", "audience_kind": "registrants", "event": event.pk, "include_waiting_list": "on"},
    )
    assert made.status_code == 302
    assert Campaign.objects.get(event=event).include_waiting_list


def test_the_api_takes_each_audience_and_refuses_bad_input(union, election, event):
    api = APIClient()
    api.force_authenticate(union.users.organiser_north)
    base = {"name": "Reminder", "channel": "sms", "purpose": "ballot_notice", "body": "Vote by Friday"}
    made = api.post(
        "/api/v1/campaigns/", base | {"audience_kind": "non_voters", "election": election.pk}, format="json"
    )
    assert made.status_code == 201, made.content
    assert (made.json()["audience_kind"], made.json()["election"]) == ("non_voters", election.pk)
    made = api.post(
        "/api/v1/campaigns/",
        base | {"audience_kind": "registrants", "event": event.pk, "include_waiting_list": True},
        format="json",
    )
    assert made.status_code == 201 and made.json()["include_waiting_list"] is True
    for bad, field in (
        ({"audience_kind": "non_voters"}, "election"),
        ({"audience_kind": "non_voters", "election": 999999}, "election"),
        ({"audience_kind": "non_voters", "election": "x"}, "election"),
        ({"audience_kind": "registrants", "event": -1}, "event"),
        ({"audience_kind": "everyone"}, "audience_kind"),
        ({"audience_kind": "segment"}, "segment"),
    ):
        answer = api.post("/api/v1/campaigns/", base | bad, format="json")
        assert answer.status_code == 400 and field in answer.json(), (bad, answer.content)
    assert Campaign.objects.count() == 2


def test_seed_demo_flush_clears_campaigns_registrations_elections_and_messages(union, election, event):
    u = union.users
    campaign = reminder(u.organiser_north, election)
    outreach.schedule_campaign(actor=u.organiser_north, campaign=campaign, at=None)
    outreach.queue_campaign(campaign_id=campaign.pk)
    to_registrants(u.organiser_north, event)
    assert Message.objects.filter(campaign=campaign).exists() and Registration.objects.exists()
    assert MessageAttachment.objects.exists()  # the confirmations' calendar entries, waiting to be sent
    m = union.members
    DuesAccount.objects.create(member=m.oak, stripe_customer_id="cus_1")
    DuesPayment.objects.create(
        member=m.oak,
        stripe_invoice_id="in_1",
        outcome="paid",
        amount_pence=1500,
        category="teacher",
        occurred_at=timezone.now(),
    )
    Conversation.objects.create(
        member=m.oak, logged_by=u.organiser_north, channel="phone", held_on=timezone.localdate()
    )
    SmsOptOut.objects.create(number=m.rep.mobile)
    call_command("seed_demo", members=100, flush=True, seed=3, stdout=StringIO())
    assert not Campaign.objects.exists() and not Registration.objects.exists()
    assert not Election.objects.exists() and not Ballot.objects.exists()
    assert not Message.objects.exists() and not MessageAttachment.objects.exists()
    assert not DuesAccount.objects.exists() and not DuesPayment.objects.exists() and not SmsOptOut.objects.exists()
    assert not Conversation.objects.exists()
    # Nothing anywhere still points at a member that is gone.
    members = set(Member.objects.values_list("pk", flat=True))
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Member:
                pointed = set(model.objects.exclude(**{field.name: None}).values_list(field.attname, flat=True))
                assert pointed <= members, (model, field.name)
