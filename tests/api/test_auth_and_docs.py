"""Signing in to the API (token and session), refusing anonymous callers, and the OpenAPI schema and docs."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import visible_members_by_role

ENDPOINTS = ["region", "branch", "employer", "workplace", "member", "position"]


def token_url() -> str:
    return reverse("api:token")


# --- anonymous ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ENDPOINTS)
def test_anonymous_callers_get_401_everywhere(union, db_snapshot, resource):
    client = APIClient()
    before = db_snapshot()
    detail = reverse(f"api:{resource}-detail", args=[1])
    responses = [
        client.get(reverse(f"api:{resource}-list")),
        client.get(detail),
        client.post(reverse(f"api:{resource}-list"), {}, format="json"),
        client.patch(detail, {}, format="json"),
    ]
    for response in responses:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    assert db_snapshot() == before


def test_inactive_user_is_refused(union):
    user = union.users.national
    token = Token.objects.create(user=user)
    user.is_active = False
    user.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(reverse("api:member-list")).status_code == 401


# --- token -------------------------------------------------------------------------------------------------


def test_token_for_username_and_password_then_use_it(union):
    client = APIClient()
    response = client.post(token_url(), {"username": "organiser_north", "password": union.password}, format="json")
    assert response.status_code == 200
    token = response.data["token"]
    assert set(response.data) == {"token"}
    assert Token.objects.get(key=token).user == union.users.organiser_north

    # The same token comes back next time, and form-encoded logins work too (as with curl -d).
    form = urlencode({"username": "organiser_north", "password": union.password})
    again = client.post(token_url(), form, content_type="application/x-www-form-urlencoded")
    assert again.status_code == 200 and again.data["token"] == token

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(reverse("api:member-list"))
    assert response.status_code == 200
    expected = {m.pk for m in visible_members_by_role(union)["organiser_north"]}
    assert {row["id"] for row in response.data["results"]} == expected


@pytest.mark.parametrize(
    "body",
    [
        {"username": "organiser_north", "password": "wrong"},
        {"username": "nobody", "password": "correct horse battery"},
        {"username": "organiser_north"},
        {},
    ],
)
def test_token_refused_without_the_right_password(union, body):
    response = APIClient().post(token_url(), body, format="json")
    assert response.status_code == 400
    assert "token" not in response.data
    assert not Token.objects.exists()


def test_token_refused_for_an_inactive_account(union):
    union.users.national.is_active = False
    union.users.national.save()
    response = APIClient().post(token_url(), {"username": "national", "password": union.password}, format="json")
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_a_wrong_token_is_401(union):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(reverse("api:member-list")).status_code == 401


def test_password_guessing_is_throttled(union):
    client = APIClient()
    statuses = [
        client.post(token_url(), {"username": "national", "password": f"guess {n}"}, format="json").status_code
        for n in range(12)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]
    # Even the right password waits until the window has passed.
    right = client.post(token_url(), {"username": "national", "password": union.password}, format="json")
    assert right.status_code == 429


# --- session -----------------------------------------------------------------------------------------------


def test_session_login_works_and_writes_need_the_csrf_token(union):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="organiser_north", password=union.password)
    response = client.get(reverse("api:member-detail", args=[union.members.oak.pk]))
    assert response.status_code == 200
    assert response.data["full_name"] == "Owen Oakley"

    url = reverse("api:member-detail", args=[union.members.oak.pk])
    refused = client.patch(url, {"town": "Leeds"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.data["detail"]
    union.members.oak.refresh_from_db()
    assert union.members.oak.town == ""


# --- schema and docs ---------------------------------------------------------------------------------------


def test_schema_generates_and_validates_without_warnings(union, tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/members/", "/api/v1/members/{id}/", "/api/v1/positions/{id}/", "/api/v1/auth/token/"):
        assert f"  {path}:" in text
    assert "tokenAuth" in text and "cookieAuth" in text


def test_schema_endpoint_serves_the_document(union):
    response = APIClient().get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document = response.json()
    member_ops = document["paths"]["/api/v1/members/{id}/"]
    assert {"get", "patch"} <= set(member_ops)
    assert not {"put", "delete"} & set(member_ops)
    list_params = {p["name"] for p in document["paths"]["/api/v1/members/"]["get"]["parameters"]}
    assert {"status", "good_standing", "branch", "workplace", "region", "q", "ordering", "page"} <= list_params
    writable = document["components"]["schemas"]["PatchedMemberUpdate"]["properties"]
    assert "membership_number" not in writable and "created_at" not in writable


def test_docs_page_loads_with_only_local_assets(union):
    client = APIClient()
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert len(assets) >= 5  # favicon, stylesheet, two library scripts and the start-up script
    # The start-up script is served by the docs view itself (?script), so the page has no inline script.
    startup = [asset for asset in assets if asset.startswith(reverse("api:docs") + "?script")]
    assert len(startup) == 1
    assert not re.search(r"<script>", html)
    for asset in set(assets) - set(startup):
        assert not re.match(r"^(?:[a-z]+:)?//", asset, re.IGNORECASE), asset
        assert asset.startswith("/static/")
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not among our static files"
    assert not re.search(r"https?://", html)
    script = client.get(startup[0].replace("&amp;", "&"))
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    code = script.content.decode()
    assert '"validatorUrl": null' in code  # Swagger UI's badge would otherwise load from validator.swagger.io
    assert reverse("api:schema") in code
    assert not re.search(r"https?://", code)


def test_browsable_api_renders_for_a_signed_in_user(api_as, union):
    client = api_as("organiser_north")
    for url in (reverse("api:member-list"), reverse("api:member-detail", args=[union.members.oak.pk])):
        response = client.get(url, {"status": "active"}, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert "Owen" in response.content.decode()
        assert "Ashworth" not in response.content.decode()
