"""The Stripe webhook: verified with real signatures, stored once by id, processed once; replays, late and
out-of-order deliveries, bad signatures and bad bodies change nothing they should not."""

import json
import time

import pytest
from django.urls import reverse

from crm import tasks
from crm.models import AuditEntry, Member, Message
from crm.models.dues import DuesAccount, DuesPayment, StripeEvent
from crm.services import dues as dues_services
from tests.crm.dues_helpers import (
    event,
    invoice,
    mandate,
    post_event,
    stripe_signature,
    subscription,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("payments")]


def state_of(member):
    member.refresh_from_db()
    account = DuesAccount.objects.get(member=member)
    return {
        "status": member.status,
        "has_arrears": member.has_arrears,
        "good_standing": Member.objects.in_good_standing().filter(pk=member.pk).exists(),
        "arrears_since": account.arrears_since,
        "payments": sorted(DuesPayment.objects.filter(member=member).values_list("stripe_invoice_id", "outcome")),
        "audit": AuditEntry.objects.filter(member=member).count(),
    }


def failed(customer="cus_oak", invoice_id="in_1", created=None, **kw):
    return event(
        "invoice.payment_failed", invoice(invoice_id=invoice_id, customer=customer, paid=False, **kw), created=created
    )


def paid(customer="cus_oak", invoice_id="in_1", created=None, **kw):
    return event("invoice.paid", invoice(invoice_id=invoice_id, customer=customer, paid=True, **kw), created=created)


def test_failed_payment_puts_the_member_in_arrears(client, paying):
    before = state_of(paying)
    response = post_event(client, failed(next_attempt=int(time.time()) + 3 * 86400))
    assert response.status_code == 200
    after = state_of(paying)
    assert after["has_arrears"] is True and after["good_standing"] is False and after["status"] == "active"
    assert after["arrears_since"] is not None
    assert after["payments"] == [("in_1", "failed")]
    assert after["audit"] == before["audit"] + 1
    stored = StripeEvent.objects.get()
    assert stored.state == StripeEvent.State.PROCESSED and stored.member == paying
    assert "tries again" in DuesPayment.objects.get().reason


def test_paid_invoice_brings_the_member_back_to_good_standing(client, paying):
    post_event(client, failed(created=int(time.time()) - 60))
    assert state_of(paying)["has_arrears"] is True
    assert post_event(client, paid()).status_code == 200
    after = state_of(paying)
    assert after["has_arrears"] is False and after["good_standing"] is True and after["arrears_since"] is None
    assert after["payments"] == [("in_1", "failed"), ("in_1", "paid")]
    assert DuesPayment.objects.get(outcome="paid").amount_pence == 2450


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "",  # empty
        "garbage",
        "t=notanumber,v1=abc",
        "signed-with-another-secret",
        "signed-for-another-body",
        "signed-an-hour-ago",
    ],
)
def test_bad_or_missing_signature_is_400_and_changes_nothing(client, paying, signature):
    body = json.dumps(failed()).encode()
    if signature == "signed-with-another-secret":
        signature = stripe_signature(body, secret="whsec_someone_else")
    elif signature == "signed-for-another-body":
        signature = stripe_signature(json.dumps(paid()).encode())
    elif signature == "signed-an-hour-ago":
        signature = stripe_signature(body, timestamp=int(time.time()) - 3600)
    before = state_of(paying)
    response = post_event(client, body, signature=signature)
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
    assert state_of(paying) == before


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00 not utf-8",
        b"[]",
        b'"a string"',
        json.dumps({"type": "invoice.paid", "created": 1, "data": {"object": {}}}).encode(),  # no id
        json.dumps({"id": "evt_1", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}}).encode(),
        json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 1700000000, "data": []}).encode(),
        json.dumps(
            {"id": "not-an-event", "type": "invoice.paid", "created": 1700000000, "data": {"object": {}}}
        ).encode(),
        b"[" * 100_000 + b"]" * 100_000,  # nested too deeply to decode (and too big)
        b"[" * 20_000 + b"]" * 20_000,  # nested too deeply to decode
    ],
)
def test_malformed_bodies_with_good_signatures_are_400_and_change_nothing(client, paying, body):
    before = state_of(paying)
    response = post_event(client, body)
    assert response.status_code in (400, 413)
    assert StripeEvent.objects.count() == 0
    assert state_of(paying) == before


def test_oversized_body_is_refused_unread(client, paying):
    big = failed()
    big["data"]["object"]["description"] = "x" * (300 * 1024)
    before = state_of(paying)
    response = post_event(client, big)
    assert response.status_code == 413
    assert StripeEvent.objects.count() == 0
    assert state_of(paying) == before


def test_without_a_webhook_secret_nothing_is_accepted(client, paying, settings):
    body = json.dumps(failed()).encode()
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(client, body)
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_only_post(client, paying):
    assert client.get(reverse("stripe_webhook")).status_code == 405


def test_replayed_ten_times_changes_the_member_once(client, paying):
    failure = failed()
    for _ in range(10):
        assert post_event(client, failure).status_code == 200
    once = state_of(paying)
    assert once["has_arrears"] is True
    assert once["payments"] == [("in_1", "failed")]
    assert StripeEvent.objects.count() == 1
    assert AuditEntry.objects.filter(member=paying, summary__contains="arrears").count() == 1

    payment = paid()
    for _ in range(10):
        assert post_event(client, payment).status_code == 200
    after = state_of(paying)
    assert after["has_arrears"] is False and after["good_standing"] is True
    assert after["payments"] == [("in_1", "failed"), ("in_1", "paid")]
    assert StripeEvent.objects.count() == 2
    assert AuditEntry.objects.filter(member=paying, summary__contains="good standing").count() == 1


def test_out_of_order_an_older_failure_after_a_newer_payment_changes_nothing(client, paying):
    now = int(time.time())
    post_event(client, paid(created=now))
    before = state_of(paying)
    assert post_event(client, failed(created=now - 120)).status_code == 200
    after = state_of(paying)
    assert after["has_arrears"] is False and after["good_standing"] is True
    assert after["payments"] == [("in_1", "failed"), ("in_1", "paid")]  # kept in the history
    assert after["audit"] == before["audit"]


def test_out_of_order_a_failure_for_a_newer_invoice_still_counts(client, paying):
    now = int(time.time())
    post_event(client, failed(invoice_id="in_2", created=now))
    post_event(client, paid(invoice_id="in_1", created=now - 86400 * 30))  # last month's, delivered late
    assert state_of(paying)["has_arrears"] is True


def test_out_of_order_a_late_cancellation_after_a_newer_payment_does_not_put_in_arrears(client, paying):
    now = int(time.time())
    post_event(client, paid(created=now))
    cancelled = event(
        "customer.subscription.deleted",
        subscription(subscription_id="sub_oak", customer="cus_oak", status="canceled"),
        created=now - 60,
    )
    post_event(client, cancelled)
    assert state_of(paying)["has_arrears"] is False


def test_processing_twice_is_idempotent(client, paying, settings):
    stored, created = dues_services.record_stripe_event(event=failed())
    assert created
    assert tasks.process_stripe_event(stored.pk) == "processed"
    once = state_of(paying)
    assert tasks.process_stripe_event(stored.pk) == "processed"
    assert state_of(paying) == once
    again, created = dues_services.record_stripe_event(event=stored.payload)
    assert again.pk == stored.pk and not created


def test_events_for_unknown_customers_are_kept_for_review(client, paying, union):
    response = post_event(client, failed(customer="cus_nobody"))
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.state == StripeEvent.State.UNMATCHED and stored.customer_id == "cus_nobody"
    assert stored.payload["data"]["object"]["customer"] == "cus_nobody"
    assert DuesPayment.objects.count() == 0
    client.force_login(union.users.national)
    assert stored.event_id in client.get(reverse("dues_overview")).content.decode()
    client.force_login(union.users.organiser_north)
    assert stored.event_id not in client.get(reverse("dues_overview")).content.decode()


def test_event_kinds_we_do_not_act_on_are_stored_and_ignored(client, paying):
    post_event(client, event("customer.created", {"id": "cus_oak", "object": "customer"}))
    assert StripeEvent.objects.get().state == StripeEvent.State.IGNORED


def test_cancelled_subscription_starts_the_grace_period(client, paying):
    cancelled = event(
        "customer.subscription.deleted", subscription(subscription_id="sub_oak", customer="cus_oak", status="canceled")
    )
    post_event(client, cancelled)
    after = state_of(paying)
    assert after["has_arrears"] is True and after["arrears_since"] is not None
    assert DuesAccount.objects.get(member=paying).subscription_status == "canceled"


def test_subscription_updates_are_recorded(client, paying):
    post_event(
        client,
        event(
            "customer.subscription.updated",
            subscription(subscription_id="sub_oak", customer="cus_oak", status="past_due"),
        ),
    )
    assert DuesAccount.objects.get(member=paying).subscription_status == "past_due"
    # Another subscription of the same customer (not the member's) is left alone.
    post_event(
        client,
        event(
            "customer.subscription.updated",
            subscription(subscription_id="sub_other", customer="cus_oak", status="active"),
        ),
    )
    assert DuesAccount.objects.get(member=paying).subscription_status == "past_due"


def test_payroll_members_are_not_put_in_arrears_by_stray_stripe_events(client, paying, union):
    dues_services.set_payment_method(actor=union.users.national, member=paying, method="payroll")
    post_event(client, failed())
    post_event(
        client,
        event(
            "customer.subscription.deleted",
            subscription(subscription_id="sub_oak", customer="cus_oak", status="canceled"),
        ),
    )
    after = state_of(paying)
    assert after["has_arrears"] is False and after["good_standing"] is True
    assert after["payments"] == [("in_1", "failed")]


def test_mandate_events_are_matched_through_the_payment_method(client, paying, payments):
    payments.payment_methods["pm_bacs_oak"] = "cus_oak"
    post_event(
        client,
        event("mandate.updated", mandate(mandate_id="mandate_1", payment_method="pm_bacs_oak", status="inactive")),
    )
    assert DuesAccount.objects.get(member=paying).mandate_status == "inactive"
    stored = StripeEvent.objects.get()
    assert stored.state == StripeEvent.State.PROCESSED and stored.customer_id == "cus_oak"
    post_event(
        client, event("mandate.updated", mandate(mandate_id="mandate_2", payment_method="pm_unknown", status="active"))
    )
    assert StripeEvent.objects.get(payload__data__object__id="mandate_2").state == StripeEvent.State.UNMATCHED
    assert DuesAccount.objects.get(member=paying).mandate_status == "inactive"


def test_repeated_failures_of_one_invoice_count_attempts_in_one_row(client, paying):
    now = int(time.time())
    post_event(client, failed(created=now - 100, attempt_count=1, next_attempt=now + 86400))
    post_event(client, failed(created=now, attempt_count=2, next_attempt=now + 3 * 86400))
    payment = DuesPayment.objects.get()
    assert payment.attempts == 2
    assert AuditEntry.objects.filter(member=paying, summary__contains="arrears").count() == 1
    assert Message.objects.count() == 0
