"""Log conversations with members, close follow-ups, and record assessments (1 = leader … 5 = hostile).

Who: national admins, organisers and reps, for members they can see (reps: their workplaces), but never
about themselves. Each write also adds a row to the member's audit trail (without the notes).
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import Assessment, AuditEntry, Conversation, Member, User
from crm.models.conversations import NOTES_MAX_LENGTH
from crm.selectors import members_visible_to
from crm.services import record_audit

ASSESSMENT_NOTES_MAX_LENGTH = 500


def can_log_conversations(user: User, member: Member) -> bool:
    """Staff (national, organisers, reps) about members in their scope other than themselves."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff_role
        and member.pk != user.member_id
        and members_visible_to(user).filter(pk=member.pk).exists()
    )


def _check_date(value: object, field: str, what: str) -> datetime.date:
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise ServiceError(f"Give the date of the {what}.", field=field)
    if value > timezone.localdate():
        raise ServiceError(f"The {what} cannot be in the future.", field=field)
    return value


def _check_notes(notes: object, limit: int) -> str:
    if not isinstance(notes, str):
        raise ServiceError("Notes must be text.", field="notes")
    if len(notes) > limit:
        raise ServiceError(f"Notes can be at most {limit:,} characters.", field="notes")
    return notes.strip()


@transaction.atomic
def log_conversation(
    *,
    actor: User,
    member: Member,
    channel: str,
    held_on: datetime.date,
    outcome: str,
    notes: str = "",
    follow_up_on: datetime.date | None = None,
) -> Conversation:
    """Record a conversation. Raises NotPermitted outside the actor's scope, ServiceError for an unknown
    channel or outcome, a date in the future, a follow-up before the conversation, or notes too long."""
    if not can_log_conversations(actor, member):
        raise NotPermitted("You cannot log conversations with this member.")
    if channel not in Conversation.Channel.values:
        raise ServiceError("Choose how you spoke: in person, phone, text, email or video.", field="channel")
    if outcome not in Conversation.Outcome.values:
        raise ServiceError("Choose an outcome from the list.", field="outcome")
    held_on = _check_date(held_on, "held_on", "conversation")
    if follow_up_on is not None:
        if not isinstance(follow_up_on, datetime.date) or isinstance(follow_up_on, datetime.datetime):
            raise ServiceError("Give the follow-up date as a date.", field="follow_up_on")
        if follow_up_on < held_on:
            raise ServiceError("The follow-up cannot be before the conversation.", field="follow_up_on")
    conversation = Conversation.objects.create(
        member=member,
        logged_by=actor,
        channel=channel,
        held_on=held_on,
        outcome=outcome,
        notes=_check_notes(notes, NOTES_MAX_LENGTH),
        follow_up_on=follow_up_on,
    )
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=conversation,
        member=member,
        summary=f"Logged a conversation ({conversation.get_channel_display().lower()}, "
        f"{conversation.get_outcome_display().lower()})",
    )
    return conversation


@transaction.atomic
def complete_follow_up(*, actor: User, conversation: Conversation) -> Conversation:
    """Mark a conversation's follow-up done. Doing it twice changes nothing."""
    conversation = Conversation.objects.select_for_update().select_related("member").get(pk=conversation.pk)
    if not can_log_conversations(actor, conversation.member):
        raise NotPermitted("You cannot change this member's conversations.")
    if conversation.follow_up_on is None:
        raise ServiceError("This conversation has no follow-up.")
    if conversation.follow_up_done_at is None:
        conversation.follow_up_done_at = timezone.now()
        conversation.save(update_fields=["follow_up_done_at"])
    return conversation


@transaction.atomic
def record_assessment(
    *, actor: User, member: Member, score: int, assessed_on: datetime.date, notes: str = ""
) -> Assessment:
    """Add an assessment; earlier ones are kept as history. Raises ServiceError unless the score is a whole
    number from 1 to 5 and the date is not in the future."""
    if not can_log_conversations(actor, member):
        raise NotPermitted("You cannot assess this member.")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ServiceError("An assessment is a whole number from 1 (leader) to 5 (hostile).", field="score")
    assessment = Assessment.objects.create(
        member=member,
        score=score,
        assessed_on=_check_date(assessed_on, "assessed_on", "assessment"),
        assessed_by=actor,
        notes=_check_notes(notes, ASSESSMENT_NOTES_MAX_LENGTH),
    )
    record_audit(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        target=assessment,
        member=member,
        summary=f"Assessed as {assessment.get_score_display()}",
    )
    return assessment
