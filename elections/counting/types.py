"""The values the counting functions take and return.

Everything here is plain Python (no Django), so the same code counts a live election, a BLT file and a
test vector. Vote values are integers in fixed point: a rule with ``precision`` 5 keeps 1.23456 votes as
123456. Nothing is ever a float.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Ranking = tuple[int, ...]

# Limits that keep a hostile or mistaken file from exhausting memory or time.
MAX_CANDIDATES = 1000
MAX_WEIGHT = 10**9  # one line of a BLT file
MAX_TOTAL_WEIGHT = 10**12


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Building millions of small objects that all live on triggers the cycle collector again and again for
    nothing (they hold no cycles); pausing it makes parsing and tree building about a third faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class CountError(ValueError):
    """The count cannot be made from these inputs; the message says why in plain words."""


@dataclass(frozen=True)
class ReservedSeats:
    """At least ``seats`` of the seats go to candidates of ``group`` (candidate indices), e.g. women members."""

    seats: int
    group: frozenset[int]
    label: str = "the reserved group"

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {"seats": self.seats, "group": [names[i] for i in sorted(self.group)], "label": self.label}


@dataclass
class Profile:
    """Candidates, seats and ballots, with identical ballots aggregated.

    ``ballots`` maps a ranking (0-based candidate indices, most preferred first, no repeats, no withdrawn
    candidates) to how many voters cast it. A marked (X) ballot is a ranking whose order does not matter.
    ``invalid`` counts ballots with no usable preference; they are not part of the valid poll.
    """

    candidates: list[str]
    seats: int
    ballots: dict[Ranking, int]
    withdrawn: frozenset[int] = frozenset()
    title: str = ""
    invalid: int = 0

    @property
    def valid_poll(self) -> int:
        return sum(self.ballots.values())

    @classmethod
    def from_ballots(
        cls,
        candidates: Sequence[str],
        ballots: Iterable[Sequence[int | str] | tuple[Sequence[int | str], int]],
        *,
        seats: int,
        withdrawn: Iterable[int | str] = (),
        title: str = "",
        weighted: bool = False,
    ) -> Profile:
        """Build a profile from ballots given as sequences of candidate names or 0-based indices.

        With ``weighted=True`` each item is ``(ranking, weight)``. Preferences for withdrawn candidates are
        passed over; a ballot left with no preference is counted as invalid.
        """
        names = [str(name) for name in candidates]
        _check_candidates(names)
        if not 1 <= seats <= len(names):
            raise CountError(f"Seats must be between 1 and the number of candidates ({len(names)}); got {seats}.")
        index = {name: i for i, name in enumerate(names)}

        def resolve(item: int | str) -> int:
            if isinstance(item, str):
                if item not in index:
                    raise CountError(f"Unknown candidate {item!r}.")
                return index[item]
            if not 0 <= item < len(names):
                raise CountError(f"Unknown candidate number {item}.")
            return item

        gone = frozenset(resolve(item) for item in withdrawn)
        aggregated: dict[Ranking, int] = {}
        invalid = 0
        total = 0
        for item in ballots:
            ranking, weight = item if weighted else (item, 1)  # type: ignore[misc]
            if not isinstance(weight, int) or weight < 1 or weight > MAX_WEIGHT:
                raise CountError(f"A ballot weight must be a whole number from 1 to {MAX_WEIGHT}; got {weight!r}.")
            resolved = [resolve(choice) for choice in ranking]
            if len(set(resolved)) != len(resolved):
                raise CountError(f"A ballot names the same candidate twice: {list(ranking)!r}.")
            key = tuple(c for c in resolved if c not in gone)
            total += weight
            if total > MAX_TOTAL_WEIGHT:
                raise CountError(f"The ballots add up to more than {MAX_TOTAL_WEIGHT} votes.")
            if key:
                aggregated[key] = aggregated.get(key, 0) + weight
            else:
                invalid += weight
        return cls(candidates=names, seats=seats, ballots=aggregated, withdrawn=gone, title=title, invalid=invalid)

    def with_seats(self, seats: int | None) -> Profile:
        if seats is None or seats == self.seats:
            return self
        if not 1 <= seats <= len(self.candidates):
            raise CountError(
                f"Seats must be between 1 and the number of candidates ({len(self.candidates)}); got {seats}."
            )
        return Profile(self.candidates, seats, self.ballots, self.withdrawn, self.title, self.invalid)


def _check_candidates(names: Sequence[str]) -> None:
    if not names:
        raise CountError("There are no candidates.")
    if len(names) > MAX_CANDIDATES:
        raise CountError(f"At most {MAX_CANDIDATES} candidates can be counted; got {len(names)}.")
    seen: set[str] = set()
    for name in names:
        if not name.strip():
            raise CountError("A candidate's name is blank.")
        if name in seen:
            raise CountError(f"Two candidates are both called {name!r}; names must be distinct.")
        seen.add(name)


def format_value(value: int, precision: int) -> str:
    """A fixed-point integer as a decimal string: format_value(-123456, 5) == "-1.23456"."""
    if precision == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**precision)
    return f"{sign}{whole}.{fraction:0{precision}d}"


@dataclass
class Tie:
    """A place where candidates were equal and a rule, or lot, decided between them."""

    stage: int
    kind: str  # "exclusion", "surplus order", "election", "election order"
    candidates: list[int]
    chosen: list[int]
    decided_by: str  # "earlier stages" or "lot"
    detail: str

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "kind": self.kind,
            "candidates": [names[c] for c in self.candidates],
            "chosen": [names[c] for c in self.chosen],
            "decided_by": self.decided_by,
            "detail": self.detail,
        }


@dataclass
class Stage:
    """One stage of the count: what was done, and every candidate's total afterwards."""

    number: int
    action: str  # "first", "surplus" or "exclusion"
    subjects: list[int]
    totals: list[int]
    transfers: list[int]
    non_transferable: int
    non_transferable_change: int
    elected: list[int] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)
    quota: int | None = None
    note: str = ""
    details: list[str] = field(default_factory=list)

    def to_dict(self, names: Sequence[str], precision: int) -> dict[str, Any]:
        def fmt(value: int) -> str:
            return format_value(value, precision)

        subjects = [names[c] for c in self.subjects]
        return {
            "number": self.number,
            "action": self.action,
            "candidate": subjects[0] if subjects else None,
            "candidates": subjects,
            "totals": {names[c]: fmt(v) for c, v in enumerate(self.totals)},
            "transfers": {names[c]: fmt(v) for c, v in enumerate(self.transfers)},
            "non_transferable": fmt(self.non_transferable),
            "non_transferable_change": fmt(self.non_transferable_change),
            "elected": [names[c] for c in self.elected],
            "excluded": [names[c] for c in self.excluded],
            "quota": None if self.quota is None else fmt(self.quota),
            "note": self.note,
            "details": list(self.details),
        }


METHOD_NAMES = {
    "fptp": "First past the post",
    "approval": "Approval voting",
    "irv": "Alternative vote (instant run-off)",
    "stv": "Single transferable vote",
}
RULE_NAMES = {
    "scottish": "Scottish STV (Scottish Local Government Elections Order 2007, schedule 1, rules 45-52)",
    "ers97": "ERS97 STV (Electoral Reform Society rules, 1997)",
    "meek": "Meek STV",
}


@dataclass
class Result:
    """The whole count: every stage, the winners in the order elected, and every tie and how it was broken."""

    method: str
    rule: str | None
    seats: int
    precision: int
    candidates: list[str]
    valid_poll: int
    quota: int | None
    stages: list[Stage]
    elected: list[int]
    ties: list[Tie]
    seed: str = ""
    title: str = ""
    withdrawn: frozenset[int] = frozenset()
    invalid: int = 0
    reserved: ReservedSeats | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def winners(self) -> list[str]:
        return [self.candidates[c] for c in self.elected]

    def to_dict(self) -> dict[str, Any]:
        names = self.candidates
        method_name = METHOD_NAMES.get(self.method, self.method)
        if self.rule:
            method_name = RULE_NAMES.get(self.rule, self.rule)
        return {
            "method": self.method,
            "rule": self.rule,
            "method_name": method_name,
            "title": self.title,
            "seats": self.seats,
            "precision": self.precision,
            "valid_poll": self.valid_poll,
            "invalid": self.invalid,
            "quota": None if self.quota is None else format_value(self.quota, self.precision),
            "seed": self.seed,
            "candidates": list(names),
            "withdrawn": [names[c] for c in sorted(self.withdrawn)],
            "reserved": None if self.reserved is None else self.reserved.to_dict(names),
            "stages": [stage.to_dict(names, self.precision) for stage in self.stages],
            "elected": [names[c] for c in self.elected],
            "ties": [tie.to_dict(names) for tie in self.ties],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """Canonical JSON: the same count always gives the same bytes, so a recount can be compared exactly."""
        return dumps_canonical(self.to_dict())


def dumps_canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
