"""Dues in the API: rates (national admins write), a member's dues state, and payments, each scoped."""

import datetime

import pytest
from django.utils import timezone

from crm.models.dues import DuesAccount, DuesPayment, SubscriptionRate

pytestmark = pytest.mark.django_db

RATES = "/api/v1/dues/rates/"


def test_rates_are_readable_by_anyone_signed_in(api_as, rate):
    assert api_as(None).get(RATES).status_code == 401
    body = api_as("member_oak").get(RATES).json()
    assert body["count"] == 1
    assert body["results"][0] == {
        "id": rate.pk,
        "category": "teacher",
        "pay_band": "Full time",
        "monthly_pence": 2450,
        "is_active": True,
        "stripe_price_id": "",
    }


def test_national_admins_add_and_change_rates(api_as, rate):
    client = api_as("national")
    created = client.post(
        RATES, {"category": "lecturer", "pay_band": "Hourly paid", "monthly_pence": 900}, format="json"
    )
    assert created.status_code == 201 and created.json()["monthly_pence"] == 900
    changed = client.patch(f"{RATES}{rate.pk}/", {"monthly_pence": 2500}, format="json")
    assert changed.status_code == 200 and changed.json()["monthly_pence"] == 2500
    assert changed.json()["pay_band"] == "Full time"


@pytest.mark.parametrize("persona", ["organiser_north", "rep_oak", "member_oak", "scrutineer", "outsider"])
def test_others_cannot_write_rates(api_as, rate, persona):
    client = api_as(persona)
    assert (
        client.post(RATES, {"category": "lecturer", "pay_band": "X", "monthly_pence": 1}, format="json").status_code
        == 403
    )
    assert client.patch(f"{RATES}{rate.pk}/", {"monthly_pence": 1}, format="json").status_code == 403
    assert SubscriptionRate.objects.get().monthly_pence == 2450


@pytest.mark.parametrize(
    "body",
    [
        {"category": "teacher", "pay_band": "Part", "monthly_pence": -1},
        {"category": "teacher", "pay_band": "Part", "monthly_pence": "lots"},
        {"category": "teacher", "pay_band": "Part", "monthly_pence": 24.5},
        {"category": "teacher", "pay_band": "", "monthly_pence": 100},
        {"category": "teacher", "pay_band": "x" * 61, "monthly_pence": 100},
        {"category": "pirate", "pay_band": "Part", "monthly_pence": 100},
        {"category": "teacher", "pay_band": "Part", "monthly_pence": 100, "stripe_price_id": "price_evil"},
        {"category": "teacher", "pay_band": "Part", "monthly_pence": 100, "surprise": 1},
        {"category": "teacher", "pay_band": "Full time", "monthly_pence": 100},  # exists
        [],
    ],
)
def test_bad_rate_writes_are_400_and_change_nothing(api_as, rate, body):
    before = list(SubscriptionRate.objects.values())
    response = api_as("national").post(RATES, body, format="json")
    assert response.status_code == 400
    assert list(SubscriptionRate.objects.values()) == before


def test_oversized_rate_write_is_400(api_as, rate):
    response = api_as("national").post(
        RATES, {"category": "teacher", "pay_band": "x" * 70_000, "monthly_pence": 1}, format="json"
    )
    assert response.status_code == 400
    assert SubscriptionRate.objects.count() == 1


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
def test_dues_state_scope(api_as, union, persona, member, status):
    url = f"/api/v1/dues/members/{getattr(union.members, member).pk}/"
    assert api_as(persona).get(url).status_code == status


def test_dues_state_shape(api_as, union, paying):
    DuesAccount.objects.filter(member=paying).update(arrears_since=datetime.date(2026, 1, 5))
    paying.has_arrears = True
    paying.save()
    body = api_as("organiser_north").get(f"/api/v1/dues/members/{paying.pk}/").json()
    assert body["method"] == "stripe" and body["has_arrears"] is True and body["is_in_good_standing"] is False
    assert body["arrears_since"] == "2026-01-05" and body["subscription_status"] == "active"
    plain = api_as("national").get(f"/api/v1/dues/members/{union.members.elm.pk}/").json()
    assert plain["method"] is None and plain["is_in_good_standing"] is True
    assert api_as("national").get("/api/v1/dues/members/999999/").status_code == 404
    assert api_as("national").get("/api/v1/dues/members/abc/").status_code == 404


def test_payments_are_scoped(api_as, union):
    for member, pence in ((union.members.oak, 2450), (union.members.ash, 2700), (union.members.rep, 2450)):
        DuesPayment.objects.create(
            member=member,
            stripe_invoice_id=f"in_{member.pk}",
            outcome="paid",
            amount_pence=pence,
            category=member.category,
            occurred_at=timezone.now(),
        )

    def ids(persona, query=""):
        return {p["member"] for p in api_as(persona).get(f"/api/v1/dues/payments/{query}").json()["results"]}

    m = union.members
    assert ids("national") == {m.oak.pk, m.ash.pk, m.rep.pk}
    assert ids("organiser_north") == {m.oak.pk, m.rep.pk}
    assert ids("organiser_bristol") == {m.ash.pk}
    assert ids("member_oak") == {m.oak.pk}
    assert ids("rep_oak") == {m.rep.pk}  # their own only: reps see standing, not colleagues' payments
    assert ids("scrutineer") == set() and ids("outsider") == set()
    assert ids("national", f"?member={m.ash.pk}") == {m.ash.pk}
    assert ids("organiser_north", f"?member={m.ash.pk}") == set()
    assert api_as("national").get("/api/v1/dues/payments/?member=x").status_code == 400
