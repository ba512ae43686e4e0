"""Members sign in with a one-time code or link: same answer for any address, codes hashed, single use,
expiring, five wrong tries then dead, rate-limited per address and per client; staff never by code."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.errors import ServiceError
from crm.models import Message, SecurityEvent, SignInCode, User
from crm.services import member_account

pytestmark = pytest.mark.django_db


def ask(client: Client, address: str, **extra):
    return client.post(reverse("portal:sign_in"), {"address": address}, **extra)


def sent_code(member) -> tuple[str, str]:
    """The code and link token in the newest sign-in message to `member` (queued: the test never commits)."""
    body = Message.objects.filter(member=member, key__startswith="sign-in:").order_by("-pk").first().body
    return re.search(r"code is (\d{6})", body).group(1), re.search(r"/me/sign-in/link/([^/]+)/", body).group(1)


def enter(client: Client, code: str):
    return client.post(reverse("portal:sign_in_code"), {"code": code})


def signed_in_as(client: Client) -> User | None:
    user_id = client.session.get(SESSION_KEY)
    return User.objects.get(pk=user_id) if user_id else None


def test_a_member_without_an_account_signs_in_by_emailed_code_and_gets_a_member_account(client, union):
    elm = union.members.elm
    assert not User.objects.filter(member=elm).exists()
    response = ask(client, elm.email.upper())  # the case of an email address does not matter
    assert response.status_code == 302 and response["Location"] == reverse("portal:sign_in_code")
    message = Message.objects.get(member=elm)
    assert message.channel == "email" and message.basis == "service" and message.confidential
    code, _token = sent_code(elm)
    row = SignInCode.objects.get(member=elm)
    assert code not in row.code_digest and len(row.code_digest) == 64  # only a digest is kept
    response = enter(client, f"{code[:3]} {code[3:]}")  # spaces typed are ignored
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    user = signed_in_as(client)
    assert user.member == elm and user.role == User.Role.MEMBER and not user.has_usable_password()
    assert SecurityEvent.objects.filter(user=user, kind="sign_in", summary="Signed in with a one-time code").exists()
    assert client.get(reverse("portal:home")).status_code == 200


def test_a_member_signs_in_by_texted_code_with_their_existing_account(client, union):
    oak = union.members.oak
    oak.mobile = "+447911123456"
    oak.save()
    assert ask(client, "07911 123456").status_code == 302
    assert Message.objects.get(member=oak).channel == "sms"
    code, _token = sent_code(oak)
    enter(client, code)
    assert signed_in_as(client) == union.users.member_oak
    assert User.objects.filter(member=oak).count() == 1


def test_an_unknown_address_gets_exactly_the_same_answer_and_nothing_is_sent(union):
    known, unknown = Client(), Client()
    a, b = ask(known, union.members.elm.email), ask(unknown, "nobody@example.org")
    assert (a.status_code, a["Location"]) == (b.status_code, b["Location"])
    page_a, page_b = known.get(a["Location"]), unknown.get(b["Location"])
    strip = lambda html: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html.decode())  # noqa: E731
    assert strip(page_a.content) == strip(page_b.content)
    assert "If we know this address, we have sent a code" in page_b.content.decode()
    assert Message.objects.count() == 1
    # Every code is wrong for the unknown address, with the same message as a wrong code for a known one.
    wrong_a, wrong_b = enter(known, "000000"), enter(unknown, "000000")
    assert wrong_a.status_code == wrong_b.status_code == 400
    assert strip(wrong_a.content) == strip(wrong_b.content)
    assert "not right" in wrong_b.content.decode()


def test_a_code_works_once(client, union):
    ask(client, union.members.elm.email)
    code, _token = sent_code(union.members.elm)
    row_id = client.session["portal_sign_in_code"]
    enter(client, code)
    assert signed_in_as(client) is not None
    with pytest.raises(ServiceError):
        member_account.sign_in_with_code(code_id=row_id, code=code)
    again = Client()
    session = again.session
    session["portal_sign_in_code"] = row_id
    session.save()
    assert enter(again, code).status_code == 400 and signed_in_as(again) is None


def test_five_wrong_tries_kill_the_code_even_for_the_right_one_after(client, union):
    ask(client, union.members.elm.email)
    code, _token = sent_code(union.members.elm)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(SignInCode.MAX_WRONG_TRIES):
        assert enter(client, wrong).status_code == 400
    row = SignInCode.objects.get()
    assert row.wrong_tries == SignInCode.MAX_WRONG_TRIES and row.closed_reason == "too_many_tries"
    assert enter(client, code).status_code == 400
    assert signed_in_as(client) is None
    assert SecurityEvent.objects.filter(summary__startswith="Code sign-in: wrong code").count() == 5


def test_an_expired_code_and_an_expired_link_do_not_work(client, union):
    ask(client, union.members.elm.email)
    code, token = sent_code(union.members.elm)
    SignInCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert enter(client, code).status_code == 400
    assert client.post(reverse("portal:sign_in_link", args=[token])).status_code == 400
    assert signed_in_as(client) is None


def test_asking_again_retires_the_older_code(client, union):
    ask(client, union.members.elm.email)
    old_code, _ = sent_code(union.members.elm)
    ask(client, union.members.elm.email)
    new_code, _ = sent_code(union.members.elm)
    old_row = SignInCode.objects.order_by("pk").first()
    assert old_row.closed_reason == "replaced"
    with pytest.raises(ServiceError):
        member_account.sign_in_with_code(code_id=old_row.pk, code=old_code)
    enter(client, new_code)
    assert signed_in_as(client) is not None


def test_the_link_signs_in_on_post_only_and_once(client, union):
    ask(Client(), union.members.elm.email)  # asked on a laptop, opened on the phone
    _code, token = sent_code(union.members.elm)
    url = reverse("portal:sign_in_link", args=[token])
    assert client.get(url).status_code == 200  # a mail scanner's GET changes nothing
    assert SignInCode.objects.get().closed_at is None and signed_in_as(client) is None
    assert client.post(url)["Location"] == reverse("portal:home")
    assert signed_in_as(client).member == union.members.elm
    assert Client().post(url).status_code == 400


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43, "x" * 5000, "%00%3Cscript%3E"])
def test_made_up_links_do_not_sign_in(client, union, token):
    response = client.post(reverse("portal:sign_in_link", args=[token]))
    assert response.status_code == 400 and signed_in_as(client) is None


def test_requests_are_limited_per_address(client, union):
    address = union.members.elm.email
    for _ in range(member_account.MAX_CODES_PER_ADDRESS_PER_HOUR):
        assert ask(Client(), address).status_code == 302
    before = (SignInCode.objects.count(), Message.objects.count())
    response = ask(client, address)
    assert response.status_code == 429 and "Too many codes" in response.content.decode()
    assert (SignInCode.objects.count(), Message.objects.count()) == before
    # The unknown address is limited the same way: nothing tells them apart.
    for _ in range(member_account.MAX_CODES_PER_ADDRESS_PER_HOUR):
        ask(Client(), "nobody@example.org")
    assert ask(client, "nobody@example.org").status_code == 429


def test_requests_are_limited_per_client_address(client, union, monkeypatch):
    monkeypatch.setattr(member_account, "MAX_CODES_PER_IP_PER_HOUR", 3)
    for n in range(3):
        assert ask(client, f"someone{n}@example.org", REMOTE_ADDR="203.0.113.9").status_code == 302
    assert ask(client, union.members.elm.email, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert not Message.objects.exists()
    assert ask(client, union.members.elm.email, REMOTE_ADDR="203.0.113.10").status_code == 302


def test_staff_accounts_never_sign_in_by_code(client, union):
    """Rita is a rep: her account has a second factor to pass, so no code is sent to her, and the page says
    just what it says for anyone."""
    rep = union.members.rep
    response = ask(client, rep.email)
    assert response["Location"] == reverse("portal:sign_in_code")
    assert not Message.objects.exists()
    assert SignInCode.objects.get().member is None
    assert SecurityEvent.objects.filter(user=union.users.rep_oak, summary__contains="staff account").exists()
    # A member who became staff after the code was sent cannot use it either.
    ask(Client(), union.members.oak.email)
    code, _ = sent_code(union.members.oak)
    User.objects.filter(pk=union.users.member_oak.pk).update(role=User.Role.REP)
    with pytest.raises(ServiceError):
        member_account.sign_in_with_code(code_id=SignInCode.objects.get(member=union.members.oak).pk, code=code)


def test_a_shared_address_signs_in_nobody(client, union):
    union.members.ash.email = union.members.elm.email
    union.members.ash.save()
    ask(client, union.members.elm.email)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "address", ["", "not an address", "x" * 10_000, "<script>alert(1)</script>@x", "07911", "99999999999999999999"]
)
def test_malformed_or_hostile_addresses_are_refused_and_nothing_is_written(client, union, address):
    response = ask(client, address)
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert not SignInCode.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "1" * 5000])
def test_malformed_codes_are_refused_without_using_a_try(client, union, code):
    ask(client, union.members.elm.email)
    response = enter(client, code)
    assert response.status_code == 400 and signed_in_as(client) is None
    assert SignInCode.objects.get().wrong_tries == 0


def test_the_code_page_reads_the_request_from_the_session_only(client, union):
    """A code is checked against this browser's own request: a posted id is ignored, and without a request
    the page sends you to the first step."""
    assert client.get(reverse("portal:sign_in_code"))["Location"] == reverse("portal:sign_in")
    ask(Client(), union.members.elm.email)  # the victim's request, in another browser
    code, _ = sent_code(union.members.elm)
    victim_row = SignInCode.objects.get()
    ask(client, "attacker@example.org")
    response = client.post(reverse("portal:sign_in_code"), {"code": code, "code_id": victim_row.pk})
    assert response.status_code == 400 and signed_in_as(client) is None


def test_a_member_with_a_password_can_still_use_it(client, union):
    user = union.users.member_oak
    user.set_password(union.password)
    user.save()
    response = client.post(reverse("login"), {"username": "member_oak", "password": union.password})
    assert response.status_code == 302 and signed_in_as(client) == user
