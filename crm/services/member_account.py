"""A member's own account, as the member portal changes it: signing in with a one-time code or link, their
contact details, a workplace move (waiting for an organiser), campaign consent, and the organiser's decision.

Sign-in by code, what it guarantees:
- The same answer whether or not the address is a member's: a request row is written either way (with no
  member, and nothing sent, for an unknown address), so the rate limits and the page cannot tell them apart.
- Codes and links are kept only as HMAC digests; a code works once, for SIGN_IN_CODE_MINUTES, and dies after
  SignInCode.MAX_WRONG_TRIES wrong tries; asking for a new code retires the address's older ones.
- Requests are limited per address and per client address (counted in the database, so every web process
  shares the count).
- Staff accounts (reps, organisers, admins, scrutineers) never sign in by code: they keep password and
  second factor. A member with no account gets one (a member role, no usable password) on their first
  successful code sign-in.
"""

from __future__ import annotations

import datetime
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace, Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, Message, SecurityEvent, SmsOptOut, User, Workplace
from crm.models.member_account import ConsentRecord, SignInCode, WorkplaceChange
from crm.permissions import can_manage_member, is_staff_account
from crm.phones import normalise_mobile
from crm.services import _audit_value, _clean_details, _stamp_consent, record_audit, update_member
from crm.services.accounts import _valid_ip, record_security_event
from crm.services.messages import queue_message

SIGN_IN_CODE_MINUTES = 15
# Requests for a code in the last hour: per address typed, and per client address (a school's or an office's
# network is shared by many members, so that limit is higher).
MAX_CODES_PER_ADDRESS_PER_HOUR = 5
MAX_CODES_PER_IP_PER_HOUR = 30
MAX_ADDRESS_LENGTH = 254

_SALT = "crm.member_account.sign-in"

# The wording a member agrees to for campaign messages; a new wording gets a new version.
CAMPAIGN_CONSENT_VERSION = "2026-1"
CAMPAIGN_CONSENT_WORDING = {
    Message.Channel.EMAIL: (
        "Send me the union's campaign emails: news, campaigns, calls to action and invitations to events. "
        "I can stop them at any time here or with the link in every email."
    ),
    Message.Channel.SMS: (
        "Send me the union's campaign texts: urgent campaign news and reminders. "
        "I can stop them at any time here, or by replying STOP."
    ),
}

# The details a member keeps themselves. Name, category, status and branch are not here: they decide
# subscriptions and ballots, so the branch changes them; the workplace moves only with an organiser.
OWN_DETAIL_FIELDS = ("email", "mobile", "address_line1", "address_line2", "town", "postcode")


class TooManyRequests(ServiceError):
    """Over a rate limit: try again later."""


# --- Sign-in by code ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    channel: str  # Message.Channel
    value: str  # lower-cased email, or an E.164 number


def read_address(raw: str) -> Address:
    """An email address or a mobile number, as typed; ServiceError for anything else."""
    raw = (raw or "").strip()
    if not raw or len(raw) > MAX_ADDRESS_LENGTH:
        raise ServiceError("Enter your email address or mobile number.", field="address")
    if "@" in raw:
        try:
            validate_email(raw)
        except ValidationError as error:
            raise ServiceError("Enter a valid email address, like name@example.org.", field="address") from error
        return Address(Message.Channel.EMAIL, raw.lower())
    try:
        return Address(Message.Channel.SMS, normalise_mobile(raw))
    except ValidationError as error:
        raise ServiceError("Enter a valid email address or UK mobile number.", field="address") from error


def _digest(kind: str, value: str) -> str:
    return salted_hmac(f"{_SALT}:{kind}", value, algorithm="sha256").hexdigest()


def _member_for(address: Address) -> Member | None:
    """The one member with this address (deceased members aside); None when none or several have it, as a
    code sent to a shared address could sign in the wrong member."""
    members = Member.objects.exclude(status=Member.Status.DECEASED)
    if address.channel == Message.Channel.EMAIL:
        members = members.filter(email__iexact=address.value)
    else:
        members = members.filter(mobile=address.value)
    found = list(members.select_related("user")[:2])
    return found[0] if len(found) == 1 else None


def _user_of(member: Member) -> User | None:
    try:
        return member.user
    except User.DoesNotExist:
        return None


def _refusal(member: Member | None) -> str:
    """Why a code must not be sent to this member ('' if it may)."""
    if member is None:
        return "unknown or shared address"
    user = _user_of(member)
    if user is not None and is_staff_account(user):
        return "staff account (password and second factor only)"
    if user is not None and not user.is_active:
        return "account disabled"
    return ""


def request_sign_in_code(*, address: str, ip_address: str | None) -> SignInCode:
    """Ask for a sign-in code for `address`. Returns the request row (whose id the page keeps in the session)
    whether or not anything was sent. Raises ServiceError for an address that is neither an email nor a
    mobile number, TooManyRequests over a limit. Sends through the message pipeline, as a confidential
    service message (the body is wiped once sent)."""
    found = read_address(address)
    ip_address = _valid_ip(ip_address)
    address_digest = _digest("address", f"{found.channel}:{found.value}")
    now = timezone.now()
    hour_ago = now - datetime.timedelta(hours=1)
    recent = SignInCode.objects.filter(created_at__gte=hour_ago)
    if recent.filter(address_digest=address_digest).count() >= MAX_CODES_PER_ADDRESS_PER_HOUR or (
        ip_address and recent.filter(ip_address=ip_address).count() >= MAX_CODES_PER_IP_PER_HOUR
    ):
        record_security_event(kind=SecurityEvent.Kind.SIGN_IN_FAILED, summary="Code sign-in: too many requests")
        raise TooManyRequests("Too many codes asked for. Wait an hour, then try again.", field="address")
    member = _member_for(found)
    refusal = _refusal(member)
    code = f"{secrets.randbelow(10**6):06d}"
    link_token = secrets.token_urlsafe(32)
    with transaction.atomic():
        SignInCode.objects.filter(address_digest=address_digest, closed_at__isnull=True).update(
            closed_at=now, closed_reason=SignInCode.Closed.REPLACED
        )
        row = SignInCode.objects.create(
            member=None if refusal else member,
            address_digest=address_digest,
            ip_address=ip_address,
            code_digest=_digest("code", f"{address_digest}:{code}"),
            link_digest=_digest("link", link_token),
            created_at=now,
            expires_at=now + datetime.timedelta(minutes=SIGN_IN_CODE_MINUTES),
        )
        if refusal:
            if member is not None:  # a known member who may not use codes: on their account's log
                record_security_event(
                    kind=SecurityEvent.Kind.SIGN_IN_FAILED,
                    user=_user_of(member),
                    summary=f"Code sign-in refused: {refusal}",
                )
            return row
        link = settings.QUORUM_SITE_URL.rstrip("/") + reverse("portal:sign_in_link", args=[link_token])
        body = (
            f"Your Quorum sign-in code is {code}\n\nOr sign in with this link:\n{link}\n\n"
            f"The code and the link work once, for {SIGN_IN_CODE_MINUTES} minutes. "
            "If you did not ask to sign in, ignore this message."
        )
        if found.channel == Message.Channel.SMS:
            body = f"Your Quorum sign-in code is {code}. Or sign in: {link} (works once, {SIGN_IN_CODE_MINUTES} min)"
        queue_message(
            member=member,
            channel=found.channel,
            basis=Message.Basis.SERVICE,
            key=f"sign-in:{row.pk}",
            subject="Your Quorum sign-in code",
            body=body,
            confidential=True,
        )
    return row


def _member_user(member: Member) -> tuple[User, bool]:
    """The member's own account, made on their first sign-in by code (member role, no usable password)."""
    user = _user_of(member)
    if user is not None:
        return user, False
    base = f"member-{member.membership_number}".lower()[:140]
    username, n = base, 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{base}-{n}"
    user = User(username=username, role=User.Role.MEMBER, member=member, email=member.email)
    user.set_unusable_password()
    user.save()
    return user, True


def _finish_sign_in(row: SignInCode, now: datetime.datetime) -> User:
    """Close the row as used and return the member's account (made if they had none). Inside a transaction
    holding the row's lock."""
    member = row.member
    refusal = _refusal(member)
    row.closed_at, row.closed_reason = now, SignInCode.Closed.USED
    row.save(update_fields=["closed_at", "closed_reason"])
    if refusal:  # became staff, or was disabled, since the code was sent
        raise ServiceError("That code has expired or been used. Ask for a new one.", field="code")
    user, created = _member_user(member)
    if created:
        record_audit(
            actor=user,
            action=AuditEntry.Action.CREATE,
            target=user,
            member=member,
            summary="Member account made at first sign-in by code",
        )
    return user


SIGN_IN_FAILED = "That code is not right, or has expired. Check it, or ask for a new one."


def sign_in_with_code(*, code_id: int | None, code: str, ip_address: str | None = None) -> User:
    """The member's account if `code` is the open code of request `code_id`; ServiceError otherwise. A wrong
    code counts against the request (committed even though this raises); the last allowed wrong try closes it."""
    code = "".join((code or "").split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise ServiceError("Enter the 6-digit code from the message.", field="code")
    if not code_id:
        raise ServiceError(SIGN_IN_FAILED, field="code")
    now = timezone.now()
    with transaction.atomic():
        row = SignInCode.objects.select_for_update(of=("self",)).select_related("member").filter(pk=code_id).first()
        if row is None or not row.is_open(now):
            raise ServiceError(SIGN_IN_FAILED, field="code")
        expected = _digest("code", f"{row.address_digest}:{code}")
        if row.member is not None and hmac.compare_digest(expected, row.code_digest):
            return _finish_sign_in(row, now)
        row.wrong_tries += 1
        if row.wrong_tries >= SignInCode.MAX_WRONG_TRIES:
            row.closed_at, row.closed_reason = now, SignInCode.Closed.TOO_MANY_TRIES
        row.save(update_fields=["wrong_tries", "closed_at", "closed_reason"])
        record_security_event(
            kind=SecurityEvent.Kind.SIGN_IN_FAILED,
            user=_user_of(row.member) if row.member else None,
            summary="Code sign-in: wrong code" + (" (code closed)" if row.closed_at else ""),
        )
    raise ServiceError(SIGN_IN_FAILED, field="code")


def sign_in_with_link(*, token: str) -> User:
    """The member's account for an open link token; ServiceError otherwise (expired, used, unknown)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 64:
        raise ServiceError("This sign-in link does not work. Ask for a new code.")
    now = timezone.now()
    with transaction.atomic():
        row = (
            SignInCode.objects.select_for_update(of=("self",))
            .select_related("member")
            .filter(link_digest=_digest("link", token))
            .first()
        )
        if row is None or row.member is None or not row.is_open(now):
            raise ServiceError("This sign-in link has expired or been used. Ask for a new code.")
        return _finish_sign_in(row, now)


# --- My details ---------------------------------------------------------------------------------------------


def _own_member(user: User) -> Member:
    if not (user.is_authenticated and user.is_active and user.member_id):
        raise NotPermitted("Only a signed-in member can change their own record.")
    return Member.objects.select_for_update().get(pk=user.member_id)


@transaction.atomic
def update_own_details(*, user: User, details: dict[str, Any]) -> Member:
    """A member changes their own contact details and address (OWN_DETAIL_FIELDS only; any other field is
    refused, so a forged form cannot set a status or a membership number). Each change is audited."""
    unknown = set(details) - set(OWN_DETAIL_FIELDS)
    if unknown:
        raise ServiceError(f"These fields cannot be changed here: {', '.join(sorted(map(str, unknown)))[:200]}.")
    member = _own_member(user)
    cleaned = _clean_details(dict(details), member)
    cleaned.pop("branch", None)  # _clean_details may derive it; the member's branch is not theirs to set
    others = Member.objects.exclude(pk=member.pk).exclude(status=Member.Status.DECEASED)
    # One address, one member: a shared address could not be used to sign in by code.
    new_email = cleaned.get("email") and cleaned["email"].lower() != member.email.lower()
    if new_email and others.filter(email__iexact=cleaned["email"]).exists():
        raise ServiceError("We cannot use that email address for you: contact your branch.", field="email")
    new_mobile = cleaned.get("mobile") and cleaned["mobile"] != member.mobile
    if new_mobile and others.filter(mobile=cleaned["mobile"]).exists():
        raise ServiceError("We cannot use that mobile number for you: contact your branch.", field="mobile")
    changes: dict[str, list] = {}
    for field, value in cleaned.items():
        value = (value or "").strip() if isinstance(value, str) else value
        if getattr(member, field) != value:
            changes[field] = [_audit_value(getattr(member, field)), _audit_value(value)]
            setattr(member, field, value)
    if not changes:
        return member
    if "mobile" in changes and not member.mobile and member.sms_consent:
        # No number, no texts: consent ends with the number (the database insists on it too).
        member.sms_consent = False
        changes["sms_consent"] = [True, False]
        _stamp_consent(member, {"sms_consent"}, Member.ConsentSource.MEMBER_PORTAL)
    member.save()
    record_audit(
        actor=user,
        action=AuditEntry.Action.UPDATE,
        target=member,
        summary="Member changed " + ", ".join(sorted(changes)),
        changes=changes,
    )
    return member


# --- Workplace moves ----------------------------------------------------------------------------------------


def workplaces_matching(query: str) -> QuerySet[Workplace]:
    """Workplaces whose name contains `query`, or whose postcode starts with it (spaces and case ignored).
    Schools and colleges are public, so a member searches them all. Empty for a query under 2 or over 100
    characters. Not cut to a page: a page shows the first few, and a choice may be any match."""
    query = " ".join((query or "").split())
    if not 2 <= len(query) <= 100:
        return Workplace.objects.none()
    postcode = query.replace(" ", "").upper()
    compact = Replace(Upper("postcode"), Value(" "), Value(""))
    return (
        Workplace.objects.annotate(compact_postcode=compact)
        .filter(Q(name__icontains=query) | Q(compact_postcode__startswith=postcode))
        .select_related("branch", "employer")
        .order_by("name", "pk")
    )


@transaction.atomic
def request_workplace_change(*, user: User, workplace: Workplace) -> WorkplaceChange:
    """Ask to move to `workplace`. Nothing changes on the member until an organiser confirms; a request
    already waiting is replaced (withdrawn) by this one."""
    member = _own_member(user)
    if workplace.pk == member.workplace_id:
        raise ServiceError("That is already your workplace.", field="workplace")
    now = timezone.now()
    WorkplaceChange.objects.filter(member=member, status=WorkplaceChange.Status.PENDING).update(
        status=WorkplaceChange.Status.WITHDRAWN, decided_at=now
    )
    change = WorkplaceChange.objects.create(
        member=member, from_workplace=member.workplace, to_workplace=workplace, requested_at=now
    )
    record_audit(
        actor=user,
        action=AuditEntry.Action.CREATE,
        target=change,
        member=member,
        summary=f"Member asked to move to {workplace}",
        changes={"workplace": [_audit_value(member.workplace), _audit_value(workplace)]},
    )
    return change


@transaction.atomic
def withdraw_workplace_change(*, user: User) -> bool:
    """Withdraw the member's waiting request. Returns whether there was one."""
    member = _own_member(user)
    change = WorkplaceChange.objects.select_for_update().filter(member=member, status="pending").first()
    if change is None:
        return False
    change.status, change.decided_at = WorkplaceChange.Status.WITHDRAWN, timezone.now()
    change.save(update_fields=["status", "decided_at"])
    record_audit(actor=user, action=AuditEntry.Action.UPDATE, target=change, member=member, summary="Withdrew move")
    return True


def pending_workplace_changes_for(user: User) -> QuerySet[WorkplaceChange]:
    """Waiting requests of members the user may change (national admins: all; organisers: their patch)."""
    from crm.selectors import members_visible_to

    if not (user.is_authenticated and (user.is_national or user.role == User.Role.ORGANISER)):
        return WorkplaceChange.objects.none()
    return (
        WorkplaceChange.objects.filter(status=WorkplaceChange.Status.PENDING, member__in=members_visible_to(user))
        .select_related("member", "from_workplace__branch", "to_workplace__branch")
        .order_by("requested_at", "pk")
    )


@transaction.atomic
def decide_workplace_change(*, actor: User, change_id: int, confirm: bool, note: str = "") -> WorkplaceChange:
    """Confirm (the member moves, through update_member, so the branch follows the workplace and the move is
    audited) or reject a waiting request. Raises NotPermitted for a request outside the actor's patch (or
    none), ServiceError if it was already decided or the new workplace is outside the actor's patch."""
    change = (
        pending_workplace_changes_for(actor).select_for_update(of=("self",)).filter(pk=change_id).first()
        if isinstance(change_id, int)
        else None
    )
    if change is None or not can_manage_member(actor, change.member):
        raise NotPermitted("No such request.")
    note = (note or "").strip()
    if len(note) > 300:
        raise ServiceError("Keep the note under 300 characters.", field="note")
    if confirm:
        try:
            update_member(actor=actor, member=change.member, details={"workplace": change.to_workplace})
        except NotPermitted as error:  # the member is in the patch, the new workplace's branch is not
            raise ServiceError(
                f"{change.to_workplace} is outside your patch: a national admin confirms this move.", field=None
            ) from error
    change.status = WorkplaceChange.Status.CONFIRMED if confirm else WorkplaceChange.Status.REJECTED
    change.decided_at, change.decided_by, change.note = timezone.now(), actor, note
    change.save(update_fields=["status", "decided_at", "decided_by", "note"])
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=change,
        member=change.member,
        summary=("Confirmed" if confirm else "Did not confirm") + f" the move to {change.to_workplace}",
    )
    return change


# --- Preferences --------------------------------------------------------------------------------------------


def number_is_opted_out(member: Member) -> bool:
    return bool(member.mobile) and SmsOptOut.objects.filter(number=member.mobile).exists()


def latest_consent_records(member: Member) -> dict[str, ConsentRecord | None]:
    return {
        channel: ConsentRecord.objects.filter(member=member, channel=channel).order_by("-at", "-pk").first()
        for channel in CAMPAIGN_CONSENT_WORDING
    }


@transaction.atomic
def set_own_preferences(*, user: User, email_consent: bool, sms_consent: bool) -> Member:
    """A member gives or withdraws consent to campaign emails and texts. Each change records the wording
    shown and its version (ConsentRecord), stamps the member's consent source and time, and is audited.
    Consenting to texts takes the member's own number off the no-texts list (STOP), as they asked for them."""
    if not isinstance(email_consent, bool) or not isinstance(sms_consent, bool):
        raise ServiceError("Answer yes or no.")
    member = _own_member(user)
    if sms_consent and not member.mobile:
        raise ServiceError("Add a mobile number in My details before choosing texts.", field="sms_consent")
    wanted = {Message.Channel.EMAIL: email_consent, Message.Channel.SMS: sms_consent}
    changed = {f"{ch}_consent" for ch, given in wanted.items() if getattr(member, f"{ch}_consent") != given}
    opted_out = sms_consent and number_is_opted_out(member)
    if not changed and not opted_out:
        return member
    changes = {name: [getattr(member, name), not getattr(member, name)] for name in sorted(changed)}
    for name in changed:
        setattr(member, name, not getattr(member, name))
    _stamp_consent(member, changed, Member.ConsentSource.MEMBER_PORTAL)
    member.save()
    now = member.email_consent_at if "email_consent" in changed else member.sms_consent_at
    for channel, given in wanted.items():
        if f"{channel}_consent" in changed:
            ConsentRecord.objects.create(
                member=member,
                channel=channel,
                is_given=given,
                wording_version=CAMPAIGN_CONSENT_VERSION,
                wording=CAMPAIGN_CONSENT_WORDING[channel],
                source=Member.ConsentSource.MEMBER_PORTAL,
                at=now or timezone.now(),
            )
    if opted_out:
        SmsOptOut.objects.filter(number=member.mobile).delete()
        changes["no_texts_list"] = [True, False]
    record_audit(
        actor=user,
        action=AuditEntry.Action.UPDATE,
        target=member,
        summary="Member changed their message preferences",
        changes=changes,
    )
    return member
