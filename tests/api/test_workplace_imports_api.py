"""Workplace imports through POST /api/v1/imports/ with kind=workplaces: dry run, confirm, report, errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import ImportJob, Workplace
from tests.api.conftest import PERSONAS

IMPORTERS = {"national", "organiser_north", "organiser_bristol"}
FILE = (
    "Establishment,District,Trust,Phase,Headcount\n"
    "Birch Primary,Leeds,Leeds City Council,primary,31\n"
    "Birch Primary,Leeds,Leeds City Council,primary,31\n"
    "Far School,Bristol,Ash College Corporation,primary,9\n"
)
MAPPING = {
    "Establishment": "name",
    "District": "branch",
    "Trust": "employer",
    "Phase": "sector",
    "Headcount": "eligible_staff",
}


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def post_file(client, text=FILE, mapping=MAPPING, kind="workplaces"):
    body = {"kind": kind, "source": "Leeds schools", "file": SimpleUploadedFile("s.csv", text.encode())}
    if mapping is not None:
        body["mapping"] = json.dumps(mapping)
    return client.post(reverse("api:import-list"), body, format="multipart")


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_national_admins_and_organisers_import_workplaces(api_as, persona):
    response = post_file(api_as(persona))
    assert response.status_code == (201 if persona in IMPORTERS else 403)
    if persona not in IMPORTERS:
        assert not ImportJob.objects.exists()


def test_upload_checks_then_confirm_imports_in_the_background(api_as, union, django_capture_on_commit_callbacks):
    client = api_as("organiser_north")
    response = post_file(client)
    assert response.status_code == 201, response.data
    job = response.data
    assert (job["kind"], job["status"], job["mapping"]) == ("workplaces", "checked", MAPPING)
    assert (job["created_count"], job["duplicate_count"], job["rejected_count"]) == (1, 1, 1)
    assert [(r["line"], r["outcome"]) for r in job["report"]] == [(3, "duplicate"), (4, "rejected")]
    assert job["report"][1]["problems"] == [["District", "Bristol branch is outside your branches: not changed."]]
    assert not Workplace.objects.filter(name="Birch Primary").exists()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("api:import-confirm", args=[job["id"]]))
    assert confirmed.status_code == 202
    status = client.get(reverse("api:import-detail", args=[job["id"]])).data
    assert (status["status"], status["percent_done"], status["created_count"]) == ("done", 100, 1)
    assert Workplace.objects.filter(name="Birch Primary", branch=union.branches.leeds).count() == 1
    assert not Workplace.objects.filter(name="Far School").exists()

    report = client.get(reverse("api:import-report", args=[job["id"]]))
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert lines[0][3] == "Workplace"
    assert [line[2] for line in lines[1:]] == ["New workplace", "Repeats an earlier row", "Rejected"]


def test_the_default_kind_is_still_members(api_as):
    client = api_as("organiser_north")
    body = {"source": "Leeds schools", "file": SimpleUploadedFile("s.csv", FILE.encode())}
    response = client.post(reverse("api:import-list"), body, format="multipart")
    # A workplace file read as members: the headings say nothing a member import can match on.
    assert response.status_code == 400 and "mapping" in response.data
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "branches"}, "kind"),
        ({"mapping": json.dumps({"Establishment": "name"})}, "mapping"),
        ({"mapping": json.dumps({**MAPPING, "Phase": "category"})}, "mapping"),
        ({"file": SimpleUploadedFile("s.pdf", b"%PDF-1.4 ...")}, "file"),
        ({"file": SimpleUploadedFile("s.csv", b"Establishment,District\nBad \x81\x8d,Leeds\n")}, "file"),
    ],
)
def test_bad_workplace_uploads_are_400_and_leave_nothing(api_as, db_snapshot, change, field):
    body = {
        "kind": "workplaces",
        "source": "Leeds schools",
        "file": SimpleUploadedFile("s.csv", FILE.encode()),
        "mapping": json.dumps(MAPPING),
    }
    body.update(change)
    before = db_snapshot()
    response = api_as("organiser_north").post(reverse("api:import-list"), body, format="multipart")
    assert response.status_code == 400 and field in response.data, response.data
    assert db_snapshot() == before and not ImportJob.objects.exists()
    assert not Workplace.objects.filter(name="Birch Primary").exists()
