"""Lockout after failed sign-ins, idle expiry of staff sessions, password rules, the security log of sign-ins
and account changes, and the security headers every page carries."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import AuditEntry, SecurityEvent, User

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """The token endpoint's throttle counts live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def test_five_wrong_passwords_lock_the_account_from_that_address(client, union):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "organiser_north", "wrong password!")
        assert response.status_code == 200 and "Please enter a correct username" in response.content.decode()
    locked = sign_in(client, "organiser_north", "wrong password!")
    assert locked.status_code == 429
    assert "Signing in is paused" in locked.content.decode()
    # Now even the right password is refused from here, and nobody is signed in.
    right = sign_in(client, "organiser_north", union.password)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address (or another user from this one) is not affected.
    assert client.post(reverse("login"), {"username": "national", "password": union.password}).status_code == 302
    other = type(client)(REMOTE_ADDR="10.0.0.9")
    assert sign_in(other, "organiser_north", union.password).status_code == 302
    user = union.users.organiser_north
    kinds = list(SecurityEvent.objects.filter(user=user).values_list("kind", flat=True))
    # Each wrong password, and the refused right one, count as failed sign-ins.
    assert kinds.count(SecurityEvent.Kind.SIGN_IN_FAILED) == settings.AXES_FAILURE_LIMIT + 1
    assert SecurityEvent.Kind.LOCKOUT in kinds


def test_the_token_endpoint_shares_the_lockout(union):
    api = APIClient()
    url = reverse("api:token")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post(url, {"username": "organiser_north", "password": "nope nope nope"}, format="json")
    response = api.post(url, {"username": "organiser_north", "password": union.password}, format="json")
    assert response.status_code == 400  # the right password, refused: the same answer as a wrong one
    assert "token" not in response.json()
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.9")
    assert (
        elsewhere.post(url, {"username": "organiser_north", "password": union.password}, format="json").status_code
        == 200
    )


def test_a_failed_sign_in_for_an_unknown_name_is_logged_without_an_account(client, union):
    sign_in(client, "nobody-" + "x" * 300, "whatever it is")
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SIGN_IN_FAILED)
    assert event.user is None and len(event.username) == 150 and event.ip_address == "127.0.0.1"


@pytest.mark.parametrize("length", [151, 300, 5000])
def test_hostile_long_usernames_are_refused_cleanly(client, union, length):
    from axes.models import AccessAttempt

    name = "n" * length
    assert sign_in(client, name, "whatever it is").status_code == 200
    token = APIClient().post(reverse("api:token"), {"username": name, "password": "x"}, format="json")
    assert token.status_code == 400
    assert all(len(attempt.username) <= 150 for attempt in AccessAttempt.objects.all())


def test_a_successful_sign_in_is_logged_and_writes_nothing_to_the_member_audit(client, union):
    assert sign_in(client, "rep_oak", union.password).status_code == 302
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SIGN_IN)
    assert (event.user, event.ip_address) == (union.users.rep_oak, "127.0.0.1")
    assert not AuditEntry.objects.exists()


def test_staff_sessions_expire_after_the_idle_time_members_keep_theirs(client, union):
    client.force_login(union.users.organiser_north)
    client.get(reverse("member_list"))
    assert client.session.get_expiry_age() == settings.QUORUM_STAFF_SESSION_IDLE_SECONDS == 30 * 60
    # Idle past the limit: the session is gone and the next page asks for a sign-in.
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get(reverse("member_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    member = type(client)()
    member.force_login(union.users.member_oak)
    member.get(reverse("home"))
    assert member.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


@pytest.mark.parametrize(
    "password",
    ["short pass1", "123456789012345", "password1234", "organiser_north1"],
)
def test_password_rules_refuse_weak_passwords(union, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=union.users.organiser_north)


def test_password_rules_accept_a_long_passphrase(union):
    validate_password("tidal copper lantern", user=union.users.organiser_north)


def test_role_and_scope_changes_in_the_admin_are_logged_with_who_made_them(client, union):
    admin_user = union.users.national
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    target = union.users.organiser_bristol
    SecurityEvent.objects.all().delete()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:crm_user_change", args=[target.pk]),
        {
            "username": target.username,
            "role": User.Role.NATIONAL_ADMIN,
            "regions": [union.regions.north.pk],
            "branches": [union.branches.bristol.pk],
            "is_active": "on",
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    events = SecurityEvent.objects.filter(user=target, kind=SecurityEvent.Kind.ACCOUNT_CHANGED)
    role = events.get(changes__has_key="role")
    assert role.changes["role"] == ["organiser", "national_admin"] and role.actor == admin_user
    regions = events.get(changes__has_key="regions")
    assert regions.changes["regions"] == {"added": [union.regions.north.pk]} and regions.actor == admin_user


def test_changes_outside_a_request_are_logged_without_an_actor(union):
    user = union.users.scrutineer
    user.role = User.Role.ORGANISER
    user.save()
    event = SecurityEvent.objects.get(user=user, kind=SecurityEvent.Kind.ACCOUNT_CHANGED)
    assert event.changes == {"role": ["scrutineer", "organiser"]} and event.actor is None


def test_pages_carry_the_security_headers_and_a_strict_script_policy(client, union):
    client.force_login(union.users.organiser_north)
    for url in (reverse("login"), reverse("member_list"), reverse("api:docs")):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["script-src"] == "'self'", url
        assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_no_template_has_inline_script_or_event_handlers():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text, re.IGNORECASE):
            if "src=" not in match.group(1):
                offenders.append(f"{path.relative_to(TEMPLATES)}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE):
            offenders.append(f"{path.relative_to(TEMPLATES)}: on...= event handler attribute")
        if re.search(r"javascript:", text, re.IGNORECASE):
            offenders.append(f"{path.relative_to(TEMPLATES)}: javascript: URL")
    assert not offenders, "move scripts to static/js/ files: " + "; ".join(offenders)
