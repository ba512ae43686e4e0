"""Stewards: named by an event's organisers, they use that one event's check-in page and nothing else."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from crm.errors import NotPermitted, ServiceError
from crm.models import User
from events import services, tokens
from events.models import Registration, Steward
from tests.events.conftest import snapshot
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def volunteer(db):
    """A member-role user who is not staff: a steward needs no other role."""
    return UserFactory(username="volunteer_vic", role=User.Role.MEMBER)


def test_a_steward_checks_people_in_at_their_event_only(client, union, make_event, volunteer):
    event, other = make_event(), make_event(title="Other meeting")
    here = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    there = services.register_for_event(actor=union.users.national, event=other, member=union.members.rep)
    services.name_steward(actor=union.users.organiser_north, event=event, username="Volunteer_Vic")
    client.force_login(volunteer)
    url = reverse("events:event_check_in", args=[event.pk])
    assert f'href="{url}"' in client.get(reverse("events:event_detail", args=[event.pk])).content.decode()
    assert "/check-in/" not in client.get(reverse("events:event_detail", args=[other.pk])).content.decode()
    page = client.get(url)
    assert page.status_code == 200 and "Back to registrations" not in page.content.decode()
    ok = client.post(url, {"code": tokens.checkin_code(here)})
    assert ok.status_code == 200 and "Owen Oakley</strong> is checked in" in ok.content.decode()
    here.refresh_from_db()
    assert here.attendance == Registration.Attendance.ATTENDED and here.checked_in_by == volunteer
    wrong = client.post(url, {"code": tokens.checkin_code(there)})
    assert wrong.status_code == 400 and "another event" in wrong.content.decode()
    for name in ("event_manage", "event_edit", "event_export"):
        assert client.get(reverse(f"events:{name}", args=[event.pk])).status_code == 403, name
    assert client.get(reverse("events:event_check_in", args=[other.pk])).status_code == 403
    with pytest.raises(NotPermitted):
        services.check_in(actor=volunteer, event=other, code=tokens.checkin_code(there))
    with pytest.raises(NotPermitted):
        services.cancel_registration(actor=volunteer, registration=here)


def test_naming_a_steward_refuses_bad_input_with_nothing_changed(union, make_event, volunteer):
    event = make_event()
    services.name_steward(actor=union.users.organiser_north, event=event, username="volunteer_vic")
    before = snapshot()
    steward_rows = list(Steward.objects.values_list("pk", flat=True))
    for username, message in (
        ("", "Give the steward"),
        ("   ", "Give the steward"),
        ("x" * 151, "Give the steward"),
        ("nobody_here", "No active user"),
        ("volunteer_vic", "already a steward"),
        ("organiser_north", "runs this event already"),
        ("national", "runs this event already"),
        ("'; DROP TABLE events_steward; --", "No active user"),
    ):
        with pytest.raises(ServiceError, match=message) as refused:
            services.name_steward(actor=union.users.organiser_north, event=event, username=username)
        assert refused.value.field == "username"
    for persona in ("organiser_bristol", "rep_oak", "member_oak"):
        with pytest.raises(NotPermitted):
            services.name_steward(actor=getattr(union.users, persona), event=event, username="outsider")
    inactive = UserFactory(username="gone", role=User.Role.MEMBER, is_active=False)
    with pytest.raises(ServiceError, match="No active user"):
        services.name_steward(actor=union.users.organiser_north, event=event, username=inactive.username)
    assert snapshot() == before
    assert list(Steward.objects.values_list("pk", flat=True)) == steward_rows


def test_organisers_name_and_remove_stewards_on_the_manage_page(client, union, make_event, volunteer):
    event = make_event()
    client.force_login(union.users.organiser_north)
    url = reverse("events:event_manage", args=[event.pk])
    bad = client.post(url, {"username": "nobody_here"})
    assert bad.status_code == 400 and 'href="#id_username"' in bad.content.decode()
    assert client.post(url, {"username": ""}).status_code == 400
    assert not Steward.objects.exists()
    assert client.post(url, {"username": "volunteer_vic"}).status_code == 302
    steward = Steward.objects.get()
    assert (steward.user, steward.named_by) == (volunteer, union.users.organiser_north)
    assert "volunteer_vic" in client.get(url).content.decode()
    client.force_login(union.users.organiser_bristol)
    remove = reverse("events:steward_remove", args=[event.pk, steward.pk])
    assert client.post(remove).status_code == 403
    client.force_login(union.users.organiser_north)
    assert client.post(reverse("events:steward_remove", args=[event.pk, 999999])).status_code == 404
    assert client.post(remove).status_code == 302
    assert not Steward.objects.exists()
    client.force_login(volunteer)
    assert client.get(reverse("events:event_check_in", args=[event.pk])).status_code == 403


def test_stewards_through_the_api(union, make_event, volunteer):
    event = make_event()
    registration = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    api = APIClient()
    api.force_authenticate(union.users.organiser_north)
    url = f"/api/v1/events/{event.pk}/stewards/"
    assert api.post(url, {"username": "nobody_here"}, format="json").status_code == 400
    assert api.post(url, {"username": "volunteer_vic", "event": 5}, format="json").status_code == 400
    created = api.post(url, {"username": "rep_oak"}, format="json")
    assert created.status_code == 201 and created.json()["username"] == "rep_oak"
    assert [s["username"] for s in api.get(url).json()] == ["rep_oak"]
    rep = APIClient()
    rep.force_authenticate(union.users.rep_oak)
    assert rep.get(url).status_code == 403
    checked = rep.post(
        f"/api/v1/events/{event.pk}/check-in/", {"code": tokens.checkin_code(registration)}, format="json"
    )
    assert checked.status_code == 200 and checked.json()["attendance"] == "attended"
    assert "access_needs" not in checked.json()  # a steward is not an organiser
