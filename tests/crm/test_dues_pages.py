"""Dues pages: who sees what (scoped with members_visible_to), the charts' figures, and the forms."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Member
from crm.models.dues import DuesAccount, DuesPayment, SubscriptionRate

pytestmark = pytest.mark.django_db

PERSONAS = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]


def as_(client, union, persona):
    client.force_login(getattr(union.users, persona))
    return client


def pay(member, outcome, pence, days_ago=0, invoice_id=None):
    return DuesPayment.objects.create(
        member=member,
        stripe_invoice_id=invoice_id or f"in_{member.pk}_{outcome}_{days_ago}",
        outcome=outcome,
        amount_pence=pence,
        category=member.category,
        occurred_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


@pytest.fixture
def dues_data(union):
    m = union.members
    Member.objects.filter(pk__in=[m.oak.pk, m.elm.pk, m.ash.pk]).update(has_arrears=True)
    pay(m.oak, "failed", 2450)
    pay(m.elm, "failed", 1200)
    pay(m.ash, "failed", 2700)
    pay(m.rep, "paid", 2450)
    pay(m.rep, "paid", 2450, days_ago=40)
    pay(m.ash, "paid", 2700)
    return union


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("national", 200),
        ("organiser_north", 200),
        ("organiser_bristol", 200),
        ("rep_oak", 403),
        ("member_oak", 403),
        ("scrutineer", 403),
        ("outsider", 403),
    ],
)
def test_dues_overview_is_for_organisers_and_national_admins(client, dues_data, persona, status):
    assert as_(client, dues_data, persona).get(reverse("dues_overview")).status_code == status


def test_overview_is_scoped_to_the_organisers_patch(client, dues_data):
    north = as_(client, dues_data, "organiser_north").get(reverse("dues_overview"))
    html = north.content.decode()
    # In arrears: Oak (Leeds), Elm (York), Sam Supply (Leeds, from the fixture); Ash is Bristol's.
    branches = {row["branch__name"]: row["members"] for row in north.context["arrears"]}
    assert branches == {"Leeds": 2, "York": 1}
    assert "Owen Oakley" in html and "Ella Elmore" in html and "Ash Ashworth" not in html
    assert sum(row["pence"] for row in north.context["income"]) == 4900  # Rita's two payments, not Ash's
    bristol = as_(client, dues_data, "organiser_bristol").get(reverse("dues_overview"))
    assert {row["branch__name"] for row in bristol.context["arrears"]} == {"Bristol"}
    assert sum(row["pence"] for row in bristol.context["income"]) == 2700
    assert "Owen Oakley" not in bristol.content.decode()


def test_income_is_by_month_and_category_in_pounds(client, dues_data):
    page = as_(client, dues_data, "national").get(reverse("dues_overview"))
    rows = page.context["income"]
    this_month = timezone.localdate().replace(day=1)
    current = {r["category"]: r["pence"] for r in rows if r["month"] == this_month}
    assert current == {"Teacher": 2450, "Lecturer": 2700}
    assert sum(r["pence"] for r in rows) == 7600
    html = page.content.decode()
    assert "£27.00" in html and "£24.50" in html
    assert '<svg class="bar"' in html  # the chart, with the table beside it


@pytest.mark.parametrize(
    ("persona", "member", "status"),
    [
        ("national", "oak", 200),
        ("organiser_north", "oak", 200),
        ("organiser_bristol", "oak", 404),
        ("rep_oak", "oak", 403),
        ("member_oak", "oak", 200),
        ("member_oak", "rep", 404),
        ("scrutineer", "oak", 404),
        ("outsider", "oak", 404),
    ],
)
def test_member_dues_page_scope(client, dues_data, persona, member, status):
    url = reverse("member_dues", args=[getattr(dues_data.members, member).pk])
    assert as_(client, dues_data, persona).get(url).status_code == status


def test_member_page_shows_payment_history_and_portal_to_themselves(client, dues_data, payments, rate):
    DuesAccount.objects.create(member=dues_data.members.oak, rate=rate, stripe_customer_id="cus_oak")
    page = as_(client, dues_data, "member_oak").get(reverse("member_dues", args=[dues_data.members.oak.pk]))
    html = page.content.decode()
    assert "£24.50" in html and "Failed" in html
    assert "Change my card or bank details" in html and "Save how dues are paid" not in html
    portal = client.post(reverse("member_dues_portal", args=[dues_data.members.oak.pk]))
    assert portal.status_code == 302 and portal["Location"] == "https://billing.invalid/session/cus_oak"
    staff = as_(client, dues_data, "organiser_north").get(reverse("member_dues", args=[dues_data.members.oak.pk]))
    assert "Save how dues are paid" in staff.content.decode()
    assert "Change my card" not in staff.content.decode()
    assert client.post(reverse("member_dues_portal", args=[dues_data.members.oak.pk])).status_code == 403


def test_member_detail_links_to_dues_for_those_who_may_see_them(client, dues_data):
    url = reverse("member_detail", args=[dues_data.members.oak.pk])
    link = reverse("member_dues", args=[dues_data.members.oak.pk])
    assert link in as_(client, dues_data, "organiser_north").get(url).content.decode()
    assert link not in as_(client, dues_data, "rep_oak").get(url).content.decode()


def test_marking_payroll_from_the_page(client, dues_data):
    oak = dues_data.members.oak
    response = as_(client, dues_data, "organiser_north").post(
        reverse("member_dues_method", args=[oak.pk]), {"method": "payroll"}
    )
    assert response.status_code == 302
    oak.refresh_from_db()
    assert oak.dues.method == "payroll" and not oak.has_arrears
    bad = client.post(reverse("member_dues_method", args=[oak.pk]), {"method": "<script>"})
    assert bad.status_code == 302
    assert DuesAccount.objects.get(member=oak).method == "payroll"
    assert (
        as_(client, dues_data, "rep_oak")
        .post(reverse("member_dues_method", args=[oak.pk]), {"method": "exempt"})
        .status_code
        == 403
    )
    assert (
        as_(client, dues_data, "organiser_bristol")
        .post(reverse("member_dues_method", args=[oak.pk]), {"method": "exempt"})
        .status_code
        == 404
    )
    assert DuesAccount.objects.get(member=oak).method == "payroll"


def test_rates_pages(client, union, rate):
    assert as_(client, union, "organiser_north").get(reverse("rate_list")).status_code == 200
    assert as_(client, union, "organiser_north").get(reverse("rate_create")).status_code == 403
    assert as_(client, union, "rep_oak").get(reverse("rate_list")).status_code == 403
    national = as_(client, union, "national")
    assert "£24.50" in national.get(reverse("rate_list")).content.decode()
    created = national.post(
        reverse("rate_create"),
        {"category": "support_staff", "pay_band": "Part time", "monthly_pence": "850", "is_active": "on"},
    )
    assert created.status_code == 302
    assert SubscriptionRate.objects.get(pay_band="Part time").monthly_pence == 850
    edited = national.post(
        reverse("rate_edit", args=[rate.pk]), {"category": "teacher", "pay_band": "Full time", "monthly_pence": "2500"}
    )
    assert edited.status_code == 302
    rate.refresh_from_db()
    assert rate.monthly_pence == 2500 and not rate.is_active
    assert national.get(reverse("rate_edit", args=[999999])).status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"category": "teacher", "pay_band": "", "monthly_pence": "100"},
        {"category": "teacher", "pay_band": "Band", "monthly_pence": "24.50"},
        {"category": "teacher", "pay_band": "Band", "monthly_pence": "-5"},
        {"category": "teacher", "pay_band": "Band", "monthly_pence": "99999999999"},
        {"category": "nope", "pay_band": "Band", "monthly_pence": "100"},
        {"category": "teacher", "pay_band": "x" * 500, "monthly_pence": "100"},
        {"category": "teacher", "pay_band": "Full time", "monthly_pence": "100"},  # already exists
    ],
)
def test_bad_rates_from_the_page_change_nothing(client, union, rate, data):
    before = list(SubscriptionRate.objects.values())
    response = as_(client, union, "national").post(reverse("rate_create"), data)
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert list(SubscriptionRate.objects.values()) == before


def test_nav_links(client, union):
    assert reverse("join") in client.get(reverse("login")).content.decode()
    assert reverse("dues_overview") in as_(client, union, "organiser_north").get(reverse("dashboard")).content.decode()
    member_page = as_(client, union, "member_oak").get(reverse("member_detail", args=[union.members.oak.pk]))
    assert reverse("member_dues", args=[union.members.oak.pk]) in member_page.content.decode()


def test_confirming_an_applicant_from_the_dues_page(client, union):
    from tests.factories import MemberFactory

    applicant = MemberFactory(workplace=union.workplaces.oak, status="applicant", membership_number="A777")
    DuesAccount.objects.create(member=applicant, method="exempt")
    url = reverse("member_dues", args=[applicant.pk])
    assert "Confirm as a member" in as_(client, union, "organiser_north").get(url).content.decode()
    assert (
        as_(client, union, "organiser_bristol").post(reverse("member_confirm", args=[applicant.pk])).status_code == 404
    )
    assert as_(client, union, "rep_oak").post(reverse("member_confirm", args=[applicant.pk])).status_code == 403
    response = as_(client, union, "organiser_north").post(reverse("member_confirm", args=[applicant.pk]))
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.status == "active" and applicant.membership_number.startswith("Q")
    assert "Confirm as a member" not in client.get(url).content.decode()
