"""manage.py import_members: a dry run by default, --commit to import, as a named user."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from crm.models import ImportJob, Member

TEXT = "Forename;Family name;Site;Role\nNina;Newton;Oak Primary;teacher\nBad;Cell;Oak Primary;boss\n"


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_members", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def staff_list(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text(TEXT, encoding="cp1252")
    return path


MAPPING = "Forename=first_name,Family name=last_name,Site=workplace,Role=category"


def test_dry_run_then_commit(union, staff_list):
    out = run(str(staff_list), "--source", "Leeds payroll", "--user", "organiser_north", "--mapping", MAPPING)
    assert "Checked: 1 created, 0 updated, 0 unchanged, 0 duplicate, 1 rejected" in out
    assert "line 3, Role: 'boss' is not one of" in out and "Dry run: nothing imported" in out
    assert not Member.objects.filter(last_name="Newton").exists()

    # The mapping is remembered for the source, so --mapping is not needed the second time.
    out = run(str(staff_list), "--source", "Leeds payroll", "--user", "organiser_north", "--commit")
    assert "Imported: 1 created" in out
    assert Member.objects.filter(last_name="Newton").count() == 1
    assert ImportJob.objects.latest("pk").status == "done"


@pytest.mark.parametrize(
    "args, says",
    [
        (["--user", "nobody"], "No active user"),
        (["--user", "rep_oak"], "Only national admins and organisers"),
        (["--user", "organiser_north", "--mapping", "{oops"], "not valid JSON"),
        (["--user", "organiser_north", "--mapping", "Forename"], "Heading=field"),
        (["--user", "organiser_north", "--mapping", "Forename=password"], "not a member field"),
    ],
)
def test_command_errors(union, staff_list, args, says):
    with pytest.raises(CommandError, match=says):
        run(str(staff_list), "--source", "Leeds payroll", *args)
    assert not Member.objects.filter(last_name="Newton").exists() and not ImportJob.objects.exists()


def test_a_missing_file(union, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "nope.csv"), "--source", "x", "--user", "national")
