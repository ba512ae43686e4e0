"""Properties that every count must have, on random elections (hypothesis)."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyrankvote import Ballot, Candidate, instant_runoff_voting

from elections.counting import Profile, count, parse_blt, write_blt

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = [("stv", "scottish"), ("stv", "ers97"), ("stv", "meek"), ("irv", None), ("fptp", None), ("approval", None)]


@st.composite
def elections(draw, max_candidates: int = 6, max_ballots: int = 30):
    n = draw(st.integers(min_value=2, max_value=max_candidates))
    names = [f"C{i}" for i in range(n)]
    rankings = st.permutations(range(n)).flatmap(lambda p: st.integers(1, n).map(lambda k: tuple(p[:k])))
    ballots = draw(st.lists(st.tuples(rankings, st.integers(1, 5)), min_size=1, max_size=max_ballots))
    seats = draw(st.integers(min_value=1, max_value=n - 1))
    return names, ballots, seats


def build(names, ballots, seats) -> Profile:
    return Profile.from_ballots(names, [(list(r), w) for r, w in ballots], seats=seats, weighted=True)


def run(names, ballots, seats, method, rule):
    return count(build(names, ballots, 1 if method == "irv" else seats), method=method, rule=rule, seed="prop")


@SETTINGS
@given(elections(), st.sampled_from(RULES))
def test_totals_are_conserved_at_every_stage(election, method_rule):
    names, ballots, seats = election
    method, rule = method_rule
    result = run(names, ballots, seats, method, rule).to_dict()
    valid = sum(w for _, w in ballots)
    assert result["valid_poll"] == valid
    for stage in result["stages"]:
        counted = sum(Decimal(v) for v in stage["totals"].values()) + Decimal(stage["non_transferable"])
        if method in ("fptp", "approval"):
            # Each ballot may mark several candidates; every mark is one vote.
            marks = sum(w * (len(r[:seats]) if method == "fptp" else len(r)) for r, w in ballots)
            assert counted == marks
        else:
            assert counted == valid
        changes = sum(Decimal(v) for v in stage["transfers"].values()) + Decimal(stage["non_transferable_change"])
        assert stage["number"] == 1 or changes == 0
        assert all(Decimal(v) >= 0 for v in stage["totals"].values())


@SETTINGS
@given(elections(), st.sampled_from(RULES))
def test_winners_fill_the_seats_and_never_exceed_them(election, method_rule):
    names, ballots, seats = election
    method, rule = method_rule
    result = run(names, ballots, seats, method, rule)
    wanted = 1 if method == "irv" else seats
    assert len(result.elected) == len(set(result.elected)) == wanted
    elected_in_stages = [c for stage in result.stages for c in stage.elected]
    assert elected_in_stages == result.elected or sorted(elected_in_stages) == sorted(result.elected)


@SETTINGS
@given(elections(), st.sampled_from(RULES), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_ballot_order_or_grouping(election, method_rule, rng):
    names, ballots, seats = election
    method, rule = method_rule
    expected = run(names, ballots, seats, method, rule).to_json()
    shuffled = list(ballots)
    rng.shuffle(shuffled)
    assert run(names, shuffled, seats, method, rule).to_json() == expected
    split = [(r, 1) for r, w in shuffled for _ in range(w)]  # the same ballots, one line each
    assert run(names, split, seats, method, rule).to_json() == expected


@SETTINGS
@given(elections(), st.sampled_from(RULES))
def test_a_recount_from_the_exported_blt_is_identical(election, method_rule):
    names, ballots, seats = election
    method, rule = method_rule
    profile = build(names, ballots, 1 if method == "irv" else seats)
    original = count(profile, method=method, rule=rule, seed="s").to_json()
    assert count(parse_blt(write_blt(profile)), method=method, rule=rule, seed="s").to_json() == original


@SETTINGS
@given(elections())
def test_fptp_agrees_with_a_plain_tally(election):
    names, ballots, seats = election
    first = Counter()
    for ranking, weight in ballots:
        for c in ranking[:seats]:
            first[names[c]] += weight
    result = run(names, ballots, seats, "fptp", None)
    ordered = sorted(names, key=lambda n: -first[n])
    cut = first[ordered[seats - 1]]
    certain = {n for n in names if first[n] > cut}
    assert certain <= set(result.winners)
    assert all(first[n] >= cut for n in result.winners)
    if seats < len(names) and first[ordered[seats]] < cut:
        assert set(result.winners) == set(ordered[:seats])
        assert result.ties == []


@SETTINGS
@given(elections(max_candidates=5, max_ballots=25))
def test_irv_agrees_with_pyrankvote(election):
    names, ballots, _ = election
    result = run(names, ballots, 1, "irv", None)
    assume(not result.ties)
    candidates = [Candidate(name) for name in names]
    pyballots = [Ballot(ranked_candidates=[candidates[c] for c in r]) for r, w in ballots for _ in range(w)]
    random.seed(0)  # pyrankvote breaks its own ties at random
    theirs = instant_runoff_voting(candidates, pyballots).get_winners()
    assert [c.name for c in theirs] == result.winners


@SETTINGS
@given(elections(max_candidates=5, max_ballots=25))
def test_single_seat_stv_is_the_alternative_vote(election):
    names, ballots, _ = election
    irv = run(names, ballots, 1, "irv", None)
    scottish = run(names, ballots, 1, "stv", "scottish")
    assume(not irv.ties and not scottish.ties)
    assert scottish.winners == irv.winners


def naive_meek_votes(ballots, status, keep, n, scale=10**9):
    """Every paper one by one: the arithmetic Meek's method prescribes, with no grouping."""
    votes, excess = [0] * n, 0
    for ranking, weight in ballots:
        for _ in range(weight):
            value = scale
            for c in ranking:
                if status[c] == "excluded":
                    continue
                given = value if status[c] == "hopeful" else value * keep[c] // scale
                votes[c] += given
                value -= given
                if value == 0:
                    break
            excess += value
    return votes, excess


@SETTINGS
@given(elections(), st.data())
def test_meek_paper_groups_count_exactly_like_paper_by_paper(election, data):
    from elections.counting.meek import ELECTED, EXCLUDED, MeekCount

    names, ballots, seats = election
    meek = MeekCount(build(names, ballots, seats), seats=seats)
    status = ["hopeful"] * len(names)
    for c in data.draw(st.permutations(range(len(names)))):
        change = data.draw(st.sampled_from(["hopeful", "elected", "excluded"]))
        if change == "hopeful":
            continue
        status[c] = change
        meek.status[c] = ELECTED if change == "elected" else EXCLUDED
        meek.keep[c] = data.draw(st.integers(0, 10**9)) if change == "elected" else 0
        meek.papers.changed(c)
    meek.distribute()
    assert (meek.votes, meek.excess) == naive_meek_votes(ballots, status, meek.keep, len(names))
