"""Event tasks on a real Celery worker over Redis (PostgreSQL): run twice, the work is done once."""

import datetime

import pytest
from django.utils import timezone

from crm.models import Message
from events import services, tasks
from events.models import Event, Registration
from tests.events.conftest import event_details

pytestmark = pytest.mark.services


def test_reminders_and_no_shows_on_a_real_worker(union, celery_worker_process):
    queue = celery_worker_process
    event = services.create_event(actor=union.users.national, details=event_details(union, host_region=None))
    placed = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    assert tasks.send_event_reminders.apply_async(args=[event.pk], queue=queue).get(timeout=60) == 1
    assert tasks.send_event_reminders.apply_async(args=[event.pk], queue=queue).get(timeout=60) == 0
    assert Message.objects.filter(key=f"event:{event.pk}:registration:{placed.pk}:reminder").count() == 1
    Event.objects.filter(pk=event.pk).update(
        starts_at=timezone.now() - datetime.timedelta(hours=3), ends_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert tasks.record_no_shows.apply_async(args=[event.pk], queue=queue).get(timeout=60) == 1
    assert tasks.record_no_shows.apply_async(args=[event.pk], queue=queue).get(timeout=60) == 0
    assert Registration.objects.get(pk=placed.pk).attendance == "no_show"
