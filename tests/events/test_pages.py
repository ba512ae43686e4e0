"""Event pages: who may see and do what, forms with bad input, check-in, export, calendar and QR code."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import AuditEntry
from events import services, tokens
from events.models import Event, Registration
from tests.events.conftest import certify, event_details, snapshot

pytestmark = pytest.mark.django_db


def client_for(client, union, persona):
    client.force_login(getattr(union.users, persona))
    return client


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def event_form_data(union, **overrides):
    now = timezone.now()
    data = {
        "kind": "meeting",
        "title": "Leeds branch meeting",
        "description": "",
        "starts_at": local(now + datetime.timedelta(days=10)),
        "ends_at": local(now + datetime.timedelta(days=10, hours=2)),
        "venue": "Leeds Civic Hall",
        "online_url": "",
        "capacity": "40",
        "registration_opens_at": local(now - datetime.timedelta(hours=1)),
        "registration_closes_at": local(now + datetime.timedelta(days=9)),
        "host": f"branch:{union.branches.leeds.pk}",
        "audience": "everyone",
    }
    data.update(overrides)
    return data


def test_an_organiser_creates_an_event_from_the_form(client, union):
    c = client_for(client, union, "organiser_north")
    response = c.post(reverse("events:event_create"), event_form_data(union))
    event = Event.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("events:event_detail", args=[event.pk])
    assert event.host_branch == union.branches.leeds and event.capacity == 40


def test_a_weekly_event_from_the_form_makes_each_week(client, union):
    c = client_for(client, union, "organiser_north")
    c.post(reverse("events:event_create"), event_form_data(union, kind="member_call", repeat_weeks="4"))
    assert Event.objects.count() == 4 and Event.objects.values("series").distinct().count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"capacity": "lots"}, "capacity"),
        ({"capacity": "0"}, "capacity"),
        ({"starts_at": "31/02/2030"}, "starts_at"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"host": f"branch:{999999}"}, "host"),
        ({"kind": "rave"}, "kind"),
        ({"audience": "strand"}, "audience_strand"),
        ({"audience": "strand", "audience_strand": "left_handed"}, "audience_strand"),
        ({"audience": "branch"}, "audience_branch"),
        ({"venue": ""}, "venue"),
        ({"online_url": "javascript:alert(1)"}, "online_url"),
        ({"repeat_weeks": "99"}, "repeat_weeks"),
    ],
)
def test_bad_event_forms_are_refused_with_the_error_linked_to_the_field(client, union, overrides, field):
    c = client_for(client, union, "organiser_north")
    before = snapshot()
    response = c.post(reverse("events:event_create"), event_form_data(union, **overrides))
    assert response.status_code == 400
    assert f'href="#id_{field}"' in response.content.decode()
    assert snapshot() == before


def test_an_organiser_cannot_host_outside_their_patch_and_reps_cannot_create(client, union):
    c = client_for(client, union, "organiser_north")
    response = c.post(
        reverse("events:event_create"), event_form_data(union, host=f"branch:{union.branches.bristol.pk}")
    )
    assert response.status_code == 400 and not Event.objects.exists()
    c = client_for(client, union, "rep_oak")
    assert c.get(reverse("events:event_create")).status_code == 403


def test_a_member_registers_sees_their_code_and_qr_and_can_cancel(client, union, make_event):
    event = make_event()
    c = client_for(client, union, "member_oak")
    response = c.post(
        reverse("events:event_detail", args=[event.pk]),
        {
            "action": "self",
            "self-access_needs": "Step-free access",
            "self-dietary_needs": "",
            "self-needs_childcare": "on",
        },
    )
    registration = Registration.objects.get()
    # The member's own registration is in the member portal (one page for it); the old address sends them there.
    assert response["Location"] == reverse("portal:registration", args=[registration.pk])
    old = c.get(reverse("events:registration_detail", args=[registration.pk]))
    assert old["Location"] == reverse("portal:registration", args=[registration.pk])
    page = c.get(response["Location"]).content.decode()
    assert tokens.checkin_code(registration) in page and "<svg" in page and "Step-free access" in page
    assert "/events/calendar/" in page
    c.post(reverse("portal:registration_cancel", args=[registration.pk]))
    assert Registration.objects.get().status == "cancelled"


def test_refusals_on_the_event_page_are_shown_and_change_nothing(client, union, make_event):
    event = make_event(audience="branch", audience_branch=union.branches.york)
    c = client_for(client, union, "member_oak")
    page = c.get(reverse("events:event_detail", args=[event.pk])).content.decode()
    assert "This event is for members in a branch: york only." in page.replace("York", "york")
    before = snapshot()
    response = c.post(reverse("events:event_detail", args=[event.pk]), {"action": "self", "self-dietary_needs": ""})
    assert response.status_code == 400 and "This event is for" in response.content.decode()
    oversized = c.post(
        reverse("events:event_detail", args=[event.pk]), {"action": "self", "self-dietary_needs": "x" * 300}
    )
    assert oversized.status_code == 400
    assert c.post(reverse("events:event_detail", args=[event.pk]), {"action": "steal"}).status_code == 400
    assert c.post(reverse("events:event_detail", args=[event.pk]), {"action": "other"}).status_code == 403
    assert snapshot() == before


def test_a_rep_registers_a_member_by_number_only_within_their_scope(client, union, make_event):
    event = make_event()
    c = client_for(client, union, "rep_oak")
    url = reverse("events:event_detail", args=[event.pk])
    before = snapshot()
    response = c.post(url, {"action": "other", "other-membership_number": union.members.elm.membership_number})
    assert response.status_code == 400 and "No member with that number" in response.content.decode()
    assert snapshot() == before
    c.post(url, {"action": "other", "other-membership_number": union.members.oak.membership_number.lower()})
    assert Registration.objects.get().member == union.members.oak


def test_access_needs_are_for_the_organisers_not_for_reps(client, union, make_event):
    event = make_event()
    registration = services.register_for_event(
        actor=union.users.member_oak, event=event, member=union.members.oak, access_needs="Hearing loop please"
    )
    organiser = client_for(client, union, "organiser_north")
    assert "Hearing loop please" in organiser.get(reverse("events:event_manage", args=[event.pk])).content.decode()
    rep = client_for(client, union, "rep_oak")
    assert rep.get(reverse("events:event_manage", args=[event.pk])).status_code == 403
    page = rep.get(reverse("events:registration_detail", args=[registration.pk])).content.decode()
    assert "Hearing loop" not in page and "Access needs" not in page
    assert tokens.checkin_code(registration) not in page
    member_page = rep.get(reverse("member_detail", args=[union.members.oak.pk])).content.decode()
    assert "North members&#x27; meeting" in member_page and "Hearing loop" not in member_page
    assert (
        client_for(client, union, "organiser_bristol")
        .get(reverse("events:registration_detail", args=[registration.pk]))
        .status_code
        == 404
    )


def test_check_in_page_accepts_a_code_and_refuses_another_events(client, union, make_event):
    event, other = make_event(title="Here"), make_event(title="Elsewhere")
    here = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    there = services.register_for_event(actor=union.users.national, event=other, member=union.members.rep)
    c = client_for(client, union, "organiser_north")
    url = reverse("events:event_check_in", args=[event.pk])
    ok = c.post(url, {"code": tokens.checkin_code(here)})
    assert ok.status_code == 200 and "Owen Oakley</strong> is checked in" in ok.content.decode()
    before = snapshot()
    wrong = c.post(url, {"code": tokens.checkin_code(there)})
    assert wrong.status_code == 400 and "This code is for another event: Elsewhere" in wrong.content.decode()
    for bad in ("", "R1-NOTACODE", "x" * 65):
        assert c.post(url, {"code": bad}).status_code == 400
    assert snapshot() == before
    assert client_for(client, union, "rep_oak").get(url).status_code == 403


def test_export_is_for_organisers_and_is_audited(client, union, make_event):
    event = make_event()
    services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    c = client_for(client, union, "organiser_north")
    response = c.get(reverse("events:event_export", args=[event.pk]))
    assert response["Content-Type"].startswith("text/csv") and "Oakley" in response.content.decode()
    assert AuditEntry.objects.filter(action="export", target_type="events.event").count() == 1
    assert (
        client_for(client, union, "organiser_bristol").get(reverse("events:event_export", args=[event.pk])).status_code
        == 403
    )


def test_event_ics_and_the_calendar_feed_without_login(client, union, make_event):
    event = make_event(title="Feed meeting")
    services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    c = client_for(client, union, "member_oak")
    ics = c.get(reverse("events:event_ics", args=[event.pk]))
    assert ics["Content-Type"].startswith("text/calendar") and b"SUMMARY:Feed meeting" in ics.content
    client.logout()
    feed = client.get(reverse("events:calendar_feed", args=[tokens.calendar_token(union.members.oak)]))
    assert feed.status_code == 200 and b"SUMMARY:Feed meeting" in feed.content
    assert client.get(reverse("events:calendar_feed", args=["1:forged"])).status_code == 404
    empty = client.get(reverse("events:calendar_feed", args=[tokens.calendar_token(union.members.rep)]))
    assert b"VEVENT" not in empty.content


def test_courses_training_record_and_gaps(client, union, course):
    session = services.create_event(
        actor=union.users.organiser_north,
        details=event_details(union, kind="training", course=course["health-safety-2"], title="H&S stage 2, Leeds"),
    )
    c = client_for(client, union, "rep_oak")
    page = c.get(reverse("events:course_list")).content.decode()
    assert "H&amp;S stage 2, Leeds" in page and "You need Health and safety stage 1 first" in page
    certify(union.members.rep, course["foundation"])
    record = c.get(reverse("portal:training")).content.decode()
    assert "Rep foundation" in record and "Training done" in record
    assert c.get(reverse("events:training_gaps")).status_code == 403
    gaps = client_for(client, union, "organiser_north").get(reverse("events:training_gaps")).content.decode()
    assert "Every rep in your patch has the training" in gaps
    assert re.search(r"North</th>\s*<td>1</td>\s*<td>0</td>", gaps)
    assert session.pk


def test_pages_need_sign_in_and_out_of_scope_is_404(client, union):
    for name in ("events:event_list", "events:course_list", "portal:training", "events:training_gaps"):
        assert client.get(reverse(name)).status_code == 302
    c = client_for(client, union, "rep_oak")
    assert c.get(reverse("events:member_training", args=[union.members.elm.pk])).status_code == 404
    assert c.get(reverse("events:event_detail", args=[999999])).status_code == 404
    assert c.get(reverse("events:registration_detail", args=[999999])).status_code == 404


def test_the_event_list_runs_the_same_queries_for_many_events(client, union, make_event, course):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = client_for(client, union, "rep_oak")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert c.get(reverse("events:event_list")).status_code == 200
        return len(captured)

    make_event(audience="reps")
    make_event(kind="training", course=course["health-safety-2"])
    few = queries()
    for _ in range(5):
        make_event(audience="reps")
        make_event(kind="training", course=course["health-safety-1"])
    assert queries() == few


def test_an_organiser_cancels_an_event_only_with_confirmation(client, union, make_event):
    event = make_event()
    c = client_for(client, union, "organiser_north")
    url = reverse("events:event_cancel", args=[event.pk])
    c.post(url, {})
    assert not Event.objects.get(pk=event.pk).is_cancelled
    c.post(url, {"confirm": "yes"})
    assert Event.objects.get(pk=event.pk).is_cancelled
    assert client_for(client, union, "rep_oak").post(url, {"confirm": "yes"}).status_code == 403


def test_the_registration_list_shows_places_then_the_waiting_list_then_cancellations(client, union, make_event):
    event = make_event(capacity=1)
    first = services.register_for_event(actor=union.users.national, event=event, member=union.members.rep)
    services.register_for_event(actor=union.users.national, event=event, member=union.members.elm)
    services.register_for_event(actor=union.users.national, event=event, member=union.members.ash)
    services.cancel_registration(actor=union.users.national, registration=first)  # Ella moves up
    page = client_for(client, union, "organiser_north").get(reverse("events:event_manage", args=[event.pk]))
    text = page.content.decode()
    assert text.index("Ella Elmore") < text.index("Ash Ashworth") < text.index("Rita Rep")
