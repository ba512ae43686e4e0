"""Dues services: rates, payroll and exempt members, the grace period, the customer portal."""

import datetime

import pytest
from django.utils import timezone

from crm import tasks
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member
from crm.models.dues import DuesAccount, SubscriptionRate
from crm.services import dues as dues_services

pytestmark = pytest.mark.django_db


# --- Rates ------------------------------------------------------------------------------------------------


def test_national_admins_set_rates_and_a_new_amount_needs_a_new_price(union):
    rate = dues_services.save_rate(
        actor=union.users.national, category="teacher", pay_band="Full time", monthly_pence=2450
    )
    SubscriptionRate.objects.filter(pk=rate.pk).update(stripe_price_id="price_old")
    rate.refresh_from_db()
    same = dues_services.save_rate(
        actor=union.users.national,
        rate=rate,
        category="teacher",
        pay_band="Full time",
        monthly_pence=2450,
        is_active=False,
    )
    assert same.stripe_price_id == "price_old"  # the amount did not change
    changed = dues_services.save_rate(
        actor=union.users.national, rate=rate, category="teacher", pay_band="Full time", monthly_pence=2600
    )
    assert changed.monthly_pence == 2600 and changed.stripe_price_id == ""
    audit = AuditEntry.objects.filter(target_type="crm.subscriptionrate", target_id=rate.pk)
    assert audit.count() == 3
    assert audit.first().changes["monthly_pence"] == [2450, 2600]


@pytest.mark.parametrize("persona", ["organiser_north", "rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_national_admins_set_rates(union, persona):
    with pytest.raises(NotPermitted):
        dues_services.save_rate(
            actor=getattr(union.users, persona), category="teacher", pay_band="Full time", monthly_pence=2450
        )
    assert SubscriptionRate.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "astronaut"}, "category"),
        ({"pay_band": ""}, "pay_band"),
        ({"pay_band": "   "}, "pay_band"),
        ({"pay_band": "x" * 61}, "pay_band"),
        ({"monthly_pence": -1}, "monthly_pence"),
        ({"monthly_pence": 100_001}, "monthly_pence"),
        ({"monthly_pence": 24.5}, "monthly_pence"),
        ({"monthly_pence": "2450"}, "monthly_pence"),
        ({"monthly_pence": True}, "monthly_pence"),
    ],
)
def test_bad_rates_are_refused(union, changes, field):
    given = {"category": "teacher", "pay_band": "Full time", "monthly_pence": 2450, **changes}
    with pytest.raises(ServiceError) as error:
        dues_services.save_rate(actor=union.users.national, **given)
    assert error.value.field == field
    assert SubscriptionRate.objects.count() == 0


def test_a_pay_band_is_unique_in_its_category(union, rate):
    with pytest.raises(ServiceError, match="already a rate"):
        dues_services.save_rate(actor=union.users.national, category="teacher", pay_band="Full time", monthly_pence=1)
    other = dues_services.save_rate(
        actor=union.users.national, category="lecturer", pay_band="Full time", monthly_pence=2000
    )
    assert other.pk


def test_the_price_for_a_rate_is_made_once(union, rate, payments):
    assert dues_services.stripe_price_for(rate) == "price_1"
    assert dues_services.stripe_price_for(SubscriptionRate.objects.get(pk=rate.pk)) == "price_1"
    assert [kind for kind, _ in payments.calls] == ["price"]


# --- Payroll and exempt -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["payroll", "exempt"])
def test_payroll_and_exempt_members_are_in_good_standing_without_stripe(
    union, method, django_capture_on_commit_callbacks
):
    supply = union.members.supply  # in arrears, no dues account yet
    assert not Member.objects.in_good_standing().filter(pk=supply.pk).exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        account = dues_services.set_payment_method(actor=union.users.organiser_north, member=supply, method=method)
    assert callbacks == []  # no Stripe subscription to cancel
    supply.refresh_from_db()
    assert account.method == method and not supply.has_arrears
    assert Member.objects.in_good_standing().filter(pk=supply.pk).exists()
    entry = AuditEntry.objects.filter(member=supply).first()
    assert entry.changes["dues_method"] == ["stripe", method] and entry.changes["has_arrears"] == [True, False]
    assert entry.actor == union.users.organiser_north


def test_moving_off_stripe_cancels_the_subscription_once(paying, union, payments, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dues_services.set_payment_method(actor=union.users.national, member=paying, method="payroll")
    assert payments.calls == [("cancel", {"subscription_id": "sub_oak", "idempotency_key": "quorum-cancel-sub_oak"})]
    account = DuesAccount.objects.get(member=paying)
    assert account.subscription_status == "canceled"
    assert tasks.cancel_stripe_subscription(account.pk) == "canceled"
    assert len(payments.calls) == 1
    # Setting the same method again changes nothing.
    audit = AuditEntry.objects.count()
    dues_services.set_payment_method(actor=union.users.national, member=paying, method="payroll")
    assert AuditEntry.objects.count() == audit


@pytest.mark.parametrize("persona", ["organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_organisers_in_scope_mark_payment_methods(union, persona):
    with pytest.raises(NotPermitted):
        dues_services.set_payment_method(actor=getattr(union.users, persona), member=union.members.oak, method="exempt")
    assert not DuesAccount.objects.exists()


def test_unknown_payment_method_is_refused(union):
    with pytest.raises(ServiceError) as error:
        dues_services.set_payment_method(actor=union.users.national, member=union.members.oak, method="cash")
    assert error.value.field == "method"
    assert not DuesAccount.objects.exists()


# --- The grace period -------------------------------------------------------------------------------------


def in_arrears_since(member, days_ago):
    Member.objects.filter(pk=member.pk).update(has_arrears=True)
    DuesAccount.objects.filter(member=member).update(
        arrears_since=timezone.localdate() - datetime.timedelta(days=days_ago)
    )


def test_the_grace_period_task_run_twice_lapses_once(paying, union, settings):
    settings.DUES_GRACE_DAYS = 30
    in_arrears_since(paying, 31)
    assert tasks.lapse_members_past_grace() == 1
    paying.refresh_from_db()
    assert paying.status == Member.Status.LAPSED and paying.status_changed_on == timezone.localdate()
    assert AuditEntry.objects.filter(member=paying, summary__startswith="Lapsed").count() == 1
    assert tasks.lapse_members_past_grace() == 0
    assert AuditEntry.objects.filter(member=paying, summary__startswith="Lapsed").count() == 1


def test_members_within_the_grace_period_and_off_stripe_are_not_lapsed(paying, union, settings):
    settings.DUES_GRACE_DAYS = 30
    in_arrears_since(paying, 30)
    assert tasks.lapse_members_past_grace() == 0
    assert tasks.lapse_members_past_grace(on=(timezone.localdate() + datetime.timedelta(days=1)).isoformat()) == 1
    payroll = union.members.elm
    DuesAccount.objects.create(member=payroll, method="payroll", arrears_since=datetime.date(2020, 1, 1))
    Member.objects.filter(pk=payroll.pk).update(has_arrears=True)
    assert tasks.lapse_members_past_grace() == 0
    payroll.refresh_from_db()
    assert payroll.status == Member.Status.ACTIVE


def test_a_lapsed_member_who_pays_is_reinstated(client, paying, payments):
    from tests.crm.dues_helpers import event, invoice, post_event

    in_arrears_since(paying, 40)
    tasks.lapse_members_past_grace()
    post_event(client, event("invoice.paid", invoice(invoice_id="in_late", customer="cus_oak", paid=True)))
    paying.refresh_from_db()
    assert paying.status == Member.Status.ACTIVE and not paying.has_arrears


def test_the_grace_period_task_is_scheduled(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["lapse-members-past-grace"]
    assert schedule["task"] == "crm.tasks.lapse_members_past_grace"
    assert tasks.lapse_members_past_grace.name == schedule["task"]


# --- The customer portal ----------------------------------------------------------------------------------


def test_portal_for_a_stripe_member(paying, payments):
    url = dues_services.portal_url(member=paying, return_url="https://quorum.example/back/")
    assert url == "https://billing.invalid/session/cus_oak"


def test_no_portal_without_a_stripe_customer(union, payments, settings):
    with pytest.raises(ServiceError, match="do not pay through Stripe"):
        dues_services.portal_url(member=union.members.elm, return_url="https://quorum.example/")
    settings.PAYMENTS_BACKEND = "crm.payments.stripe.PaymentsBackend"
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(dues_services.PaymentNotSetUp):
        dues_services.portal_url(member=union.members.elm, return_url="https://quorum.example/")


# --- Confirming applicants who do not pay online -----------------------------------------------------------


def applicant_at_oak(union, method):
    from tests.factories import MemberFactory

    member = MemberFactory(workplace=union.workplaces.oak, status="applicant", membership_number="A12345")
    DuesAccount.objects.create(member=member, method=method)
    return member


@pytest.mark.parametrize(("method", "line"), [("exempt", "no subscription"), ("payroll", "from your pay")])
def test_organisers_confirm_applicants_who_do_not_pay_online(union, method, line):
    from crm.models import Message

    applicant = applicant_at_oak(union, method)
    dues_services.confirm_membership(actor=union.users.organiser_north, member=applicant)
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.ACTIVE and applicant.membership_number.startswith("Q")
    assert Member.objects.in_good_standing().filter(pk=applicant.pk).exists()
    welcome = Message.objects.get(key=f"welcome:{applicant.pk}")
    assert line in welcome.body and applicant.membership_number in welcome.body
    entry = AuditEntry.objects.filter(member=applicant).first()
    assert entry.actor == union.users.organiser_north and entry.changes["membership_number"][0] == "A12345"
    with pytest.raises(ServiceError, match="Only an applicant"):
        dues_services.confirm_membership(actor=union.users.organiser_north, member=applicant)
    assert Message.objects.filter(member=applicant).count() == 1


@pytest.mark.parametrize("persona", ["organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_organisers_in_scope_confirm_applicants(union, persona):
    applicant = applicant_at_oak(union, "exempt")
    with pytest.raises(NotPermitted):
        dues_services.confirm_membership(actor=getattr(union.users, persona), member=applicant)
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.APPLICANT and applicant.membership_number == "A12345"
