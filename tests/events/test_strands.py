"""Events for an equalities strand: booked from members' own answers, without telling anyone else them."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, User
from crm.models.equalities import EqualitiesAccess
from crm.services.equalities import save_own_equalities_answers
from events import services
from events.models import Event, Registration
from tests.events.conftest import snapshot
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def strand(union, make_event):
    """An LGBT+ members' conference run by the North region. Owen (member_oak) says yes; Olive, also at Oak
    Primary with a login of her own, says no; Rita the rep has not answered."""
    save_own_equalities_answers(user=union.users.member_oak, answers={"lgbt_member": "yes"})
    olive = MemberFactory(first_name="Olive", last_name="Oakes", workplace=union.workplaces.oak)
    olive_user = UserFactory(username="member_olive", role=User.Role.MEMBER, member=olive)
    save_own_equalities_answers(user=olive_user, answers={"lgbt_member": "no", "woman_member": "yes"})
    event = make_event(
        kind=Event.Kind.CONFERENCE, title="LGBT+ members' conference", audience="strand", audience_strand="lgbt_member"
    )
    return event, olive, olive_user


def logged_in(client, user):
    client.force_login(user)
    return client


def test_a_member_who_self_identifies_sees_and_books_the_event(client, union, strand):
    event, _olive, _user = strand
    page = logged_in(client, union.users.member_oak).get(reverse("events:event_list")).content.decode()
    assert "LGBT+ members&#x27; conference" in page
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    assert registration.status == Registration.Status.REGISTERED


def test_others_do_not_see_it_in_their_list_and_are_refused_without_a_hint_about_anyone(client, union, strand):
    event, olive, olive_user = strand
    for user in (olive_user, union.users.outsider):
        page = logged_in(client, user).get(reverse("events:event_list")).content.decode()
        assert "LGBT+ members" not in page
    # Staff see every event, as they run and promote them; no member's answer is shown with it.
    page = logged_in(client, union.users.rep_oak).get(reverse("events:event_list")).content.decode()
    assert "LGBT+ members&#x27; conference" in page and "Owen" not in page
    before = snapshot()
    with pytest.raises(services.RegistrationRefused, match="the LGBT\\+ members' network") as refused:
        services.register_for_event(actor=olive_user, event=event, member=olive)
    assert "your details page" in refused.value.message and "Owen" not in refused.value.message
    detail = logged_in(client, olive_user).get(reverse("events:event_detail", args=[event.pk])).content.decode()
    assert "members who say so in their own equalities answers" in detail
    assert snapshot() == before


def test_nobody_books_a_strand_event_for_someone_else_and_the_refusal_is_the_same_whatever_they_answered(union, strand):
    event, olive, _user = strand
    before = snapshot()
    for actor in (union.users.rep_oak, union.users.organiser_north, union.users.national):
        reasons = set()
        for member in (union.members.oak, olive):  # one says yes, one says no
            with pytest.raises(services.RegistrationRefused) as refused:
                services.register_for_event(actor=actor, event=event, member=member)
            reasons.add(refused.value.message)
        assert len(reasons) == 1 and "themselves" in reasons.pop()
    assert snapshot() == before


def test_reps_never_see_who_registered_for_a_strand_event(client, union, strand):
    event, _olive, _user = strand
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    rep = union.users.rep_oak
    api = APIClient()
    api.force_authenticate(rep)
    assert api.get("/api/v1/registrations/").json()["results"] == []
    assert api.get(f"/api/v1/registrations/{registration.pk}/").status_code == 404
    assert api.post(f"/api/v1/registrations/{registration.pk}/cancel/").status_code == 404
    c = logged_in(client, rep)
    assert c.get(reverse("events:registration_detail", args=[registration.pk])).status_code == 404
    assert c.get(reverse("events:event_manage", args=[event.pk])).status_code == 403
    member_page = c.get(reverse("member_detail", args=[union.members.oak.pk])).content.decode()
    assert "LGBT+" not in member_page  # neither in the events panel nor in the member's history
    training = c.get(reverse("events:member_training", args=[union.members.oak.pk])).content.decode()
    assert "LGBT+" not in training
    assert not AuditEntry.objects.filter(member=union.members.oak, target_type="events.registration").exists()
    assert AuditEntry.objects.filter(target_type="events.registration", target_id=registration.pk).exists()
    with pytest.raises(NotPermitted):
        services.cancel_registration(actor=rep, registration=registration)
    # The member sees their own booking.
    own = logged_in(client, union.users.member_oak).get(reverse("portal:training")).content.decode()
    assert "LGBT+ members&#x27; conference" in own


def test_the_events_organisers_see_the_list_and_each_reading_is_logged(client, union, strand):
    event, _olive, _user = strand
    services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    organiser = union.users.organiser_north
    assert not EqualitiesAccess.objects.exists()
    page = logged_in(client, organiser).get(reverse("events:event_manage", args=[event.pk])).content.decode()
    assert "Owen" in page and "read of these members" in page
    read = EqualitiesAccess.objects.get()
    assert (read.reader, read.member, read.via) == (organiser, union.members.oak, "page")
    services.export_registrations(actor=organiser, event=event)
    api = APIClient()
    api.force_authenticate(organiser)
    assert len(api.get(f"/api/v1/registrations/?event={event.pk}").json()["results"]) == 1
    assert list(EqualitiesAccess.objects.order_by("id").values_list("via", flat=True)) == ["page", "page", "api"]
    # An ordinary event's list is not a read of anyone's answers.
    other = services.create_event(
        actor=organiser,
        details={**{f: getattr(event, f) for f in services.EVENT_FIELDS}, "audience": "everyone"},
    )
    services.register_for_event(actor=union.users.member_oak, event=other, member=union.members.oak)
    client.get(reverse("events:event_manage", args=[other.pk]))
    assert EqualitiesAccess.objects.count() == 3


def test_an_event_with_registrations_cannot_become_or_stop_being_a_strand_event(union, strand, make_event):
    event, _olive, _user = strand
    services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    plain = make_event()
    services.register_for_event(actor=union.users.member_oak, event=plain, member=union.members.oak)
    before = snapshot()
    with pytest.raises(ServiceError, match="equalities-network") as refused:
        services.update_event(actor=union.users.organiser_north, event=event, changes={"audience": "everyone"})
    assert refused.value.field == "audience"
    with pytest.raises(ServiceError, match="equalities-network"):
        services.update_event(
            actor=union.users.organiser_north, event=event, changes={"audience_strand": "woman_member"}
        )
    with pytest.raises(ServiceError, match="equalities-network"):
        services.update_event(
            actor=union.users.organiser_north,
            event=plain,
            changes={"audience": "strand", "audience_strand": "lgbt_member"},
        )
    assert snapshot() == before


def test_withdrawn_answers_stop_new_bookings(union, strand):
    from crm.services.equalities import withdraw_own_equalities_answers

    event, _olive, _user = strand
    withdraw_own_equalities_answers(user=union.users.member_oak)
    with pytest.raises(services.RegistrationRefused, match="network"):
        services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)


def test_an_organiser_makes_a_strand_event_from_the_form(client, union):
    from tests.events.test_pages import event_form_data

    c = logged_in(client, union.users.organiser_north)
    data = event_form_data(union, audience="strand", audience_strand="disabled_member", title="Disabled members")
    assert c.post(reverse("events:event_create"), data).status_code == 302
    event = Event.objects.get()
    assert (event.audience, event.audience_strand) == ("strand", "disabled_member")
    assert (
        event.audience_label()
        == "An equalities strand's members (those who self-identify): the disabled members' network"
    )
    page = c.get(reverse("events:event_detail", args=[event.pk])).content.decode()
    assert "the disabled members&#x27; network" in page


def test_a_steward_checking_someone_in_at_a_strand_event_is_logged(union, strand):
    from events import tokens

    event, _olive, _user = strand
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    services.name_steward(actor=union.users.organiser_north, event=event, username="rep_oak")
    services.check_in(actor=union.users.rep_oak, event=event, code=tokens.checkin_code(registration))
    read = EqualitiesAccess.objects.get()
    assert (read.reader, read.member) == (union.users.rep_oak, union.members.oak)
