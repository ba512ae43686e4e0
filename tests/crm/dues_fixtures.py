"""Fixtures for the dues tests (registered in tests/conftest.py through pytest_plugins)."""

import pytest

from tests.crm.dues_helpers import WEBHOOK_SECRET


@pytest.fixture
def payments(settings):
    """The in-memory payments backend, and the webhook secret the helpers sign with."""
    from crm.payments.locmem import PaymentsBackend

    settings.PAYMENTS_BACKEND = "crm.payments.locmem.PaymentsBackend"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    PaymentsBackend.reset()
    yield PaymentsBackend
    PaymentsBackend.reset()


@pytest.fixture
def rate(db):
    from crm.models.dues import SubscriptionRate

    return SubscriptionRate.objects.create(category="teacher", pay_band="Full time", monthly_pence=2450)


@pytest.fixture
def paying(union, payments, rate):
    """Owen at Oak Primary, active, paying by Stripe subscription as customer cus_oak."""
    from crm.models.dues import DuesAccount

    DuesAccount.objects.create(
        member=union.members.oak,
        rate=rate,
        method=DuesAccount.Method.STRIPE,
        stripe_customer_id="cus_oak",
        stripe_subscription_id="sub_oak",
        subscription_status="active",
    )
    return union.members.oak
