"""The `stripe` library over HTTP against localstripe, a fake but stateful Stripe server started by these tests.

localstripe covers customers, card payment methods, plans (a plan id is accepted wherever Stripe takes a price
id), subscriptions, invoices paid and failed, and cancellation. Where Stripe Checkout would attach the card and
start the subscription, the test does it with the library; localstripe's own events (invoice.payment_succeeded,
invoice.payment_failed, customer.subscription.deleted...) are then delivered to our webhook, signed. What it
lacks (Checkout, Bacs Direct Debit, Prices, the customer portal) is covered by test_dues_webhooks.py and
test_dues_join.py with payloads shaped as Stripe documents them.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import stripe

from crm.models import Member
from crm.models.dues import DuesAccount, DuesPayment, StripeEvent, SubscriptionRate
from crm.payments import PaymentsError, get_payments_backend
from crm.services import dues as dues_services
from tests.conftest import IN_CI, REQUIRE_SERVICES
from tests.crm.dues_helpers import WEBHOOK_SECRET, checkout_session, event, post_event

GOOD_CARD = "4242424242424242"
NEEDS_AUTHENTICATION = "4000002500003155"  # every charge needs the bank's approval (3D Secure)


# localstripe's own command listens on every IPv6 address; this serves the same app on IPv4 localhost only,
# starting empty.
LAUNCH = (
    "import sys; from aiohttp import web; from localstripe.server import app; "
    "web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def localstripe_url(tmp_path_factory):
    if importlib.util.find_spec("localstripe") is None:
        reason = "localstripe is not installed (requirements-dev.txt pins it)"
        if IN_CI or REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path_factory.getbasetemp(),
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(f"{url}/v1/customers", headers={"Authorization": "Bearer sk_test_x"})
                urllib.request.urlopen(request, timeout=1).close()  # noqa: S310 (our own localhost server)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"localstripe did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def stripe_client(localstripe_url, settings, eager_tasks):
    """Settings pointing the real Stripe backend at localstripe, emptied for each test."""
    urllib.request.urlopen(urllib.request.Request(f"{localstripe_url}/_config/data", method="DELETE")).close()  # noqa: S310
    settings.PAYMENTS_BACKEND = "crm.payments.stripe.PaymentsBackend"
    settings.STRIPE_SECRET_KEY = "sk_test_quorum"
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return stripe.StripeClient("sk_test_quorum", base_addresses={"api": localstripe_url})


@pytest.fixture
def applicant(union, stripe_client):
    """An applicant from the join page, with a Stripe customer made by our backend, and a monthly plan."""
    rate = SubscriptionRate.objects.create(category="teacher", pay_band="Full time", monthly_pence=2450)
    stripe_client.v1.plans.create(
        params={
            "id": f"quorum-rate-{rate.pk}",
            "amount": 2450,
            "currency": "gbp",
            "interval": "month",
            "product": {"name": "Membership: Teacher, Full time"},
        }
    )
    SubscriptionRate.objects.filter(pk=rate.pk).update(stripe_price_id=f"quorum-rate-{rate.pk}")
    member = dues_services.record_applicant(
        details={
            "first_name": "Jo",
            "last_name": "Joiner",
            "email": "jo@example.org",
            "workplace": union.workplaces.oak,
        },
        rate=rate,
        email_consent=False,
        sms_consent=False,
    )
    customer_id = get_payments_backend().create_customer(
        member_id=member.pk, email=member.email, name=member.full_name, idempotency_key=f"quorum-member-{member.pk}"
    )
    DuesAccount.objects.filter(member=member).update(stripe_customer_id=customer_id, checkout_session_id="cs_test_jo")
    return member


def pay_as_checkout_would(client: stripe.StripeClient, member: Member, card: str) -> stripe.Subscription:
    """What Stripe Checkout does for the applicant: attach their card, make it the default, subscribe."""
    account = DuesAccount.objects.select_related("rate").get(member=member)
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2035, "cvc": "123"}}
    )
    client.v1.payment_methods.attach(method.id, params={"customer": account.stripe_customer_id})
    client.v1.customers.update(
        account.stripe_customer_id, params={"invoice_settings": {"default_payment_method": method.id}}
    )
    return client.v1.subscriptions.create(
        params={"customer": account.stripe_customer_id, "items": [{"plan": account.rate.stripe_price_id}]}
    )


def stripe_events(client: stripe.StripeClient) -> list[dict]:
    """Every event localstripe has made, oldest first, as Stripe would send them. (localstripe lists the oldest
    first; the sort is stable, so events of the same second keep the order they were made in.)"""
    events = [e.to_dict() for e in client.v1.events.list(params={"limit": 100}).data]
    return sorted(events, key=lambda e: e["created"])


def deliver(http, events: list[dict]) -> None:
    for stripe_event in events:
        assert post_event(http, json.dumps(stripe_event).encode()).status_code == 200


def complete_checkout(http, member: Member, subscription_id: str) -> None:
    account = DuesAccount.objects.get(member=member)
    session = checkout_session(
        session_id="cs_test_jo", customer=account.stripe_customer_id, member_id=member.pk, subscription=subscription_id
    )
    assert post_event(http, event("checkout.session.completed", session)).status_code == 200


def test_customer_made_by_our_backend_is_real_at_stripe(stripe_client, applicant):
    account = DuesAccount.objects.get(member=applicant)
    customer = stripe_client.v1.customers.retrieve(account.stripe_customer_id)
    assert customer.email == "jo@example.org" and customer.name == "Jo Joiner"
    assert customer.metadata["member_id"] == str(applicant.pk)


def test_card_subscription_paid_makes_a_member_in_good_standing(client, stripe_client, applicant):
    subscription = pay_as_checkout_would(stripe_client, applicant, GOOD_CARD)
    assert subscription.status == "active"
    complete_checkout(client, applicant, subscription.id)
    events = stripe_events(stripe_client)
    assert "invoice.payment_succeeded" in {e["type"] for e in events}
    deliver(client, events)
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.ACTIVE and applicant.membership_number.startswith("Q")
    assert Member.objects.in_good_standing().filter(pk=applicant.pk).exists()
    payment = DuesPayment.objects.get(member=applicant)
    assert (payment.outcome, payment.amount_pence) == ("paid", 2450)
    account = DuesAccount.objects.get(member=applicant)
    assert account.stripe_subscription_id == subscription.id and account.subscription_status == "active"
    # The customer's card, looked up as a mandate event would be.
    method_id = stripe_client.v1.customers.retrieve(account.stripe_customer_id).invoice_settings.default_payment_method
    assert get_payments_backend().customer_of_payment_method(method_id) == account.stripe_customer_id


def use_card(client: stripe.StripeClient, customer_id: str, card: str) -> None:
    """The member changes their card (as they would in the customer portal)."""
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2035, "cvc": "123"}}
    )
    client.v1.payment_methods.attach(method.id, params={"customer": customer_id})
    client.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": method.id}})


def test_failed_monthly_payment_puts_the_member_in_arrears_and_paying_clears_it(client, stripe_client, applicant):
    subscription = pay_as_checkout_would(stripe_client, applicant, GOOD_CARD)
    complete_checkout(client, applicant, subscription.id)
    deliver(client, stripe_events(stripe_client))
    seen = {e["id"] for e in stripe_events(stripe_client)}
    account = DuesAccount.objects.get(member=applicant)

    # Next month: the card on file now needs the bank's approval, and the bank refuses it.
    time.sleep(1.1)
    use_card(stripe_client, account.stripe_customer_id, NEEDS_AUTHENTICATION)
    monthly = stripe_client.v1.invoices.create(
        params={"customer": account.stripe_customer_id, "subscription": subscription.id}
    )
    intent_id = stripe_client.v1.invoices.pay(monthly.id).payment_intent
    intent = stripe_client.v1.payment_intents.retrieve(intent_id)
    assert intent.status == "requires_action"
    stripe_client.raw_request(
        "post", f"/v1/payment_intents/{intent.id}/_authenticate", client_secret=intent.client_secret, success="false"
    )
    fresh = [e for e in stripe_events(stripe_client) if e["id"] not in seen]
    assert "invoice.payment_failed" in {e["type"] for e in fresh}
    deliver(client, fresh)
    seen |= {e["id"] for e in fresh}
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.ACTIVE and applicant.has_arrears
    assert not Member.objects.in_good_standing().filter(pk=applicant.pk).exists()
    failed = DuesPayment.objects.get(member=applicant, outcome="failed")
    assert (failed.stripe_invoice_id, failed.amount_pence) == (monthly.id, 2450)
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "past_due"

    # The member puts in a card that works, and the open invoice is paid.
    time.sleep(1.1)
    use_card(stripe_client, account.stripe_customer_id, GOOD_CARD)
    assert stripe_client.v1.invoices.pay(monthly.id).status == "paid"
    fresh = [e for e in stripe_events(stripe_client) if e["id"] not in seen]
    assert "invoice.payment_succeeded" in {e["type"] for e in fresh}
    deliver(client, fresh)
    applicant.refresh_from_db()
    assert not applicant.has_arrears
    assert Member.objects.in_good_standing().filter(pk=applicant.pk).exists()
    history = sorted(DuesPayment.objects.filter(member=applicant).values_list("stripe_invoice_id", "outcome"))
    assert (monthly.id, "failed") in history and (monthly.id, "paid") in history and len(history) == 3


def test_every_event_replayed_and_in_reverse_order_ends_the_same(client, stripe_client, applicant):
    subscription = pay_as_checkout_would(stripe_client, applicant, GOOD_CARD)
    complete_checkout(client, applicant, subscription.id)
    events = stripe_events(stripe_client)
    deliver(client, list(reversed(events)))
    deliver(client, events)
    applicant.refresh_from_db()
    assert Member.objects.in_good_standing().filter(pk=applicant.pk).exists()
    assert DuesPayment.objects.filter(member=applicant).count() == 1
    assert StripeEvent.objects.count() == len(events) + 1


def test_cancelling_at_stripe_starts_the_grace_period(client, stripe_client, applicant):
    subscription = pay_as_checkout_would(stripe_client, applicant, GOOD_CARD)
    complete_checkout(client, applicant, subscription.id)
    deliver(client, stripe_events(stripe_client))
    seen = {e["id"] for e in stripe_events(stripe_client)}
    time.sleep(1.1)
    assert stripe_client.v1.subscriptions.cancel(subscription.id).status == "canceled"
    fresh = [e for e in stripe_events(stripe_client) if e["id"] not in seen]
    assert [e["type"] for e in fresh] == ["customer.subscription.deleted"]
    deliver(client, fresh)
    applicant.refresh_from_db()
    assert applicant.has_arrears
    assert DuesAccount.objects.get(member=applicant).subscription_status == "canceled"


def test_moving_to_payroll_cancels_the_subscription_through_our_backend(
    client, stripe_client, applicant, union, django_capture_on_commit_callbacks
):
    subscription = pay_as_checkout_would(stripe_client, applicant, GOOD_CARD)
    complete_checkout(client, applicant, subscription.id)
    deliver(client, stripe_events(stripe_client))
    seen = {e["id"] for e in stripe_events(stripe_client)}
    applicant.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        dues_services.set_payment_method(actor=union.users.organiser_north, member=applicant, method="payroll")
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    account = DuesAccount.objects.get(member=applicant)
    assert account.subscription_status == "canceled"
    assert dues_services.cancel_stripe_subscription(account_id=account.pk) == "canceled"  # twice: nothing more
    deliver(client, [e for e in stripe_events(stripe_client) if e["id"] not in seen])
    applicant.refresh_from_db()
    assert not applicant.has_arrears and Member.objects.in_good_standing().filter(pk=applicant.pk).exists()


def test_what_localstripe_lacks_is_reported_as_a_payments_error(stripe_client, applicant):
    """Checkout and Prices are not in localstripe: the backend turns the failure into a readable error."""
    with pytest.raises(PaymentsError):
        get_payments_backend().create_price(name="x", monthly_pence=100, idempotency_key="quorum-rate-x")
