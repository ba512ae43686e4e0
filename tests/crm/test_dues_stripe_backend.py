"""The Stripe backend's calls that localstripe cannot answer (Prices, Checkout, the customer portal), checked at
the HTTP boundary: a small local server stands in for Stripe's API, records what the `stripe` library sent,
and answers with objects shaped as Stripe documents them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from crm.payments import PaymentsError, get_payments_backend

ANSWERS = {
    "/v1/prices": {"id": "price_123", "object": "price", "unit_amount": 2450, "currency": "gbp"},
    "/v1/customers": {"id": "cus_123", "object": "customer"},
    "/v1/checkout/sessions": {
        "id": "cs_test_123",
        "object": "checkout.session",
        "mode": "subscription",
        "url": "https://checkout.stripe.com/c/pay/cs_test_123",
    },
    "/v1/billing_portal/sessions": {
        "id": "bps_123",
        "object": "billing_portal.session",
        "url": "https://billing.stripe.com/p/session/test_123",
    },
    "/v1/subscriptions/sub_123": {"id": "sub_123", "object": "subscription", "status": "canceled"},
}


@pytest.fixture
def fake_stripe(settings):
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "params": parse_qs(body),
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            answer = ANSWERS.get(self.path.split("?")[0])
            status = 200 if answer else 404
            missing = {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such"}}
            payload = json.dumps(answer or missing).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _answer
        do_DELETE = _answer
        do_GET = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PAYMENTS_BACKEND = "crm.payments.stripe.PaymentsBackend"
    settings.STRIPE_SECRET_KEY = "sk_test_boundary"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield requests
    server.shutdown()
    server.server_close()


def test_price_is_monthly_in_pence_with_an_idempotency_key(fake_stripe):
    price_id = get_payments_backend().create_price(
        name="Membership: Teacher, Full time", monthly_pence=2450, idempotency_key="quorum-rate-7-2450p"
    )
    assert price_id == "price_123"
    (request,) = fake_stripe
    assert request["path"] == "/v1/prices" and request["idempotency_key"] == "quorum-rate-7-2450p"
    assert request["authorization"] == "Bearer sk_test_boundary"
    params = request["params"]
    assert params["unit_amount"] == ["2450"] and params["currency"] == ["gbp"]
    assert params["recurring[interval]"] == ["month"]
    assert params["product_data[name]"] == ["Membership: Teacher, Full time"]


def test_checkout_is_a_subscription_by_card_or_bacs_direct_debit(fake_stripe):
    session = get_payments_backend().create_checkout_session(
        customer_id="cus_123",
        price_id="price_123",
        member_id=42,
        success_url="https://quorum.example/join/thank-you/",
        cancel_url="https://quorum.example/join/token/unpaid/",
        idempotency_key="quorum-member-42-checkout-1",
    )
    assert session.id == "cs_test_123" and session.url.startswith("https://checkout.stripe.com/")
    (request,) = fake_stripe
    assert request["path"] == "/v1/checkout/sessions" and request["idempotency_key"] == "quorum-member-42-checkout-1"
    params = request["params"]
    assert params["mode"] == ["subscription"]
    assert params["payment_method_types[0]"] == ["card"] and params["payment_method_types[1]"] == ["bacs_debit"]
    assert params["line_items[0][price]"] == ["price_123"] and params["line_items[0][quantity]"] == ["1"]
    assert params["customer"] == ["cus_123"] and params["client_reference_id"] == ["42"]
    assert params["subscription_data[metadata][member_id]"] == ["42"]


def test_customer_and_cancellation_carry_keys_from_our_ids(fake_stripe):
    backend = get_payments_backend()
    assert (
        backend.create_customer(
            member_id=9, email="a@example.org", name="A B", idempotency_key="quorum-member-9-customer"
        )
        == "cus_123"
    )
    assert backend.cancel_subscription(subscription_id="sub_123", idempotency_key="quorum-cancel-sub_123") == "canceled"
    customer, cancel = fake_stripe
    assert customer["idempotency_key"] == "quorum-member-9-customer"
    assert customer["params"]["metadata[member_id]"] == ["9"]
    assert (cancel["method"], cancel["path"], cancel["idempotency_key"]) == (
        "DELETE",
        "/v1/subscriptions/sub_123",
        "quorum-cancel-sub_123",
    )


def test_portal_session_returns_to_the_member_page(fake_stripe):
    url = get_payments_backend().create_portal_session(customer_id="cus_123", return_url="https://quorum.example/m/")
    assert url == "https://billing.stripe.com/p/session/test_123"
    assert fake_stripe[0]["params"] == {"customer": ["cus_123"], "return_url": ["https://quorum.example/m/"]}


def test_stripe_errors_become_payments_errors(fake_stripe):
    with pytest.raises(PaymentsError):
        get_payments_backend().customer_of_payment_method("pm_missing")


def test_without_a_key_nothing_is_sent(settings):
    settings.PAYMENTS_BACKEND = "crm.payments.stripe.PaymentsBackend"
    settings.STRIPE_SECRET_KEY = ""
    backend = get_payments_backend()
    assert not backend.is_configured
    with pytest.raises(PaymentsError, match="not set up"):
        backend.create_customer(member_id=1, email="a@example.org", name="A", idempotency_key="k")
