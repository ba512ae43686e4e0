"""Sign-in workflows: enrolling an authenticator app, recovery codes, checking a second factor, and the
audit rows for sign-ins, failed sign-ins, lockouts and changes to what an account may do."""

from __future__ import annotations

import contextvars
import ipaddress
from typing import Any

import django_otp
from django.db import transaction
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.auth_backends import client_ip
from crm.errors import ServiceError
from crm.models import SecurityEvent, User

RECOVERY_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

# Who is making the current request, set by crm.middleware.StaffSessionMiddleware, so that changes to an
# account's role or scope made in the admin are audited with the person who made them.
current_actor: contextvars.ContextVar[User | None] = contextvars.ContextVar("current_actor", default=None)


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def start_authenticator_enrolment(*, user: User) -> TOTPDevice:
    """The unconfirmed app device to show as a QR code; the same one until it is confirmed, so reloading the
    page does not change the secret under someone halfway through scanning it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def confirm_authenticator(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the app with a code it shows. Replaces any earlier app and the recovery codes.

    Returns the device and the new recovery codes (shown once). Raises ServiceError for a wrong code.
    The code is checked before the transaction, so a wrong one still counts towards the device's throttle.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        raise ServiceError("Start again: there is no authenticator waiting to be confirmed.", field="code")
    if not device.verify_token(_digits(code)):
        raise ServiceError("That code is not right. Enter the 6-digit code your app shows now.", field="code")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        record_security_event(
            kind=SecurityEvent.Kind.TWO_FACTOR_CHANGED, user=user, actor=user, summary="Set up an authenticator app"
        )
    return device, codes


@transaction.atomic
def replace_recovery_codes(*, user: User) -> list[str]:
    """New recovery codes; the old ones stop working."""
    if not has_authenticator(user):
        raise ServiceError("Set up an authenticator app first.")
    codes = _new_recovery_codes(user)
    record_security_event(
        kind=SecurityEvent.Kind.TWO_FACTOR_CHANGED, user=user, actor=user, summary="Replaced recovery codes"
    )
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def _digits(code: str) -> str:
    return "".join(code.split())


def match_second_factor(*, user: User, code: str) -> Device | None:
    """The user's confirmed device that accepts this code (app code or an unused recovery code), or None.

    A recovery code works once. Wrong codes slow the device down (django-otp's throttling doubles the wait
    after each failure), so guessing six digits is not practical.
    """
    code = _digits(code).lower()
    if not code or len(code) > 16:
        return None
    return django_otp.match_token(user, code)


def verify_second_factor(*, request: HttpRequest, user: User, code: str) -> Device:
    """Mark this session as verified with a second factor. Raises ServiceError for a wrong code.

    Not one transaction on purpose: a wrong code's audit row and throttle count must stay.
    """
    device = match_second_factor(user=user, code=code)
    if device is None:
        record_failed_sign_in(request=request, username=user.get_username(), reason="wrong two-factor code")
        if any(not device.verify_is_allowed()[0] for device in django_otp.devices_for_user(user)):
            raise ServiceError("That code is not right. Wait a few seconds, then enter the code your app shows now.")
        raise ServiceError("That code is not right. Enter the code your app shows now, or a recovery code.")
    django_otp.login(request, device)
    kind = "a recovery code" if isinstance(device, StaticDevice) else "an authenticator app"
    record_security_event(
        kind=SecurityEvent.Kind.SECOND_FACTOR, request=request, user=user, actor=user, summary=f"With {kind}"
    )
    return device


# --- The security log (fed by crm.signals) -----------------------------------------------------------------


def record_security_event(
    *,
    kind: str,
    request: HttpRequest | None = None,
    user: User | None = None,
    username: str = "",
    actor: User | None = None,
    summary: str = "",
    changes: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Add one row to the security log. `username` is kept as typed (cut to 150 characters)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.get_username() if user else ""))[:150],
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        ip_address=_valid_ip(client_ip(request)) if request is not None else None,
        summary=summary[:255],
        changes=changes or {},
    )


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def record_sign_in(*, request: HttpRequest | None, user: User) -> SecurityEvent:
    # The member portal's code sign-in sets request.sign_in_method before calling login().
    method = getattr(request, "sign_in_method", "password")
    return record_security_event(
        kind=SecurityEvent.Kind.SIGN_IN, request=request, user=user, actor=user, summary=f"Signed in with {method}"
    )


def record_failed_sign_in(
    *, request: HttpRequest | None, username: str, reason: str = "wrong password"
) -> SecurityEvent:
    username = (username or "")[:150]
    return record_security_event(
        kind=SecurityEvent.Kind.SIGN_IN_FAILED,
        request=request,
        user=User.objects.filter(username=username).first() if username else None,
        username=username,
        summary=f"Failed sign-in: {reason}",
    )


def record_lockout(*, request: HttpRequest | None, username: str) -> SecurityEvent:
    username = (username or "")[:150]
    return record_security_event(
        kind=SecurityEvent.Kind.LOCKOUT,
        request=request,
        user=User.objects.filter(username=username).first() if username else None,
        username=username,
        summary="Locked out after repeated failed sign-ins",
    )


def record_account_change(*, user: User, changes: dict[str, Any], summary: str) -> SecurityEvent:
    """A change to what an account may do (role, scope, staff or superuser flags, groups, permissions),
    with the person who made it when it was made through a page or the admin."""
    return record_security_event(
        kind=SecurityEvent.Kind.ACCOUNT_CHANGED, user=user, actor=current_actor.get(), summary=summary, changes=changes
    )
