"""Questions put to a ballot: yes/no and multiple choice, with turnout and support thresholds.

For an industrial-action ballot (Trade Union Act 2016) the tests are: turnout of at least half the electorate,
more yes than no, and, for important public services, yes from at least 40% of the electorate. Any threshold
here is "at least" the given share, compared exactly (fractions, never floats); shares are reported as
percentages truncated to two places, so a share that fails is never shown rounded up to the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .ties import LOT_ONLY, TieBreaker
from .types import CountError

Share = Fraction | Decimal | str | int | float


def as_fraction(share: Share | None) -> Fraction | None:
    """ "50%", "0.5", Decimal("0.5"), Fraction(1, 2) all mean one half. Floats are refused (inexact)."""
    if share is None:
        return None
    if isinstance(share, float):
        raise CountError("Give thresholds as text, Decimal or Fraction (e.g. '50%'), not as a float.")
    if isinstance(share, str):
        text = share.strip()
        try:
            value = Fraction(Decimal(text[:-1].strip())) / 100 if text.endswith("%") else Fraction(Decimal(text))
        except (ArithmeticError, ValueError):
            raise CountError(f"{share!r} is not a share; write e.g. '50%' or '0.5'.") from None
    else:
        value = Fraction(share)
    if not 0 <= value <= 1:
        raise CountError(f"A threshold must be between 0% and 100%; got {share!r}.")
    return value


def percent(value: Fraction) -> str:
    hundredths = (value * 10000).numerator // (value * 10000).denominator
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


@dataclass
class Check:
    name: str
    description: str
    required: Fraction
    actual: Fraction
    met: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "required": percent(self.required),
            "actual": percent(self.actual),
            "met": self.met,
        }


@dataclass
class QuestionResult:
    question: str
    kind: str  # "yes_no" or "choice"
    options: list[str]
    votes: list[int]
    spoilt: int
    electorate: int | None
    winner: str | None
    passed: bool
    checks: list[Check] = field(default_factory=list)
    ties: list[dict[str, Any]] = field(default_factory=list)
    seed: str = ""

    @property
    def valid(self) -> int:
        return sum(self.votes)

    @property
    def votes_cast(self) -> int:
        return self.valid + self.spoilt

    def to_dict(self) -> dict[str, Any]:
        cast = self.votes_cast
        return {
            "question": self.question,
            "kind": self.kind,
            "options": [
                {
                    "option": option,
                    "votes": votes,
                    "share_of_valid": percent(Fraction(votes, self.valid)) if self.valid else None,
                    "share_of_cast": percent(Fraction(votes, cast)) if cast else None,
                }
                for option, votes in zip(self.options, self.votes, strict=True)
            ],
            "valid": self.valid,
            "spoilt": self.spoilt,
            "votes_cast": cast,
            "electorate": self.electorate,
            "turnout": percent(Fraction(cast, self.electorate)) if self.electorate else None,
            "winner": self.winner,
            "passed": self.passed,
            "checks": [check.to_dict() for check in self.checks],
            "ties": self.ties,
            "seed": self.seed,
        }


def count_question(
    *,
    question: str,
    options: Sequence[str],
    votes: Mapping[str, int] | Sequence[int],
    spoilt: int = 0,
    electorate: int | None = None,
    turnout_threshold: Share | None = None,
    electorate_support_threshold: Share | None = None,
    votes_support_threshold: Share | None = None,
    seed: str = "",
) -> QuestionResult:
    """Count a question. With options exactly ("Yes", "No") it is a yes/no question: it passes when yes beats
    no and every threshold is met, measured on the yes vote. Otherwise the option with most votes wins (a tie
    by lot) and the thresholds are measured on the winner's vote.

    - ``turnout_threshold``: votes cast (valid and spoilt) as a share of the electorate;
    - ``electorate_support_threshold``: the yes (or winning) vote as a share of the electorate;
    - ``votes_support_threshold``: the yes (or winning) vote as a share of the votes cast.
    """
    names = [str(option) for option in options]
    if len(names) < 2 or len(set(names)) != len(names):
        raise CountError("A question needs at least two distinct options.")
    tally = [int(votes.get(name, 0)) for name in names] if isinstance(votes, Mapping) else [int(v) for v in votes]
    if isinstance(votes, Mapping) and set(votes) - set(names):
        raise CountError(f"Votes for options not on the ballot: {sorted(set(votes) - set(names))}.")
    if len(tally) != len(names) or any(v < 0 for v in tally) or spoilt < 0:
        raise CountError("Give one non-negative vote count per option (and a non-negative number spoilt).")
    cast = sum(tally) + spoilt
    if electorate is not None and cast > electorate:
        raise CountError(f"{cast} votes were cast but the electorate is only {electorate}.")
    turnout_needed = as_fraction(turnout_threshold)
    electorate_needed = as_fraction(electorate_support_threshold)
    cast_needed = as_fraction(votes_support_threshold)
    if (turnout_needed is not None or electorate_needed is not None) and not electorate:
        raise CountError("Turnout and electorate thresholds need the size of the electorate.")

    is_yes_no = [name.lower() for name in names] == ["yes", "no"]
    ties: list[dict[str, Any]] = []
    if is_yes_no:
        winner_index = 0 if tally[0] > tally[1] else (1 if tally[1] > tally[0] else None)
        support = tally[0]
        majority_met = tally[0] > tally[1]
    else:
        top = max(tally)
        tied = [i for i, v in enumerate(tally) if v == top]
        if len(tied) > 1:
            breaker = TieBreaker(names, seed, 0)
            winner_index = breaker.choose(
                tied, 1, stage=1, kind="winning option", prefer="highest", direction=LOT_ONLY
            )[0]
            ties = [tie.to_dict(names) for tie in breaker.ties]
        else:
            winner_index = tied[0]
        support = tally[winner_index]
        majority_met = True
    checks: list[Check] = []
    who = "yes" if is_yes_no else "the winning option"
    if turnout_needed is not None and electorate:
        actual = Fraction(cast, electorate)
        checks.append(
            Check(
                "turnout", "votes cast as a share of the electorate", turnout_needed, actual, actual >= turnout_needed
            )
        )
    if electorate_needed is not None and electorate:
        actual = Fraction(support, electorate)
        checks.append(
            Check(
                "electorate support",
                f"{who} as a share of the electorate",
                electorate_needed,
                actual,
                actual >= electorate_needed,
            )
        )
    if cast_needed is not None:
        actual = Fraction(support, cast) if cast else Fraction(0)
        checks.append(
            Check("vote support", f"{who} as a share of votes cast", cast_needed, actual, actual >= cast_needed)
        )
    return QuestionResult(
        question=question,
        kind="yes_no" if is_yes_no else "choice",
        options=names,
        votes=tally,
        spoilt=spoilt,
        electorate=electorate,
        winner=None if winner_index is None else names[winner_index],
        passed=bool(cast) and majority_met and all(check.met for check in checks),
        checks=checks,
        ties=ties,
        seed=seed,
    )


def industrial_action_ballot(
    *, question: str, yes: int, no: int, spoilt: int, electorate: int, important_public_services: bool = False
) -> QuestionResult:
    """The Trade Union Act 2016 tests: at least 50% turnout; more yes than no; and for important public
    services, yes from at least 40% of those entitled to vote."""
    return count_question(
        question=question,
        options=["Yes", "No"],
        votes=[yes, no],
        spoilt=spoilt,
        electorate=electorate,
        turnout_threshold="50%",
        electorate_support_threshold="40%" if important_public_services else None,
    )
