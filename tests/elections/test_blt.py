"""Reading and writing BLT: liberal where the format allows, strict (naming the line) where the issue needs."""

from __future__ import annotations

import pytest

from elections.counting import BLTError, count, parse_blt, write_blt
from elections.counting.types import MAX_WEIGHT
from tests.elections.conftest import require_elections_data

GOOD = """3 2
4 1 2 0
2 3 0
0
"Castor"
"Pollux"
"Helen"
"Pollux and Helen should tie"
"""


def test_reads_a_plain_file():
    p = parse_blt(GOOD)
    assert p.candidates == ["Castor", "Pollux", "Helen"]
    assert p.seats == 2
    assert p.ballots == {(0, 1): 4, (2,): 2}
    assert p.title == "Pollux and Helen should tie"
    assert p.valid_poll == 6


def test_is_liberal_where_the_format_allows():
    text = (
        "\ufeff# a comment\r\n"
        "4 2\r\n"
        "-2\r\n"
        "\r\n"
        "(b1) 1 1 2 0\r\n"
        "1 2 3 0\r\n"
        "3   3  -  4 0\r\n"
        "1 1 2 0\r\n"
        "2 2 0\r\n"
        "0\r\n"
        "Ann Able\r\n"
        '"Bob Baker"\r\n'
        '  "Cy Cole"  \r\n'
        '"Di Dee"\r\n'
        "\r\n"
    )
    p = parse_blt(text.encode())
    assert p.candidates == ["Ann Able", "Bob Baker", "Cy Cole", "Di Dee"]
    assert p.withdrawn == frozenset({1})
    # Preferences for the withdrawn candidate 2 are passed over; "-" is a skipped rank.
    assert p.ballots == {(0,): 2, (2,): 1, (2, 3): 3}
    assert p.invalid == 2  # the ballots for nobody but the withdrawn candidate
    assert p.title == ""


def test_write_then_read_gives_the_same_profile_and_hides_casting_order():
    p = parse_blt("3 1\n1 2 1 0\n1 1 0\n1 2 1 0\n2 0\n0\nA\nB\nC\nT\n")
    text = write_blt(p)
    assert text == '3 1\n1 1 0\n2 2 1 0\n2 0\n0\n"A"\n"B"\n"C"\n"T"\n'
    again = parse_blt(text)
    assert (again.candidates, again.ballots, again.invalid, again.title) == (
        p.candidates,
        p.ballots,
        p.invalid,
        p.title,
    )
    assert write_blt(again) == text


def test_real_files_round_trip_and_count_the_same():
    base = require_elections_data()
    for path in sorted(base.rglob("*.blt")):
        p = parse_blt(path.read_bytes())
        again = parse_blt(write_blt(p))
        assert again.ballots == p.ballots and again.candidates == p.candidates, path.name
        assert count(again, method="stv").to_json() == count(p, method="stv").to_json()


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "is empty"),
        ("3\n", 1, "two numbers"),
        ("3 x\n", 1, "not a whole number"),
        ("3 4\n", 1, "number of seats"),
        ("3 1\n-4\n1 1 0\n0\nA\nB\nC\n", 2, "withdrawn candidate -4"),
        ("3 1\n1 1 2\n0\nA\nB\nC\n", 2, "does not end with 0"),
        ("3 1\n1 1 4 0\n0\nA\nB\nC\n", 2, "candidate number 4 is not between 1 and 3"),
        ("3 1\n1 1 0\n1 2 1 2 0\n0\nA\nB\nC\n", 3, "ranked twice"),
        ("3 1\n1 1 0 2 0\n0\nA\nB\nC\n", 2, "a 0 in the middle"),
        ("3 1\n1 1=2 0\n0\nA\nB\nC\n", 2, "equal rankings"),
        ("3 1\n0 1 0\n0\nA\nB\nC\n", 2, "at least 1"),
        ("3 1\n1.5 1 0\n0\nA\nB\nC\n", 2, "not a whole number"),
        (f"3 1\n{MAX_WEIGHT + 1} 1 0\n0\nA\nB\nC\n", 2, "too large"),
        ("3 1\n" + f"{MAX_WEIGHT} 1 0\n" * 1001 + "0\nA\nB\nC\n", 1002, "add up to more than"),
        ("3 1\n1 1 0\n1 2 0\n", 4, "ends before the line holding a single 0"),
        ("3 1\n1 1 0\n0\nA\nB\n", 6, "gives 2 candidate names but its first line says there are 3"),
        ("3 1\n1 1 0\n0\nA\nB\nC\nTitle\nD\n", 8, "unexpected text after the title"),
        ("3 1\n1 1 0\n0\nA\nA\nC\n", 5, "both called 'A'"),
        ('3 1\n1 1 0\n0\n"A\nB\nC\n', 4, "does not close it"),
        ("3 1\n1 0\n0\nA\nB\nC\n", None, "no ballot with a preference"),
    ],
)
def test_malformed_files_are_refused_naming_the_line(text, line, reason):
    with pytest.raises(BLTError) as caught:
        parse_blt(text)
    assert caught.value.line == line
    assert reason in str(caught.value)
    if line:
        assert str(caught.value).startswith(f"BLT line {line}:")


def test_non_utf8_names_name_the_line():
    data = "3 1\n1 1 0\n0\nAnn\nB\u00e9a\nC\n".encode("latin-1")
    with pytest.raises(BLTError) as caught:
        parse_blt(data)
    assert caught.value.line == 5  # "Béa", written in Latin-1
    assert "not valid UTF-8" in str(caught.value)


def test_utf8_names_are_kept():
    p = parse_blt('2 1\n1 2 0\n0\n"Siân Ní Bhriain"\n"Zoë"\n'.encode())
    assert p.candidates == ["Siân Ní Bhriain", "Zoë"]


def test_no_partial_result_on_a_bad_line_late_in_the_file():
    good_lines = "1 1 2 0\n" * 500
    with pytest.raises(BLTError, match="line 502"):
        parse_blt("3 1\n" + good_lines + "1 1 9 0\n0\nA\nB\nC\n")
