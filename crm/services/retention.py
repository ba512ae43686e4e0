"""Retention rules: personal data Quorum no longer needs is removed on a schedule (UK GDPR article 5(1)(e)).

Each rule is set in settings (README "Data protection"; 0 turns a rule off) and runs daily from Celery beat
(crm.tasks.apply_retention). `retention_report()` says what a run would do, without doing it: the
`manage.py retention --dry-run` command and the national admins' retention page show it. Running twice
does nothing the second time: each rule picks only rows that still hold what it removes.

Kept on purpose: the audit trail and the equalities read log (the record of who did what to whose data),
membership snapshots, payments (the union's accounts), and every row a count or an election result is made of.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from crm.models import ImportJob, InboundText, Member, Message, MessageAttachment, SecurityEvent, StripeEvent
from crm.selectors.privacy import erasure_refusals

logger = logging.getLogger(__name__)

MONTH = datetime.timedelta(days=30)  # a rule's months are of 30 days: a day either way does not matter here
# Members erased in one run at most; the rest wait for the next day's run, so one run stays short.
ERASE_PER_RUN = 500


@dataclass
class RuleOutcome:
    key: str
    what: str
    setting: str
    period: str
    value: int
    due: int = 0
    done: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "what": self.what,
            "setting": self.setting,
            "period": self.period,
            "is_off": self.value <= 0,
            "due": self.due,
            "done": self.done,
            "skipped": self.skipped,
        }


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


def left_members_due(now: datetime.datetime | None = None) -> QuerySet[Member]:
    """Members who left (resigned, lapsed, deceased) more than RETENTION_LEFT_MEMBER_YEARS ago, not yet erased."""
    years = settings.RETENTION_LEFT_MEMBER_YEARS
    if years <= 0:
        return Member.objects.none()
    cutoff = timezone.localdate(_now(now)) - datetime.timedelta(days=365 * years)
    return Member.objects.filter(
        status__in=[Member.Status.RESIGNED, Member.Status.LAPSED, Member.Status.DECEASED],
        status_changed_on__lt=cutoff,
        erased_at__isnull=True,
    ).order_by("status_changed_on", "pk")


def _messages_due(now):
    months = settings.RETENTION_MESSAGE_BODY_MONTHS
    if months <= 0:
        return Message.objects.none()
    # A confidential message's body is wiped when it is sent: these are the others, once settled.
    return Message.objects.filter(
        status__in=Message.FINAL_STATUSES, confidential=False, created_at__lt=_now(now) - months * MONTH
    ).exclude(body="", html_body="", subject="")


def _texts_due(now):
    months = settings.RETENTION_INBOUND_TEXT_MONTHS
    if months <= 0:
        return InboundText.objects.none()
    return InboundText.objects.filter(is_handled=True, received_at__lt=_now(now) - months * MONTH).exclude(
        body="", from_number=""
    )


def _import_files_due(now):
    days = settings.RETENTION_IMPORT_FILE_DAYS
    if days <= 0:
        return ImportJob.objects.none()
    cutoff = _now(now) - datetime.timedelta(days=days)
    finished = Q(status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED], finished_at__lt=cutoff)
    abandoned = Q(status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.CHECKED], created_at__lt=cutoff)
    return ImportJob.objects.filter(finished | abandoned).exclude(content=b"", checked_mobiles=b"", checked_rows=b"")


def _security_events_due(now):
    months = settings.RETENTION_SECURITY_LOG_MONTHS
    if months <= 0:
        return SecurityEvent.objects.none()
    return SecurityEvent.objects.filter(at__lt=_now(now) - months * MONTH)


def _stripe_payloads_due(now):
    months = settings.RETENTION_STRIPE_PAYLOAD_MONTHS
    if months <= 0:
        return StripeEvent.objects.none()
    # Events still waiting for review (no member found) keep their payload until someone has looked.
    return StripeEvent.objects.filter(
        state__in=[StripeEvent.State.PROCESSED, StripeEvent.State.IGNORED],
        received_at__lt=_now(now) - months * MONTH,
    ).exclude(payload={})


def _rules() -> list[RuleOutcome]:
    s = settings
    return [
        RuleOutcome(
            "left_members",
            "Pseudonymise the personal data of members who left (resigned, lapsed, deceased)",
            "QUORUM_RETENTION_LEFT_MEMBER_YEARS",
            f"{s.RETENTION_LEFT_MEMBER_YEARS} years after leaving",
            s.RETENTION_LEFT_MEMBER_YEARS,
        ),
        RuleOutcome(
            "message_bodies",
            "Blank the subject and body of emails and texts sent (who, when, status stay)",
            "QUORUM_RETENTION_MESSAGE_BODY_MONTHS",
            f"{s.RETENTION_MESSAGE_BODY_MONTHS} months after queueing",
            s.RETENTION_MESSAGE_BODY_MONTHS,
        ),
        RuleOutcome(
            "texts_received",
            "Blank the number and body of handled texts received",
            "QUORUM_RETENTION_INBOUND_TEXT_MONTHS",
            f"{s.RETENTION_INBOUND_TEXT_MONTHS} months after receipt",
            s.RETENTION_INBOUND_TEXT_MONTHS,
        ),
        RuleOutcome(
            "import_files",
            "Delete the uploaded file of finished or abandoned imports (the report stays)",
            "QUORUM_RETENTION_IMPORT_FILE_DAYS",
            f"{s.RETENTION_IMPORT_FILE_DAYS} days after finishing",
            s.RETENTION_IMPORT_FILE_DAYS,
        ),
        RuleOutcome(
            "security_log",
            "Delete sign-in log entries (the audit trail of member data is kept)",
            "QUORUM_RETENTION_SECURITY_LOG_MONTHS",
            f"{s.RETENTION_SECURITY_LOG_MONTHS} months",
            s.RETENTION_SECURITY_LOG_MONTHS,
        ),
        RuleOutcome(
            "stripe_payloads",
            "Empty the stored copy of Stripe's webhook events (payments stay)",
            "QUORUM_RETENTION_STRIPE_PAYLOAD_MONTHS",
            f"{s.RETENTION_STRIPE_PAYLOAD_MONTHS} months after receipt",
            s.RETENTION_STRIPE_PAYLOAD_MONTHS,
        ),
    ]


def retention_report(*, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """What a run would do now, rule by rule, without changing anything."""
    return _run(now=now, dry_run=True)


def apply_retention(*, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """Apply every rule that is on. Returns what each did; a second run finds nothing left to do."""
    return _run(now=now, dry_run=False)


def _run(*, now: datetime.datetime | None, dry_run: bool) -> list[dict[str, Any]]:
    from crm.services.privacy import erase_member

    outcomes = []
    for rule in _rules():
        if rule.key == "left_members":
            due = list(left_members_due(now)[:ERASE_PER_RUN])
            rule.due = left_members_due(now).count()
            for member in due:
                refusals = erasure_refusals(member)
                if refusals:
                    rule.skipped.append({"member_id": member.pk, "reasons": refusals})
                    continue
                if not dry_run:
                    erase_member(
                        actor=None,
                        member=member,
                        reason=f"Retention rule: left more than {settings.RETENTION_LEFT_MEMBER_YEARS} years ago",
                    )
                    rule.done += 1
        else:
            queryset = {
                "message_bodies": _messages_due,
                "texts_received": _texts_due,
                "import_files": _import_files_due,
                "security_log": _security_events_due,
                "stripe_payloads": _stripe_payloads_due,
            }[rule.key](now)
            rule.due = queryset.count()
            if not dry_run and rule.due:
                with transaction.atomic():
                    rule.done = _apply(rule.key, queryset)
        if not dry_run and rule.done:
            logger.info("retention %s: %s done", rule.key, rule.done)
        outcomes.append(rule.as_dict())
    return outcomes


def _apply(key: str, queryset: QuerySet) -> int:
    if key == "message_bodies":
        MessageAttachment.objects.filter(message__in=queryset).delete()
        return queryset.update(subject="", body="", html_body="")
    if key == "texts_received":
        return queryset.update(body="", from_number="")
    if key == "import_files":
        return queryset.update(content=b"", checked_mobiles=b"", checked_rows=b"")
    if key == "security_log":
        return queryset.delete()[0]
    if key == "stripe_payloads":
        return queryset.update(payload={})
    raise ValueError(key)
