"""Helpers for events tests: an open event in the `union`, run by the North region."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from crm.models import AuditEntry, Message
from events import services
from events.models import Certification, Course, Event, Registration
from events.training import add_standard_courses


def event_details(union, **overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    details = {
        "kind": Event.Kind.MEETING,
        "title": "North members' meeting",
        "description": "Pay and workload.",
        "starts_at": now + datetime.timedelta(days=10),
        "ends_at": now + datetime.timedelta(days=10, hours=2),
        "venue": "Leeds Civic Hall",
        "online_url": "",
        "capacity": 50,
        "registration_opens_at": now - datetime.timedelta(days=1),
        "registration_closes_at": now + datetime.timedelta(days=9),
        "audience": Event.Audience.EVERYONE,
        "host_region": union.regions.north,
    }
    details.update(overrides)
    return details


@pytest.fixture
def make_event(union):
    def make(actor=None, **overrides: Any) -> Event:
        return services.create_event(
            actor=actor or union.users.organiser_north, details=event_details(union, **overrides)
        )

    return make


@pytest.fixture
def course(db):
    add_standard_courses(Course)  # already there from the migration, unless a transactional test emptied it
    return {c.code: c for c in Course.objects.all()}


def snapshot() -> dict:
    """Every row an events workflow could touch, so a refusal can be shown to have changed nothing."""
    return {
        "events": list(Event.objects.order_by("pk").values()),
        "registrations": list(Registration.objects.order_by("pk").values()),
        "certifications": list(Certification.objects.order_by("pk").values()),
        "messages": list(Message.objects.order_by("pk").values_list("key", "status")),
        "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)),
    }


def certify(member, course_obj, on=datetime.date(2025, 1, 10)) -> Certification:
    return Certification.objects.create(member=member, course=course_obj, completed_on=on)
