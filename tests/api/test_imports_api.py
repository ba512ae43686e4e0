"""The import and export API: upload with a dry run, confirm, status, report, and the member export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import AuditEntry, ImportJob, Member
from tests.api.conftest import PERSONAS
from tests.conftest import visible_members_by_role

IMPORTERS = {"national", "organiser_north", "organiser_bristol"}
EXPORTERS = IMPORTERS | {"rep_oak"}
FILE = (
    "Staff no,Forename,Family name,Site,Role\n"
    ",Nina,Newton,Oak Primary,teacher\n"
    ",Bad,Cell,Oak Primary,boss\n"
    ",Elle,Elsewhere,Ash College,lecturer\n"
)
MAPPING = {"Forename": "first_name", "Family name": "last_name", "Site": "workplace", "Role": "category"}


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Confirming queues the import task on commit; here it runs in this process even where a broker is set
    (the run on a real worker is tests/crm/test_imports_services.py's `services` test)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def post_file(client, text=FILE, mapping=MAPPING, source="Leeds payroll", name="payroll.csv"):
    body = {"source": source, "file": SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text)}
    if mapping is not None:
        body["mapping"] = json.dumps(mapping)
    return client.post(reverse("api:import-list"), body, format="multipart")


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_national_admins_and_organisers_use_imports(api_as, persona):
    client = api_as(persona)
    response = post_file(client)
    assert response.status_code == (201 if persona in IMPORTERS else 403), response.data
    assert client.get(reverse("api:import-list")).status_code == (200 if persona in IMPORTERS else 403)
    if persona not in IMPORTERS:
        assert not ImportJob.objects.exists()


def test_upload_returns_the_dry_run_then_confirm_imports(api_as, union, django_capture_on_commit_callbacks):
    client = api_as("organiser_north")
    response = post_file(client)
    assert response.status_code == 201
    job = response.data
    assert job["status"] == "checked" and job["mapping"] == MAPPING
    assert (job["total_rows"], job["created_count"], job["rejected_count"]) == (3, 1, 2)
    assert [(r["line"], r["outcome"]) for r in job["report"]] == [(3, "rejected"), (4, "rejected")]
    assert job["report"][0]["problems"][0][0] == "Role"
    assert job["report"][1]["problems"] == [["Site", "Bristol branch is outside your branches."]]
    assert job["report_csv"].endswith(f"/api/v1/imports/{job['id']}/report/")
    assert not Member.objects.filter(last_name="Newton").exists()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("api:import-confirm", args=[job["id"]]))
    assert confirmed.status_code == 202
    status = client.get(reverse("api:import-detail", args=[job["id"]])).data
    assert (status["status"], status["rows_done"], status["percent_done"], status["created_count"]) == (
        "done",
        3,
        100,
        1,
    )
    assert Member.objects.filter(last_name="Newton", branch=union.branches.leeds).count() == 1
    assert not Member.objects.filter(last_name="Elsewhere").exists()

    # Confirming again changes nothing.
    again = client.post(reverse("api:import-confirm", args=[job["id"]]))
    assert again.status_code == 202 and Member.objects.filter(last_name="Newton").count() == 1

    report = client.get(reverse("api:import-report", args=[job["id"]]))
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert [line[2] for line in lines[1:]] == ["New member", "Rejected", "Rejected"]


def test_without_a_mapping_the_remembered_one_is_used(api_as):
    client = api_as("organiser_north")
    assert post_file(client).status_code == 201
    response = post_file(client, mapping=None)
    assert response.status_code == 201 and response.data["mapping"] == MAPPING


@pytest.mark.parametrize(
    "body_change, field",
    [
        ({"file": SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n\x00")}, "file"),
        ({"mapping": "{not json"}, "mapping"),
        ({"mapping": json.dumps({"Forename": "password"})}, "mapping"),
        ({"source": ""}, "source"),
    ],
)
def test_bad_uploads_are_400_and_leave_nothing(api_as, union, db_snapshot, body_change, field):
    client = api_as("organiser_north")
    before = db_snapshot()
    body = {
        "source": "Leeds payroll",
        "file": SimpleUploadedFile("p.csv", FILE.encode()),
        "mapping": json.dumps(MAPPING),
    }
    body.update(body_change)
    response = client.post(reverse("api:import-list"), body, format="multipart")
    assert response.status_code == 400 and field in response.data, response.data
    assert db_snapshot() == before and not ImportJob.objects.exists()


def test_another_organisers_import_is_404(api_as):
    job = post_file(api_as("organiser_north")).data
    other = api_as("organiser_bristol")
    assert other.get(reverse("api:import-detail", args=[job["id"]])).status_code == 404
    assert other.post(reverse("api:import-confirm", args=[job["id"]])).status_code == 404
    assert other.get(reverse("api:import-report", args=[job["id"]])).status_code == 404
    assert ImportJob.objects.get().status == "checked"


@pytest.mark.parametrize("persona", PERSONAS)
def test_export_holds_exactly_the_callers_scope(api_as, union, persona):
    response = api_as(persona).get(reverse("api:member-export"))
    if persona not in EXPORTERS:
        assert response.status_code == 403
        assert not AuditEntry.objects.filter(action="export").exists()
        return
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["Membership number"] for r in rows) == sorted(
        m.membership_number for m in visible_members_by_role(union)[persona]
    )
    assert AuditEntry.objects.get(action="export").changes["rows"] == len(rows)


def test_export_filters_and_bad_filters(api_as, union):
    client = api_as("national")
    response = client.get(reverse("api:member-export"), {"category": "lecturer"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["Last name"] for r in rows] == ["Ashworth"]
    bad = client.get(reverse("api:member-export"), {"status": "nonsense"})
    assert bad.status_code == 400 and "status" in bad.json()
    assert AuditEntry.objects.filter(action="export").count() == 1


def test_anonymous_callers_get_401(union):
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.get(reverse("api:member-export")).status_code == 401
    assert client.post(reverse("api:import-list"), {}).status_code == 401


def test_schema_documents_the_import_endpoints(api_as):
    response = api_as(None).get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    assert "post" in paths["/api/v1/imports/"] and "post" in paths["/api/v1/imports/{id}/confirm/"]
    assert "get" in paths["/api/v1/imports/{id}/"]
    params = {p["name"] for p in paths["/api/v1/members/export/"]["get"]["parameters"]}
    assert {"status", "branch", "workplace", "q"} <= params
