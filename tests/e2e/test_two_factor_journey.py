"""The organiser journey with two-factor sign-in on, in a real browser: password, set up an authenticator
app from the page's own key (the test computes the code a phone would show), recovery codes, then the
member list; and a later sign-in with password and code."""

import base64

import pytest
from django_otp.oath import TOTP

from tests.e2e.test_organiser_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.two_factor]


def phone_code(secret: str, later_steps: int = 0) -> str:
    totp = TOTP(base64.b32decode(secret), step=30, t0=0, digits=6)
    totp.time = totp.time + 30 * later_steps
    return f"{totp.token():06d}"


def test_organiser_sets_up_two_factor_and_signs_in_with_a_code(live_server, union, desktop_page):
    page = desktop_page
    sign_in(page, live_server, "organiser_north", union.password)
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.locator("figure.qr-code svg").count() == 1
    secret = "".join(page.locator(".otp-secret code").inner_text().split())

    page.get_by_label("Code", exact=True).fill(phone_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Recovery codes").wait_for()
    assert page.locator(".recovery-codes li").count() == 10
    page.get_by_role("link", name="Continue").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("link", name="Members", exact=True).click()
    assert "5 members match" in page.get_by_role("status").inner_text()

    # Sign out, and back in: now the password is followed by a code. A code is accepted once, so the
    # next 30-second step's code is used (the device allows one step of clock drift).
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "organiser_north", union.password)
    page.get_by_role("heading", name="Enter your code").wait_for()
    page.get_by_label("Code", exact=True).fill(phone_code(secret, later_steps=1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
