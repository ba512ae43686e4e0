"""Stripe, reached only through the `stripe` library. Keys come from the environment (settings)."""

from __future__ import annotations

import stripe
from django.conf import settings

from crm.payments import BasePaymentsBackend, CheckoutSession, PaymentsError

# Card and Bacs Direct Debit: what UK members expect to pay their union with.
PAYMENT_METHOD_TYPES = ["card", "bacs_debit"]


class PaymentsBackend(BasePaymentsBackend):
    def __init__(self) -> None:
        self.is_configured = bool(settings.STRIPE_SECRET_KEY)

    def _client(self) -> stripe.StripeClient:
        if not self.is_configured:
            raise PaymentsError("Online payment is not set up (no STRIPE_SECRET_KEY).")
        base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=2)

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except stripe.StripeError as error:
            raise PaymentsError(f"Stripe: {error.user_message or error.__class__.__name__}") from error

    def create_price(self, *, name: str, monthly_pence: int, idempotency_key: str) -> str:
        client = self._client()
        price = self._call(
            client.v1.prices.create,
            params={
                "currency": "gbp",
                "unit_amount": monthly_pence,
                "recurring": {"interval": "month"},
                "product_data": {"name": name},
            },
            options={"idempotency_key": idempotency_key},
        )
        return price.id

    def create_customer(self, *, member_id: int, email: str, name: str, idempotency_key: str) -> str:
        client = self._client()
        customer = self._call(
            client.v1.customers.create,
            params={"email": email, "name": name, "metadata": {"member_id": str(member_id)}},
            options={"idempotency_key": idempotency_key},
        )
        return customer.id

    def create_checkout_session(
        self,
        *,
        customer_id: str,
        price_id: str,
        member_id: int,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        client = self._client()
        session = self._call(
            client.v1.checkout.sessions.create,
            params={
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(member_id),
                "line_items": [{"price": price_id, "quantity": 1}],
                "payment_method_types": PAYMENT_METHOD_TYPES,
                "metadata": {"member_id": str(member_id)},
                "subscription_data": {"metadata": {"member_id": str(member_id)}},
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": idempotency_key},
        )
        return CheckoutSession(id=session.id, url=session.url)

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        client = self._client()
        session = self._call(
            client.v1.billing_portal.sessions.create, params={"customer": customer_id, "return_url": return_url}
        )
        return session.url

    def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> str:
        client = self._client()
        subscription = self._call(
            client.v1.subscriptions.cancel, subscription_id, options={"idempotency_key": idempotency_key}
        )
        return subscription.status

    def customer_of_payment_method(self, payment_method_id: str) -> str:
        client = self._client()
        method = self._call(client.v1.payment_methods.retrieve, payment_method_id)
        customer = method.to_dict().get("customer")  # an id, an expanded customer, or None
        return customer if isinstance(customer, str) else (customer or {}).get("id", "")
