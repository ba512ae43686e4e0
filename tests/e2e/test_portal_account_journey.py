"""A member on a phone signs in with a code from their email, turns on campaign emails and gives their
equalities answers, in a real browser."""

import re

import pytest

from crm.models import EqualitiesAnswers, Member

pytestmark = pytest.mark.browser


def test_member_signs_in_by_code_and_sets_preferences_and_equalities(
    live_server, union, phone_page, mailoutbox, tasks_run_in_process
):
    page = phone_page
    owen = union.members.oak
    page.goto(f"{live_server.url}/me/sign-in/")
    page.get_by_role("heading", name="Sign in with a code").wait_for()
    page.get_by_label("Email address or mobile number").fill(owen.email)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_role("heading", name="Enter your sign-in code").wait_for()

    (email,) = [m for m in mailoutbox if m.to == [owen.email]]
    code = re.search(r"code is (\d{6})", email.body).group(1)
    page.get_by_label("Sign-in code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My Quorum").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling

    page.get_by_role("navigation", name="My Quorum").get_by_role("link", name="My preferences").click()
    page.get_by_role("heading", name="My preferences").wait_for()
    page.get_by_label("Yes, send me campaign emails").check()
    page.get_by_role("button", name="Save my preferences").click()
    page.get_by_text("Your preferences are saved.").wait_for()
    assert "You agreed to wording version" in page.content()
    owen.refresh_from_db()
    assert owen.email_consent and owen.email_consent_source == Member.ConsentSource.MEMBER_PORTAL

    page.get_by_role("navigation", name="My Quorum").get_by_role("link", name="My equalities answers").click()
    page.get_by_role("heading", name="My equalities answers", level=1).wait_for()
    page.get_by_label("What is your ethnic group?").select_option("prefer_not_to_say")
    page.get_by_label("Do you identify as an LGBT+ member?").select_option("yes")
    page.get_by_label("Do you identify as a disabled member?").select_option("prefer_not_to_say")
    page.get_by_label("I agree to the union keeping these answers").check()
    page.get_by_role("button", name="Save my answers").click()
    page.get_by_text("Your equalities answers are saved.").wait_for()
    answers = EqualitiesAnswers.objects.get(member=owen)
    assert (answers.ethnicity, answers.lgbt_member, answers.disabled_member) == (
        "prefer_not_to_say",
        "yes",
        "prefer_not_to_say",
    )
    assert answers.entered_by == "member"
