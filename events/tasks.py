"""Celery tasks for events: thin, take ids, safe to run twice (each service does its work once)."""

from __future__ import annotations

from celery import shared_task

from events import services


@shared_task
def send_event_reminders(event_id: int) -> int:
    """Remind everyone with a place; reminders already queued are not queued again."""
    return services.send_reminders(event_id=event_id)


@shared_task
def record_no_shows(event_id: int) -> int:
    """After the event, mark those with a place who never checked in; a second run finds none left."""
    return services.record_no_shows(event_id=event_id)


@shared_task
def award_certifications(event_id: int) -> int:
    """Certify everyone who attended a training session; those already certified are skipped."""
    return services.award_certifications(actor=None, event_id=event_id)


@shared_task
def send_due_reminders() -> int:
    """Periodic: reminders for events starting within a day."""
    return sum(services.send_reminders(event_id=event_id) for event_id in services.events_due_a_reminder())


@shared_task
def record_due_no_shows() -> int:
    """Periodic: no-shows for events that ended in the last week."""
    return sum(services.record_no_shows(event_id=event_id) for event_id in services.events_due_no_shows())
