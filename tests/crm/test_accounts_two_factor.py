"""Staff two-factor sign-in, enforced (QUORUM_STAFF_2FA on): pages, the API's session and token auth,
enrolment with a real TOTP code, recovery codes, and the security log."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from crm.models import SecurityEvent
from crm.services import accounts

pytestmark = pytest.mark.two_factor

STAFF = ["national", "organiser_north", "organiser_bristol", "rep_oak", "scrutineer"]
NOT_STAFF = ["member_oak", "outsider"]
PAGES = ["home", "member_list", "dashboard", "my_workplaces", "recovery_codes"]


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """What the member's phone would show now (offset in 30-second steps)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def wait_out_throttle(user) -> None:
    """After a wrong code django-otp makes the next try wait (1 s, then 2 s, 4 s...): a person would wait."""
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """The token endpoint's throttle counts live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("persona", STAFF)
def test_staff_without_an_app_are_sent_to_set_one_up_from_every_page(client, union, persona):
    client.force_login(getattr(union.users, persona))
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("two_factor_setup") + "?next="), name
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith(reverse("two_factor_setup"))
    member = client.get(reverse("member_detail", args=[union.members.oak.pk]))
    assert member.status_code == 302


@pytest.mark.parametrize("persona", STAFF)
def test_staff_with_an_app_are_asked_for_a_code_first(client, union, persona):
    enrolled(getattr(union.users, persona))
    client.force_login(getattr(union.users, persona))
    response = client.get(reverse("member_list") + "?status=active")
    assert response.status_code == 302
    assert response["Location"] == reverse("two_factor_verify") + "?next=%2Fmembers%2F%3Fstatus%3Dactive"
    # The set-up page will not let someone holding only the password replace the app.
    assert client.get(reverse("two_factor_setup"))["Location"].startswith(reverse("two_factor_verify"))


@pytest.mark.parametrize("persona", NOT_STAFF)
def test_members_are_not_asked_for_a_second_factor(client, union, persona):
    client.force_login(getattr(union.users, persona))
    response = client.get(reverse("home"))
    assert response.status_code in {200, 302}
    assert not response.get("Location", "").startswith("/accounts/two-factor/")


def test_enrolment_with_a_real_code_then_recovery_codes(client, union):
    user = union.users.organiser_north
    client.force_login(user)
    page = client.get(reverse("two_factor_setup") + "?next=/members/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "QR code" in html
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = "".join(re.search(r'class="otp-secret"><code>([A-Z2-7 ]+)</code>', html).group(1).split())
    import base64

    assert base64.b32decode(secret) == device.bin_key  # the key for typing in is the same secret as the QR code
    assert client.get(reverse("two_factor_setup")).status_code == 200
    assert TOTPDevice.objects.filter(user=user).count() == 1  # reloading keeps the same secret

    wrong = client.post(reverse("two_factor_setup"), {"code": "000000" if code_for(device) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    wait_out_throttle(user)
    device.refresh_from_db()
    done = client.post(reverse("two_factor_setup"), {"code": code_for(device), "next": "/members/"})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == accounts.RECOVERY_CODE_COUNT == len(set(codes))
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == set(codes)
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    # This session is now verified: pages open.
    assert client.get(reverse("member_list")).status_code == 200
    assert SecurityEvent.objects.filter(user=user, kind=SecurityEvent.Kind.TWO_FACTOR_CHANGED).count() == 1


def test_sign_in_with_password_then_code_and_the_security_log(client, union):
    user = union.users.national
    device = enrolled(user)
    response = client.post(reverse("login"), {"username": "national", "password": union.password, "next": "/members/"})
    assert response.status_code == 302
    assert client.get("/members/")["Location"].startswith(reverse("two_factor_verify"))
    assert client.post(reverse("two_factor_verify"), {"code": "12"}).status_code == 400
    wait_out_throttle(user)
    verified = client.post(reverse("two_factor_verify"), {"code": code_for(device), "next": "/members/"})
    assert verified.status_code == 302 and verified["Location"] == "/members/"
    assert client.get("/members/").status_code == 200
    kinds = list(SecurityEvent.objects.filter(user=user).order_by("pk").values_list("kind", "ip_address"))
    assert kinds == [
        (SecurityEvent.Kind.SIGN_IN, "127.0.0.1"),
        (SecurityEvent.Kind.SIGN_IN_FAILED, "127.0.0.1"),
        (SecurityEvent.Kind.SECOND_FACTOR, "127.0.0.1"),
    ]


def test_the_same_code_cannot_be_used_twice(client, union):
    user = union.users.national
    device = enrolled(user)
    code = code_for(device)
    client.force_login(user)
    assert client.post(reverse("two_factor_verify"), {"code": code}).status_code == 302
    other = type(client)()
    other.force_login(user)
    assert other.post(reverse("two_factor_verify"), {"code": code}).status_code == 400


def test_a_recovery_code_works_once(client, union):
    user = union.users.rep_oak
    enrolled(user)
    codes = accounts.replace_recovery_codes(user=user)
    client.force_login(user)
    assert client.post(reverse("two_factor_verify"), {"code": codes[0].upper()}).status_code == 302
    assert client.get(reverse("my_workplaces")).status_code == 200
    again = type(client)()
    again.force_login(user)
    assert again.post(reverse("two_factor_verify"), {"code": codes[0]}).status_code == 400
    wait_out_throttle(user)
    assert again.post(reverse("two_factor_verify"), {"code": codes[1]}).status_code == 302


def test_next_never_leaves_the_site(client, union):
    device = enrolled(union.users.national)
    client.force_login(union.users.national)
    response = client.post(reverse("two_factor_verify"), {"code": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_replacing_recovery_codes_needs_a_verified_session(client, union):
    user = union.users.organiser_north
    device = enrolled(user)
    old = accounts.replace_recovery_codes(user=user)
    client.force_login(user)
    assert client.post(reverse("recovery_codes")).status_code == 302  # sent to verify; nothing replaced
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == set(old)
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    new_page = client.post(reverse("recovery_codes"))
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", new_page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)


# --- The API ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", STAFF)
def test_api_refuses_a_session_without_a_second_factor(client, union, persona):
    user = getattr(union.users, persona)
    device = enrolled(user)
    client.force_login(user)
    refused = client.get(reverse("api:region-list"))
    assert refused.status_code == 401
    assert "second factor" in refused.json()["detail"]
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert client.get(reverse("api:region-list")).status_code == 200


def test_api_session_of_a_member_needs_no_second_factor(client, union):
    client.force_login(union.users.member_oak)
    assert client.get(reverse("api:member-list")).json()["count"] == 1


def test_tokens_for_staff_need_a_second_factor(union):
    api = APIClient()
    url = reverse("api:token")
    user = union.users.organiser_north
    device = enrolled(user)
    without = api.post(url, {"username": user.username, "password": union.password}, format="json")
    assert without.status_code == 400 and "otp_token" in without.json()
    wrong = api.post(url, {"username": user.username, "password": union.password, "otp_token": "x"}, format="json")
    assert wrong.status_code == 400
    wait_out_throttle(user)
    good = api.post(
        url, {"username": user.username, "password": union.password, "otp_token": code_for(device)}, format="json"
    )
    assert good.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {good.json()['token']}")
    assert api.get(reverse("api:member-list")).json()["count"] == 5
    member = APIClient().post(url, {"username": "member_oak", "password": union.password}, format="json")
    assert member.status_code == 200 and member.json()["token"]


def test_switching_it_off_restores_password_only_sign_in(client, union, settings):
    settings.QUORUM_STAFF_2FA = False
    client.force_login(union.users.national)
    assert client.get(reverse("member_list")).status_code == 200


@pytest.mark.parametrize(
    "data", [{}, {"code": ""}, {"code": "x" * 10_000}, {"code": "12345\x00"}, {"code": "' OR 1=1 --"}]
)
def test_bad_codes_are_refused_clearly_and_verify_nothing(client, union, data):
    user = union.users.organiser_north
    enrolled(user)
    client.force_login(user)
    for page in ("two_factor_verify",):
        response = client.post(reverse(page), data)
        assert response.status_code == 400
        assert "There is a problem" in response.content.decode()
    assert client.get(reverse("member_list")).status_code == 302  # still not verified
    setup = type(client)()
    setup.force_login(union.users.organiser_bristol)
    response = setup.post(reverse("two_factor_setup"), data)
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=union.users.organiser_bristol, confirmed=True).exists()


def test_an_oversized_otp_token_is_refused_by_the_token_endpoint(union):
    enrolled(union.users.national)
    response = APIClient().post(
        reverse("api:token"),
        {"username": "national", "password": union.password, "otp_token": "1" * 5000},
        format="json",
    )
    assert response.status_code == 400 and "otp_token" in response.json()
