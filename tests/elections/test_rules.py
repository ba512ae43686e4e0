"""Each counting rule on small elections worked out by hand, and on the two published test vectors."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from elections.counting import CountError, Profile, ReservedSeats, count, parse_blt
from elections.counting.ties import BACKWARD, FORWARD, TieBreaker
from tests.elections.conftest import require_elections_data

SC_GREGORY = {"Pat LaMarche", "Rebecca Rotzler", "Steve Kramer", "Tom Sevigny"}
SC_MEEK = {"Pat LaMarche", "Rebecca Rotzler", "Steve Kramer", "Kristen Olsen"}


def profile(candidates, ballots, seats):
    return Profile.from_ballots(candidates, ballots, seats=seats, weighted=True)


def small(name: str) -> Profile:
    return parse_blt((require_elections_data() / "small" / name).read_bytes())


# ---- the published vectors ---------------------------------------------------------------------------


def test_sc_blt_scottish_elects_the_gregory_winners():
    result = count(small("SC.blt"), method="stv", rule="scottish")
    assert set(result.winners) == SC_GREGORY
    assert result.to_dict()["quota"] == "19.00000"
    # Four candidates with no votes at all are excluded one by one: lot decides their order, and says so.
    assert {tie.decided_by for tie in result.ties} == {"lot"}


def test_sc_blt_meek_elects_olsen_instead_of_sevigny():
    result = count(small("SC.blt"), method="stv", rule="meek")
    assert set(result.winners) == SC_MEEK


def test_sc_blt_ers97_transfers_only_the_last_batch_and_so_elects_olsen():
    """ERS97 is Gregory, but not inclusive: a later surplus comes only from the last batch received (5.3.2).
    Here that sends Steve Kramer's surplus to Budd Dickinson at full value, and Kristen Olsen finishes 0.36
    ahead of Tom Sevigny -- the same winners as Meek, unlike the inclusive Scottish count (where Olsen trails
    Sevigny by 0.02 when she is excluded)."""
    result = count(small("SC.blt"), method="stv", rule="ers97").to_dict()
    assert set(result["elected"]) == SC_MEEK
    assert result["quota"] == "18.80"
    kramer = next(s for s in result["stages"] if s["action"] == "surplus" and s["candidate"] == "Steve Kramer")
    assert "last batch received" in kramer["details"][0]
    final = result["stages"][-1]["totals"]
    assert Decimal(final["Kristen Olsen"]) - Decimal(final["Tom Sevigny"]) == Decimal("0.36")


def test_42_blt_meek_ties_pollux_and_helen_and_breaks_it_by_lot():
    blt = small("42.blt")
    result = count(blt, method="stv", rule="meek", seed="published seed")
    assert result.winners[0] == "Castor"
    assert len(result.ties) == 1
    tie = result.ties[0]
    assert tie.kind == "exclusion" and tie.decided_by == "lot"
    assert {result.candidates[c] for c in tie.candidates} == {"Pollux", "Helen"}
    assert set(result.winners) == {"Castor", ({"Pollux", "Helen"} - {result.candidates[tie.chosen[0]]}).pop()}
    assert "lot" in result.to_dict()["ties"][0]["detail"]
    # Same seed, same draw: a recount reproduces the result exactly.
    assert count(blt, method="stv", rule="meek", seed="published seed").to_json() == result.to_json()


def test_42_blt_lot_follows_the_published_hash_rule():
    result = count(small("42.blt"), method="stv", rule="meek", seed="s")
    stage = result.ties[0].stage
    keys = {name: hashlib.sha256(f"s|{stage}|exclusion|{name}".encode()).hexdigest() for name in ("Pollux", "Helen")}
    drawn = min(keys, key=keys.get)
    assert result.candidates[result.ties[0].chosen[0]] == drawn


def test_42_blt_scottish_and_ers97_elect_castor_then_helen():
    scottish = count(small("42.blt"), method="stv", rule="scottish").to_dict()
    assert scottish["elected"] == ["Castor", "Helen"]
    assert scottish["quota"] == "3.00000"
    assert [s["action"] for s in scottish["stages"]] == ["first", "surplus", "exclusion"]
    ers97 = count(small("42.blt"), method="stv", rule="ers97").to_dict()
    # 6 / 3 = 2.00 exactly, so the quota is 2.00 (5.1.6) and Helen reaches it at the first stage.
    assert ers97["quota"] == "2.00"
    assert ers97["stages"][0]["elected"] == ["Castor", "Helen"]


# ---- Scottish rules: hand-worked ------------------------------------------------------------------------

TIE_CANDIDATES = ["BIG", "X", "Y", "W", "V"]
TIE_BALLOTS = [(["BIG"], 12), (["X"], 5), (["Y"], 4), (["W", "X"], 1), (["W"], 2), (["V", "Y"], 2)]


@pytest.mark.parametrize(("method", "rule"), [("stv", "scottish"), ("irv", None)])
def test_exclusion_tie_goes_to_the_most_recent_stage_where_they_differed(method, rule):
    # Stage 1: X 5, Y 4. V's papers go to Y (X 5, Y 6). W's go 1 to X, 2 nowhere: X 6, Y 6.
    # Most recent earlier stage: X 5 < Y 6, so X goes (at the first stage Y was lower: that does not count).
    result = count(profile(TIE_CANDIDATES, TIE_BALLOTS, 1), method=method, rule=rule, seed="x").to_dict()
    assert [s["candidate"] for s in result["stages"]][1:4] == ["V", "W", "X"]
    assert result["ties"] == [
        {
            "stage": 4,
            "kind": "exclusion",
            "candidates": ["X", "Y"],
            "chosen": ["X"],
            "decided_by": "earlier stages",
            "detail": "X and Y were equal for exclusion; X had the lowest vote at stage 2; chosen: X.",
        }
    ]
    assert result["elected"] == ["BIG"]


def test_tiebreaker_directions_differ():
    history = [[5, 4], [5, 6], [6, 6]]  # candidate 0 and 1 at three points
    backward = TieBreaker(["a", "b"], "", 0).choose(
        [0, 1], 1, stage=4, kind="exclusion", prefer="lowest", history=history[:-1], direction=BACKWARD
    )
    forward = TieBreaker(["a", "b"], "", 0).choose(
        [0, 1], 1, stage=4, kind="exclusion", prefer="lowest", history=history, direction=FORWARD
    )
    assert backward == [0] and forward == [1]


def test_forward_without_lot_chooses_nobody_when_always_equal():
    breaker = TieBreaker(["a", "b"], "", 0)
    assert (
        breaker.choose(
            [0, 1], 1, stage=2, kind="election", prefer="highest", history=[[3, 3]], direction=FORWARD, allow_lot=False
        )
        == []
    )
    assert "none was chosen" in breaker.ties[0].detail


def test_scottish_surplus_uses_every_paper_at_its_current_value():
    # A: 10 first preferences; quota floor(16/3)+1 = 6; surplus 4 over a total of 10:
    # each paper goes on at trunc5(4 x 1 / 10) = 0.4: 7 papers to B (2.8), 3 without a next preference.
    ballots = [(["A", "B"], 7), (["A"], 3), (["B"], 2), (["C"], 4)]
    result = count(profile(["A", "B", "C"], ballots, 2), method="stv", rule="scottish").to_dict()
    surplus = result["stages"][1]
    assert surplus["action"] == "surplus" and surplus["candidate"] == "A"
    assert surplus["totals"] == {"A": "6.00000", "B": "4.80000", "C": "4.00000"}
    assert surplus["non_transferable"] == "1.20000"
    assert surplus["transfers"]["B"] == "2.80000"


# ---- ERS97: hand-worked -----------------------------------------------------------------------------------


def test_ers97_defers_a_surplus_that_cannot_matter_and_excludes_together():
    # Quota 51/3 = 17.00. A has 21, a surplus of 4. D 4 + E 3 + 4 does not exceed C's 11, so the surplus is
    # deferred (5.2.2(b)) and D and E are excluded together (5.2.5). Then A's surplus: 4 / 21 papers = 0.19.
    ballots = [(["A", "B"], 11), (["A", "C"], 10), (["B"], 12), (["C"], 11), (["D", "B"], 4), (["E", "C"], 3)]
    result = count(profile(["A", "B", "C", "D", "E"], ballots, 2), method="stv", rule="ers97").to_dict()
    first, exclusion, surplus = result["stages"]
    assert first["elected"] == ["A"]
    assert exclusion["action"] == "exclusion" and exclusion["candidates"] == ["E", "D"]
    assert "deferred" in exclusion["note"]
    assert exclusion["totals"]["B"] == "16.00" and exclusion["totals"]["C"] == "14.00"
    assert surplus["candidate"] == "A"
    assert surplus["totals"] == {"A": "17.00", "B": "18.09", "C": "15.90", "D": "0.00", "E": "0.00"}
    assert surplus["non_transferable"] == "0.01"
    assert "transfer value 0.19" in surplus["details"][0]
    assert result["elected"] == ["A", "B"]


def test_ers97_quota_adds_a_hundredth_unless_exact():
    ballots = [(["A"], 5), (["B"], 3), (["C"], 2)]
    exact = count(profile(["A", "B", "C"], ballots, 1), method="stv", rule="ers97").to_dict()
    assert exact["stages"][0]["quota"] == "5.00"
    inexact = count(profile(["A", "B", "C"], ballots, 2), method="stv", rule="ers97").to_dict()
    assert inexact["stages"][0]["quota"] == "3.34"  # 10 / 3 = 3.33..., remainder ignored, plus 0.01


def test_ers97_quota_falls_with_the_non_transferable_vote_until_someone_is_elected():
    # 5.4.8: C's 2 papers have no next preference; without them the quota is 8 / 2 = 4.00 and A is elected.
    ballots = [(["A"], 4), (["B"], 4), (["C"], 2)]
    result = count(profile(["A", "B", "C"], ballots, 1), method="stv", rule="ers97", seed="s").to_dict()
    assert [s["quota"] for s in result["stages"]] == ["5.00", "4.00"]
    assert len(result["elected"]) == 1


# ---- Meek ---------------------------------------------------------------------------------------------------


def test_meek_keep_factors_settle_at_the_quota():
    ballots = [(["A", "B"], 60), (["B"], 20), (["C"], 30)]
    result = count(profile(["A", "B", "C"], ballots, 2), method="stv", rule="meek").to_dict()
    assert result["elected"] == ["A", "B"]
    settled = result["stages"][1]
    quota = Decimal(settled["quota"])
    assert abs(Decimal(settled["totals"]["A"]) - quota) < Decimal("0.0001")


# ---- IRV, FPTP, approval -----------------------------------------------------------------------------------


def test_irv_transfers_change_the_winner():
    ballots = [(["A"], 40), (["B", "C"], 25), (["C", "B"], 35)]
    irv = count(profile(["A", "B", "C"], ballots, 1), method="irv").to_dict()
    assert irv["elected"] == ["C"]
    assert [s["candidate"] for s in irv["stages"]] == [None, "B"]
    assert irv["stages"][-1]["totals"] == {"A": "40", "B": "0", "C": "60"}
    fptp = count(profile(["A", "B", "C"], ballots, 1), method="fptp").to_dict()
    assert fptp["elected"] == ["A"]


def test_irv_needs_one_seat():
    with pytest.raises(CountError, match="one seat"):
        count(profile(["A", "B", "C"], [(["A"], 1)], 2), method="irv")


def test_fptp_with_several_seats_counts_each_ballots_marks():
    ballots = [(["A", "B"], 5), (["C", "B"], 4), (["C"], 2)]
    result = count(profile(["A", "B", "C"], ballots, 2), method="fptp").to_dict()
    assert result["stages"][0]["totals"] == {"A": "5", "B": "9", "C": "6"}
    assert result["elected"] == ["B", "C"]


def test_fptp_tie_for_the_last_seat_is_drawn_by_lot_and_reported():
    ballots = [(["A"], 5), (["B"], 3), (["C"], 3)]
    result = count(profile(["A", "B", "C"], ballots, 2), method="fptp", seed="2026").to_dict()
    assert result["elected"][0] == "A"
    assert result["ties"][0]["decided_by"] == "lot"
    assert result["ties"][0]["chosen"] == [result["elected"][1]]


def test_approval_counts_every_mark():
    ballots = [(["A", "B"], 5), (["B", "C"], 4), (["C"], 2)]
    result = count(profile(["A", "B", "C"], ballots, 1), method="approval").to_dict()
    assert result["stages"][0]["totals"] == {"A": "5", "B": "9", "C": "6"}
    assert result["elected"] == ["B"]


# ---- reserved seats -----------------------------------------------------------------------------------------

RESERVED_CANDIDATES = ["A", "B", "C", "D", "W"]
RESERVED_BALLOTS = [(["A"], 40), (["B"], 30), (["C"], 25), (["D"], 20), (["W"], 5)]
WOMEN = ReservedSeats(seats=1, group=frozenset({4}), label="women members")


@pytest.mark.parametrize(
    ("method", "rule"), [("stv", "scottish"), ("stv", "ers97"), ("stv", "meek"), ("fptp", None), ("approval", None)]
)
def test_reserved_seat_goes_to_the_group(method, rule):
    plain = count(profile(RESERVED_CANDIDATES, RESERVED_BALLOTS, 3), method=method, rule=rule)
    assert "W" not in plain.winners
    result = count(profile(RESERVED_CANDIDATES, RESERVED_BALLOTS, 3), method=method, rule=rule, reserved=WOMEN)
    assert set(result.winners) == {"A", "B", "W"}
    text = " ".join([s.note for s in result.stages] + result.notes)
    assert "reserved for women members" in text
    assert result.to_dict()["reserved"] == {"seats": 1, "group": ["W"], "label": "women members"}


def test_reserved_seats_exclude_everyone_outside_the_group_at_once():
    ballots = [(["A"], 50), (["B"], 30), (["C"], 25), (["D"], 20), (["W"], 5)]
    result = count(profile(RESERVED_CANDIDATES, ballots, 2), method="stv", rule="scottish", reserved=WOMEN)
    assert [result.candidates[c] for c in result.stages[0].elected] == ["A"]
    reserved_stage = next(s for s in result.stages if "outside the group is excluded" in s.note)
    assert [result.candidates[c] for c in reserved_stage.excluded] == ["B", "C", "D"]
    assert result.winners == ["A", "W"]


def test_reserved_group_member_is_not_excluded_while_needed():
    result = count(profile(RESERVED_CANDIDATES, RESERVED_BALLOTS, 3), method="stv", rule="scottish", reserved=WOMEN)
    exclusions = [s for s in result.stages if s.action == "exclusion"]
    assert [result.candidates[s.subjects[0]] for s in exclusions] == ["D", "C"]
    assert "W stayed in the count" in exclusions[0].note


def test_irv_with_a_reserved_seat_counts_only_the_group():
    result = count(
        profile(RESERVED_CANDIDATES, RESERVED_BALLOTS, 1),
        method="irv",
        reserved=ReservedSeats(seats=1, group=frozenset({3, 4}), label="women members"),
    )
    assert result.winners == ["D"]
    assert [result.candidates[c] for c in result.stages[1].excluded] == ["A", "B", "C"]


def test_reserved_seats_need_enough_candidates():
    with pytest.raises(CountError, match="only 1"):
        count(
            profile(RESERVED_CANDIDATES, RESERVED_BALLOTS, 3),
            method="stv",
            reserved=ReservedSeats(seats=2, group=frozenset({4}), label="women members"),
        )


# ---- input checks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "borda"}, "Unknown method"),
        ({"method": "stv", "rule": "wigm"}, "Unknown STV rule"),
        ({"method": "fptp", "rule": "meek"}, "takes no rule"),
        ({"method": "stv", "seats": 4}, "Seats must be between"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(CountError, match=message):
        count(profile(["A", "B", "C"], [(["A"], 1)], 1), **kwargs)


def test_profile_refuses_repeated_and_unknown_candidates():
    with pytest.raises(CountError, match="twice"):
        Profile.from_ballots(["A", "B"], [["A", "A"]], seats=1)
    with pytest.raises(CountError, match="Unknown candidate"):
        Profile.from_ballots(["A", "B"], [["Z"]], seats=1)
    with pytest.raises(CountError, match="distinct"):
        Profile.from_ballots(["A", "A"], [["A"]], seats=1)


def test_withdrawn_candidates_are_passed_over():
    p = Profile.from_ballots(["A", "B", "C"], [["B", "A"], ["B", "C"], ["C"]], seats=1, withdrawn=["B"])
    result = count(p, method="irv").to_dict()
    assert result["withdrawn"] == ["B"]
    assert result["stages"][0]["totals"] == {"A": "1", "B": "0", "C": "2"}
