"""A member opens the link from their credential message, numbers the candidates, reviews, casts and sees
the receipt, in a real browser on a phone-sized screen, without signing in."""

import re

import pytest
from django.core import mail

from crm.models import Message
from elections.models import Ballot
from elections.services import setup
from tests.elections.voting_helpers import contest

pytestmark = pytest.mark.browser


def test_a_member_votes_from_the_link_in_their_message(live_server, union, phone_page, settings):
    settings.QUORUM_SITE_URL = live_server.url
    m = union.members
    election = contest(union.users.national, [m.oak, m.rep, m.elm], method="stv", seats=2, title="National Executive")
    setup.open_voting(actor=union.users.national, election=election)
    setup.issue_credentials(election_id=election.pk)  # the task does this; a CI worker may not be listening here
    message = Message.objects.get(member=m.ash, key__startswith=f"election:{election.pk}:credential:")
    # Once sent, a credential message keeps no body (it is confidential): the link is in what Ash received.
    received = {getattr(email, "metadata", {}).get("message_key"): email.body for email in mail.outbox}
    link = re.search(r"https?://\S+", received.get(message.key) or message.body).group(0)
    assert link.startswith(live_server.url)

    page = phone_page
    page.goto(link)
    page.get_by_role("heading", name="National Executive").wait_for()
    # Ranking by typing numbers, as a keyboard or screen-reader user would; a mistake first.
    page.get_by_label("Rita Rep").fill("1")
    page.get_by_label("Ella Elmore").fill("1")
    page.get_by_role("button", name="Review my vote").click()
    page.get_by_role("alert").wait_for()
    assert "you gave 1 to more than one candidate" in page.get_by_role("alert").inner_text()
    page.get_by_label("Ella Elmore").fill("2")
    page.get_by_role("button", name="Review my vote").click()
    page.get_by_role("heading", name="Check your vote").wait_for()
    choices = page.locator(".review-list").inner_text()
    assert "1. Rita Rep" in choices and "2. Ella Elmore" in choices
    assert Ballot.objects.count() == 0  # nothing cast until the voter says so
    page.get_by_role("button", name="Cast my vote").click()
    page.get_by_role("heading", name="Your vote has been cast").wait_for()
    receipt = page.locator(".receipt-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", receipt)
    assert Ballot.objects.get().receipt_code == receipt

    # The same link again: refused, saying on which day it was used.
    page.goto(link)
    assert "already been used" in page.get_by_role("alert").inner_text()
