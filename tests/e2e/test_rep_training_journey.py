"""A rep finds a course, registers for a session, and sees it on their training record, in a real browser."""

import datetime

import pytest
from django.utils import timezone

from events import services, tokens
from events.models import Course, Event
from events.training import add_standard_courses
from tests.e2e.test_organiser_journey import sign_in
from tests.events.conftest import event_details

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("page_fixture", ["desktop_page", "phone_page"])
def test_rep_finds_a_course_registers_and_sees_it_on_their_training_record(request, live_server, union, page_fixture):
    page = request.getfixturevalue(page_fixture)
    add_standard_courses(Course)  # live_server's database is emptied between tests, migration data with it
    foundation = Course.objects.get(code="foundation")
    session = services.create_event(
        actor=union.users.organiser_north,
        details=event_details(union, kind=Event.Kind.TRAINING, course=foundation, title="Rep foundation, Leeds"),
    )

    sign_in(page, live_server, "rep_oak", union.password)
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_role("heading", name="Events", exact=True).wait_for()
    page.get_by_role("link", name="Rep training courses").click()
    page.get_by_role("heading", name="Rep foundation", exact=True).wait_for()
    page.get_by_role("link", name="Rep foundation, Leeds").click()
    page.get_by_role("heading", name="Rep foundation, Leeds", level=1).wait_for()

    register = page.get_by_role("region", name="Register", exact=True)
    register.get_by_label("Dietary needs").fill("Vegetarian")
    register.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Your registration").wait_for()
    assert "You have a place at Rep foundation, Leeds." in page.get_by_role("status").inner_text()
    registration = session.registrations.get()
    assert tokens.checkin_code(registration) in page.content()
    assert page.get_by_role("img", name="QR code for check-in code").count() == 1

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My training").click()
    page.get_by_role("heading", name="My training record").wait_for()
    booked = page.get_by_role("region", name="Training booked").inner_text()
    assert "Rep foundation, Leeds" in booked and "Registered" in booked
    assert "Still needs Rep foundation" in page.content()

    # The session takes place: the rep is checked in and the organiser records completion.
    services.check_in(actor=union.users.organiser_north, event=session, code=tokens.checkin_code(registration))
    Event.objects.filter(pk=session.pk).update(starts_at=timezone.now() - datetime.timedelta(hours=1))
    services.award_certifications(actor=union.users.organiser_north, event_id=session.pk)
    page.reload()
    completed = page.get_by_role("region", name="Courses completed").inner_text()
    assert "Rep foundation" in completed and timezone.localdate(session.ends_at).strftime("%-d %b %Y") in completed
    assert "Training done" in page.get_by_role("region", name="Training for positions held").inner_text()


def test_a_steward_checks_people_in_on_a_phone(live_server, union, phone_page):
    page = phone_page
    event = services.create_event(actor=union.users.organiser_north, details=event_details(union, title="Rally"))
    other = services.create_event(actor=union.users.organiser_north, details=event_details(union, title="Picnic"))
    here = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    there = services.register_for_event(actor=union.users.national, event=other, member=union.members.oak)

    sign_in(page, live_server, "organiser_north", union.password)
    page.goto(f"{live_server.url}/events/{event.pk}/check-in/")
    page.get_by_role("heading", name="Check-in").wait_for()
    code = page.get_by_label("Check-in code")
    assert page.evaluate("document.activeElement.name") == "code"  # ready for a scanner to type into
    code.fill(tokens.checkin_code(there))
    page.get_by_role("button", name="Check in").click()
    alert = page.get_by_role("alert")
    assert "This code is for another event: Picnic" in alert.inner_text()

    page.get_by_label("Check-in code").fill(tokens.checkin_code(here).lower())
    page.get_by_role("button", name="Check in").click()
    assert "Owen Oakley is checked in." in page.locator(".checkin-ok").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
