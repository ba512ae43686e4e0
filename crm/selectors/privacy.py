"""Data protection reads: the subject access export of one member, and what stands in the way of erasing one.

`subject_access_export(member)` returns everything Quorum holds on a member as a JSON-able dict, one
section per kind of record. Which model lands in which section is written out in EXPORT_COVERAGE, and every
model that refers to a member or a user but is left out is named in NOT_EXPORTED with the reason:
tests/crm/test_privacy_export.py walks every installed model and fails when a new one is in neither.

Ballots are never in it: a ballot holds no link to a member, roll entry or credential (DESIGN.md rule 3),
so nobody, the member included, can find which ballot was theirs. The export says so.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from typing import Any

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from crm.models import AuditEntry, Member, User

EXPORT_FORMAT = "quorum-subject-access/1"

BALLOT_STATEMENT = (
    "Ballots are not included and cannot be: a ballot is stored with no link to the member, their roll "
    "entry or their voting credential, and with the day only, never the time. The voter roll records that "
    "you voted (listed under 'Voter rolls'), never how."
)

# Every model that refers to crm.Member or to the user model (directly, or through an automatically made
# many-to-many table), and the export section that holds its rows for a member.
EXPORT_COVERAGE: dict[str, str] = {
    "crm.Member": "member",
    "crm.Member_tags": "member",
    "crm.User": "account",
    "crm.User_regions": "account",
    "crm.User_branches": "account",
    "crm.User_groups": "account",
    "crm.User_user_permissions": "account",
    "otp_totp.TOTPDevice": "account",
    "otp_static.StaticDevice": "account",
    "authtoken.Token": "account",
    "crm.SecurityEvent": "security_log",
    "crm.Position": "positions",
    "crm.AuditEntry": "audit_trail",
    "crm.DuesAccount": "dues",
    "crm.DuesPayment": "dues",
    "crm.StripeEvent": "dues",
    "crm.ImportRow": "imports",
    "crm.Message": "messages",
    "crm.InboundText": "texts_received",
    "crm.Conversation": "conversations",
    "crm.Assessment": "assessments",
    "crm.EqualitiesAnswers": "equalities",
    "crm.EqualitiesAccess": "equalities",
    "crm.ClosureRequest": "closure_requests",
    "crm.ConsentRecord": "member",
    "crm.WorkplaceChange": "member",
    "crm.SignInCode": "security_log",
    "elections.CandidatePhoto": "elections",
    "events.Registration": "events",
    "events.CallQuestion": "events",
    "events.Delegate": "events",
    "events.Steward": "events",
    "events.Certification": "training",
    "elections.Candidate": "elections",
    "elections.Nomination": "elections",
    "elections.RollEntry": "voter_rolls",
    # Records a member's account made about others or the union's business (as a rep, organiser or steward):
    # the content is other people's data, so the export counts them and names what they are.
    "admin.LogEntry": "made_by_account",
    "crm.ImportSource": "made_by_account",
    "crm.ImportJob": "made_by_account",
    "crm.Segment": "made_by_account",
    "crm.Segment_shared_with": "made_by_account",
    "crm.Campaign": "made_by_account",
    "events.Event": "made_by_account",
    "events.DelegateRule": "made_by_account",
    "events.Motion": "made_by_account",
    "events.Amendment": "made_by_account",
    "elections.Count": "made_by_account",
    "elections.Recount": "made_by_account",
    "elections.Election": "made_by_account",
    "elections.VoterRoll": "made_by_account",
}

NOT_EXPORTED: dict[str, str] = {
    "authtoken.TokenProxy": "the same table as authtoken.Token (a proxy the admin uses), exported once there",
}

# Sections in the order the readable page shows them: key, heading, what the section is.
SECTIONS: list[tuple[str, str, str]] = [
    ("member", "Your membership record", "Your details, membership, consent to email and texts, and tags."),
    ("account", "Your sign-in account", "Your login, role and two-factor set-up (never secrets)."),
    ("security_log", "Sign-in log", "Sign-ins, failed attempts and changes to your account."),
    ("positions", "Positions", "Roles you hold or held: rep, officer."),
    ("dues", "Dues and payments", "How you pay, each payment or failed attempt, and what Stripe told us."),
    ("conversations", "Conversations", "Conversations organisers and reps logged with you, with their notes."),
    ("assessments", "Assessments", "Organisers' 1-5 ratings of your support, with their notes."),
    ("equalities", "Equalities answers", "Your own answers, and every time someone read them."),
    ("messages", "Messages sent to you", "Every email and text the union sent you or tried to send."),
    ("texts_received", "Texts you sent us", "Texts from your number that were not a keyword."),
    ("events", "Events", "Registrations, attendance, questions for member calls, delegacies, stewarding."),
    ("training", "Training record", "Courses you completed."),
    ("elections", "Elections: standing", "Candidacies and nominations (of you, and by you)."),
    ("voter_rolls", "Voter rolls", "Rolls you were on, and whether you voted: never how."),
    ("imports", "Imports", "Lines of uploaded files (employers' staff lists) that matched you."),
    ("closure_requests", "Requests to close your membership", "Requests you made, and what was done."),
    ("audit_trail", "History", "Changes to your record, and actions taken by your account."),
    ("made_by_account", "Records your account made", "How many records your account made about others."),
]


def _value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _row(obj: Model, *, exclude: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every concrete field of a row (a foreign key as its id and its name), less those excluded."""
    row: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude:
            continue
        if field.is_relation:
            related_id = getattr(obj, field.attname)
            row[field.name] = None if related_id is None else {"id": related_id, "name": str(getattr(obj, field.name))}
        else:
            value = getattr(obj, field.attname)
            row[field.name] = _value(value)
            if field.choices and value not in (None, ""):
                row[f"{field.name}_label"] = str(getattr(obj, f"get_{field.name}_display")())
    if extra:
        row.update(extra)
    return row


def _rows(queryset: QuerySet, **kwargs) -> list[dict[str, Any]]:
    return [_row(obj, **kwargs) for obj in queryset]


def _account(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.authtoken.models import Token

    return {
        **_row(user, exclude=("password", "member")),
        "regions": [str(region) for region in user.regions.all()],
        "branches": [str(branch) for branch in user.branches.all()],
        "groups": [str(group) for group in user.groups.all()],
        "permissions": sorted(f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.all()),
        # That a device or token exists, and when: its secret is never shown, not even to its owner.
        "authenticator_apps": [
            {"name": device.name, "confirmed": device.confirmed, "last_used_at": _value(device.last_used_at)}
            for device in TOTPDevice.objects.filter(user=user)
        ],
        "recovery_code_sets": [
            {"name": device.name, "codes_left": device.token_set.count()}
            for device in StaticDevice.objects.filter(user=user)
        ],
        "api_token_created_at": _value(Token.objects.filter(user=user).values_list("created", flat=True).first()),
    }


def _made_by_account(user: User | None) -> dict[str, int]:
    """How many records of each kind the account made about others (their content is others' data)."""
    if user is None:
        return {}
    from django.contrib.admin.models import LogEntry

    from crm.models import Campaign, ImportJob, ImportSource, Segment
    from elections.models import Count, Election, Recount, VoterRoll
    from events.models import Amendment, DelegateRule, Event, Motion

    counts = {
        "admin actions": LogEntry.objects.filter(user=user).count(),
        "import sources updated": ImportSource.objects.filter(updated_by=user).count(),
        "imports uploaded": ImportJob.objects.filter(created_by=user).count(),
        "segments owned": Segment.objects.filter(owner=user).count(),
        "segments shared with the account": Segment.shared_with.through.objects.filter(user=user).count(),
        "campaigns drafted": Campaign.objects.filter(created_by=user).count(),
        "events created": Event.objects.filter(created_by=user).count(),
        "delegate allocations made": DelegateRule.objects.filter(allocated_by=user).count(),
        "motions submitted": Motion.objects.filter(submitted_by=user).count(),
        "amendments submitted": Amendment.objects.filter(submitted_by=user).count(),
        "counts run or certified": Count.objects.filter(Q(counted_by=user) | Q(certified_by=user)).count(),
        "recounts run": Recount.objects.filter(recounted_by=user).count(),
        "elections created or certified": Election.objects.filter(
            Q(created_by=user) | Q(results_certified_by=user)
        ).count(),
        "voter rolls frozen": VoterRoll.objects.filter(frozen_by=user).count(),
        "conversations logged": user.conversations_logged.count(),
        "assessments made": user.assessments_made.count(),
    }
    return {kind: n for kind, n in counts.items() if n}


def _sign_in_attempts(user: User | None) -> dict[str, list[dict[str, Any]]]:
    """django-axes's records of sign-ins and failed sign-ins, kept by the name typed (no link to the account)."""
    if user is None:
        return {"sign_ins": [], "failed_sign_ins": []}
    from axes.models import AccessFailureLog, AccessLog

    name = Q(username__iexact=user.get_username())
    keep = ("id", "session_hash", "http_accept")
    return {
        "sign_ins": _rows(AccessLog.objects.filter(name).order_by("attempt_time"), exclude=keep),
        "failed_sign_ins": _rows(AccessFailureLog.objects.filter(name).order_by("attempt_time"), exclude=keep),
    }


def messages_to(member: Member, addresses: list[str]) -> QuerySet:
    """The messages sent to a member: those linked to them, and those sent to one of their addresses without
    naming a member (a test send). A message linked to someone else who shares the address (a couple, a
    school office) is that member's, not this one's: neither their access export nor their erasure touches it."""
    from crm.models import Message

    return Message.objects.filter(Q(member=member) | Q(member__isnull=True, to__in=[a for a in addresses if a]))


def _messages(member: Member) -> list[dict[str, Any]]:
    rows = []
    messages = messages_to(member, [member.email, member.mobile])
    for message in messages.prefetch_related("attachments").order_by("created_at", "id"):
        row = _row(message, exclude=("body", "html_body", "campaign", "claimed_at", "provider_id", "attempts"))
        # A confidential message carried a voting credential: never shown again, even to its recipient.
        row["body"] = message.shown_body
        row["attachments"] = [attachment.filename for attachment in message.attachments.all()]
        rows.append(row)
    return rows


def subject_access_export(member: Member) -> dict[str, Any]:
    """Everything held on one member, as a JSON-able dict with one key per section in SECTIONS (plus
    `about`). Reads only: the caller checks who may see it and records that they did."""
    from crm.models import (
        Assessment,
        ClosureRequest,
        ConsentRecord,
        Conversation,
        DuesAccount,
        DuesPayment,
        EqualitiesAccess,
        EqualitiesAnswers,
        ImportRow,
        InboundText,
        Position,
        SecurityEvent,
        SignInCode,
        StripeEvent,
        WorkplaceChange,
    )
    from elections.models import Candidate, CandidatePhoto, Nomination, RollEntry
    from events.models import CallQuestion, Certification, Delegate, Registration, Steward

    member = Member.objects.select_related("branch__region", "workplace", "employer").get(pk=member.pk)
    user = User.objects.filter(member=member).first()
    member_row = _row(member)
    member_row["tags"] = [tag.name for tag in member.tags.all()]
    member_row["is_in_good_standing"] = member.is_in_good_standing
    member_row["consent_records"] = _rows(ConsentRecord.objects.filter(member=member).order_by("at", "id"))
    member_row["workplace_moves_asked_for"] = _rows(
        WorkplaceChange.objects.filter(member=member).select_related("from_workplace", "to_workplace", "decided_by")
    )

    audit = AuditEntry.objects.filter(member=member)
    # Equalities rows are kept off the member's page history (member=None) but are about them all the same.
    audit = audit | AuditEntry.objects.filter(target_type="crm.equalitiesanswers", target_id=member.pk)
    actions = AuditEntry.objects.filter(actor=user).exclude(pk__in=audit.values("pk")) if user else []

    return {
        "about": {
            "format": EXPORT_FORMAT,
            "generated_at": timezone.now().isoformat(),
            "union": settings.QUORUM_UNION_NAME,
            "membership_number": member.membership_number,
            "ballots": BALLOT_STATEMENT,
            "sections": [{"key": key, "title": title, "about": about} for key, title, about in SECTIONS],
        },
        "member": member_row,
        "account": _account(user),
        "security_log": {
            "account_events": _rows(SecurityEvent.objects.filter(user=user)) if user else [],
            **_sign_in_attempts(user),
            # Codes sent to sign in: when and how each ended; the digests of code, link and address are secrets'
            # fingerprints, not information about the member.
            "sign_in_codes": _rows(
                SignInCode.objects.filter(member=member), exclude=("code_digest", "link_digest", "address_digest")
            ),
        },
        "positions": _rows(Position.objects.filter(member=member).select_related("workplace", "branch", "region")),
        "dues": {
            "account": [_row(account) for account in DuesAccount.objects.filter(member=member)],
            "payments": _rows(DuesPayment.objects.filter(member=member)),
            "stripe_events": _rows(StripeEvent.objects.filter(member=member)),
        },
        "conversations": _rows(Conversation.objects.filter(member=member).select_related("logged_by")),
        "assessments": _rows(Assessment.objects.filter(member=member).select_related("assessed_by")),
        "equalities": {
            "answers": [_row(row) for row in EqualitiesAnswers.objects.filter(member=member)],
            "reads": _rows(EqualitiesAccess.objects.filter(member=member)),
        },
        "messages": _messages(member),
        "texts_received": _rows(InboundText.objects.filter(member=member)),
        "events": {
            "registrations": _rows(Registration.objects.filter(member=member).select_related("event")),
            "call_questions": _rows(CallQuestion.objects.filter(member=member).select_related("event")),
            "delegacies": _rows(Delegate.objects.filter(member=member).select_related("event", "branch")),
            "stewarding": _rows(Steward.objects.filter(user=user).select_related("event")) if user else [],
        },
        "training": _rows(Certification.objects.filter(member=member).select_related("course", "session")),
        "elections": {
            "candidacies": _rows(Candidate.objects.filter(member=member).select_related("election")),
            "nominations_of_you": _rows(
                Nomination.objects.filter(nominee=member).select_related("election", "by_branch", "by_member")
            ),
            "photos": _rows(CandidatePhoto.objects.filter(candidate__member=member).select_related("candidate")),
            "nominations_by_you": _rows(
                Nomination.objects.filter(by_member=member).select_related("election", "nominee")
            ),
        },
        # The credential's hash is left out: it is a secret's fingerprint, not information about the member.
        "voter_rolls": _rows(
            RollEntry.objects.filter(member=member).select_related("roll__election", "region", "branch", "workplace"),
            exclude=("credential_hash",),
        ),
        "imports": _rows(ImportRow.objects.filter(member=member).select_related("job")),
        "closure_requests": _rows(ClosureRequest.objects.filter(member=member)),
        "audit_trail": {
            "about_you": _rows(audit.order_by("at", "id")),
            "by_your_account": _rows(actions.order_by("at", "id")) if user else [],
        },
        "made_by_account": _made_by_account(user),
    }


def section_counts(export: dict[str, Any]) -> dict[str, int]:
    """How many records each section holds, for the readable page's summary."""

    def count(value: Any) -> int:
        if isinstance(value, list):
            return len(value)
        if isinstance(value, dict):
            if value and all(isinstance(v, int) for v in value.values()):
                return sum(value.values())
            return sum(count(v) for v in value.values()) if any(isinstance(v, list) for v in value.values()) else 1
        return 0 if value is None else 1

    return {key: count(export[key]) for key, _title, _about in SECTIONS}


def erasure_refusals(member: Member) -> list[str]:
    """Why this member cannot be erased now (empty: they can). Each reason says what to do first.

    Erasure keeps counts and results but replaces names; these are the cases where it would break
    something still running, or a record the union must keep as it is:
    - still a member (applicant or active): their membership must be closed first;
    - a current position: reps and officers are named on workplace and branch pages;
    - on the roll of an election not yet closed: the roll is sealed and hashed at the close;
    - a candidate or nominee in an election whose results are not yet published;
    - a live Stripe subscription: it would go on charging someone the union can no longer name;
    - an import that matched them still running, or a message to them being sent right now.
    """
    from crm.models import DuesAccount, ImportRow, Message, Position
    from elections.models import Candidate, Election, Nomination, RollEntry

    refusals = []
    if member.erased_at:
        refusals.append("This member's personal data has already been erased.")
        return refusals
    if member.status in (Member.Status.APPLICANT, Member.Status.ACTIVE):
        refusals.append("They are still a member: close their membership (resigned, lapsed or deceased) first.")
    if Position.objects.current().filter(member=member).exists():
        refusals.append("They hold a current position: end it first.")
    unfinished = [Election.Status.DRAFT, Election.Status.VOTING]
    if RollEntry.objects.filter(member=member, roll__election__status__in=unfinished).exists():
        refusals.append("They are on the roll of an election that has not closed: wait until it closes.")
    unpublished = [Election.Status.DRAFT, Election.Status.VOTING, Election.Status.CLOSED]
    if (
        Candidate.objects.filter(member=member, election__status__in=unpublished).exists()
        or Nomination.objects.filter(Q(nominee=member) | Q(by_member=member), election__status__in=unpublished).exists()
    ):
        refusals.append("They stand, or nominated someone, in an election whose results are not published yet.")
    live = ("active", "trialing", "past_due", "unpaid", "incomplete")
    if (
        DuesAccount.objects.filter(member=member, subscription_status__in=live)
        .exclude(stripe_subscription_id="")
        .exists()
    ):
        refusals.append("Their Stripe subscription is still live: cancel it first.")
    if ImportRow.objects.filter(member=member, job__status__in=["queued", "running"]).exists():
        refusals.append("An import that matched them is still running: wait until it finishes.")
    if Message.objects.filter(member=member, status=Message.Status.SENDING).exists():
        refusals.append("A message to them is being sent right now: try again in a few minutes.")
    return refusals
