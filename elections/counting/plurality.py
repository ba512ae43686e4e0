"""Shared by first past the post and approval: add up the marks, elect the most marked."""

from __future__ import annotations

from . import reserved as reserve
from .ties import LOT_ONLY, TieBreaker, join_names
from .types import Profile, ReservedSeats, Result, Stage


def elect_most_voted(
    profile: Profile,
    *,
    method: str,
    totals: list[int],
    seats: int,
    seed: str,
    reserved: ReservedSeats | None,
    note: str,
) -> Result:
    names = profile.candidates
    ties = TieBreaker(names, seed, 0)
    standing = [c for c in range(len(names)) if c not in profile.withdrawn]
    elected: list[int] = []
    passed_over: list[int] = []
    notes: list[str] = []
    while len(elected) < seats:
        seats_left = seats - len(elected)
        remaining = [c for c in standing if c not in elected and c not in passed_over]
        if not remaining:
            break
        outsiders = reserve.outsiders_to_exclude(reserved, seats_left, elected, remaining)
        if outsiders:
            assert reserved is not None
            passed_over.extend(outsiders)
            notes.append(reserve.reserved_note(reserved, names, outsiders))
            continue
        top = max(totals[c] for c in remaining)
        tied = sorted(c for c in remaining if totals[c] == top)
        if len(tied) <= seats_left:
            chosen = tied
        else:
            take = 1 if reserved is not None and reserved.seats else seats_left
            chosen = ties.choose(tied, take, stage=1, kind="election", prefer="highest", direction=LOT_ONLY)
        for c in chosen:
            if len(elected) < seats and reserve.may_elect(reserved, c, seats - len(elected), elected):
                elected.append(c)
            elif c not in elected:
                passed_over.append(c)
    stage = Stage(
        number=1,
        action="first",
        subjects=[],
        totals=list(totals),
        transfers=list(totals),
        non_transferable=0,
        non_transferable_change=0,
        elected=list(elected),
        excluded=sorted(passed_over),
        quota=None,
        note=" ".join([note, *notes]),
    )
    if passed_over:
        notes.append(f"Not elected because of the reserved seats: {join_names([names[c] for c in passed_over])}.")
    return Result(
        method=method,
        rule=None,
        seats=seats,
        precision=0,
        candidates=list(names),
        valid_poll=profile.valid_poll,
        quota=None,
        stages=[stage],
        elected=elected,
        ties=ties.ties,
        seed=seed,
        title=profile.title,
        withdrawn=profile.withdrawn,
        invalid=profile.invalid,
        reserved=reserved,
        notes=notes,
    )
