"""Helpers for the dues tests: Stripe events shaped as Stripe documents them, signed as Stripe signs them.

The signature is computed here from first principles (HMAC-SHA256 of "<timestamp>.<body>" with the endpoint
secret, sent as `t=<timestamp>,v1=<hex>`), not with the library's own helper, so the view's verification is
checked against an independent signer.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time

from django.urls import reverse

WEBHOOK_SECRET = "whsec_test_quorum_dues_secret"
_ids = itertools.count(1)


def stripe_signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_event(client, event: dict | bytes, *, secret: str = WEBHOOK_SECRET, signature: str | None = "sign"):
    """POST an event to the webhook as Stripe does; signature="sign" signs it, None sends no header."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {}
    if signature == "sign":
        headers["HTTP_STRIPE_SIGNATURE"] = stripe_signature(body, secret)
    elif signature is not None:
        headers["HTTP_STRIPE_SIGNATURE"] = signature
    return client.post(reverse("stripe_webhook"), data=body, content_type="application/json", **headers)


def event(kind: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> dict:
    """The envelope of a Stripe event (API reference: the Event object)."""
    return {
        "id": event_id or f"evt_test{next(_ids):08d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def checkout_session(
    *,
    session_id: str,
    customer: str,
    member_id: int,
    subscription: str = "sub_test1",
    payment_status: str = "paid",
    amount: int = 2450,
) -> dict:
    """A Checkout Session in subscription mode, as in checkout.session.completed."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": payment_status,
        "customer": customer,
        "subscription": subscription,
        "client_reference_id": str(member_id),
        "metadata": {"member_id": str(member_id)},
        "currency": "gbp",
        "amount_total": amount,
        "payment_method_types": ["card", "bacs_debit"],
        "livemode": False,
    }


def invoice(
    *,
    invoice_id: str,
    customer: str,
    paid: bool,
    amount: int = 2450,
    subscription: str = "sub_test1",
    attempt_count: int = 1,
    next_attempt: int | None = None,
) -> dict:
    """An Invoice as in invoice.paid and invoice.payment_failed (the subscription under `parent`)."""
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "currency": "gbp",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": attempt_count,
        "attempted": True,
        "billing_reason": "subscription_cycle",
        "next_payment_attempt": None if paid else next_attempt,
        "status": "paid" if paid else "open",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": {}},
        },
        "livemode": False,
    }


def subscription(*, subscription_id: str, customer: str, status: str) -> dict:
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": False,
        "collection_method": "charge_automatically",
        "livemode": False,
    }


def mandate(*, mandate_id: str, payment_method: str, status: str) -> dict:
    """A Bacs Direct Debit mandate, as in mandate.updated (it names the payment method, not the customer)."""
    return {
        "id": mandate_id,
        "object": "mandate",
        "customer_acceptance": {"type": "online", "accepted_at": int(time.time()), "online": {}},
        "livemode": False,
        "multi_use": {},
        "payment_method": payment_method,
        "payment_method_details": {
            "type": "bacs_debit",
            "bacs_debit": {"network_status": "accepted" if status == "active" else "revoked", "reference": "QUORUM1"},
        },
        "status": status,
        "type": "multi_use",
    }
