"""Changing an event after it is made: audited, places and the waiting list, new times told once."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Message
from events import services
from events.models import Registration
from tests.events.conftest import snapshot
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def register_three(union, event):
    """Owen, Rita and Ella (in that order) register for a one-place event: one place, two waiting."""
    return [
        services.register_for_event(actor=union.users.national, event=event, member=member)
        for member in (union.members.oak, union.members.rep, union.members.elm)
    ]


def test_changes_are_saved_and_audited_field_by_field(union, make_event):
    event = make_event()
    services.update_event(
        actor=union.users.organiser_north,
        event=event,
        changes={"title": "North pay meeting", "venue": "Leeds Town Hall", "description": "Pay."},
    )
    event.refresh_from_db()
    assert (event.title, event.venue) == ("North pay meeting", "Leeds Town Hall")
    entry = AuditEntry.objects.filter(target_type="events.event", target_id=event.pk).latest("id")
    assert entry.actor == union.users.organiser_north
    assert entry.changes["venue"] == ["Leeds Civic Hall", "Leeds Town Hall"]
    assert set(entry.changes) == {"title", "venue", "description"}


def test_more_places_go_to_the_waiting_list_in_order(union, make_event):
    event = make_event(capacity=1)
    owen, rita, ella = register_three(union, event)
    assert [r.status for r in (owen, rita, ella)] == ["registered", "waiting", "waiting"]
    services.update_event(actor=union.users.organiser_north, event=event, changes={"capacity": 2})
    statuses = dict(Registration.objects.filter(event=event).values_list("member_id", "status"))
    assert statuses[union.members.rep.pk] == "registered"  # waited first
    assert statuses[union.members.elm.pk] == "waiting"
    assert Message.objects.filter(key=f"event:{event.pk}:registration:{rita.pk}:promoted").exists()


def test_fewer_places_than_people_registered_is_refused_clearly(union, make_event):
    event = make_event(capacity=3)
    register_three(union, event)
    before = snapshot()
    with pytest.raises(ServiceError, match="3 people already have a place") as refused:
        services.update_event(actor=union.users.organiser_north, event=event, changes={"capacity": 2})
    assert refused.value.field == "capacity"
    assert snapshot() == before
    services.update_event(actor=union.users.organiser_north, event=event, changes={"capacity": 3, "title": "Same"})


def moved_messages(event):
    return Message.objects.filter(key__startswith=f"event:{event.pk}:registration:", key__contains=":moved:")


def test_a_new_time_is_sent_to_everyone_registered_or_waiting_once_per_change(union, make_event):
    event = make_event(capacity=1)
    owen, rita, ella = register_three(union, event)
    services.cancel_registration(actor=union.users.national, registration=ella)
    later = event.starts_at + datetime.timedelta(days=1)
    services.update_event(
        actor=union.users.organiser_north,
        event=event,
        changes={"starts_at": later, "ends_at": later + datetime.timedelta(hours=2)},
    )
    first = list(moved_messages(event).order_by("id"))
    assert {m.member_id for m in first} == {owen.member_id, rita.member_id}  # not Ella, who cancelled
    assert all(m.subject == f"New time: {event.title}" for m in first)
    assert "Your place is kept" in next(m for m in first if m.member_id == owen.member_id).body
    assert "still on the waiting list" in next(m for m in first if m.member_id == rita.member_id).body
    change = AuditEntry.objects.filter(target_type="events.event", target_id=event.pk).latest("id")
    # The same change told again (a retry) adds nothing: the key is the change.
    owen.event = event
    services._tell_of_new_time(owen, change_id=change.pk)
    assert moved_messages(event).count() == 2
    # Saving the same time again is no change, and sends nothing.
    with pytest.raises(ServiceError, match="Nothing was changed"):
        services.update_event(
            actor=union.users.organiser_north,
            event=event,
            changes={"starts_at": later, "ends_at": later + datetime.timedelta(hours=2)},
        )
    assert moved_messages(event).count() == 2
    # Another change is a new message to each of them.
    services.update_event(
        actor=union.users.organiser_north, event=event, changes={"ends_at": later + datetime.timedelta(hours=3)}
    )
    assert moved_messages(event).count() == 4
    # A title change tells nobody anything.
    services.update_event(actor=union.users.organiser_north, event=event, changes={"title": "Renamed"})
    assert moved_messages(event).count() == 4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "hustings"}, None),
        ({"host_region": None}, None),
        ({"title": "  "}, "title"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": "50"}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"starts_at": datetime.datetime(2030, 1, 1, 10, 0)}, "starts_at"),  # no time zone
        ({"ends_at": timezone.now()}, "ends_at"),  # before the start
        ({"registration_closes_at": timezone.now() + datetime.timedelta(days=30)}, "registration_closes_at"),
        ({"venue": "", "online_url": ""}, "venue"),
        ({"audience": "branch"}, "audience_branch"),
        ({"audience": "strand", "audience_strand": "tall_member"}, "audience_strand"),
        ({"audience": "galaxy"}, "audience"),
        ({"title": "Same", "description": "x"}, "__unchanged__"),
    ],
)
def test_bad_changes_are_refused_with_nothing_changed(union, make_event, changes, field):
    event = make_event(title="Same", description="x")
    services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    before = snapshot()
    with pytest.raises(ServiceError) as refused:
        services.update_event(actor=union.users.organiser_north, event=event, changes=changes)
    if field == "__unchanged__":
        assert "Nothing was changed" in refused.value.message
    else:
        assert refused.value.field == field
    assert snapshot() == before


def test_only_the_events_organisers_change_it_and_not_once_cancelled(union, make_event):
    event = make_event()
    before = snapshot()
    for persona in ("organiser_bristol", "rep_oak", "member_oak", "scrutineer"):
        with pytest.raises(NotPermitted):
            services.update_event(actor=getattr(union.users, persona), event=event, changes={"title": "Mine"})
    assert snapshot() == before
    services.cancel_event(actor=union.users.organiser_north, event=event)
    with pytest.raises(ServiceError, match="cancelled"):
        services.update_event(actor=union.users.organiser_north, event=event, changes={"title": "Back on"})


def test_the_edit_page(client, union, make_event):
    event = make_event(capacity=2)
    for member in (union.members.oak, union.members.rep):
        services.register_for_event(actor=union.users.national, event=event, member=member)
    client.force_login(union.users.rep_oak)
    assert client.get(reverse("events:event_edit", args=[event.pk])).status_code == 403
    client.force_login(union.users.organiser_north)
    url = reverse("events:event_edit", args=[event.pk])
    form = client.get(url)
    assert form.status_code == 200 and 'value="Leeds Civic Hall"' in form.content.decode()
    data = {
        "title": event.title,
        "description": event.description,
        "starts_at": timezone.localtime(event.starts_at).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": timezone.localtime(event.ends_at).strftime("%Y-%m-%dT%H:%M"),
        "venue": event.venue,
        "online_url": "",
        "capacity": "1",
        "registration_opens_at": timezone.localtime(event.registration_opens_at).strftime("%Y-%m-%dT%H:%M"),
        "registration_closes_at": timezone.localtime(event.registration_closes_at).strftime("%Y-%m-%dT%H:%M"),
        "audience": "everyone",
    }
    before = snapshot()
    refused = client.post(url, data)
    assert refused.status_code == 400 and 'href="#id_capacity"' in refused.content.decode()
    assert "2 people already have a place" in refused.content.decode()
    assert client.post(url, {**data, "capacity": "many"}).status_code == 400
    assert client.post(url, {**data, "title": "x" * 201}).status_code == 400
    assert snapshot() == before
    saved = client.post(url, {**data, "capacity": "5", "venue": "Leeds Town Hall"})
    assert saved.status_code == 302
    event.refresh_from_db()
    assert (event.capacity, event.venue) == (5, "Leeds Town Hall")


def test_changing_an_event_through_the_api(union, make_event):
    event = make_event(capacity=1)
    owen, rita, _ella = register_three(union, event)
    api = APIClient()
    api.force_authenticate(union.users.organiser_north)
    before = snapshot()
    for body in ({"capacity": 0}, {"kind": "hustings"}, {"surprise": 1}, {"starts_at": "soon"}, [1, 2]):
        assert api.patch(f"/api/v1/events/{event.pk}/", body, format="json").status_code == 400, body
    refused = api.patch(f"/api/v1/events/{event.pk}/", {"ends_at": timezone.now().isoformat()}, format="json")
    assert refused.status_code == 400 and "ends_at" in refused.json()
    assert snapshot() == before
    done = api.patch(f"/api/v1/events/{event.pk}/", {"capacity": 2}, format="json")
    assert done.status_code == 200 and done.json()["capacity"] == 2 and done.json()["places_taken"] == 2
    other = APIClient()
    other.force_authenticate(union.users.organiser_bristol)
    assert other.patch(f"/api/v1/events/{event.pk}/", {"capacity": 9}, format="json").status_code == 403
    member = APIClient()
    member.force_authenticate(union.users.member_oak)
    assert member.patch(f"/api/v1/events/{event.pk}/", {"capacity": 9}, format="json").status_code == 403


def test_an_unrelated_member_is_not_told(union, make_event):
    event = make_event()
    bystander = MemberFactory(workplace=union.workplaces.oak)
    services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    services.update_event(
        actor=union.users.organiser_north, event=event, changes={"ends_at": event.ends_at + datetime.timedelta(hours=1)}
    )
    assert not Message.objects.filter(member=bystander).exists()
    assert moved_messages(event).count() == 1
