"""An organiser imports a list of schools as workplaces, in a real browser, on a phone and a desktop."""

import pytest

from crm.models import Workplace
from tests.e2e.test_organiser_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("tasks_run_in_process")]

FILE = (
    "School,Branch,Employer,Phase,Staff\n"
    "Birch Primary,Leeds,Leeds City Council,primary,31\n"
    "Far School,Bristol,Ash College Corporation,primary,9\n"
)


@pytest.mark.parametrize("page_fixture", ["desktop_page", "phone_page"])
def test_organiser_imports_workplaces(request, live_server, union, page_fixture, tmp_path):
    page = request.getfixturevalue(page_fixture)
    path = tmp_path / "schools.csv"
    path.write_text(FILE, encoding="utf-8")
    sign_in(page, live_server, "organiser_north", union.password)
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_role("group", name="What the file lists").get_by_label("Workplaces").check()
    page.get_by_label("Where the file comes from").fill("Leeds list of schools")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and choose columns").click()

    page.get_by_role("heading", name="Choose the columns to import: workplaces").wait_for()
    assert page.get_by_label("School").input_value() == "name"
    assert page.get_by_label("Staff").input_value() == "eligible_staff"
    page.get_by_role("button", name="Check the file").click()

    page.get_by_role("heading", name="What the import would do").wait_for()
    assert "Bristol branch is outside your branches" in page.content()
    page.get_by_role("button", name="Import the 1 valid row").click()
    page.get_by_role("heading", name="What the import did").wait_for()
    assert Workplace.objects.filter(name="Birch Primary", eligible_staff=31).exists()
    assert not Workplace.objects.filter(name="Far School").exists()
    # Nothing on the page is wider than a phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
