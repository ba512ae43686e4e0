"""Stripe events processed by a real Celery worker on PostgreSQL: twice, and at the same moment, still once."""

import time

import pytest

from crm.models import AuditEntry, Member
from crm.models.dues import DuesPayment, StripeEvent
from crm.services import dues as dues_services
from crm.tasks import lapse_members_past_grace, process_stripe_event
from tests.crm.dues_helpers import event, invoice

pytestmark = pytest.mark.services


def test_an_event_processed_twice_at_once_on_a_worker_changes_the_member_once(paying, celery_worker_process):
    queue = celery_worker_process
    failure = event("invoice.payment_failed", invoice(invoice_id="in_w1", customer="cus_oak", paid=False))
    stored, _ = dues_services.record_stripe_event(event=failure)
    results = [process_stripe_event.apply_async(args=[stored.pk], queue=queue) for _ in range(3)]
    assert [r.get(timeout=60) for r in results] == ["processed"] * 3
    paying.refresh_from_db()
    assert paying.has_arrears
    assert DuesPayment.objects.filter(member=paying).count() == 1
    assert AuditEntry.objects.filter(member=paying, summary__contains="arrears").count() == 1
    assert StripeEvent.objects.get(pk=stored.pk).state == StripeEvent.State.PROCESSED


def test_grace_period_on_a_worker_lapses_once(paying, celery_worker_process, settings):
    queue = celery_worker_process
    old = int(time.time()) - 40 * 86400
    stored, _ = dues_services.record_stripe_event(
        event=event("invoice.payment_failed", invoice(invoice_id="in_w2", customer="cus_oak", paid=False), created=old)
    )
    process_stripe_event.apply_async(args=[stored.pk], queue=queue).get(timeout=60)
    assert lapse_members_past_grace.apply_async(queue=queue).get(timeout=60) == 1
    assert lapse_members_past_grace.apply_async(queue=queue).get(timeout=60) == 0
    paying.refresh_from_db()
    assert paying.status == Member.Status.LAPSED
