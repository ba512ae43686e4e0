"""Payment providers behind one small interface (DESIGN.md rule 5), chosen in settings like EMAIL_BACKEND.

PAYMENTS_BACKEND names the class: crm.payments.stripe.PaymentsBackend (the default; configured only when
STRIPE_SECRET_KEY is set) or crm.payments.locmem.PaymentsBackend (in memory, for tests and development).
Every call that creates something at the provider passes an idempotency key derived from our own ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


class PaymentsError(Exception):
    """The provider refused or could not be reached; the message is safe to show to staff."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


class BasePaymentsBackend:
    """What the dues services need from a payment provider."""

    is_configured: bool = False

    def create_price(self, *, name: str, monthly_pence: int, idempotency_key: str) -> str:
        raise NotImplementedError

    def create_customer(self, *, member_id: int, email: str, name: str, idempotency_key: str) -> str:
        raise NotImplementedError

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
        raise NotImplementedError

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        raise NotImplementedError

    def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> str:
        raise NotImplementedError

    def customer_of_payment_method(self, payment_method_id: str) -> str:
        raise NotImplementedError


def get_payments_backend() -> BasePaymentsBackend:
    return import_string(settings.PAYMENTS_BACKEND)()
