"""Yes/no and multiple-choice questions, with turnout and support thresholds."""

from __future__ import annotations

from fractions import Fraction

import pytest

from elections.counting import CountError
from elections.counting.questions import as_fraction, count_question, industrial_action_ballot


def test_industrial_action_ballot_passes_on_turnout_and_majority():
    result = industrial_action_ballot(question="Strike?", yes=300, no=200, spoilt=10, electorate=1000)
    data = result.to_dict()
    assert result.passed
    assert data["turnout"] == "51.00%"
    assert [(c["name"], c["met"]) for c in data["checks"]] == [("turnout", True)]


def test_industrial_action_ballot_fails_on_turnout_by_one_vote():
    result = industrial_action_ballot(question="Strike?", yes=400, no=90, spoilt=9, electorate=1000)
    assert not result.passed
    turnout = result.to_dict()["checks"][0]
    assert turnout["actual"] == "49.90%" and turnout["required"] == "50.00%" and not turnout["met"]


def test_important_public_services_need_forty_percent_of_the_electorate_to_say_yes():
    passing = industrial_action_ballot(
        question="Strike?", yes=400, no=150, spoilt=0, electorate=1000, important_public_services=True
    )
    failing = industrial_action_ballot(
        question="Strike?", yes=399, no=151, spoilt=0, electorate=1000, important_public_services=True
    )
    assert passing.passed and not failing.passed
    assert failing.to_dict()["checks"][1] == {
        "name": "electorate support",
        "description": "yes as a share of the electorate",
        "required": "40.00%",
        "actual": "39.90%",
        "met": False,
    }


def test_shares_are_truncated_never_rounded_up_to_a_threshold():
    result = count_question(
        question="Q", options=["Yes", "No"], votes=[1, 1], spoilt=0, electorate=3, turnout_threshold="66.67%"
    )
    check = result.to_dict()["checks"][0]
    assert check["actual"] == "66.66%" and not check["met"]


def test_yes_no_needs_more_yes_than_no():
    tie = count_question(question="Q", options=["Yes", "No"], votes={"Yes": 5, "No": 5})
    assert not tie.passed and tie.winner is None
    win = count_question(question="Q", options=["Yes", "No"], votes={"Yes": 6, "No": 5}, votes_support_threshold="50%")
    assert win.passed and win.winner == "Yes"


def test_share_of_votes_cast_counts_spoilt_papers():
    result = count_question(
        question="Q", options=["Yes", "No"], votes=[50, 41], spoilt=10, votes_support_threshold="0.5"
    )
    assert result.winner == "Yes"  # more yes than no...
    assert result.to_dict()["checks"][0]["actual"] == "49.50%"  # ...but not half of the 101 papers
    assert not result.passed


def test_multiple_choice_winner_and_lot_for_a_tie():
    result = count_question(question="Which?", options=["A", "B", "C"], votes=[10, 10, 3], seed="s")
    data = result.to_dict()
    assert result.winner in {"A", "B"}
    assert data["ties"][0]["decided_by"] == "lot"
    assert data["ties"][0]["chosen"] == [result.winner]
    again = count_question(question="Which?", options=["A", "B", "C"], votes=[10, 10, 3], seed="s")
    assert again.winner == result.winner


def test_multiple_choice_support_threshold():
    result = count_question(
        question="Which?", options=["A", "B", "C"], votes=[45, 40, 15], votes_support_threshold="50%"
    )
    assert result.winner == "A" and not result.passed


@pytest.mark.parametrize("value", ["50%", "0.5", Fraction(1, 2)])
def test_thresholds_are_exact(value):
    assert as_fraction(value) == Fraction(1, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"options": ["Yes"], "votes": [1]}, "two distinct"),
        ({"options": ["Yes", "No"], "votes": [1, -1]}, "non-negative"),
        ({"options": ["Yes", "No"], "votes": {"Maybe": 1}}, "not on the ballot"),
        ({"options": ["Yes", "No"], "votes": [5, 5], "electorate": 3}, "electorate is only 3"),
        ({"options": ["Yes", "No"], "votes": [5, 5], "turnout_threshold": "50%"}, "need the size"),
        ({"options": ["Yes", "No"], "votes": [5, 5], "votes_support_threshold": 0.5}, "not as a float"),
        ({"options": ["Yes", "No"], "votes": [5, 5], "votes_support_threshold": "150%"}, "between 0% and 100%"),
    ],
)
def test_bad_questions_are_refused(kwargs, message):
    with pytest.raises(CountError, match=message):
        count_question(question="Q", **kwargs)
