"""The alternative vote (instant run-off) for one seat.

Each stage excludes the candidate with the fewest votes and passes their papers on at full value, until a
candidate has more than half of the votes still in the count (papers with no further preference drop out),
or only one candidate is left. Ties for exclusion go to the most recent earlier stage at which the tied
candidates differed, else to lot.
"""

from __future__ import annotations

from . import reserved as reserve
from .stv import GregoryCount
from .types import CountError, Profile, ReservedSeats, Result


class AlternativeVoteCount(GregoryCount):
    method = "irv"
    rule = None
    precision = 0

    def majority(self) -> int:
        return sum(self.votes[c] for c in self.hopefuls()) // 2 + 1

    def run(self) -> Result:
        self.first_stage()
        self.quota = self.majority()
        self.check_majority()
        self.end_stage("first", [], "First preferences.")
        while not self.elected and self.hopefuls():
            outsiders = self.reserved_exclusions()
            if outsiders:
                assert self.reserved is not None
                self.exclusion_stage(outsiders, reserve.reserved_note(self.reserved, self.names, outsiders))
                continue
            candidate = self.lowest(self.excludable())
            self.exclusion_stage([candidate], self.exclusion_note(candidate))
        return self.result()

    def check_majority(self) -> None:
        hopefuls = self.hopefuls()
        if not hopefuls or self.reserved_exclusions():
            return
        top = max(hopefuls, key=lambda c: (self.votes[c], -c))
        if len(hopefuls) == 1 or self.votes[top] >= self.majority():
            self.mark_elected(top)

    def exclusion_stage(self, candidates: list[int], note: str) -> None:
        self.begin_stage()
        for c in candidates:
            self.mark_excluded(c)
        continuing = self.continuing_mask()
        tree = self.tree
        for c in candidates:
            for node, value, _ in self.parcels[c]:
                destinations, exhausted = tree.route(node, continuing)
                for dest in destinations:
                    self.credit(dest, value, 0)
                self.nontransferable += exhausted * value
            self.parcels[c] = []
            self.votes[c] = 0
        self.add_point(f"stage {self.stage_number}")
        self.quota = self.majority() if self.hopefuls() else self.quota
        self.check_majority()
        self.end_stage("exclusion", candidates, note)


def count_irv(profile: Profile, *, seats: int, seed: str, reserved: ReservedSeats | None) -> Result:
    if seats != 1:
        raise CountError(
            f"The alternative vote fills one seat; this election has {seats}. Count it by STV, or set seats to 1."
        )
    return AlternativeVoteCount(profile, seats=1, seed=seed, reserved=reserved).run()
