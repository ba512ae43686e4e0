"""Meek's method of STV, in nine-decimal fixed point.

Every candidate has a keep factor: 1 while hopeful, 0 once excluded, and for an elected candidate the share
of each paper reaching them that they keep. A paper gives each candidate on it, in order, its remaining value
times their keep factor (truncated to nine places) and passes the rest on; what is left after its last
preference is the excess (the non-transferable vote).

- The quota is the votes in play (valid poll less the excess) divided by seats + 1, and is recalculated at
  every iteration; a candidate is elected on exceeding it (Droop's "more than" a quota).
- After an election or an exclusion, keep factors are updated, kf = kf x quota / votes (rounded up to nine
  places), and the papers recounted, until every elected candidate is within 0.00001 of the quota, or a
  hopeful candidate exceeds the quota (who is then elected), or the figures stop changing.
- With no surplus left to settle, the hopeful candidate with the fewest votes is excluded. Ties (exactly
  equal votes at nine places) are decided by lot.

One stage of the report is one such settled state: first preferences, a redistribution of surpluses
("surplus"), or an exclusion followed by the redistribution it causes ("exclusion").
"""

from __future__ import annotations

from . import reserved as reserve
from .ties import LOT_ONLY, TieBreaker, join_names
from .tree import BallotTree
from .types import CountError, Profile, ReservedSeats, Result, Stage, format_value

HOPEFUL, ELECTED, EXCLUDED, WITHDRAWN = range(4)


class MeekCount:
    method = "stv"
    rule = "meek"
    precision = 9
    omega = 10**4  # 0.00001 of a vote
    max_iterations = 2000

    def __init__(self, profile: Profile, *, seats: int, seed: str = "", reserved: ReservedSeats | None = None) -> None:
        self.profile = profile
        self.names = profile.candidates
        self.n = len(self.names)
        self.seats = seats
        self.seed = seed
        self.reserved = reserved
        self.scale = 10**self.precision
        tree = BallotTree.build(profile.ballots, len(profile.candidates))
        self.valid = tree.total
        if self.valid == 0:
            raise CountError("There are no valid ballots to count.")
        self.total = self.valid * self.scale
        self.status = [WITHDRAWN if c in profile.withdrawn else HOPEFUL for c in range(self.n)]
        self.keep = [self.scale if s == HOPEFUL else 0 for s in self.status]
        self.papers = PaperGroups(tree, self.status)
        self.votes = [0] * self.n
        self.excess = 0
        self.elected: list[int] = []
        self.stages: list[Stage] = []
        self.ties = TieBreaker(self.names, seed, self.precision)
        self.iterations = 0
        self.settled = True
        self._before: list[int] = []
        self._excess_before = 0
        self._stage_elected: list[int] = []
        self._stage_excluded: list[int] = []

    # ---- arithmetic ----------------------------------------------------------------------------------

    def distribute(self) -> None:
        """Recount every paper with the current keep factors (by groups of papers that count alike)."""
        keep, scale = self.keep, self.scale
        votes = [0] * self.n
        excess = 0
        for sequence, weight in self.papers.stopping.items():
            value = scale
            for c in sequence[:-1]:
                given = value * keep[c] // scale
                votes[c] += weight * given
                value -= given
            votes[sequence[-1]] += weight * value
        for sequence, weight in self.papers.exhausted.items():
            value = scale
            for c in sequence:
                given = value * keep[c] // scale
                votes[c] += weight * given
                value -= given
            excess += weight * value
        self.votes = votes
        self.excess = excess
        self.iterations += 1

    @property
    def active(self) -> int:
        return self.total - self.excess

    def over_quota(self, c: int) -> bool:
        return self.votes[c] * (self.seats + 1) > self.active

    def quota_value(self) -> int:
        return self.active // (self.seats + 1)

    def deviation(self) -> int:
        """How far, in total, the elected candidates are from the quota (times seats + 1)."""
        target = self.active
        return sum(abs(self.votes[e] * (self.seats + 1) - target) for e in self.elected if self.keep[e])

    def converged(self) -> bool:
        return self.deviation() <= self.omega * (self.seats + 1)

    def update_keep_factors(self) -> bool:
        changed = False
        active, seats1, scale = self.active, self.seats + 1, self.scale
        for e in self.elected:
            votes = self.votes[e]
            if votes <= 0:
                continue
            denominator = seats1 * votes
            new = min(scale, -(-self.keep[e] * active // denominator))
            if new != self.keep[e]:
                self.keep[e] = new
                changed = True
        return changed

    def settle(self) -> int:
        """Iterate keep factors until the surpluses are settled or a hopeful candidate exceeds the quota.

        Settled means within 0.00001 of the quota, or a fixed point: the keep factors, at nine places, no
        longer change (with a large poll one step of a keep factor can be worth more than 0.00001 votes).
        """
        done = 0
        while done < self.max_iterations:
            if any(self.over_quota(c) for c in self.hopefuls()):
                return done
            if self.converged() or not self.update_keep_factors():
                break
            self.distribute()
            done += 1
        self.settled = True
        return done

    # ---- the count -----------------------------------------------------------------------------------

    def hopefuls(self) -> list[int]:
        return [c for c in range(self.n) if self.status[c] == HOPEFUL]

    def seats_left(self) -> int:
        return self.seats - len(self.elected)

    def fmt(self, value: int) -> str:
        return format_value(value, self.precision)

    def begin_stage(self) -> None:
        self._before = list(self.votes)
        self._excess_before = self.excess
        self._stage_elected = []
        self._stage_excluded = []

    def end_stage(self, action: str, subjects: list[int], note: str, details: list[str]) -> None:
        self.stages.append(
            Stage(
                number=len(self.stages) + 1,
                action=action,
                subjects=subjects,
                totals=list(self.votes),
                transfers=[a - b for a, b in zip(self.votes, self._before, strict=True)],
                non_transferable=self.excess,
                non_transferable_change=self.excess - self._excess_before,
                elected=self._stage_elected,
                excluded=self._stage_excluded,
                quota=self.quota_value(),
                note=note,
                details=details,
            )
        )

    def elect_over_quota(self) -> None:
        over = sorted((c for c in self.hopefuls() if self.over_quota(c)), key=lambda c: (-self.votes[c], c))
        for c in over:
            if self.seats_left() and reserve.may_elect(self.reserved, c, self.seats_left(), self.elected):
                self.status[c] = ELECTED
                self.settled = False
                self.papers.changed(c)
                self.elected.append(c)
                self._stage_elected.append(c)

    def keep_details(self) -> list[str]:
        return [f"Keep factor of {self.names[e]}: {self.fmt(self.keep[e])}." for e in self.elected if self.keep[e]]

    def run(self) -> Result:
        self.begin_stage()
        self.distribute()
        self.elect_over_quota()
        self.end_stage("first", [], "First preferences.", [])
        while self.seats_left() > 0 and self.hopefuls():
            hopefuls = self.hopefuls()
            outsiders = reserve.outsiders_to_exclude(self.reserved, self.seats_left(), self.elected, hopefuls)
            if outsiders:
                assert self.reserved is not None
                self.exclude(outsiders, reserve.reserved_note(self.reserved, self.names, outsiders))
                continue
            if len(hopefuls) <= self.seats_left():
                stage = self.stages[-1]
                for c in sorted(hopefuls, key=lambda c: (-self.votes[c], c)):
                    self.status[c] = ELECTED
                    self.elected.append(c)
                    stage.elected.append(c)
                stage.note += (
                    f" {join_names([self.names[c] for c in hopefuls])}: as many hopeful candidates as seats left,"
                    " so elected."
                )
                break
            if not self.settled:
                self.begin_stage()
                subjects = [e for e in self.elected if self.keep[e] and self.over_quota(e)] or list(self.elected)
                done = self.settle()
                self.elect_over_quota()
                self.end_stage(
                    "surplus",
                    subjects,
                    f"Surpluses of {join_names([self.names[c] for c in subjects])} redistributed "
                    f"({done} iterations of the keep factors).",
                    self.keep_details(),
                )
                continue
            candidate = self.lowest()
            note = f"{self.names[candidate]} has the fewest votes and is excluded."
            lower = [c for c in self.hopefuls() if self.votes[c] < self.votes[candidate]]
            if lower and self.reserved is not None:
                note += " " + reserve.protected_note(self.reserved, [self.names[c] for c in sorted(lower)])
            self.exclude([candidate], note)
        return Result(
            method=self.method,
            rule=self.rule,
            seats=self.seats,
            precision=self.precision,
            candidates=list(self.names),
            valid_poll=self.valid,
            quota=self.stages[-1].quota,
            stages=self.stages,
            elected=list(self.elected),
            ties=self.ties.ties,
            seed=self.seed,
            title=self.profile.title,
            withdrawn=self.profile.withdrawn,
            invalid=self.profile.invalid,
            reserved=self.reserved,
            notes=[f"Meek counts settle to within 0.00001 of the quota; {self.iterations} recounts of the papers."],
        )

    def lowest(self) -> int:
        hopefuls = self.hopefuls()
        keep = reserve.protected(self.reserved, self.elected, hopefuls)
        candidates = [c for c in hopefuls if c not in keep] or hopefuls
        low = min(self.votes[c] for c in candidates)
        tied = [c for c in candidates if self.votes[c] == low]
        if len(tied) == 1:
            return tied[0]
        return self.ties.choose(
            tied, 1, stage=len(self.stages) + 1, kind="exclusion", prefer="lowest", direction=LOT_ONLY
        )[0]

    def exclude(self, candidates: list[int], note: str) -> None:
        self.begin_stage()
        for c in candidates:
            self.status[c] = EXCLUDED
            self.settled = False
            self.keep[c] = 0
            self.papers.changed(c)
            self._stage_excluded.append(c)
        self.distribute()
        done = self.settle()
        self.elect_over_quota()
        self.end_stage(
            "exclusion", list(candidates), f"{note} ({done} iterations of the keep factors).", self.keep_details()
        )


class PaperGroups:
    """Papers grouped by all that matters to a Meek iteration: the elected candidates they pass through, in
    order, and the hopeful candidate where they stop (``stopping``), or nothing if they run out first
    (``exhausted``). Excluded candidates are passed over. Each iteration then costs one step per group, not
    per paper or per distinct ballot; when a candidate is elected or excluded, only the groups that stop at
    them are extended, by walking on from the tree nodes where they stopped.
    """

    def __init__(self, tree: BallotTree, status: list[int]) -> None:
        self.tree = tree
        self.status = status
        self.stopping: dict[tuple[int, ...], int] = {}
        self.exhausted: dict[tuple[int, ...], int] = {}
        self.nodes: dict[tuple[int, ...], list[int]] = {}
        self.by_last: list[set[tuple[int, ...]]] = [set() for _ in status]
        self.walk(0, ())

    def changed(self, candidate: int) -> None:
        """``candidate`` is no longer hopeful: the papers stopping at them walk on."""
        elected = self.status[candidate] == ELECTED
        for sequence in sorted(self.by_last[candidate]):
            del self.stopping[sequence]
            base = sequence if elected else sequence[:-1]
            for node in self.nodes.pop(sequence):
                self.walk(node, base)
        self.by_last[candidate].clear()

    def walk(self, node: int, base: tuple[int, ...]) -> None:
        tree, status = self.tree, self.status
        cand, weight, ends, size = tree.cand, tree.weight, tree.ends, tree.size
        if node and ends[node]:
            self.exhausted[base] = self.exhausted.get(base, 0) + ends[node]
        ranges = [(node + size[node], base)]
        i = node + 1
        while ranges:
            end, sequence = ranges[-1]
            if i >= end:
                ranges.pop()
                continue
            c = cand[i]
            state = status[c]
            if state == HOPEFUL:
                key = (*sequence, c)
                self.stopping[key] = self.stopping.get(key, 0) + weight[i]
                self.nodes.setdefault(key, []).append(i)
                self.by_last[c].add(key)
                i += size[i]
            elif state == ELECTED:
                extended = (*sequence, c)
                if ends[i]:
                    self.exhausted[extended] = self.exhausted.get(extended, 0) + ends[i]
                ranges.append((i + size[i], extended))
                i += 1
            else:
                if ends[i]:
                    self.exhausted[sequence] = self.exhausted.get(sequence, 0) + ends[i]
                i += 1
