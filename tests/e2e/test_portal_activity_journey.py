"""A member on a phone, signed in, uses the portal's activity pages: books an event from My events, sees it
there with its check-in code, votes from My ballots through the ballot flow, and checks the receipt once
voting has closed. Real headless Chromium, a phone-sized screen, no script of ours on any page."""

import re

import pytest

from elections.models import Ballot, RollEntry
from elections.services import closing
from events import services, tokens
from events.models import Registration
from tests.e2e.test_organiser_journey import sign_in
from tests.elections.voting_helpers import contest, open_with_credentials
from tests.events.conftest import event_details

pytestmark = pytest.mark.browser


def test_a_member_books_an_event_votes_and_checks_the_receipt_from_the_portal(live_server, union, phone_page):
    u, m = union.users, union.members
    rally = services.create_event(actor=u.organiser_north, details=event_details(union, title="Pay rally"))
    election = contest(u.national, [m.rep, m.elm], title="Branch secretary")
    open_with_credentials(u.national, election)  # Owen's link went by email: he votes from the portal instead

    page = phone_page
    sign_in(page, live_server, "member_oak", union.password)
    page.get_by_role("heading", name="My Quorum").wait_for()
    sections = page.get_by_role("navigation", name="My Quorum")

    # Book an event from My events, through the event's own registration form.
    sections.get_by_role("link", name="My events").click()
    page.get_by_role("heading", name="My events", level=1).wait_for()
    assert "You have no events booked." in page.get_by_role("region", name="Booked").inner_text()
    page.get_by_role("link", name="Book a place at Pay rally").click()
    page.get_by_role("heading", name="Pay rally", level=1).wait_for()
    register = page.get_by_role("region", name="Register", exact=True)
    register.get_by_label("Dietary needs").fill("Vegetarian")
    register.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="Your registration").wait_for()
    registration = Registration.objects.get(event=rally, member=m.oak)
    assert tokens.checkin_code(registration) in page.content()
    assert page.get_by_role("img", name="QR code for check-in code").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling

    # It is on My events, with its calendar file.
    sections.get_by_role("link", name="My events").click()
    booked = page.get_by_role("region", name="Booked")
    booked.get_by_role("heading", name="Pay rally").wait_for()
    assert booked.get_by_role("link", name="Calendar file (.ics) for Pay rally").count() == 1
    assert "Pay rally" not in page.get_by_role("region", name="Events you can book").inner_text()

    # Vote from My ballots: the ballot paper, a mistake, the review, the receipt.
    sections.get_by_role("link", name="My ballots").click()
    page.get_by_role("heading", name="My ballots", level=1).wait_for()
    page.get_by_role("button", name="Vote in Branch secretary").click()
    page.get_by_role("heading", name="Branch secretary").wait_for()
    page.get_by_label("Rita Rep").fill("1")
    page.get_by_label("Ella Elmore").fill("1")
    page.get_by_role("button", name="Review my vote").click()
    assert "you gave 1 to more than one candidate" in page.get_by_role("alert").inner_text()
    page.get_by_label("Ella Elmore").fill("2")
    page.get_by_role("button", name="Review my vote").click()
    page.get_by_role("heading", name="Check your vote").wait_for()
    assert Ballot.objects.count() == 0  # nothing cast until the voter says so
    page.get_by_role("button", name="Cast my vote").click()
    page.get_by_role("heading", name="Your vote has been cast").wait_for()
    receipt = page.locator(".receipt-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", receipt)
    assert RollEntry.objects.get(roll__election=election, member=m.oak).has_voted

    # Voting closes; Owen checks his receipt against the published list.
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    page.goto(f"{live_server.url}/me/ballots/")
    past = page.get_by_role("region", name="Past ballots and results")
    assert "You voted on" in past.inner_text()
    past.get_by_role("link", name="Check your receipt code").click()
    page.get_by_role("heading", name="Check your receipt").wait_for()
    page.get_by_label("Election").select_option(label="Branch secretary")
    page.get_by_label("Your receipt code").fill(receipt.lower().replace("-", " "))
    page.get_by_role("button", name="Check").click()
    assert "Counted." in page.get_by_role("status").inner_text()
