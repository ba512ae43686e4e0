"""No mass assignment: every write the API offers refuses privileged fields.

The writable operations and their request serializers are discovered from the URLconf through
drf-spectacular (never listed by hand), so an endpoint another change adds is covered too. A field is
privileged for an operation when the object's representation has it but the operation's request body does
not (id, membership_number on a change, created_at, a campaign's status, an import's counts, names of
related objects...), plus names that must never be writable anywhere (id, role, is_superuser...). Each is
sent alone; as the README says, the answer is 400 naming the field, and nothing changes. (An endpoint that
chose to ignore such a field instead would have to answer 2xx and leave the stored value as it was: that is
accepted too, and checked.) Every request serializer is checked directly; over HTTP, every create and the
changes to objects the fixture holds (members, positions).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from .conftest import take_snapshot

NEVER_WRITABLE = {"id", "pk", "created_at", "updated_at", "role", "is_superuser", "is_staff", "user", "password"}
HOSTILE_VALUES = ["Q9999999", 123456, True, None, {"nested": "x"}, ["x"]]
# Bodies that are credentials, not an object's fields: the token endpoint takes a username and password.
NOT_ASSIGNMENTS = {"/api/v1/auth/token/"}


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict | None) -> dict:
    while node and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node or {}


def _body_properties(schema: dict, operation: dict) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json") or next(iter(content.values()), {})  # multipart for uploads
    body = _resolve(schema, media.get("schema"))
    return {name for name, prop in body.get("properties", {}).items() if not prop.get("readOnly")}


def _response_properties(schema: dict, operation: dict) -> set[str]:
    for status in ("200", "201", "202"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        if content:
            return set(_resolve(schema, content.get("application/json", {}).get("schema")).get("properties", {}))
    return set()


@dataclass(frozen=True)
class Write:
    path: str  # as the schema names it, e.g. /api/v1/campaigns/{id}/schedule/
    method: str
    serializer: type  # the request serializer the view reads the body with
    privileged: frozenset[str]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def writable_operations() -> list[Write]:
    """Every API operation that reads a body (router, actions and plain views alike), with its request
    serializer as drf-spectacular finds it (extend_schema included) and its privileged fields."""
    schema = _schema()
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    found = []
    for path, path_regex, method, view in generator._get_paths_and_endpoints():
        if method not in {"POST", "PUT", "PATCH"} or not path.startswith("/api/v1/") or path in NOT_ASSIGNMENTS:
            continue
        view.schema.path, view.schema.path_regex, view.schema.method = path, path_regex, method
        serializer = view.schema.get_request_serializer()
        if isinstance(serializer, dict):  # {media type: serializer}, as an upload declares it
            (serializer,) = serializer.values()
        if serializer is None:
            continue  # no body at all (cancel, confirm...): nothing can be assigned
        operation = schema["paths"][path][method.lower()]
        allowed = _body_properties(schema, operation)
        privileged = (_response_properties(schema, operation) | NEVER_WRITABLE) - allowed
        serializer_class = serializer if isinstance(serializer, type) else type(serializer)
        found.append(Write(path, method.lower(), serializer_class, frozenset(privileged)))
    return found


OPERATIONS = writable_operations()
# Who may make each write; national admins unless said here.
WRITER = {"/api/v1/equalities/me/": "member_oak"}  # a member's own answers: staff without a member record get 403
# Objects the `union` fixture holds, so a change to one of them can be tried over HTTP as well.
FIXTURE_DETAIL_PATHS = {"/api/v1/members/{id}/": "member", "/api/v1/positions/{id}/": "position"}
HTTP_OPERATIONS = [op for op in OPERATIONS if "{" not in op.path or op.path in FIXTURE_DETAIL_PATHS]


def test_the_router_has_writes_to_check():
    # Members (create and change) and positions (create and end) at least; more as the API grows.
    assert {op.name for op in OPERATIONS} >= {
        "POST /api/v1/members/",
        "PATCH /api/v1/members/{id}/",
        "POST /api/v1/positions/",
        "PATCH /api/v1/positions/{id}/",
    }
    member_patch = next(op.privileged for op in OPERATIONS if op.name == "PATCH /api/v1/members/{id}/")
    assert {"id", "membership_number", "full_name", "is_in_good_standing", "region"} <= member_patch
    campaign_post = next(op.privileged for op in OPERATIONS if op.name == "POST /api/v1/campaigns/")
    assert {"status", "recipients", "created_by", "started_at"} <= campaign_post


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_request_serializer_refuses_privileged_fields(union, op):
    """Each privileged field alone, as a partial body (so required fields do not stop the check first):
    the serializer must name it in its errors. Ignoring it is accepted only if it never reaches
    validated_data."""
    request = Request(APIRequestFactory().post(op.path))
    request.user = getattr(union.users, WRITER.get(op.path, "national"))
    for field in sorted(op.privileged):
        for value in HOSTILE_VALUES[:2] if field != "id" else [987_654]:
            serializer = op.serializer(data={field: value}, partial=True, context={"request": request})
            if serializer.is_valid():
                assert field not in serializer.validated_data, (op.name, field)
            else:
                assert field in serializer.errors, (op.name, field, serializer.errors)


@pytest.mark.parametrize("op", HTTP_OPERATIONS, ids=[op.name for op in HTTP_OPERATIONS])
def test_privileged_fields_are_refused(api_as, union, op):
    client = api_as(WRITER.get(op.path, "national"))
    url = op.path
    target_id = None
    if op.path in FIXTURE_DETAIL_PATHS:
        target_id = client.get(reverse(f"api:{FIXTURE_DETAIL_PATHS[op.path]}-list")).json()["results"][0]["id"]
        url = op.path.replace("{id}", str(target_id))
    for field in sorted(op.privileged):
        for value in HOSTILE_VALUES[:2] if field != "id" else [987_654]:
            before = take_snapshot()
            stored = client.get(url).json() if target_id else None
            response = getattr(client, op.method)(url, {field: value}, format="json")
            if response.status_code == 400:
                assert field in response.json(), (field, response.json())
                assert take_snapshot() == before, field
            else:
                # Ignored rather than refused: accepted only if the stored value did not change.
                assert response.status_code in {200, 201}, (field, response.status_code, response.content[:300])
                if target_id:
                    assert client.get(url).json().get(field) == stored.get(field), field
                else:
                    assert response.json().get(field) != value, field
