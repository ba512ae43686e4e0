"""Breaking ties: by the candidates' votes at earlier stages where the rule says so, else by lot.

Lot is drawn from a seed fixed and published before the count. Each tied candidate is given the SHA-256 of
``"<seed>|<stage>|<kind>|<candidate name>"`` (UTF-8, hex); the candidate with the lowest hash is drawn first.
Anyone can redo the draw with a SHA-256 tool, and a recount with the same seed draws the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .types import Tie

BACKWARD = "backward"  # the most recent earlier stage at which they differed (Scottish rules)
FORWARD = "forward"  # the first stage, or the earliest point at which they differed (ERS97)
LOT_ONLY = "lot"


def lot_key(seed: str, stage: int, kind: str, name: str) -> str:
    return hashlib.sha256(f"{seed}|{stage}|{kind}|{name}".encode()).hexdigest()


def join_names(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class TieBreaker:
    def __init__(self, names: Sequence[str], seed: str, precision: int) -> None:
        self.names = names
        self.seed = seed
        self.precision = precision
        self.ties: list[Tie] = []

    def draw(self, tied: Sequence[int], stage: int, kind: str) -> list[int]:
        """The tied candidates in the order lot draws them."""
        return sorted(tied, key=lambda c: lot_key(self.seed, stage, kind, self.names[c]))

    def choose(
        self,
        tied: Sequence[int],
        needed: int,
        *,
        stage: int,
        kind: str,
        prefer: str,
        history: Sequence[Sequence[int]] = (),
        direction: str = LOT_ONLY,
        allow_lot: bool = True,
        labels: Sequence[str] = (),
    ) -> list[int]:
        """Choose ``needed`` of the ``tied`` candidates, best first, and record how.

        ``prefer`` is "lowest" (e.g. whom to exclude) or "highest" (e.g. whose surplus goes first).
        ``history`` holds the earlier totals, oldest first; ``labels`` names each point for the report.
        Without lot, candidates equal at every earlier point are not chosen (so fewer may come back).
        """
        remaining = sorted(tied)
        chosen: list[int] = []
        used_lot = False
        reasons: list[str] = []
        order = range(len(history)) if direction == FORWARD else range(len(history) - 1, -1, -1)
        if direction == LOT_ONLY:
            order = range(0)
        while len(chosen) < needed and remaining:
            group = list(remaining)
            for point in order:
                values = {c: history[point][c] for c in group}
                if len(set(values.values())) > 1:
                    best = min(values.values()) if prefer == "lowest" else max(values.values())
                    group = [c for c in group if values[c] == best]
                    where = labels[point] if point < len(labels) else f"point {point + 1}"
                    reasons.append(f"{join_names([self.names[c] for c in group])} had the {prefer} vote at {where}")
                    if len(group) == 1:
                        break
            if len(group) > 1:
                if not allow_lot:
                    break
                used_lot = True
                group = self.draw(group, stage, kind)[:1]
                reasons.append(f"{self.names[group[0]]} was drawn by lot (seed {self.seed!r})")
            chosen.append(group[0])
            remaining.remove(group[0])
        tied_names = join_names([self.names[c] for c in sorted(tied)])
        if chosen:
            outcome = f"chosen: {join_names([self.names[c] for c in chosen])}"
        else:
            outcome = "equal at every earlier point, so none was chosen at this stage"
        self.ties.append(
            Tie(
                stage=stage,
                kind=kind,
                candidates=sorted(tied),
                chosen=list(chosen),
                decided_by="lot" if used_lot else "earlier stages",
                detail=f"{tied_names} were equal for {kind}; " + "; ".join(reasons + [outcome]) + ".",
            )
        )
        return chosen
