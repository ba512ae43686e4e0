"""An organiser signs in, filters the member list and opens a member, in a real browser."""

import pytest

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("page_fixture", ["desktop_page", "phone_page"])
def test_organiser_filters_the_member_list_and_opens_a_member(request, live_server, union, page_fixture):
    page = request.getfixturevalue(page_fixture)
    sign_in(page, live_server, "organiser_north", union.password)
    page.get_by_role("heading", name="Dashboard").wait_for()

    page.get_by_role("link", name="Members", exact=True).click()
    page.get_by_role("heading", name="Members", exact=True).wait_for()
    assert "5 members match" in page.get_by_role("status").inner_text()
    assert page.get_by_text("Ashworth").count() == 0  # Bristol is not in the North organiser's patch

    page.get_by_text("More filters").click()
    page.get_by_label("Status").select_option("lapsed")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/members/?**status=lapsed**")
    assert "1 member match" in page.get_by_role("status").inner_text()

    page.get_by_role("link", name="Lapsed, Lara").click()
    page.get_by_role("heading", name="Lara Lapsed", level=1).wait_for()
    assert "Not in good standing" in page.content()
    assert "Oak Primary" in page.get_by_role("region", name="Details").inner_text() or "Oak Primary" in page.content()


def test_search_from_the_keyboard(live_server, union, desktop_page):
    page = desktop_page
    sign_in(page, live_server, "organiser_north", union.password)
    page.goto(f"{live_server.url}/members/")
    search = page.get_by_label("Search")
    search.fill("Elmo")
    search.press("Enter")
    page.wait_for_url("**q=Elmo**")
    assert "1 member match" in page.get_by_role("status").inner_text()
    # The skip link is the first thing a keyboard user reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"
