"""Joining online: the public join page, Stripe Checkout through the payments backend, and the webhook that
makes an applicant a member. Bad input gives clear errors and creates nothing."""

import re

import pytest
from django.urls import reverse

from crm.models import AuditEntry, Member, Message
from crm.models.dues import DuesAccount, StripeEvent, SubscriptionRate
from tests.crm.dues_helpers import (
    checkout_session,
    event,
    invoice,
    post_event,
)

pytestmark = pytest.mark.django_db


def good_form(union, chosen_rate, **changes):
    data = {
        "first_name": "Jo",
        "last_name": "Joiner",
        "email": "jo.joiner@example.org",
        "mobile": "07911 123456",
        "address_line1": "1 School Lane",
        "town": "Leeds",
        "postcode": "LS1 1AA",
        "workplace": str(union.workplaces.oak.pk),
        "branch": "",
        "rate": str(chosen_rate.pk),
        "email_consent": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def counts():
    return (Member.objects.count(), DuesAccount.objects.count(), AuditEntry.objects.count(), Message.objects.count())


def test_join_page_is_public_and_lists_the_rates(client, union, rate):
    SubscriptionRate.objects.create(category="support_staff", pay_band="Part time", monthly_pence=800, is_active=False)
    page = client.get(reverse("join"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Teacher, Full time: £24.50 a month" in html
    assert "Part time" not in html  # not offered


def test_workplace_lookup_lists_matches_without_submitting(client, union, rate):
    page = client.post(reverse("join"), {"workplace_search": "oak", "find": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Oak Primary" in html and "Elm Academy" not in html
    assert "There is a problem" not in html
    assert Member.objects.count() == 6


def test_join_with_payments_sends_the_applicant_to_checkout(client, union, rate, payments):
    response = client.post(reverse("join"), good_form(union, rate))
    assert response.status_code == 302
    applicant = Member.objects.get(email="jo.joiner@example.org")
    assert response["Location"] == applicant.dues.checkout_session_id.join(["https://checkout.invalid/pay/", ""])
    assert applicant.status == Member.Status.APPLICANT
    assert applicant.membership_number.startswith("A")
    assert applicant.branch == union.branches.leeds and applicant.employer == union.employers.council
    assert applicant.category == "teacher" and applicant.mobile == "+447911123456"
    assert applicant.email_consent and applicant.email_consent_source == "join_form" and not applicant.sms_consent
    account = applicant.dues
    assert account.rate == rate and account.method == "stripe" and account.stripe_customer_id == "cus_test2"
    kinds = [kind for kind, _ in payments.calls]
    assert kinds == ["price", "customer", "checkout"]
    keys = [params["idempotency_key"] for _, params in payments.calls]
    assert keys == [
        f"quorum-rate-{rate.pk}-2450p",
        f"quorum-member-{applicant.pk}-customer",
        f"quorum-member-{applicant.pk}-checkout-1",
    ]
    checkout = payments.calls[2][1]
    assert checkout["price_id"] == "price_1" and checkout["member_id"] == applicant.pk
    rate.refresh_from_db()
    assert rate.stripe_price_id == "price_1"


def test_join_without_stripe_keys_records_the_applicant_and_says_payment_is_not_set_up(
    client, union, rate, settings, eager_tasks
):
    settings.PAYMENTS_BACKEND = "crm.payments.stripe.PaymentsBackend"
    settings.STRIPE_SECRET_KEY = ""
    response = client.post(reverse("join"), good_form(union, rate))
    assert response.status_code == 200
    assert "Online payment is not set up yet" in response.content.decode()
    applicant = Member.objects.get(email="jo.joiner@example.org")
    assert applicant.status == Member.Status.APPLICANT
    assert applicant.dues.stripe_customer_id is None
    client.force_login(union.users.organiser_north)
    assert "Jo Joiner" in client.get(reverse("dues_overview")).content.decode()


def test_exempt_rate_needs_no_payment(client, union, payments):
    retired = SubscriptionRate.objects.create(category="retired", pay_band="Retired", monthly_pence=0)
    response = client.post(reverse("join"), good_form(union, retired, workplace="", branch=str(union.branches.york.pk)))
    assert response.status_code == 200
    assert "no subscription to pay" in response.content.decode()
    applicant = Member.objects.get(email="jo.joiner@example.org")
    assert applicant.dues.method == "exempt" and applicant.branch == union.branches.york and not applicant.workplace
    assert payments.calls == []


def test_provider_failure_keeps_the_application_and_offers_a_retry(client, union, rate, payments):
    payments.failure = "Stripe is unavailable"
    response = client.post(reverse("join"), good_form(union, rate))
    assert response.status_code == 502
    html = response.content.decode()
    assert "Stripe is unavailable" in html
    applicant = Member.objects.get(email="jo.joiner@example.org")
    pay_url = re.search(r'action="(/join/[^"]+/pay/)"', html).group(1)
    payments.failure = ""
    retry = client.post(pay_url)
    assert retry.status_code == 302 and retry["Location"].startswith("https://checkout.invalid/pay/")
    assert Member.objects.filter(email="jo.joiner@example.org").count() == 1
    assert DuesAccount.objects.get(member=applicant).checkout_session_id


def test_a_tampered_retry_link_is_404(client, union, rate, payments):
    assert client.post("/join/not-a-token/pay/").status_code == 404
    assert client.get("/join/not-a-token/unpaid/").status_code == 404


BAD_INPUT = [
    ("first_name", None, "This field is required"),
    ("email", "", "This field is required"),
    ("email", "not-an-email", "Enter a valid email address"),
    ("email", "<script>alert(1)</script>@example.org", "Enter a valid email address"),
    ("mobile", "12345", "mobile"),
    ("first_name", "x" * 101, "at most 100 characters"),
    ("postcode", "LS1 1AA" * 50, "at most 10 characters"),
    ("rate", "", "This field is required"),
    ("rate", "999999", "Select a valid choice"),
    ("rate", "1; DROP TABLE crm_member", "Select a valid choice"),
    ("workplace", "", "Choose your workplace"),
    ("workplace", "999999", "Select a valid choice"),
    ("branch", "abc", "Select a valid choice"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_input_gives_clear_errors_and_creates_nothing(client, union, rate, payments, field, value, message):
    before = counts()
    data = good_form(union, rate, **{field: value})
    response = client.post(reverse("join"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html
    assert message.lower() in html.lower()
    assert "<script>alert(1)</script>" not in html  # escaped if echoed back
    assert counts() == before
    assert payments.calls == []


def test_texts_need_a_mobile(client, union, rate, payments):
    before = counts()
    response = client.post(reverse("join"), good_form(union, rate, mobile="", sms_consent="on"))
    assert response.status_code == 400
    assert "Give a mobile number" in response.content.decode()
    assert counts() == before


def test_a_rate_withdrawn_while_joining_is_refused(client, union, rate, payments):
    SubscriptionRate.objects.filter(pk=rate.pk).update(is_active=False)
    before = counts()
    response = client.post(reverse("join"), good_form(union, rate))
    assert response.status_code == 400
    assert counts() == before


def test_an_oversized_post_is_refused(client, union, rate, payments):
    before = counts()
    response = client.post(reverse("join"), good_form(union, rate, first_name="x" * 3_000_000))
    assert response.status_code in (400, 413)
    assert counts() == before


def test_empty_post_shows_errors(client, union, rate):
    response = client.post(reverse("join"), {})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required" in html and "Choose your workplace or, if you have none, your branch" in html


def test_completed_checkout_makes_a_member_with_a_number_and_a_welcome(
    client, union, rate, payments, django_capture_on_commit_callbacks
):
    client.post(reverse("join"), good_form(union, rate))
    applicant = Member.objects.get(email="jo.joiner@example.org")
    account = applicant.dues
    completed = event(
        "checkout.session.completed",
        checkout_session(
            session_id=account.checkout_session_id,
            customer=account.stripe_customer_id,
            member_id=applicant.pk,
            subscription="sub_jo",
        ),
    )
    sends = []
    for _ in range(3):  # replays change nothing
        with django_capture_on_commit_callbacks() as callbacks:
            assert post_event(client, completed).status_code == 200
        sends += callbacks
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.ACTIVE
    assert re.fullmatch(r"Q\d{7}", applicant.membership_number)
    assert applicant.joined_on is not None
    assert Member.objects.in_good_standing().filter(pk=applicant.pk).exists()
    account.refresh_from_db()
    assert account.stripe_subscription_id == "sub_jo" and account.checkout_status == "complete"
    welcome = Message.objects.get(key=f"welcome:{applicant.pk}")
    # Queued once through the message pipeline, its send scheduled once (sending is the pipeline's own work,
    # tested with it).
    assert welcome.basis == Message.Basis.SERVICE and welcome.status == Message.Status.QUEUED
    assert welcome.to == "jo.joiner@example.org" and applicant.membership_number in welcome.body
    assert len(sends) == 1
    assert AuditEntry.objects.filter(member=applicant, summary__startswith="Joined").count() == 1


def test_bacs_checkout_completes_unpaid_and_the_first_debit_arrives_later(client, union, rate, payments):
    client.post(reverse("join"), good_form(union, rate))
    applicant = Member.objects.get(email="jo.joiner@example.org")
    account = applicant.dues
    post_event(
        client,
        event(
            "checkout.session.completed",
            checkout_session(
                session_id=account.checkout_session_id,
                customer=account.stripe_customer_id,
                member_id=applicant.pk,
                payment_status="unpaid",
            ),
        ),
    )
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.ACTIVE and not applicant.has_arrears
    post_event(
        client, event("invoice.paid", invoice(invoice_id="in_jo1", customer=account.stripe_customer_id, paid=True))
    )
    assert applicant.dues_payments.get().amount_pence == 2450


def test_payment_arriving_before_checkout_completion_still_ends_active(client, union, rate, payments):
    client.post(reverse("join"), good_form(union, rate))
    applicant = Member.objects.get(email="jo.joiner@example.org")
    account = applicant.dues
    post_event(
        client, event("invoice.paid", invoice(invoice_id="in_jo1", customer=account.stripe_customer_id, paid=True))
    )
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.APPLICANT  # paying alone does not make a member
    post_event(
        client,
        event(
            "checkout.session.completed",
            checkout_session(
                session_id=account.checkout_session_id, customer=account.stripe_customer_id, member_id=applicant.pk
            ),
        ),
    )
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.ACTIVE and Message.objects.filter(member=applicant).count() == 1


def test_abandoned_checkout_stays_an_applicant_for_follow_up(client, union, rate, payments):
    client.post(reverse("join"), good_form(union, rate))
    applicant = Member.objects.get(email="jo.joiner@example.org")
    account = applicant.dues
    post_event(
        client,
        event(
            "checkout.session.expired",
            {
                "id": account.checkout_session_id,
                "object": "checkout.session",
                "mode": "subscription",
                "status": "expired",
                "customer": account.stripe_customer_id,
                "client_reference_id": str(applicant.pk),
            },
        ),
    )
    applicant.refresh_from_db()
    assert applicant.status == Member.Status.APPLICANT
    assert DuesAccount.objects.get(member=applicant).checkout_status == "expired"
    assert StripeEvent.objects.get().state == StripeEvent.State.PROCESSED
    client.force_login(union.users.organiser_north)
    html = client.get(reverse("dues_overview")).content.decode()
    assert "Jo Joiner" in html and "expired" in html
    client.force_login(union.users.organiser_bristol)
    assert "Jo Joiner" not in client.get(reverse("dues_overview")).content.decode()


def test_leaving_checkout_shows_how_to_pay_later(client, union, rate, payments):
    client.post(reverse("join"), good_form(union, rate))
    unpaid_url = payments.calls[-1][1]["success_url"].replace("thank-you/", "")  # not this one
    assert unpaid_url
    applicant = Member.objects.get(email="jo.joiner@example.org")
    from crm.views.dues import _join_token

    page = client.get(reverse("join_unpaid", args=[_join_token(applicant)]))
    assert page.status_code == 200 and "You have not paid yet" in page.content.decode()
    assert client.get(reverse("join_done")).status_code == 200
