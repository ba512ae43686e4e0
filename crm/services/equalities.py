"""Writing and reading one member's equalities answers (special category data, UK GDPR article 9).

- A member enters, changes or withdraws their own answers; the consent is theirs, recorded with the
  wording's version, the time, and their login.
- Staff may record answers for a member only with the explicit permission `crm.view_equalities_answers`,
  for a member in their scope, and only after confirming the member consented to the wording shown
  (its version, the time and who recorded it are kept).
- Every read of one member's answers goes through read_equalities_answers, which writes an
  EqualitiesAccess row (who, whose, when, page or API).
- The audit trail records that answers were saved or withdrawn (not on the member's page history), never
  what they are; nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, User
from crm.models.equalities import (
    CONSENT_WORDING_VERSION,
    STRANDS,
    EqualitiesAccess,
    EqualitiesAnswers,
    Ethnicity,
    Identifies,
)
from crm.selectors.equalities import can_read_equalities
from crm.services import record_audit

ANSWER_FIELDS = ("ethnicity", *(name for name, _label in STRANDS))


def _clean_answers(answers: Mapping) -> dict[str, str]:
    """Every answer field, each a known choice or blank ('not answered'); ServiceError naming the field."""
    if not isinstance(answers, Mapping):
        raise ServiceError("Answers must be a mapping of questions to answers.")
    unknown = sorted(str(k) for k in answers if k not in ANSWER_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown questions: {', '.join(unknown[:10])}.", field=None)
    cleaned = {}
    for field in ANSWER_FIELDS:
        value = answers.get(field) or ""
        allowed = Ethnicity.values if field == "ethnicity" else Identifies.values
        if not isinstance(value, str) or (value and value not in allowed):
            raise ServiceError("Choose one of the answers listed.", field=field)
        cleaned[field] = value
    return cleaned


def _save(member: Member, answers: dict[str, str], *, entered_by: str, recorded_by: User) -> EqualitiesAnswers:
    now = timezone.now()
    row, created = EqualitiesAnswers.objects.select_for_update().get_or_create(
        member=member,
        defaults={
            **answers,
            "entered_by": entered_by,
            "consent_wording_version": CONSENT_WORDING_VERSION,
            "consent_recorded_at": now,
            "consent_recorded_by": recorded_by,
            "updated_at": now,
        },
    )
    if not created:
        for field, value in answers.items():
            setattr(row, field, value)
        row.entered_by, row.consent_wording_version = entered_by, CONSENT_WORDING_VERSION
        row.consent_recorded_at, row.consent_recorded_by, row.updated_at = now, recorded_by, now
        row.save()
    # Not linked to the member (member=None), so it stays off the member page's history, which reps and
    # organisers read: even that a member answered is kept out of sight. The target still names the row.
    record_audit(
        actor=recorded_by,
        action=AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
        target=row,
        summary="Equalities answers saved " + ("by the member" if entered_by == "member" else "with consent"),
    )
    return row


@transaction.atomic
def save_own_equalities_answers(*, user: User, answers: Mapping) -> EqualitiesAnswers:
    """A signed-in member's own answers (a full set: a question left out is 'not answered')."""
    if not (user.is_authenticated and user.is_active and user.member_id):
        raise NotPermitted("Only a signed-in member can give their own equalities answers.")
    member = Member.objects.get(pk=user.member_id)
    return _save(member, _clean_answers(answers), entered_by=EqualitiesAnswers.EnteredBy.MEMBER, recorded_by=user)


@transaction.atomic
def withdraw_own_equalities_answers(*, user: User) -> bool:
    """Delete the member's own answers. Returns whether there were any."""
    if not (user.is_authenticated and user.is_active and user.member_id):
        raise NotPermitted("Only a signed-in member can withdraw their own equalities answers.")
    row = EqualitiesAnswers.objects.filter(member_id=user.member_id).first()
    if row is None:
        return False
    record_audit(
        actor=user,
        action=AuditEntry.Action.DELETE,
        target=row,
        summary="Equalities answers withdrawn by the member",
    )
    row.delete()
    return True


@transaction.atomic
def record_equalities_answers(
    *, actor: User, member: Member, answers: Mapping, member_consented: bool
) -> EqualitiesAnswers:
    """Staff record a member's answers with the member's consent to the current wording. Raises NotPermitted
    without the permission or outside the actor's scope; ServiceError without consent or for a bad answer."""
    if not can_read_equalities(actor, member):
        raise NotPermitted("You cannot record equalities answers for this member.")
    if member_consented is not True:
        raise ServiceError(
            "Only record equalities answers after the member has agreed to the wording shown.", field="consent"
        )
    return _save(member, _clean_answers(answers), entered_by=EqualitiesAnswers.EnteredBy.STAFF, recorded_by=actor)


@transaction.atomic
def read_equalities_answers(*, reader: User, member: Member, via: str) -> EqualitiesAnswers | None:
    """One member's answers (None if they gave none), for the member themselves or a permitted reader;
    writes an EqualitiesAccess row for every read. Raises NotPermitted for anyone else."""
    own = reader.is_authenticated and reader.is_active and reader.member_id == member.pk
    if not (own or can_read_equalities(reader, member)):
        raise NotPermitted("You cannot read this member's equalities answers.")
    EqualitiesAccess.objects.create(reader=reader, reader_name=reader.get_username(), member=member, via=via)
    return EqualitiesAnswers.objects.filter(member=member).select_related("consent_recorded_by").first()
