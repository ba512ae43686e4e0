"""axe-core (from the axe-playwright-python package, which ships it) run in headless Chromium over the member
portal at phone size: every portal page the URLconf has without URL arguments, found by walking it (so pages
other areas add are checked without being listed here), one of the member's own registrations, the ballot
flow (ballot paper, review, receipt), the receipt checker's answer and the sign-in page. A serious or
critical violation fails the test. The site's CSP forbids inline script, so axe's source is injected through
Playwright's evaluate (the DevTools protocol, which the page's CSP does not govern), never a <script> tag."""

from __future__ import annotations

import datetime

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from elections.services import closing, voting
from events import services
from events.models import Course
from events.training import add_standard_courses
from tests.elections.voting_helpers import contest, open_with_credentials
from tests.events.conftest import certify, event_details

pytestmark = pytest.mark.browser

FAILING_IMPACTS = ("serious", "critical")


def portal_routes_without_arguments() -> list[str]:
    """The names of the portal's routes that take no URL argument, from the URLconf itself."""

    def walk(patterns, namespace: str | None):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace == "portal" and entry.name:
                takes_arguments = entry.pattern.converters or entry.pattern.regex.groupindex
                if not takes_arguments:
                    yield f"portal:{entry.name}"

    return sorted(set(walk(get_resolver().url_patterns, None)))


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page as it stands and return its serious and critical violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in FAILING_IMPACTS]


def describe(url: str, violations: list[dict]) -> str:
    lines = [f"{url}:"]
    for v in violations:
        targets = ", ".join(str(node["target"]) for node in v["nodes"][:5])
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']} at {targets}")
    return "\n".join(lines)


def sign_in_by_session(context, live_server, user) -> None:
    """Sign the browser in with a session made by Django's test client: the pages, not the sign-in form, are
    what is checked here (the sign-in page is checked signed out)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def member_with_activity(union):
    """Owen (member_oak) with something on every activity page: a booking with its QR code, an event to book,
    a certificate, an open election to vote in and a closed one with a published receipt list."""
    add_standard_courses(Course)  # live_server's database is emptied between tests, migration data with it
    m, u = union.members, union.users
    certification = certify(m.oak, Course.objects.get(code="foundation"), on=datetime.date(2025, 3, 4))
    booked = services.create_event(actor=u.organiser_north, details=event_details(union, title="Pay rally"))
    services.create_event(actor=u.organiser_north, details=event_details(union, title="Workload meeting"))
    registration = services.register_for_event(actor=u.member_oak, event=booked, member=m.oak)
    past = contest(u.national, [m.rep, m.elm], title="Branch treasurer")
    credentials = open_with_credentials(u.national, past)
    receipt = voting.cast_ballot(election=past, credential=credentials[m.elm.pk], choices={}).receipt_code
    closing.close_election(actor=u.national, election=past, now=past.voting_closes_at)
    current = contest(u.national, [m.rep, m.elm], title="Branch secretary")
    open_with_credentials(u.national, current)
    return {
        "registration": registration,
        "certification": certification,
        "past": past,
        "receipt": receipt,
        "current": current,
    }


def test_the_portal_routes_are_found_in_the_urlconf():
    found = portal_routes_without_arguments()
    for name in ("portal:home", "portal:events", "portal:training", "portal:ballots", "portal:receipt_check"):
        assert name in found
    # None of them takes an argument: each reverses bare and resolves back to itself with no arguments (a count
    # of slashes in the path said nothing: /me/details/workplace/withdraw/ is deep and takes none).
    for name in found:
        match = resolve(reverse(name))
        assert match.view_name == name and not match.args and not match.kwargs
    assert "portal:registration" not in found and "portal:certificate" not in found


def test_axe_runs_and_reports_a_known_violation(live_server, union, phone_page):
    """The canary: on a real portal page (with its CSP), an image without a text alternative and a button
    with no name, put there by the test, must be reported; else a clean run proves nothing."""
    page = phone_page
    sign_in_by_session(page.context, live_server, union.users.member_oak)
    page.goto(f"{live_server.url}{reverse('portal:home')}")
    assert axe_violations(page) == [], "the portal's home page should be clean before the canary is added"
    page.evaluate(
        """() => {
            const img = document.createElement('img');
            img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
            const button = document.createElement('button');
            document.querySelector('main').append(img, button);
        }"""
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "button-name"} <= found


def test_portal_pages_have_no_serious_or_critical_violations_at_phone_size(
    live_server, union, member_with_activity, phone_page, browser
):
    page = phone_page  # 390x844, as tests/e2e/conftest.py makes it
    sign_in_by_session(page.context, live_server, union.users.member_oak)
    failures: list[str] = []
    checked: list[str] = []

    def check(label: str, on=None) -> None:
        violations = axe_violations(on or page)
        checked.append(label)
        if violations:
            failures.append(describe(label, violations))

    # Every portal page without URL arguments: signed in, or (a sign-in page) signed out. A route that
    # answers neither with an HTML page (a POST-only action, a download) is not a page to check.
    signed_out = browser.new_context(viewport=page.viewport_size, is_mobile=True, has_touch=True)
    anonymous = signed_out.new_page()
    not_pages = []
    for name in portal_routes_without_arguments():
        url = f"{live_server.url}{reverse(name)}"
        for tab in (page, anonymous):
            answer = tab.request.get(url, max_redirects=0)
            is_page = answer.headers.get("content-type", "").startswith("text/html")
            if answer.status == 200 and is_page and "attachment" not in answer.headers.get("content-disposition", ""):
                tab.goto(url)
                check(name, on=tab)
                break
        else:
            not_pages.append(name)
    # The sign-in page, signed out.
    anonymous.goto(f"{live_server.url}{reverse('login')}")
    check("login", on=anonymous)
    signed_out.close()

    # One of the member's own registrations, with its QR code.
    page.goto(f"{live_server.url}{reverse('portal:registration', args=[member_with_activity['registration'].pk])}")
    check("portal:registration")

    # Its cancel question, and the certificate for the member's course.
    page.goto(
        f"{live_server.url}{reverse('portal:registration_cancel', args=[member_with_activity['registration'].pk])}"
    )
    page.get_by_role("button", name="Yes, cancel my place").wait_for()
    check("portal:registration_cancel (the question)")
    certification = member_with_activity["certification"]
    page.goto(f"{live_server.url}{reverse('portal:certificate', args=[certification.pk])}")
    check("portal:certificate")
    code = page.locator(".certificate-code").inner_text()

    # The public certificate checker, signed out: as first opened, a valid code, a forged one, and nothing typed
    # (an oversized code cannot be typed: the field's maxlength stops it; tests/portal covers it sent raw).
    checker = browser.new_context(viewport=page.viewport_size, is_mobile=True, has_touch=True)
    public = checker.new_page()
    for typed, expected in (
        (None, None),
        (code, "Valid certificate"),
        (code[:-1] + ("B" if code.endswith("A") else "A"), "Not a certificate we issued."),
        ("", "There is a problem"),
    ):
        public.goto(f"{live_server.url}{reverse('certificates:check')}")
        if typed is not None:
            public.get_by_label("Verification code").fill(typed)
            public.get_by_role("button", name="Check").click()
            public.get_by_text(expected).wait_for()
        check(f"certificates:check ({expected or 'empty'})", on=public)
    checker.close()

    # The ballot flow from My ballots: the ballot paper, the review, the receipt.
    page.goto(f"{live_server.url}{reverse('portal:ballots')}")
    page.get_by_role("button", name="Vote in Branch secretary").click()
    page.get_by_role("heading", name="Branch secretary").wait_for()
    check("elections:vote (ballot paper)")
    page.get_by_label("Rita Rep").fill("1")
    page.get_by_role("button", name="Review my vote").click()
    page.get_by_role("heading", name="Check your vote").wait_for()
    check("elections:vote (review)")
    page.get_by_role("button", name="Cast my vote").click()
    page.get_by_role("heading", name="Your vote has been cast").wait_for()
    check("elections:vote (receipt)")

    # The receipt checker's answer, and its refusal of a malformed code; the published receipt list.
    past = member_with_activity["past"]
    for code, expected in ((member_with_activity["receipt"], "Counted."), ("nonsense", "There is a problem")):
        page.goto(f"{live_server.url}{reverse('portal:receipt_check')}")
        page.get_by_label("Election").select_option(str(past.pk))
        page.get_by_label("Your receipt code").fill(code)
        page.get_by_role("button", name="Check").click()
        page.get_by_text(expected).wait_for()
        check(f"portal:receipt_check ({expected})")
    page.goto(f"{live_server.url}{reverse('elections:receipts', args=[past.pk])}")
    check("elections:receipts")

    for name in ("portal:home", "portal:events", "portal:training", "portal:ballots", "portal:receipt_check"):
        assert name in checked, f"{name} was not checked (not a page: {not_pages})"
    assert not failures, "Serious or critical accessibility violations:\n" + "\n".join(failures)
