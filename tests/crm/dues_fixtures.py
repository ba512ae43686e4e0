"""Fixtures for the dues tests (registered in tests/conftest.py through pytest_plugins)."""

import pytest

from tests.crm.dues_helpers import WEBHOOK_SECRET


@pytest.fixture
def eager_tasks():
    """Run tasks in-process even where a broker is configured (the PostgreSQL run of the suite), so a webhook's
    task has run when the test looks. The worker tests (test_dues_worker.py) run them on a real worker instead."""
    from config.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture
def payments(settings, eager_tasks):
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
def paying(union, rate):
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
