"""Outreach pages and API: who may use them, what they show, and bad input (a clear error, nothing changed)."""

import datetime

import pytest
from django.utils import timezone

from crm.models import Campaign, InboundText, Message, Segment
from crm.services import outreach
from crm.sms import locmem


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
def quiet_backends(settings):
    settings.SMS_BACKEND = "crm.sms.locmem.SmsBackend"
    settings.OUTREACH_RATE_PER_SECOND = {"sms": 0, "email": 0}
    settings.OUTREACH_RATE_LIMIT_REDIS_URL = ""
    locmem.outbox.clear()


def login(client, union, persona):
    client.force_login(getattr(union.users, persona))
    return client


@pytest.fixture
def segment(union):
    return Segment.objects.create(
        name="North active", owner=union.users.organiser_north, filters={"status": ["active"]}
    )


@pytest.fixture
def campaign(union, segment):
    details = {"name": "Pay ballot", "channel": "sms", "purpose": "news", "segment": segment, "body": "Hi {first_name}"}
    return outreach.create_campaign(actor=union.users.organiser_north, details=details)


def form_data(segment, /, **changes):
    data = {"name": "Pay ballot", "channel": "sms", "purpose": "news", "segment": segment.pk, "body": "Hi {first_name}"}
    data.update(changes)
    return data


def test_organisers_compose_preview_and_send_from_the_pages(client, union, segment, django_capture_on_commit_callbacks):
    login(client, union, "organiser_north")
    assert client.get("/outreach/").status_code == 200
    assert client.get("/outreach/new/").status_code == 200
    response = client.post("/outreach/new/", form_data(segment, body="Hi {first_name} at {workplace}"))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/outreach/{campaign.pk}/"
    page = client.get(f"/outreach/{campaign.pk}/").content.decode()
    assert "GSM-7" in page and "Will be sent it" in page and "Estimated cost" in page
    sample = client.get(f"/outreach/{campaign.pk}/", {"membership_number": union.members.elm.membership_number})
    assert "Hi Ella at Elm Academy" in sample.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/outreach/{campaign.pk}/send/", {"when": "now"})
    assert sent.status_code == 302 and sent["Location"] == f"/outreach/{campaign.pk}/progress/"
    progress = client.get(f"/outreach/{campaign.pk}/progress/").content.decode()
    assert "Messages by state" in progress and "Not sent (no consent or no address)" in progress
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_a_sending_campaigns_progress_page_refreshes_and_can_cancel(client, union, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status="sending", started_at=timezone.now())
    login(client, union, "organiser_north")
    page = client.get(f"/outreach/{campaign.pk}/progress/").content.decode()
    assert 'http-equiv="refresh"' in page and "Cancel the campaign" in page
    assert client.post(f"/outreach/{campaign.pk}/cancel/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert 'http-equiv="refresh"' not in client.get(f"/outreach/{campaign.pk}/progress/").content.decode()


@pytest.mark.parametrize("persona", ["rep_oak", "member_oak", "scrutineer", "outsider"])
def test_reps_and_members_cannot_use_outreach(client, union, campaign, persona):
    login(client, union, persona)
    for url in ("/outreach/", "/outreach/new/", f"/outreach/{campaign.pk}/", "/outreach/inbox/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/outreach/{campaign.pk}/cancel/").status_code == 403


def test_another_organisers_campaign_is_not_found(client, union, campaign):
    login(client, union, "organiser_bristol")
    for url in (f"/outreach/{campaign.pk}/", f"/outreach/{campaign.pk}/progress/", f"/outreach/{campaign.pk}/edit/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/outreach/{campaign.pk}/cancel/").status_code == 404
    assert client.post(f"/outreach/{campaign.pk}/send/", {"when": "now"}).status_code == 404
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    login(client, union, "national")
    assert client.get(f"/outreach/{campaign.pk}/").status_code == 200


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"name": ""}, "name"),
        ({"channel": "pigeon"}, "channel"),
        ({"segment": "999999"}, "segment"),
        ({"segment": "nonsense"}, "segment"),
        ({"body": ""}, "body"),
        ({"body": "Hello {nickname}"}, "body"),
        ({"channel": "email", "subject": ""}, "subject"),
        ({"channel": "email", "subject": "Hi", "html_body": "<img src=x onerror=alert(1)>"}, "html_body"),
        ({"sender_name": "!!!"}, "sender_name"),
    ],
)
def test_bad_compose_input_shows_errors_and_saves_nothing(client, union, segment, changes, field):
    login(client, union, "organiser_north")
    response = client.post("/outreach/new/", form_data(segment, **changes))
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page and f'href="#id_{field}"' in page
    assert not Campaign.objects.exists()


def test_bad_schedule_input_is_refused(client, union, campaign):
    login(client, union, "organiser_north")
    past = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    for data in ({"when": "later"}, {"when": "later", "scheduled_at": past}, {"when": "soonish"}, {}):
        response = client.post(f"/outreach/{campaign.pk}/send/", data)
        assert response.status_code == 400 and "There is a problem" in response.content.decode(), data
    campaign.refresh_from_db()
    assert campaign.status == "draft" and not Message.objects.exists()
    future = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(f"/outreach/{campaign.pk}/send/", {"when": "later", "scheduled_at": future}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"


def test_an_unknown_sample_member_is_an_error_on_the_preview(client, union, campaign):
    login(client, union, "organiser_north")
    page = client.get(f"/outreach/{campaign.pk}/", {"membership_number": union.members.ash.membership_number})
    assert "No member in this campaign" in page.content.decode()  # Ash is outside the organiser's patch


def test_a_test_send_without_an_address_says_so(client, union, campaign):
    login(client, union, "organiser_north")
    response = client.post(f"/outreach/{campaign.pk}/test/", follow=True)
    assert "no mobile number" in response.content.decode()
    assert not Message.objects.exists()


def test_the_inbox_shows_replies_from_members_in_scope(client, union):
    outreach.receive_text(from_number=union.members.rep.mobile, body="Is the meeting on?", provider_id="SM1")
    outreach.receive_text(from_number="+447700900555", body="Who is this?", provider_id="SM2")
    login(client, union, "organiser_north")
    page = client.get("/outreach/inbox/").content.decode()
    assert "Is the meeting on?" in page and "Who is this?" not in page
    login(client, union, "organiser_bristol")
    assert "Is the meeting on?" not in client.get("/outreach/inbox/").content.decode()
    text = InboundText.objects.get(provider_id="SM1")
    assert client.post(f"/outreach/inbox/{text.pk}/handled/").status_code == 404
    login(client, union, "national")
    assert "Who is this?" in client.get("/outreach/inbox/").content.decode()
    assert client.post(f"/outreach/inbox/{text.pk}/handled/").status_code == 302
    text.refresh_from_db()
    assert text.is_handled and text.handled_by == union.users.national


def test_nav_links_show_for_organisers_only(client, union):
    login(client, union, "organiser_north")
    assert 'href="/outreach/"' in client.get("/members/").content.decode()
    login(client, union, "rep_oak")
    assert 'href="/outreach/"' not in client.get("/members/").content.decode()


# API -----------------------------------------------------------------------------------------------------

API = "/api/v1/campaigns/"


def api_body(segment, /, **changes):
    return {"name": "Pay ballot", "channel": "sms", "segment": segment.pk, "body": "Hi {first_name}"} | changes


def test_the_api_creates_previews_sends_and_reports_progress(
    client, union, segment, django_capture_on_commit_callbacks
):
    login(client, union, "organiser_north")
    created = client.post(API, api_body(segment), content_type="application/json")
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    preview = client.get(f"{API}{campaign_id}/preview/", {"member": union.members.elm.pk}).json()
    assert preview["body"] == "Hi Ella" and preview["sms"]["encoding"] == "GSM-7"
    assert preview["recipients"]["audience"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"{API}{campaign_id}/schedule/", {}, content_type="application/json")
    assert sent.status_code == 200
    progress = client.get(f"{API}{campaign_id}/progress/").json()
    assert progress["status"] == "sent" and progress["messages"]["total"] == 4
    listed = client.get("/api/v1/messages/", {"campaign": campaign_id}).json()
    assert listed["count"] == 4
    assert client.post(f"{API}{campaign_id}/cancel/").status_code == 400  # finished: nothing to cancel


def test_the_api_edits_a_draft_and_schedules_and_cancels(client, union, campaign):
    login(client, union, "organiser_north")
    url = f"{API}{campaign.pk}/"
    assert client.patch(url, {"body": "Changed {first_name}"}, content_type="application/json").status_code == 200
    later = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    scheduled = client.post(f"{url}schedule/", {"scheduled_at": later}, content_type="application/json")
    assert scheduled.json()["status"] == "scheduled"
    assert client.post(f"{url}cancel/").json()["status"] == "cancelled"


@pytest.mark.parametrize(
    "changes",
    [
        {"channel": "fax"},
        {"segment": 999999},
        {"segment": "abc"},
        {"body": ""},
        {"body": "Hi {nickname}"},
        {"name": "x" * 121},
        {"channel": "email", "subject": ""},
        {"sender_name": "far too long a sender"},
        {"is_urgent": "perhaps"},
    ],
)
def test_bad_api_input_is_a_400_and_saves_nothing(client, union, segment, changes):
    login(client, union, "organiser_north")
    response = client.post(API, api_body(segment, **changes), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()
    assert not Campaign.objects.exists()


def test_bad_api_actions_are_refused(client, union, campaign):
    login(client, union, "organiser_north")
    url = f"{API}{campaign.pk}/"
    past = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    assert client.post(f"{url}schedule/", {"scheduled_at": past}, content_type="application/json").status_code == 400
    assert (
        client.post(f"{url}schedule/", {"scheduled_at": "tomorrow"}, content_type="application/json").status_code == 400
    )
    assert client.get(f"{url}preview/", {"member": "x"}).status_code == 400
    assert client.get(f"{url}preview/", {"member": union.members.ash.pk}).status_code == 400
    assert client.post(url + "schedule/", "{not json", content_type="application/json").status_code == 400
    campaign.refresh_from_db()
    assert campaign.status == "draft"


@pytest.mark.parametrize("persona, status", [("rep_oak", 403), ("member_oak", 403), ("organiser_bristol", 404)])
def test_the_api_keeps_campaigns_in_scope(client, union, campaign, persona, status):
    login(client, union, persona)
    assert client.get(f"{API}{campaign.pk}/").status_code == status
    assert client.post(f"{API}{campaign.pk}/cancel/").status_code == status
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_the_api_needs_a_login(client, campaign):
    assert client.get(API).status_code == 401


def test_a_draft_is_edited_on_its_page_and_a_sent_campaign_cannot_be(client, union, campaign, segment):
    login(client, union, "organiser_north")
    assert client.get(f"/outreach/{campaign.pk}/edit/").status_code == 200
    response = client.post(f"/outreach/{campaign.pk}/edit/", form_data(segment, body="Hello {first_name}"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.body == "Hello {first_name}"
    bad = client.post(f"/outreach/{campaign.pk}/edit/", form_data(segment, body="Hello {nickname}"))
    assert bad.status_code == 200 and "There is a problem" in bad.content.decode()
    campaign.refresh_from_db()
    assert campaign.body == "Hello {first_name}"
    Campaign.objects.filter(pk=campaign.pk).update(status="sent")
    assert client.get(f"/outreach/{campaign.pk}/edit/")["Location"] == f"/outreach/{campaign.pk}/"


def test_an_opt_out_link_page_asks_first_and_a_bad_one_says_so(client, union):
    from crm.services.messages import opt_out_token

    token = opt_out_token(union.members.rep.pk, "sms")
    page = client.get(f"/o/{token}/")
    assert page.status_code == 200 and "Stop texts" in page.content.decode()
    assert not union.members.rep.messages.exists()
    assert client.get("/o/not-a-token/").status_code == 404
    assert client.get("/o/" + "a" * 300 + "/").status_code == 404
