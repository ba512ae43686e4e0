"""Organising figures: density and its trend per workplace, members by assessment, workplaces without a rep;
and what the member page shows of a member's tags, conversations and assessments. All within the scope."""

from __future__ import annotations

import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from crm.models import Assessment, Member, Position, User, Workplace
from crm.selectors import workplaces_with_density
from crm.selectors.conversations import assessments_of, conversations_with
from crm.selectors.equalities import can_read_equalities

# Density is counted on active members; members who have left count as active until the day their status
# changed (status_changed_on), which is how the past is derived where no snapshot per workplace exists.
LEFT = [Member.Status.LAPSED, Member.Status.RESIGNED, Member.Status.DECEASED]
TREND_MONTHS_AGO = (3, 12)


def months_ago(on: datetime.date, months: int) -> datetime.date:
    year, month = divmod(on.year * 12 + on.month - 1 - months, 12)
    day = min(on.day, 28)  # every month has a 28th; near enough for a trend
    return datetime.date(year, month + 1, day)


def active_on(day: datetime.date) -> Q:
    """Members active on `day`, derived: joined by then, and active now or left after it. It does not know
    about moves between workplaces or earlier lapses that were put right: a trend, not a register."""
    return Q(joined_on__lte=day) & (Q(status=Member.Status.ACTIVE) | Q(status__in=LEFT, status_changed_on__gt=day))


def density_trend(workplaces: list[Workplace], *, today: datetime.date | None = None) -> list[dict]:
    """For each workplace (with members_count and density annotated), its density now and derived
    3 and 12 months ago, in one grouped query over those workplaces' members."""
    today = today or timezone.localdate()
    days = {months: months_ago(today, months) for months in TREND_MONTHS_AGO}
    counts = {
        row["workplace_id"]: row
        for row in Member.objects.filter(workplace__in=[w.pk for w in workplaces])
        .order_by()
        .values("workplace_id")
        .annotate(**{f"ago_{m}": Count("pk", filter=active_on(day)) for m, day in days.items()})
    }
    rows = []
    for workplace in workplaces:
        past = counts.get(workplace.pk, {})
        then = {m: past.get(f"ago_{m}", 0) for m in TREND_MONTHS_AGO}
        staff = workplace.eligible_staff
        rows.append(
            {
                "workplace": workplace,
                "now_percent": round(100 * workplace.members_count / staff) if staff else None,
                "then": [
                    {
                        "months": m,
                        "on": days[m],
                        "members": then[m],
                        "percent": round(100 * then[m] / staff) if staff else None,
                    }
                    for m in TREND_MONTHS_AGO
                ],
                "change_12": workplace.members_count - then[12],
            }
        )
    return rows


def latest_score() -> Subquery:
    return Subquery(
        Assessment.objects.filter(member=OuterRef("pk")).order_by("-assessed_on", "-id").values("score")[:1],
        output_field=IntegerField(),
    )


def assessment_counts(workplaces: list[Workplace]) -> list[dict]:
    """Active members of each workplace by their latest assessment (1..5) and not yet assessed."""
    rows = (
        Member.objects.filter(workplace__in=[w.pk for w in workplaces], status=Member.Status.ACTIVE)
        .order_by()
        .annotate(latest=latest_score())
        .values("workplace_id", "latest")
        .annotate(n=Count("pk"))
    )
    table: dict[int, dict] = {w.pk: {} for w in workplaces}
    for row in rows:
        table[row["workplace_id"]][row["latest"]] = row["n"]
    result = []
    for workplace in workplaces:
        by_score = table[workplace.pk]
        total = sum(by_score.values())
        scores, offset = [], 0.0
        for score, label in Assessment.Score.choices:
            members = by_score.get(score, 0)
            percent = round(100 * members / total, 1) if total else 0.0
            scores.append({"score": score, "label": label, "members": members, "percent": percent, "offset": offset})
            offset = round(offset + percent, 1)
        result.append(
            {"workplace": workplace, "scores": scores, "not_assessed": by_score.get(None, 0), "members": total}
        )
    return result


def workplaces_without_rep(user: User) -> QuerySet[Workplace]:
    """Workplaces in scope where nobody holds a current workplace rep position; most members first."""
    with_rep = Position.objects.current().filter(kind=Position.Kind.WORKPLACE_REP, workplace__isnull=False)
    return (
        workplaces_with_density(user)
        .exclude(pk__in=with_rep.values("workplace_id"))
        .order_by("-members_count", "name", "id")
    )


def member_organising_panel(user: User, member: Member) -> dict:
    """What the member page shows beside the member's details: their conversations and assessments (staff
    only), whether this user may log, tag, or open the equalities answers. Never the answers themselves."""
    from crm.services.conversations import can_log_conversations
    from crm.services.segments import can_tag_members

    if not user.is_staff_role:
        return {"organising": None}
    assessments = list(assessments_of(user, member)[:10])
    return {
        "organising": {
            "conversations": conversations_with(user, member),
            "assessments": assessments,
            "latest_assessment": assessments[0] if assessments else None,
            "can_log": can_log_conversations(user, member),
            "can_tag": can_tag_members(user) and member.pk != user.member_id,
            "can_read_equalities": can_read_equalities(user, member),
        }
    }
