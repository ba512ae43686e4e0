"""Data protection workflows: the subject access export (audited), erasure by pseudonymisation, and a
member's request to close their membership.

Erasure replaces a member's personal data with placeholders and deletes what only describes them, but keeps
every row that a count, a snapshot, a turnout figure or an election result is made of: the member row stays
(status, branch, workplace, category, dates), so do their positions, payments, registrations, roll entries
and nominations, each now pointing at "Erased member". What stays and why is in docs/dpia.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, ClosureRequest, Member, User
from crm.models.messages import CONFIDENTIAL_REMOVED
from crm.permissions import can_erase_members, can_export_subject_access, can_manage_member
from crm.selectors.privacy import erasure_refusals, messages_to, subject_access_export
from crm.services import record_audit, update_member

ERASED = "[erased]"
ERASED_FIRST_NAME = "Erased"
ERASED_LAST_NAME = "member"


@transaction.atomic
def export_subject_access(*, actor: User, member: Member, shown_as: str = "download") -> dict[str, Any]:
    """The member's subject access export, for the member themselves or a national admin. The audit trail
    records who took it, and, as for every read of equalities answers, the equalities read log too (when
    there are answers in it). Raises NotPermitted for anyone else."""
    from crm.models import EqualitiesAccess, EqualitiesAnswers

    own = actor.is_authenticated and actor.is_active and actor.member_id == member.pk
    if not (own or can_export_subject_access(actor)):
        raise NotPermitted("Only the member themselves or a national admin can see this.")
    record_audit(
        actor=actor,
        action=AuditEntry.Action.EXPORT,
        target=member,
        summary=f"Subject access export ({shown_as}) taken by " + ("the member" if own else "a national admin"),
    )
    if EqualitiesAnswers.objects.filter(member=member).exists():
        EqualitiesAccess.objects.create(
            reader=actor, reader_name=actor.get_username(), member=member, via=EqualitiesAccess.Via.PAGE
        )
    return subject_access_export(member)


def _scrub(value: Any, olds: list[str]) -> Any:
    """The value with every old personal string in it replaced by ERASED (in JSON structures too)."""
    if isinstance(value, str):
        for old in olds:
            if old and old.lower() in value.lower():
                index = value.lower().find(old.lower())
                while index != -1:
                    value = value[:index] + ERASED + value[index + len(old) :]
                    index = value.lower().find(old.lower(), index + len(ERASED))
        return value
    if isinstance(value, list):
        return [_scrub(item, olds) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, olds) for key, item in value.items()}
    return value


def _personal_strings(member: Member, user: User | None) -> list[str]:
    """What to look for in free text and logs: longest first, so a full name goes before its parts. Parts
    shorter than three letters are left out: "Al" would be found in too many words that are not about them."""
    values = {
        member.full_name,
        member.first_name,
        member.last_name,
        member.email,
        member.mobile,
        member.address_line1,
        member.address_line2,
        member.postcode,
        member.membership_number,
    }
    if user is not None:
        values |= {user.username, user.email, user.get_full_name()}
    return sorted((v.strip() for v in values if v and len(v.strip()) >= 3), key=len, reverse=True)


def _scrub_rows(queryset, fields: Iterable[str], olds: list[str]) -> int:
    changed = 0
    for row in queryset:
        updates = {field: _scrub(getattr(row, field), olds) for field in fields}
        if any(updates[field] != getattr(row, field) for field in fields):
            type(row).objects.filter(pk=row.pk).update(**updates)
            changed += 1
    return changed


@transaction.atomic
def erase_member(*, actor: User | None, member: Member, reason: str) -> dict[str, int]:
    """Replace a member's personal data with placeholders, keeping every count and result.

    `actor` is a national admin, or None for the retention task. Raises NotPermitted for anyone else, and
    ServiceError naming what to do first when erasure would break something still running (see
    crm.selectors.privacy.erasure_refusals). Audited without the old values. Returns what was changed.
    """
    from crm.models import (
        Assessment,
        ConsentRecord,
        Conversation,
        DuesAccount,
        EqualitiesAccess,
        EqualitiesAnswers,
        ImportJob,
        ImportRow,
        InboundText,
        Message,
        MessageAttachment,
        SecurityEvent,
        SignInCode,
        StripeEvent,
        WorkplaceChange,
    )
    from elections.models import CandidatePhoto, RollEntry
    from events.models import CallQuestion, Registration

    if actor is not None and not can_erase_members(actor):
        raise NotPermitted("Only a national admin can erase a member's personal data.")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why the member's data is being erased.", field="reason")
    if len(reason) > 200:
        raise ServiceError("Keep the reason under 200 characters.", field="reason")
    member = Member.objects.select_for_update().get(pk=member.pk)
    refusals = erasure_refusals(member)
    if refusals:
        raise ServiceError(" ".join(refusals))
    user = User.objects.select_for_update().filter(member=member).first()
    olds = _personal_strings(member, user)
    old_username = user.get_username() if user else ""
    addresses = [a for a in {member.email, member.mobile, user.email if user else ""} if a]
    done: dict[str, int] = {}

    # The member record: placeholders for who they are, nothing kept of how to reach them.
    old_full_name = member.full_name
    member.first_name, member.last_name = ERASED_FIRST_NAME, ERASED_LAST_NAME
    member.membership_number = f"ERASED-{member.pk}"
    for field in ("email", "mobile", "address_line1", "address_line2", "town", "postcode", "notes"):
        setattr(member, field, "")
    member.email_consent = member.sms_consent = False
    member.email_consent_source = member.sms_consent_source = ""
    member.email_consent_at = member.sms_consent_at = None
    member.erased_at = timezone.now()
    member.save()
    member.tags.clear()

    # Their account: closed, renamed, its second factors and API token gone.
    if user is not None:
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from rest_framework.authtoken.models import Token

        user.username = f"erased-{user.pk}"
        user.email = user.first_name = user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        Token.objects.filter(user=user).delete()
        SecurityEvent.objects.filter(user=user).update(username=user.username, ip_address=None)
        SecurityEvent.objects.filter(actor=user).update(actor_name=user.username)
        AuditEntry.objects.filter(actor=user).update(actor_name=user.username)
        EqualitiesAccess.objects.filter(reader=user).update(reader_name=user.username)
        # Sign-in attempts are kept by the name typed; the account's old name is no longer anyone's.
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        for model in (AccessAttempt, AccessLog, AccessFailureLog):
            model.objects.filter(username__iexact=old_username).delete()

    done["equalities_answers"] = EqualitiesAnswers.objects.filter(member=member).delete()[0]
    done["conversations"] = Conversation.objects.filter(member=member).exclude(notes="").update(notes="")
    done["assessments"] = Assessment.objects.filter(member=member).exclude(notes="").update(notes="")

    # Messages to them (by link or by address): bodies and addresses go; that a message was sent stays.
    messages = messages_to(member, addresses)
    # Cancelled first: a message sent by address alone is found by its address, which the next steps blank.
    messages.filter(status=Message.Status.QUEUED).update(
        status=Message.Status.CANCELLED, reason="Not sent: the member's personal data was erased."
    )
    MessageAttachment.objects.filter(message__in=messages).delete()
    messages.filter(confidential=True).update(
        to="", subject="", body=CONFIDENTIAL_REMOVED, html_body=CONFIDENTIAL_REMOVED
    )
    done["messages"] = messages.filter(confidential=False).update(to="", subject="", body="", html_body="")
    done["texts_received"] = InboundText.objects.filter(
        Q(member=member) | Q(member__isnull=True, from_number__in=addresses)
    ).update(from_number="", body="")

    done["registrations"] = Registration.objects.filter(member=member).update(
        access_needs="", dietary_needs="", needs_childcare=False
    )
    done["call_questions"] = CallQuestion.objects.filter(member=member).update(text="")
    RollEntry.objects.filter(member=member, is_late_addition=True).update(late_reason=ERASED)

    # Imports: the report's line keeps its outcome, not who it was; a finished upload's file is no longer
    # needed by anyone, and it has their name in it.
    rows = ImportRow.objects.filter(member=member)
    ImportJob.objects.filter(pk__in=rows.values("job_id"), status__in=["done", "failed", "checked", "uploaded"]).update(
        content=b"", checked_mobiles=b"", checked_rows=b""
    )
    done["import_rows"] = rows.update(name="", membership_number="", problems=[])

    # Dues: payments stay (the union's accounts); what Stripe sent about them goes. The Stripe customer id
    # stays, so payments can still be matched to Stripe's own records, which Stripe keeps for its own duties.
    done["stripe_events"] = StripeEvent.objects.filter(member=member).update(payload={}, note="")
    DuesAccount.objects.filter(member=member).update(checkout_session_id="")

    ClosureRequest.objects.filter(member=member).update(reason="")
    # Sign-in codes hold a digest of the address typed; consent records are moot once the contact details
    # are gone; a photo is the person. Workplace moves keep only which workplace, which counts may need.
    done["sign_in_codes"] = SignInCode.objects.filter(member=member).delete()[0]
    done["consent_records"] = ConsentRecord.objects.filter(member=member).delete()[0]
    done["candidate_photos"] = CandidatePhoto.objects.filter(candidate__member=member).delete()[0]
    WorkplaceChange.objects.filter(member=member).update(note="")
    _scrub_rows(ClosureRequest.objects.filter(member=member), ["handled_note"], olds)

    # The audit trail is kept (who did what, when) but not the old values: rows about them, and rows about
    # others that name them (a nomination they made).
    about = AuditEntry.objects.filter(
        Q(member=member)
        | Q(target_type="crm.member", target_id=member.pk)
        | Q(summary__icontains=old_full_name)
        | Q(target_type="crm.equalitiesanswers", target_id=member.pk)
    )
    done["audit_rows_scrubbed"] = _scrub_rows(about, ["summary", "changes"], olds)
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)).update(
        object_repr=ERASED
    )
    _scrub_rows(LogEntry.objects.filter(change_message__icontains=old_full_name), ["change_message"], olds)

    record_audit(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        target=member,
        summary=f"Personal data erased (pseudonymised): {reason}"[:255],
        changes={"erased": [None, sorted(kind for kind, n in done.items() if n) + ["details", "account"]]},
    )
    return done


@transaction.atomic
def request_membership_closure(*, user: User, reason: str) -> tuple[ClosureRequest, bool]:
    """A signed-in member asks to close their membership. Changes nothing else: an organiser acts on it.
    Returns (request, created); asking again while one is open returns the open one. Audited."""
    if not (user.is_authenticated and user.is_active and user.member_id):
        raise NotPermitted("Only a signed-in member can ask to close their membership.")
    reason = (reason or "").strip()
    if len(reason) > 1000:
        raise ServiceError("Keep the reason under 1,000 characters.", field="reason")
    member = Member.objects.select_for_update().get(pk=user.member_id)
    existing = ClosureRequest.objects.filter(member=member, status=ClosureRequest.Status.OPEN).first()
    if existing is not None:
        return existing, False
    request = ClosureRequest.objects.create(member=member, requested_by=user, reason=reason)
    record_audit(
        actor=user, action=AuditEntry.Action.CREATE, target=request, member=member, summary="Asked to close membership"
    )
    return request, True


@transaction.atomic
def resolve_closure_request(*, actor: User, request: ClosureRequest, close: bool, note: str = "") -> ClosureRequest:
    """An organiser acts on an open request: close the membership (status resigned, through update_member,
    which checks their scope and audits the change) or record why not. Raises NotPermitted outside the
    actor's scope, ServiceError if it was already dealt with."""
    request = ClosureRequest.objects.select_for_update().select_related("member__branch").get(pk=request.pk)
    if not can_manage_member(actor, request.member):
        raise NotPermitted("You cannot act on this member's request.")
    if request.status != ClosureRequest.Status.OPEN:
        raise ServiceError("This request has already been dealt with.")
    note = (note or "").strip()
    if len(note) > 500:
        raise ServiceError("Keep the note under 500 characters.", field="note")
    if not close and not note:
        raise ServiceError("Say why the membership is not being closed.", field="note")
    if close and request.member.status not in (Member.Status.RESIGNED, Member.Status.DECEASED):
        update_member(actor=actor, member=request.member, details={"status": Member.Status.RESIGNED})
    request.status = ClosureRequest.Status.CLOSED if close else ClosureRequest.Status.RESOLVED
    request.handled_at, request.handled_by, request.handled_note = timezone.now(), actor, note
    request.save()
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=request,
        member=request.member,
        summary="Closed membership on request" if close else "Request to close membership resolved without closing",
    )
    return request
