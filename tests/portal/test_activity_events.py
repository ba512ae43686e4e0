"""My events in the portal: the member's own bookings (QR code, calendar, cancel) and events they may book.
Another member's registration id answers exactly as one that does not exist; forged and malformed posts
change nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry
from events import services, tokens
from events.models import Registration
from tests.events.conftest import event_details, snapshot

pytestmark = pytest.mark.django_db

NO_SUCH_ID = 987_654


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def new_event(union):
    """An open event run by the North region, as tests/events makes them."""

    def make(**overrides):
        return services.create_event(actor=union.users.organiser_north, details=event_details(union, **overrides))

    return make


@pytest.fixture
def booked(union, new_event):
    """Owen (member_oak) and Rita (rep_oak) each hold a place at a North meeting."""
    event = new_event(title="North members' meeting")
    owen = services.register_for_event(
        actor=union.users.member_oak, event=event, member=union.members.oak, access_needs="Step-free access"
    )
    rita = services.register_for_event(
        actor=union.users.rep_oak, event=event, member=union.members.rep, access_needs="Hearing loop please"
    )
    return event, owen, rita


def test_my_events_lists_my_bookings_and_only_the_events_i_may_book(union, booked, new_event):
    event, owen, _rita = booked
    open_to_all = new_event(title="Pay rally")
    york_only = new_event(title="York branch meeting", audience="branch", audience_branch=union.branches.york)
    page = signed_in(union.users.member_oak).get(reverse("portal:events")).content.decode()
    booked_part, bookable_part = page.split('id="bookable-heading"')
    assert reverse("portal:registration", args=[owen.pk]) in booked_part
    assert reverse("events:event_ics", args=[event.pk]) in booked_part
    assert reverse("portal:registration_cancel", args=[owen.pk]) in booked_part
    assert reverse("events:event_detail", args=[open_to_all.pk]) in bookable_part
    assert "York branch meeting" not in page and reverse("events:event_detail", args=[york_only.pk]) not in page
    assert "North members&#x27; meeting" not in bookable_part  # already booked: not offered again
    assert "Hearing loop" not in page and union.members.rep.full_name not in page  # nobody else's booking
    assert "/events/calendar/" in page


def test_my_registration_shows_its_qr_code_and_my_answers(union, booked):
    _event, owen, _rita = booked
    response = signed_in(union.users.member_oak).get(reverse("portal:registration", args=[owen.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert tokens.checkin_code(owen) in page and "<svg" in page and 'aria-label="QR code for check-in code' in page
    assert "Step-free access" in page and "Hearing loop" not in page


def test_another_members_registration_answers_as_one_that_does_not_exist(union, booked):
    _event, owen, rita = booked
    client = signed_in(union.users.member_oak)
    missing = client.get(reverse("portal:registration", args=[NO_SUCH_ID]))
    theirs = client.get(reverse("portal:registration", args=[rita.pk]))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content  # nothing about Rita's booking, not even that it exists
    assert tokens.checkin_code(rita) not in theirs.content.decode()
    # Rita, a rep, cannot open Owen's through the portal either, though she may see him as his rep.
    assert signed_in(union.users.rep_oak).get(reverse("portal:registration", args=[owen.pk])).status_code == 404


def test_the_old_registration_page_sends_a_member_to_the_portal_and_still_serves_organisers(union, booked):
    _event, owen, _rita = booked
    own = signed_in(union.users.member_oak).get(reverse("events:registration_detail", args=[owen.pk]))
    assert own.status_code == 302 and own["Location"] == reverse("portal:registration", args=[owen.pk])
    organiser = signed_in(union.users.organiser_north).get(reverse("events:registration_detail", args=[owen.pk]))
    assert organiser.status_code == 200 and "Owen Oakley's registration" in organiser.content.decode()


def test_cancelling_works_once(union, booked):
    _event, owen, _rita = booked
    client = signed_in(union.users.member_oak)
    url = reverse("portal:registration_cancel", args=[owen.pk])
    first = client.post(url, follow=True)
    assert first.redirect_chain[-1][0] == reverse("portal:events")
    assert "Your registration for North members&#x27; meeting is cancelled." in first.content.decode()
    assert Registration.objects.get(pk=owen.pk).status == Registration.Status.CANCELLED
    before = snapshot()
    again = client.post(url, follow=True)
    assert "This registration is already cancelled." in again.content.decode()
    assert snapshot() == before
    # The cancelled booking is off the list; its page still answers, without a code or a cancel button.
    assert reverse("portal:registration", args=[owen.pk]) not in client.get(reverse("portal:events")).content.decode()
    page = client.get(reverse("portal:registration", args=[owen.pk])).content.decode()
    assert tokens.checkin_code(owen) not in page and url not in page


def test_cancel_asks_first_and_only_the_post_cancels(union, booked):
    event, owen, _rita = booked
    client = signed_in(union.users.member_oak)
    url = reverse("portal:registration_cancel", args=[owen.pk])
    for page_name in ("portal:events", "portal:registration"):
        args = [owen.pk] if page_name == "portal:registration" else []
        page = client.get(reverse(page_name, args=args)).content.decode()
        assert f'href="{url}"' in page and f'action="{url}"' not in page  # a link to the question, no form
    before = snapshot()
    response = client.get(url)
    question = response.content.decode()
    assert response.status_code == 200
    assert f"Cancel your place at North members&#x27; meeting on {event.starts_at:%A %-d %B %Y}?" in question
    assert f'<form method="post" action="{url}"' in question and "Yes, cancel my place" in question
    assert f'href="{reverse("portal:registration", args=[owen.pk])}"' in question  # "No, keep it"
    assert snapshot() == before and Registration.objects.get(pk=owen.pk).status == Registration.Status.REGISTERED
    assert client.post(url).status_code == 302
    assert Registration.objects.get(pk=owen.pk).status == Registration.Status.CANCELLED
    # Asked again once cancelled: no question, back to the registration with a plain answer.
    again = client.get(url, follow=True)
    assert again.redirect_chain[-1][0] == reverse("portal:registration", args=[owen.pk])
    assert "This registration is already cancelled." in again.content.decode()


def test_leaving_a_waiting_list_asks_in_its_own_words(union, new_event):
    event = new_event(title="Small meeting", capacity=1)
    services.register_for_event(actor=union.users.rep_oak, event=event, member=union.members.rep)
    waiting = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    assert waiting.status == Registration.Status.WAITING
    question = signed_in(union.users.member_oak).get(reverse("portal:registration_cancel", args=[waiting.pk]))
    page = question.content.decode()
    assert "Leave the waiting list for Small meeting" in page and "Yes, leave the waiting list" in page


def test_cancelling_someone_elses_or_a_made_up_registration_is_404_and_changes_nothing(union, booked):
    _event, _owen, rita = booked
    client = signed_in(union.users.member_oak)
    before = snapshot()
    for registration_id in (rita.pk, NO_SUCH_ID):
        assert client.post(reverse("portal:registration_cancel", args=[registration_id])).status_code == 404
    missing = client.get(reverse("portal:registration_cancel", args=[NO_SUCH_ID]))
    theirs = client.get(reverse("portal:registration_cancel", args=[rita.pk]))
    assert theirs.status_code == missing.status_code == 404 and theirs.content == missing.content
    assert snapshot() == before


def test_forged_and_malformed_posts_change_nothing(union, booked):
    _event, owen, _rita = booked
    url = reverse("portal:registration_cancel", args=[owen.pk])
    before = snapshot()
    forged = Client(enforce_csrf_checks=True)  # a form posted from another site: no CSRF token
    forged.force_login(union.users.member_oak)
    assert forged.post(url, {"csrfmiddlewaretoken": "forged"}).status_code == 403
    client = signed_in(union.users.member_oak)
    assert client.get(url).status_code == 200  # a link only asks: it cannot cancel
    assert client.get(url, {"confirm": "yes"}).status_code == 200
    assert client.post(f"/me/events/registrations/{owen.pk}x/cancel/").status_code == 404
    assert client.post("/me/events/registrations/-1/cancel/").status_code == 404
    assert client.post(f"/me/events/registrations/{'9' * 30}/cancel/").status_code == 404  # oversized id
    assert client.get(f"/me/events/registrations/{'9' * 30}/").status_code == 404
    assert snapshot() == before
    # Extra and hostile fields are ignored: the cancel is of the registration in the address, Owen's own, only.
    hostile = {"registration": "'; DROP TABLE events_registration; --", "member": str(_rita.member_id), "x": "y" * 5000}
    assert client.post(url, hostile).status_code == 302
    after = snapshot()
    changed = [row["id"] for row in after["registrations"] if row not in before["registrations"]]
    assert changed == [owen.pk] and Registration.objects.get(pk=_rita.pk).status == Registration.Status.REGISTERED


def test_accounts_without_a_member_record_are_refused_and_signed_out_goes_to_sign_in(union, booked):
    _event, owen, _rita = booked
    for name, args in (
        ("portal:events", []),
        ("portal:registration", [owen.pk]),
        ("portal:registration_cancel", [owen.pk]),
    ):
        for persona in ("national", "outsider", "scrutineer"):
            assert signed_in(getattr(union.users, persona)).get(reverse(name, args=args)).status_code == 403
        signed_out = Client().get(reverse(name, args=args))
        assert signed_out.status_code == 302 and signed_out["Location"].startswith(reverse("login"))
    before = snapshot()
    response = signed_in(union.users.national).post(reverse("portal:registration_cancel", args=[owen.pk]))
    assert response.status_code == 403 and snapshot() == before


def test_booking_from_the_event_page_lands_on_the_portal_without_javascript(union, new_event):
    event = new_event(title="Pay rally")
    client = signed_in(union.users.member_oak)
    page = client.get(reverse("portal:events")).content.decode()
    assert reverse("events:event_detail", args=[event.pk]) in page
    # The event page's plain form (no script): the booking lands on the member's own registration page.
    response = client.post(reverse("events:event_detail", args=[event.pk]), {"action": "self"}, follow=True)
    registration = Registration.objects.get(event=event, member=union.members.oak)
    assert response.redirect_chain[-1][0] == reverse("portal:registration", args=[registration.pk])
    assert tokens.checkin_code(registration) in response.content.decode()
    # Cancelling is a plain link to a question, answered by a plain POST form with its CSRF token: nothing
    # needs a script.
    page = client.get(reverse("portal:events")).content.decode()
    cancel_url = reverse("portal:registration_cancel", args=[registration.pk])
    assert f'href="{cancel_url}"' in page and "<script" not in page
    question = client.get(cancel_url).content.decode()
    assert f'<form method="post" action="{cancel_url}"' in question
    assert "csrfmiddlewaretoken" in question and "<script" not in question
    assert AuditEntry.objects.filter(target_type="events.registration", target_id=registration.pk).exists()
