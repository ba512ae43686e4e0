"""Helpers for API tests: a client signed in as one of the `union` personas, and a snapshot of every row
a write could touch, so a refused write can be shown to have changed nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from crm.models import AuditEntry, Member, Position, Tag

PERSONAS = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """The token endpoint's throttle counts live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_as(union) -> Callable[[str | None], APIClient]:
    def client_for(persona: str | None) -> APIClient:
        client = APIClient()
        if persona is not None:
            client.force_authenticate(getattr(union.users, persona))
        return client

    return client_for


def take_snapshot() -> dict:
    return {
        "members": list(Member.objects.order_by("pk").values()),
        "member_tags": sorted(Member.tags.through.objects.values_list("member_id", "tag_id")),
        "positions": list(Position.objects.order_by("pk").values()),
        "tags": sorted(Tag.objects.values_list("name", flat=True)),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)),
    }


@pytest.fixture
def db_snapshot(union) -> Callable[[], dict]:
    return take_snapshot
