"""Signed tokens: the check-in code on a registration's QR code, and the member's calendar feed address.

A check-in code is the registration's number and an HMAC of (event, registration) under the site secret,
short enough to type on a phone: R123-ABCDEFGHJKMN. It names no member, cannot be guessed, and a code for
one event is recognised as such (and refused) at another's check-in.
"""

from __future__ import annotations

import base64
import re

import segno
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

CHECKIN_SALT = "events.checkin"
CALENDAR_SALT = "events.calendar-feed"
CODE_PATTERN = re.compile(r"^R([0-9]{1,12})-([A-Z2-7]{16})$")


class BadToken(Exception):
    """Not a code this site issued."""


def _checkin_mac(registration_id: int, event_id: int) -> str:
    digest = salted_hmac(CHECKIN_SALT, f"{event_id}:{registration_id}", algorithm="sha256").digest()
    return base64.b32encode(digest[:10]).decode("ascii")  # 80 bits, 16 characters


def checkin_code(registration) -> str:
    return f"R{registration.pk}-{_checkin_mac(registration.pk, registration.event_id)}"


def registration_id_from_code(code: str) -> int:
    """The registration a code claims to be for. Its signature is checked against that registration's event
    by verify_checkin_code. Raises BadToken for anything that is not shaped like a code."""
    match = CODE_PATTERN.match(re.sub(r"\s+", "", code or "").upper())
    if not match:
        raise BadToken
    return int(match.group(1))


def verify_checkin_code(code: str, registration) -> bool:
    match = CODE_PATTERN.match(re.sub(r"\s+", "", code or "").upper())
    if not match or int(match.group(1)) != registration.pk:
        return False
    return constant_time_compare(match.group(2), _checkin_mac(registration.pk, registration.event_id))


# A delegate's credential: the same shape with a D, under its own salt, so neither code works as the other.
DELEGATE_SALT = "events.delegate-credential"
DELEGATE_PATTERN = re.compile(r"^D([0-9]{1,12})-([A-Z2-7]{16})$")


def _delegate_mac(delegate_id: int, event_id: int) -> str:
    digest = salted_hmac(DELEGATE_SALT, f"{event_id}:{delegate_id}", algorithm="sha256").digest()
    return base64.b32encode(digest[:10]).decode("ascii")


def is_delegate_code(code: str) -> bool:
    return re.sub(r"\s+", "", code or "").upper().startswith("D")


def delegate_code(delegate) -> str:
    return f"D{delegate.pk}-{_delegate_mac(delegate.pk, delegate.event_id)}"


def delegate_id_from_code(code: str) -> int:
    match = DELEGATE_PATTERN.match(re.sub(r"\s+", "", code or "").upper())
    if not match:
        raise BadToken
    return int(match.group(1))


def verify_delegate_code(code: str, delegate) -> bool:
    match = DELEGATE_PATTERN.match(re.sub(r"\s+", "", code or "").upper())
    if not match or int(match.group(1)) != delegate.pk:
        return False
    return constant_time_compare(match.group(2), _delegate_mac(delegate.pk, delegate.event_id))


def calendar_token(member) -> str:
    return signing.Signer(salt=CALENDAR_SALT).sign(str(member.pk))


def member_id_from_calendar_token(token: str) -> int:
    try:
        return int(signing.Signer(salt=CALENDAR_SALT).unsign(token))
    except (signing.BadSignature, ValueError) as error:
        raise BadToken from error


def qr_svg(text: str) -> str:
    """A code as a QR code in inline SVG (segno writes it; no native libraries)."""
    return segno.make(text, error="m").svg_inline(scale=6, border=2, dark="#000", light="#fff", omitsize=True)


# A certificate's verification code: the certification's number and an HMAC of (member, course, number)
# under its own salt, printed on the certificate so anyone can check it at /certificates/check/. The number
# alone proves nothing: without the site secret the 80-bit MAC cannot be made, so codes cannot be guessed.
CERTIFICATE_SALT = "events.certificate"
CERTIFICATE_PATTERN = re.compile(r"^C([0-9]{1,12})-([A-Z2-7]{16})$")


def _certificate_mac(certification_id: int, member_id: int, course_id: int) -> str:
    message = f"{member_id}:{course_id}:{certification_id}"
    digest = salted_hmac(CERTIFICATE_SALT, message, algorithm="sha256").digest()
    return base64.b32encode(digest[:10]).decode("ascii")


def certificate_code(certification) -> str:
    mac = _certificate_mac(certification.pk, certification.member_id, certification.course_id)
    return f"C{certification.pk}-{mac}"


def certification_id_from_code(code: str) -> int:
    """The certification a code claims to be for; its MAC is checked by verify_certificate_code. Spaces and
    case are forgiven (codes are typed from paper). Raises BadToken for anything not shaped like a code."""
    match = CERTIFICATE_PATTERN.match(re.sub(r"\s+", "", code or "").upper())
    if not match:
        raise BadToken
    return int(match.group(1))


def verify_certificate_code(code: str, certification) -> bool:
    match = CERTIFICATE_PATTERN.match(re.sub(r"\s+", "", code or "").upper())
    if not match or int(match.group(1)) != certification.pk:
        return False
    expected = _certificate_mac(certification.pk, certification.member_id, certification.course_id)
    return constant_time_compare(match.group(2), expected)
