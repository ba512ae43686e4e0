"""Ten real Scottish council wards (4 May 2017), counted under the Scottish rules, must reproduce the declared
result exactly: the quota, the number of stages, every candidate's total at every stage (to the five
decimal places published) and the winners with the stage at which each was elected."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal

import pytest

from elections.counting import count, parse_blt
from tests.elections.conftest import elections_data, require_elections_data


def _wards() -> list[str]:
    data = elections_data()
    if data is None:
        return ["(test data missing)"]
    with open(data / "scotland2017" / "manifest.csv", newline="") as handle:
        return [row["blt"] for row in csv.DictReader(handle)]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)\s*$", "", text)).strip().lower()


def _match(names: list[str], first: str, surname: str) -> str:
    """Candidates are matched by surname and first name (the BLT adds parties and middle names)."""
    first_word, surname = _norm(first).split()[0], _norm(surname)
    found = [n for n in names if _norm(n).split()[0] == first_word and _norm(n).endswith(" " + surname)]
    assert len(found) == 1, f"cannot match {first} {surname} among {names}"
    return found[0]


@pytest.mark.parametrize("blt", _wards())
def test_ward_matches_the_declared_result_at_every_stage(blt: str) -> None:
    base = require_elections_data() / "scotland2017"
    with open(base / "manifest.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["blt"] == blt)
    result = count(parse_blt((base / blt).read_bytes()), method="stv", rule="scottish", seed="test").to_dict()
    official = json.loads((base / row["official"]).read_text())["Constituency"]
    info, groups = official["countInfo"], official["countGroup"]

    assert result["seats"] == int(info["Number_Of_Seats"]) == int(row["seats"])
    assert result["valid_poll"] == int(info["Valid_Poll"]) == int(row["valid_poll"])
    assert Decimal(result["quota"]) == Decimal(info["Quota"]) == Decimal(row["quota"])
    stages = max(g["Count_Number"] for g in groups)
    assert len(result["stages"]) == stages == int(row["official_stages"])

    checked = 0
    for group in groups:
        name = _match(result["candidates"], group["Firstname"], group["Surname"])
        stage = result["stages"][group["Count_Number"] - 1]
        assert stage["number"] == group["Count_Number"]
        assert Decimal(stage["totals"][name]) == Decimal(group["Total_Votes"]), (
            f"{name} at stage {stage['number']}: counted {stage['totals'][name]}, declared {group['Total_Votes']}"
        )
        checked += 1
    assert checked == len(result["candidates"]) * stages

    declared = {}
    for part in row["elected_official"].split(";"):
        match = re.fullmatch(r"\s*(.+?) \(stage (\d+)\)\s*", part)
        assert match, part
        first, *_, surname = match.group(1).split()
        declared[_match(result["candidates"], first, surname)] = int(match.group(2))
    elected_at = {name: s["number"] for s in result["stages"] for name in s["elected"]}
    assert elected_at == declared
    assert sorted(result["elected"]) == sorted(declared)
    assert result["ties"] == []


def test_every_stage_conserves_the_votes() -> None:
    base = require_elections_data() / "scotland2017"
    for path in sorted((base / "blt").glob("*.blt")):
        result = count(parse_blt(path.read_bytes()), method="stv", rule="scottish").to_dict()
        for stage in result["stages"]:
            total = sum(Decimal(v) for v in stage["totals"].values()) + Decimal(stage["non_transferable"])
            assert total == result["valid_poll"], (path.name, stage["number"])
