"""Reads of equalities data (special category, UK GDPR article 9): who may read one member's answers,
aggregates with small numbers suppressed, and strand membership for later features.

Reading one member's answers goes through crm.services.equalities.read_equalities_answers, which logs the
read; nothing here returns a member's answers.

strand_members(strand) — for strand conferences and strand electorates (later issues)
    Returns a queryset of the members who self-identify with a strand ("black_member", "lgbt_member",
    "disabled_member", "woman_member"), i.e. answered "yes". It is for building an electorate or a
    registration rule, NOT for display: it is deliberately unscoped (intersect it with
    members_visible_to(user) or an electorate's rule), and no page or API response may say why a member is
    on a list built from it. A roll or invitation list built from it shows members by name only, and only
    to users who may see those members; "this list is the LGBT+ members' conference electorate" is itself
    an answer, so such lists are for the election's officers and the members themselves.

Suppression (equalities_summary): every count from 0 to 4 is shown as "<5". Each table row (or the
ethnicity column) adds up to the number of members counted, which the user can learn from the member
list, so a single hidden cell could be worked out from it: whenever a hidden cell could be worked out
from the row total and the figures shown (knowing that "<5" means 0-4, and that a cell hidden for this
reason is at least 5 and no more than the smallest figure shown), the smallest figure still shown is
hidden too ("hidden"), and so on; if that runs out of figures, every cell of the row is hidden alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from crm.errors import ServiceError
from crm.models import Branch, Member, User
from crm.models.equalities import ETHNIC_GROUPS, STRANDS, EqualitiesAnswers, Ethnicity, Identifies
from crm.selectors import branches_visible_to, members_visible_to, regions_visible_to

SMALL = 5  # counts below this are never shown
SHOWN_SMALL = "<5"
SHOWN_HIDDEN = "hidden"
PERMISSION = "crm.view_equalities_answers"
STRAND_NAMES = [name for name, _label in STRANDS]


def can_read_equalities(user: User, member: Member) -> bool:
    """One member's answers: only staff holding the explicit permission (given to nobody by default, and
    not to national admins automatically), for members in their scope."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff_role
        and user.has_perm(PERMISSION)
        and members_visible_to(user).filter(pk=member.pk).exists()
    )


def can_view_equalities_summary(user: User) -> bool:
    """Aggregates: national admins and organisers (a rep's workplace is too small a group to count)."""
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == User.Role.ORGANISER))


def strand_members(strand: str) -> QuerySet[Member]:
    """Members who self-identify with `strand` (see the module docstring: unscoped, never for display)."""
    if strand not in STRAND_NAMES:
        raise ValueError(f"Unknown strand {strand!r}; strands are {', '.join(STRAND_NAMES)}.")
    return Member.objects.filter(**{f"equalities__{strand}": Identifies.YES})


# --- Suppression --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    key: str
    label: str
    count: int | None  # None when suppressed
    shown: str  # the figure, "<5" or "hidden"


def _can_be_worked_out(counts: list[int], small: set[int], hidden: set[int]) -> bool:
    """Could someone who knows the row total, the shown figures and what the marks mean pin down any hidden
    cell to one value? Hidden small cells lie in 0..4; cells hidden to protect them lie in 5..(smallest shown)."""
    if len(hidden) == 1:
        return True
    shown = [c for i, c in enumerate(counts) if i not in hidden]
    ceiling = min(shown) if shown else sum(counts)
    bounds = {i: (0, SMALL - 1) if i in small else (SMALL, ceiling) for i in hidden}
    hidden_sum = sum(counts[i] for i in hidden)
    for i in hidden:
        others_low = sum(bounds[j][0] for j in hidden if j != i)
        others_high = sum(bounds[j][1] for j in hidden if j != i)
        low = max(bounds[i][0], hidden_sum - others_high)
        high = min(bounds[i][1], hidden_sum - others_low)
        if low >= high:
            return True
    return False


def suppress_row(counts: list[int]) -> list[tuple[int | None, str]]:
    """(count or None, what to show) for each cell of a row whose total is known (see the module docstring)."""
    small = {i for i, c in enumerate(counts) if c < SMALL}
    if not small:
        return [(c, f"{c:,}") for c in counts]
    hidden = set(small)
    while _can_be_worked_out(counts, small, hidden):
        shown = [i for i in range(len(counts)) if i not in hidden]
        if not shown:
            if sum(counts) == 0:  # nobody counted: nothing to protect, and nothing to learn
                return [(None, SHOWN_SMALL) for _ in counts]
            return [(None, SHOWN_HIDDEN) for _ in counts]
        hidden.add(min(shown, key=lambda i: (counts[i], i)))
    return [
        (None, SHOWN_SMALL) if i in small else (None, SHOWN_HIDDEN) if i in hidden else (c, f"{c:,}")
        for i, c in enumerate(counts)
    ]


def _cells(keys_labels: list[tuple[str, str]], counts: list[int]) -> list[Cell]:
    return [
        Cell(key=key, label=label, count=count, shown=shown)
        for (key, label), (count, shown) in zip(keys_labels, suppress_row(counts), strict=True)
    ]


# --- Aggregates ---------------------------------------------------------------------------------------------

ANSWERS = [(Identifies.YES.value, "Yes"), (Identifies.NO.value, "No"),
           (Identifies.PREFER_NOT_TO_SAY.value, "Prefer not to say"), ("", "Not answered")]  # fmt: skip
ETHNICITY_ROWS = [*ETHNIC_GROUPS, (Ethnicity.PREFER_NOT_TO_SAY.value, "Prefer not to say"), ("", "Not answered")]


def equalities_summary(user: User, *, branch: Branch | int | str | None = None, region=None) -> dict:
    """Equalities answers of the active members in the user's scope (narrowed to a branch or region they can
    see), as counts with small numbers suppressed. Raises ServiceError for a branch or region not theirs."""
    members = members_visible_to(user).filter(status=Member.Status.ACTIVE)
    area = "your area"
    if branch not in (None, ""):
        found = _in_scope(branches_visible_to(user), branch, "branch")
        members, area = members.filter(branch=found), f"{found.name} branch"
    if region not in (None, ""):
        found = _in_scope(regions_visible_to(user), region, "region")
        members = members.filter(branch_id__in=list(found.branches.values_list("pk", flat=True)))
        area = f"{found.name} region" if area == "your area" else f"{area}, {found.name} region"
    total = members.count()
    # One pass over the answers of these members: a filtered count per strand answer and per ethnicity.
    counts = {f"{s}__{v}": Count("pk", filter=Q(**{s: v})) for s in STRAND_NAMES for v, _ in ANSWERS[:3]}
    counts |= {f"ethnicity__{v}": Count("pk", filter=Q(ethnicity=v)) for v in Ethnicity.values}
    counts["answered"] = Count("pk")
    figures = EqualitiesAnswers.objects.filter(member__in=members).aggregate(**counts)
    strands = []
    for name, label in STRANDS:
        row = [figures[f"{name}__{v}"] for v, _ in ANSWERS[:3]]
        row.append(total - sum(row))  # no answer row, or a blank answer to this question
        strands.append({"strand": name, "label": label, "cells": _cells(ANSWERS, row)})
    by_group = {group: 0 for group, _ in ETHNIC_GROUPS}
    for value in Ethnicity.values:
        group = value.split("_", 1)[0]
        if group in by_group:
            by_group[group] += figures[f"ethnicity__{value}"]
    ethnicity_row = [by_group[g] for g, _ in ETHNIC_GROUPS] + [figures[f"ethnicity__{Ethnicity.PREFER_NOT_TO_SAY}"]]
    ethnicity_row.append(total - sum(ethnicity_row))
    return {
        "area": area,
        "members": total,
        "strands": strands,
        "ethnicity": _cells(ETHNICITY_ROWS, ethnicity_row),
    }


def _in_scope(queryset: QuerySet, value, what: str):
    try:
        return queryset.get(pk=int(value.pk if hasattr(value, "pk") else value))
    except (ValueError, TypeError, queryset.model.DoesNotExist) as error:
        raise ServiceError(f"That {what} is not one of yours.", field=what) from error
