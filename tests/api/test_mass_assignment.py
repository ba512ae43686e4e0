"""No mass assignment: every write the API's router offers refuses privileged fields.

The writable operations are discovered from the router and the OpenAPI schema (never listed by hand), so
an endpoint another change adds is covered too. A field is privileged for an operation when the object's
representation has it but the operation's request body does not (id, membership_number on a change,
created_at, names of related objects...), plus names that must never be writable anywhere (id, role,
is_superuser...). Each is sent alone; as the README says, the answer is 400 naming the field, and nothing
changes. (An endpoint that chose to ignore such a field instead would have to answer 2xx and leave the
stored value as it was: that is accepted too, and checked.)
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from api.urls import router

from .conftest import take_snapshot

NEVER_WRITABLE = {"id", "pk", "created_at", "updated_at", "role", "is_superuser", "is_staff", "user", "password"}
HOSTILE_VALUES = ["Q9999999", 123456, True, None, {"nested": "x"}, ["x"]]


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict | None) -> dict:
    while node and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node or {}


def _body_properties(schema: dict, operation: dict) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {})
    body = _resolve(schema, content.get("application/json", {}).get("schema"))
    return {name for name, prop in body.get("properties", {}).items() if not prop.get("readOnly")}


def _response_properties(schema: dict, operation: dict) -> set[str]:
    for status in ("200", "201"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        if content:
            return set(_resolve(schema, content.get("application/json", {}).get("schema")).get("properties", {}))
    return set()


def writable_operations() -> list[tuple[str, str, str, frozenset[str]]]:
    """(basename, method, 'list' or 'detail', privileged fields) for every write the router exposes."""
    schema = _schema()
    found = []
    for prefix, _viewset, basename in router.registry:
        for path, operations in schema["paths"].items():
            if not path.startswith(f"/api/v1/{prefix}/"):
                continue
            kind = "detail" if "{" in path else "list"
            for method in ("post", "put", "patch"):
                if method not in operations:
                    continue
                operation = operations[method]
                allowed = _body_properties(schema, operation)
                privileged = (_response_properties(schema, operation) | NEVER_WRITABLE) - allowed
                found.append((basename, method, kind, frozenset(privileged)))
    return found


OPERATIONS = writable_operations()


def test_the_router_has_writes_to_check():
    # Members (create and change) and positions (create and end) at least; more as the API grows.
    assert {(basename, method) for basename, method, _kind, _fields in OPERATIONS} >= {
        ("member", "post"),
        ("member", "patch"),
        ("position", "post"),
        ("position", "patch"),
    }
    member_patch = next(fields for b, m, _k, fields in OPERATIONS if (b, m) == ("member", "patch"))
    assert {"id", "membership_number", "full_name", "is_in_good_standing", "region"} <= member_patch


@pytest.mark.parametrize(
    ("basename", "method", "kind", "privileged"),
    OPERATIONS,
    ids=[f"{basename}-{method}" for basename, method, _kind, _fields in OPERATIONS],
)
def test_privileged_fields_are_refused(api_as, union, basename, method, kind, privileged):
    client = api_as("national")
    url = reverse(f"api:{basename}-list")
    target_id = None
    if kind == "detail":
        target_id = client.get(url).json()["results"][0]["id"]
        url = reverse(f"api:{basename}-detail", args=[target_id])
    for field in sorted(privileged):
        for value in HOSTILE_VALUES[:2] if field != "id" else [987_654]:
            before = take_snapshot()
            stored = client.get(url).json() if target_id else None
            response = getattr(client, method)(url, {field: value}, format="json")
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
