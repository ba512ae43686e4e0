"""Schemathesis over the whole OpenAPI schema, in-process through the WSGI app: every operation, with
bodies and parameters generated from the schema (valid and invalid), as a national admin and as a regional
organiser. Zero server errors and zero responses that break the schema.

Bounded and deterministic: a few dozen examples an operation (hypothesis `derandomize`, so a failure found
once is found every time). Endpoints other changes add are covered without editing this file.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = 30
STATEFUL_EXAMPLES = 40
PERSONAS = ("national", "organiser_north")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_database_connection():
    """Django closes old database connections when a request starts and finishes; its test client stops that
    (the test's transaction lives on that connection), and so must this raw WSGI caller."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def tokens(union, settings):
    # Throttling is tested on its own (test_throttling.py); here it would only end the run early.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(("api-user", "api-token-client", "api-token"), "100000/minute"),
    }
    return {persona: Token.objects.create(user=getattr(union.users, persona)).key for persona in PERSONAS}


# Loaded when the tests are collected, from the app itself (the schema view touches no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, tokens):
    for persona in PERSONAS:
        case.call_and_validate(headers={"Authorization": f"Token {tokens[persona]}"}, checks=CHECKS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_workflows_conform_to_the_schema(tokens, persona):
    """Stateful: sequences of calls that feed one response into the next request (a member or position
    created, then read and changed; a list, then one of its items), following the links Schemathesis
    infers from the schema."""
    base = schema.as_state_machine()

    class Workflow(base):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {tokens[persona]}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
