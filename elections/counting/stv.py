"""Single transferable vote with Gregory transfers: the Scottish rules and the ERS97 rules.

Both keep every bundle of papers with its value, in integer fixed point, and truncate as the rules say.

Scottish rules (Scottish Local Government Elections Order 2007, schedule 1, rules 45-52):
  quota floor(valid / (seats + 1)) + 1; five decimal places, truncated; a surplus is transferred by examining
  every paper the elected candidate holds, each at trunc5(surplus x its value / the candidate's total);
  the largest surplus first, one per stage, never deferred; the lowest candidate is excluded with all their
  papers at their current value in one stage; ties go to the most recent earlier stage at which the tied
  candidates differed, else to lot; when the continuing candidates equal the seats left, they are elected.

ERS97 rules (Electoral Reform Society, "How to conduct an election by the Single Transferable Vote", 3rd ed.):
  two decimal places; quota valid / (seats + 1) to two places, plus 0.01 unless exact, recalculated without
  the non-transferable vote until someone is elected (5.4.8); a candidate is deemed elected on reaching the
  quota or the total active vote / (places left + 1) (5.1.7); a surplus is transferred from the last batch
  received only (5.3.2) at surplus / transferable papers to two places (5.3.7), and deferred while it cannot
  change who is excluded (5.2.2); as many of the lowest candidates as can safely go are excluded together
  (5.2.5), their papers transferred batch by batch in descending order of value, electing between batches
  (5.4); ties go to the first stage or earliest point at which the tied candidates differed, else to lot
  (5.2.3, 5.2.5), and for election ties to nobody at that stage (5.6.2).
"""

from __future__ import annotations

from collections.abc import Callable

from . import reserved as reserve
from .ties import BACKWARD, FORWARD, TieBreaker, join_names
from .tree import BallotTree
from .types import CountError, Profile, ReservedSeats, Result, Stage, format_value

HOPEFUL, ELECTED, EXCLUDED, WITHDRAWN = range(4)

Parcel = tuple[int, int, int]  # (tree node, value of each paper, batch number)


class GregoryCount:
    """The bookkeeping shared by the Scottish, ERS97 and alternative-vote counts."""

    method = "stv"
    rule: str | None = None
    precision = 5
    tie_direction = BACKWARD

    def __init__(self, profile: Profile, *, seats: int, seed: str = "", reserved: ReservedSeats | None = None) -> None:
        self.profile = profile
        self.names = profile.candidates
        self.seats = seats
        self.seed = seed
        self.reserved = reserved
        self.scale = 10**self.precision
        n = len(self.names)
        self.n = n
        self.tree = BallotTree.build(profile.ballots, len(profile.candidates))
        self.valid = self.tree.total
        self.status = [WITHDRAWN if c in profile.withdrawn else HOPEFUL for c in range(n)]
        self.votes = [0] * n
        self.parcels: list[list[Parcel]] = [[] for _ in range(n)]
        self.last_batch = [0] * n
        self.batches = 0
        self.nontransferable = 0
        self.quota: int | None = None
        self.elected: list[int] = []
        self.stages: list[Stage] = []
        self.history: list[list[int]] = []
        self.history_labels: list[str] = []
        self.ties = TieBreaker(self.names, seed, self.precision)
        self.notes: list[str] = []
        # The stage being built.
        self._before: list[int] = []
        self._nt_before = 0
        self._stage_elected: list[int] = []
        self._stage_excluded: list[int] = []
        self._details: list[str] = []
        if self.valid == 0:
            raise CountError("There are no valid ballots to count.")

    # ---- helpers -------------------------------------------------------------------------------------

    def fmt(self, value: int) -> str:
        return format_value(value, self.precision)

    @property
    def stage_number(self) -> int:
        return len(self.stages) + 1

    def hopefuls(self) -> list[int]:
        return [c for c in range(self.n) if self.status[c] == HOPEFUL]

    def continuing_mask(self) -> list[bool]:
        return [s == HOPEFUL for s in self.status]

    def seats_left(self) -> int:
        return self.seats - len(self.elected)

    def begin_stage(self) -> None:
        self._before = list(self.votes)
        self._nt_before = self.nontransferable
        self._stage_elected = []
        self._stage_excluded = []
        self._details = []

    def end_stage(self, action: str, subjects: list[int], note: str) -> Stage:
        stage = Stage(
            number=self.stage_number,
            action=action,
            subjects=list(subjects),
            totals=list(self.votes),
            transfers=[after - before for after, before in zip(self.votes, self._before, strict=True)],
            non_transferable=self.nontransferable,
            non_transferable_change=self.nontransferable - self._nt_before,
            elected=self._stage_elected,
            excluded=self._stage_excluded,
            quota=self.quota,
            note=note,
            details=self._details,
        )
        self.stages.append(stage)
        return stage

    def add_point(self, label: str) -> None:
        self.history.append(list(self.votes))
        self.history_labels.append(label)

    def mark_elected(self, c: int, stage: Stage | None = None) -> None:
        self.status[c] = ELECTED
        self.elected.append(c)
        (stage.elected if stage is not None else self._stage_elected).append(c)

    def mark_excluded(self, c: int) -> None:
        self.status[c] = EXCLUDED
        self._stage_excluded.append(c)

    def first_stage(self) -> None:
        self.begin_stage()
        tree = self.tree
        one = self.scale
        for node in tree.first_preferences():
            c = tree.cand[node]
            self.parcels[c].append((node, one, 0))
            self.votes[c] += tree.weight[node] * one
        self.add_point("stage 1")

    def credit(self, node: int, value: int, batch: int) -> int:
        c = self.tree.cand[node]
        amount = self.tree.weight[node] * value
        self.parcels[c].append((node, value, batch))
        self.votes[c] += amount
        self.last_batch[c] = batch
        return amount

    def lowest(self, candidates: list[int], kind: str = "exclusion") -> int:
        return self._one_of(candidates, kind=kind, prefer="lowest")

    def largest_surplus(self, candidates: list[int]) -> int:
        return self._one_of(candidates, kind="surplus order", prefer="highest")

    def _one_of(self, candidates: list[int], *, kind: str, prefer: str) -> int:
        """The candidate with the fewest (or most) votes; a tie goes to the rule's earlier stages, then lot."""
        extreme = (min if prefer == "lowest" else max)(self.votes[c] for c in candidates)
        tied = [c for c in candidates if self.votes[c] == extreme]
        if len(tied) == 1:
            return tied[0]
        return self.ties.choose(
            tied,
            1,
            stage=self.stage_number,
            kind=kind,
            prefer=prefer,
            history=self.history[:-1] if self.tie_direction == BACKWARD else self.history,
            labels=self.history_labels,
            direction=self.tie_direction,
        )[0]

    def excludable(self) -> list[int]:
        hopefuls = self.hopefuls()
        keep = reserve.protected(self.reserved, self.elected, hopefuls)
        return [c for c in hopefuls if c not in keep] or hopefuls

    def exclusion_note(self, candidate: int) -> str:
        note = f"{self.names[candidate]} has the fewest votes and is excluded."
        hopefuls = self.hopefuls()
        lower = [c for c in hopefuls if self.votes[c] < self.votes[candidate]]
        if lower and self.reserved is not None:
            note += " " + reserve.protected_note(self.reserved, [self.names[c] for c in sorted(lower)])
        return note

    def elect_all_remaining(self, why: str) -> None:
        """Deem every continuing candidate elected, in descending order of votes, at the last stage."""
        remaining = sorted(self.hopefuls(), key=lambda c: (-self.votes[c], c))
        stage = self.stages[-1]
        for c in remaining[: self.seats_left()]:
            self.mark_elected(c, stage)
        if remaining:
            stage.note = (stage.note + " " if stage.note else "") + why.format(
                names=join_names([self.names[c] for c in remaining])
            )

    def reserved_exclusions(self) -> list[int]:
        return reserve.outsiders_to_exclude(self.reserved, self.seats_left(), self.elected, self.hopefuls())

    def result(self) -> Result:
        return Result(
            method=self.method,
            rule=self.rule,
            seats=self.seats,
            precision=self.precision,
            candidates=list(self.names),
            valid_poll=self.valid,
            quota=self.quota,
            stages=self.stages,
            elected=list(self.elected),
            ties=self.ties.ties,
            seed=self.seed,
            title=self.profile.title,
            withdrawn=self.profile.withdrawn,
            invalid=self.profile.invalid,
            reserved=self.reserved,
            notes=self.notes,
        )

    def run(self) -> Result:  # pragma: no cover - each rule defines its own
        raise NotImplementedError


class ScottishCount(GregoryCount):
    rule = "scottish"
    precision = 5
    tie_direction = BACKWARD

    def run(self) -> Result:
        self.quota = (self.valid // (self.seats + 1) + 1) * self.scale
        self.first_stage()
        self.elect_reaching_quota()
        self.end_stage("first", [], "First preferences.")
        while self.seats_left() > 0 and self.hopefuls():
            outsiders = self.reserved_exclusions()
            if outsiders:
                assert self.reserved is not None
                self.exclusion_stage(outsiders, reserve.reserved_note(self.reserved, self.names, outsiders))
                continue
            if len(self.hopefuls()) <= self.seats_left():
                self.elect_all_remaining("{names}: as many continuing candidates as seats left, so elected.")
                break
            surpluses = [c for c in self.elected if self.votes[c] > self.quota]
            if surpluses:
                self.surplus_stage(self.largest_surplus(surpluses))
                continue
            candidate = self.lowest(self.excludable())
            self.exclusion_stage([candidate], self.exclusion_note(candidate))
        return self.result()

    def elect_reaching_quota(self) -> None:
        assert self.quota is not None
        reached = sorted((c for c in self.hopefuls() if self.votes[c] >= self.quota), key=lambda c: (-self.votes[c], c))
        for c in reached:
            if self.seats_left() == 0:
                break
            if reserve.may_elect(self.reserved, c, self.seats_left(), self.elected):
                self.mark_elected(c)

    def surplus_stage(self, candidate: int) -> None:
        assert self.quota is not None
        self.begin_stage()
        total = self.votes[candidate]
        surplus = total - self.quota
        continuing = self.continuing_mask()
        self.batches += 1
        batch = self.batches
        transferred = 0
        values: dict[int, int] = {}
        tree = self.tree
        for node, value, _ in self.parcels[candidate]:
            new_value = values.get(value)
            if new_value is None:
                # Rule 48: each paper at trunc5(surplus x its value / the candidate's total).
                new_value = values[value] = surplus * value // total
            destinations, _ = tree.route(node, continuing)
            if new_value:
                for dest in destinations:
                    transferred += self.credit(dest, new_value, batch)
        self.parcels[candidate] = []
        self.votes[candidate] = self.quota
        self.nontransferable += surplus - transferred
        for value, new_value in sorted(values.items(), reverse=True):
            self._details.append(f"Papers at {self.fmt(value)} transferred at {self.fmt(new_value)} each.")
        self.add_point(f"stage {self.stage_number}")
        self.elect_reaching_quota()
        self.end_stage("surplus", [candidate], f"Surplus of {self.names[candidate]} ({self.fmt(surplus)}) transferred.")

    def exclusion_stage(self, candidates: list[int], note: str) -> None:
        self.begin_stage()
        for c in candidates:
            self.mark_excluded(c)
        continuing = self.continuing_mask()
        tree = self.tree
        self.batches += 1
        batch = self.batches
        for c in candidates:
            for node, value, _ in self.parcels[c]:
                destinations, exhausted = tree.route(node, continuing)
                for dest in destinations:
                    self.credit(dest, value, batch)
                self.nontransferable += exhausted * value
            self.parcels[c] = []
            self.votes[c] = 0
        self.add_point(f"stage {self.stage_number}")
        self.elect_reaching_quota()
        self.end_stage("exclusion", candidates, note)


class ERS97Count(GregoryCount):
    rule = "ers97"
    precision = 2
    tie_direction = FORWARD

    def droop_quota(self, votes: int) -> int:
        # 5.1.6: to two decimal places; if not exact, ignore the remainder and add 0.01 (a ceiling).
        return -(-votes // (self.seats + 1))

    def run(self) -> Result:
        self.quota = self.droop_quota(self.valid * self.scale)
        self.first_stage()
        self.deem_elected()
        self.end_stage("first", [], "First preferences.")
        while self.seats_left() > 0 and self.hopefuls():
            outsiders = self.reserved_exclusions()
            if outsiders:
                assert self.reserved is not None
                self.exclusion_stage(outsiders, reserve.reserved_note(self.reserved, self.names, outsiders))
                continue
            hopefuls = self.hopefuls()
            if len(hopefuls) <= self.seats_left():
                self.elect_all_remaining("{names}: as many continuing candidates as places left, so elected (4.3).")
                break
            pending = [c for c in self.elected if self.votes[c] > self.quota]
            surplus_total = sum(self.votes[c] - self.quota for c in pending)
            if pending and not self.deferrable(surplus_total):
                self.surplus_stage(self.largest_surplus(pending))
                continue
            group = self.choose_exclusion(surplus_total)
            if len(hopefuls) - len(group) <= self.seats_left():
                self.elect_all_remaining(
                    f"Excluding {join_names([self.names[c] for c in group])} would leave as many continuing "
                    "candidates as places, so {names} are deemed elected (5.5.1)."
                )
                break
            names = join_names([self.names[c] for c in group])
            if len(group) == 1:
                note = self.exclusion_note(group[0])
            else:
                note = f"{names} have the fewest votes and are excluded together (5.2.5)."
            if pending:
                note += f" Surpluses totalling {self.fmt(surplus_total)} are deferred (5.2.2)."
            self.exclusion_stage(group, note)
        return self.result()

    # 5.1.7, 5.3.13, 5.4.9 and 5.6.2
    def deem_elected(self) -> None:
        assert self.quota is not None
        while self.seats_left() > 0:
            hopefuls = self.hopefuls()
            if not hopefuls:
                return
            places = self.seats_left()
            kept = sum(min(self.votes[e], self.quota) for e in self.elected)
            active = self.valid * self.scale - self.nontransferable - kept
            top = max(self.votes[c] for c in hopefuls)
            if top <= 0 or not (top >= self.quota or top * (places + 1) >= active):
                return
            tied = sorted(c for c in hopefuls if self.votes[c] == top)
            eligible = [c for c in tied if reserve.may_elect(self.reserved, c, places, self.elected)]
            if not eligible:
                return
            if len(eligible) <= places:
                chosen = eligible
            else:
                chosen = self.ties.choose(
                    eligible,
                    places,
                    stage=self.stage_number,
                    kind="election",
                    prefer="highest",
                    history=self.history[:-1],
                    labels=self.history_labels,
                    direction=FORWARD,
                    allow_lot=False,
                )
                if not chosen:
                    return
            for c in chosen:
                if self.seats_left() > 0 and reserve.may_elect(self.reserved, c, self.seats_left(), self.elected):
                    self.mark_elected(c)
            if len(chosen) < len(eligible):
                return

    # 5.2.2
    def deferrable(self, surplus_total: int) -> bool:
        if self.reserved is not None and self.reserved.seats:
            return False
        values = sorted(self.votes[c] for c in self.hopefuls())
        if len(values) < 2:
            return False
        if surplus_total <= values[1] - values[0]:
            return True
        running = values[0]
        for k in range(2, len(values)):
            running += values[k - 1]
            if len(values) - k < self.seats_left():
                break
            if running + surplus_total <= values[k]:
                return True
        return False

    # 5.2.5
    def choose_exclusion(self, deferred: int) -> list[int]:
        if self.reserved is not None and self.reserved.seats:
            return [self.lowest(self.excludable())]
        hopefuls = self.hopefuls()
        values = sorted(self.votes[c] for c in hopefuls)
        best = 1
        running = 0
        for k in range(1, len(values)):
            running += values[k - 1]
            if len(values) - k < self.seats_left():
                break
            if running + deferred <= values[k]:
                best = k
        threshold = values[best - 1]
        group = [c for c in hopefuls if self.votes[c] < threshold]
        at_threshold = [c for c in hopefuls if self.votes[c] == threshold]
        needed = best - len(group)
        if needed >= len(at_threshold):
            return sorted(group + at_threshold, key=lambda c: (self.votes[c], c))
        chosen = self.ties.choose(
            at_threshold,
            needed,
            stage=self.stage_number,
            kind="exclusion",
            prefer="lowest",
            history=self.history,
            labels=self.history_labels,
            direction=FORWARD,
        )
        return sorted(group, key=lambda c: (self.votes[c], c)) + chosen

    # 5.3
    def surplus_stage(self, candidate: int) -> None:
        assert self.quota is not None
        self.begin_stage()
        surplus = self.votes[candidate] - self.quota
        batch_number = self.last_batch[candidate]
        selected = [p for p in self.parcels[candidate] if p[2] == batch_number]
        continuing = self.continuing_mask()
        tree = self.tree
        routes: list[tuple[int, int]] = []  # (destination node, papers)
        values = {value for _, value, _ in selected}
        assert len(values) == 1, "a batch holds papers of one value"
        value = values.pop()
        for node, _, _ in selected:
            destinations, _ = tree.route(node, continuing)
            routes.extend((dest, tree.weight[dest]) for dest in destinations)
        papers = sum(w for _, w in routes)
        # 5.3.7: surplus / transferable papers to two places, unless they are worth no more than the surplus.
        transfer_value = surplus // papers if papers and papers * value > surplus else value
        self.batches += 1
        transferred = 0
        for dest, _ in routes:
            transferred += self.credit(dest, transfer_value, self.batches)
        self.parcels[candidate] = []
        self.votes[candidate] = self.quota
        self.nontransferable += surplus - transferred
        source = "all papers" if batch_number == 0 else "the last batch received"
        self._details.append(
            f"Examined {source}: {papers} transferable papers at {self.fmt(value)}; "
            f"transfer value {self.fmt(transfer_value)}; non-transferable difference {self.fmt(surplus - transferred)}."
        )
        self.add_point(f"stage {self.stage_number}")
        self.deem_elected()
        self.end_stage("surplus", [candidate], f"Surplus of {self.names[candidate]} ({self.fmt(surplus)}) transferred.")

    # 5.4
    def exclusion_stage(self, candidates: list[int], note: str) -> None:
        assert self.quota is not None
        self.begin_stage()
        for c in candidates:
            self.mark_excluded(c)
        tree = self.tree
        by_value: dict[int, list[tuple[int, int]]] = {}
        for c in candidates:
            for node, value, _ in self.parcels[c]:
                by_value.setdefault(value, []).append((c, node))
            self.parcels[c] = []
        values = sorted(by_value, reverse=True)
        for position, value in enumerate(values):
            if self.seats_left() == 0:
                # 5.5.2: no further transfers once every place is filled; the papers stay where they are.
                for later in values[position:]:
                    for holder, node in by_value[later]:
                        self.parcels[holder].append((node, later, 0))
                break
            continuing = self.continuing_mask()
            self.batches += 1
            papers = 0
            for holder, node in by_value[value]:
                destinations, exhausted = tree.route(node, continuing)
                for dest in destinations:
                    self.credit(dest, value, self.batches)
                self.nontransferable += exhausted * value
                self.votes[holder] -= tree.weight[node] * value
                papers += tree.weight[node]
            self._details.append(f"Batch {position + 1}: {papers} papers at {self.fmt(value)}.")
            self.add_point(f"stage {self.stage_number}, batch {position + 1}")
            if not self.elected and self.nontransferable:
                # 5.4.8: until someone is elected, the quota ignores the non-transferable vote.
                self.quota = self.droop_quota(self.valid * self.scale - self.nontransferable)
            self.deem_elected()
        self.end_stage("exclusion", candidates, note)


RULES: dict[str, Callable[..., GregoryCount]] = {"scottish": ScottishCount, "ers97": ERS97Count}
