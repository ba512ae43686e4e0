"""An in-memory payments backend for tests and development: records every call, creates plausible ids.

Calls with an idempotency key seen before return the first answer, as Stripe does.
"""

from __future__ import annotations

from typing import ClassVar

from crm.payments import BasePaymentsBackend, CheckoutSession, PaymentsError


class PaymentsBackend(BasePaymentsBackend):
    is_configured = True
    calls: ClassVar[list[tuple[str, dict]]] = []
    answers: ClassVar[dict[str, object]] = {}
    # payment method id -> customer id, for mandate events.
    payment_methods: ClassVar[dict[str, str]] = {}
    # Set to a message to make the next calls fail as if Stripe were down.
    failure: ClassVar[str] = ""

    @classmethod
    def reset(cls) -> None:
        cls.calls.clear()
        cls.answers.clear()
        cls.payment_methods.clear()
        cls.failure = ""

    def _once(self, kind: str, key: str, params: dict, make):
        if self.failure:
            raise PaymentsError(self.failure)
        self.calls.append((kind, {**params, "idempotency_key": key}))
        if key not in self.answers:
            self.answers[key] = make(len(self.answers) + 1)
        return self.answers[key]

    def create_price(self, *, name: str, monthly_pence: int, idempotency_key: str) -> str:
        params = {"name": name, "monthly_pence": monthly_pence}
        return self._once("price", idempotency_key, params, lambda n: f"price_{n}")

    def create_customer(self, *, member_id: int, email: str, name: str, idempotency_key: str) -> str:
        params = {"member_id": member_id, "email": email, "name": name}
        return self._once("customer", idempotency_key, params, lambda n: f"cus_test{n}")

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
        params = {"customer_id": customer_id, "price_id": price_id, "member_id": member_id, "success_url": success_url}
        return self._once(
            "checkout",
            idempotency_key,
            params,
            lambda n: CheckoutSession(id=f"cs_test{n}", url=f"https://checkout.invalid/pay/cs_test{n}"),
        )

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        if self.failure:
            raise PaymentsError(self.failure)
        self.calls.append(("portal", {"customer_id": customer_id, "return_url": return_url}))
        return f"https://billing.invalid/session/{customer_id}"

    def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> str:
        return self._once("cancel", idempotency_key, {"subscription_id": subscription_id}, lambda n: "canceled")

    def customer_of_payment_method(self, payment_method_id: str) -> str:
        return self.payment_methods.get(payment_method_id, "")
