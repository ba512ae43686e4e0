"""The stage table, CSV and chart; and the tally command."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from elections.counting import Profile, count, parse_blt
from elections.counting.report import stage_table, svg_chart, text_table, to_csv
from tests.elections.conftest import require_elections_data


def highland() -> Path:
    return require_elections_data() / "scotland2017" / "blt" / "highland_2017_ward7.blt"


def tally(*args: str) -> str:
    out = io.StringIO()
    call_command("tally", *args, stdout=out)
    return out.getvalue()


def test_tally_prints_the_json_the_issue_asks_for():
    data = json.loads(tally(str(highland()), "--method", "stv", "--rule", "scottish"))
    assert data["method"] == "stv" and data["rule"] == "scottish" and data["seats"] == 3
    assert data["valid_poll"] == 3484 and data["quota"] == "872.00000"
    assert data["candidates"][0] == "Ron FERGUSON (C)"
    stage = data["stages"][1]
    assert stage["number"] == 2 and stage["action"] == "exclusion" and stage["candidate"] == "Sandra SKINNER (Ind)"
    assert stage["totals"]["Jamie STONE (LD)"] == "696.00000"
    assert stage["excluded"] == ["Sandra SKINNER (Ind)"] and stage["elected"] == []
    assert data["elected"] == ["Fiona ROBERTSON (Ind)", "Derek LOUDEN (SNP)", "Jamie STONE (LD)"]
    assert data["ties"] == []


@pytest.mark.parametrize(
    ("method", "rule"), [("stv", "ers97"), ("stv", "meek"), ("irv", None), ("fptp", None), ("approval", None)]
)
def test_tally_counts_by_every_method(method, rule):
    args = [str(highland()), "--method", method, "--seed", "x"]
    if rule:
        args += ["--rule", rule]
    if method == "irv":
        args += ["--seats", "1"]
    data = json.loads(tally(*args))
    assert data["method"] == method and data["rule"] == rule
    assert len(data["elected"]) == (1 if method == "irv" else 3)


def test_tally_table_format_reads_like_a_council_sheet():
    text = tally(str(highland()), "--format", "table")
    assert "Exclusion of Sandra SKINNER (Ind)" in text
    assert "+481.52257 = 1342.17613" in text
    assert "Elected at stage 6" in text
    assert "Non-transferable" in text


def test_tally_reserved_seats(tmp_path):
    path = tmp_path / "w.blt"
    path.write_text("3 1\n5 1 0\n4 2 0\n1 3 0\n0\nA\nB\nC\n")
    data = json.loads(tally(str(path), "--method", "fptp", "--reserved", "1", "--group", "C", "--group-label", "women"))
    assert data["elected"] == ["C"]
    assert data["reserved"] == {"seats": 1, "group": ["C"], "label": "women"}


def test_tally_bad_file_names_the_line_and_prints_nothing(tmp_path):
    path = tmp_path / "bad.blt"
    path.write_text("3 1\n1 1 2 0\n1 2 2 0\n0\nA\nB\nC\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="line 3: candidate number 2 is ranked twice"):
        call_command("tally", str(path), stdout=out)
    assert out.getvalue() == ""


def test_tally_missing_file():
    with pytest.raises(CommandError, match="Cannot read"):
        tally("/nonexistent/file.blt")


def test_csv_has_two_columns_per_stage_and_a_total_row():
    result = count(parse_blt(highland().read_bytes()), method="stv").to_dict()
    rows = list(csv.reader(io.StringIO(to_csv(result))))
    assert rows[0][:4] == [
        "Candidate",
        "Stage 1 total",
        "Stage 2 transfer (Exclusion of Sandra SKINNER (Ind))",
        "Stage 2 total",
    ]
    stone = next(r for r in rows if r[0] == "Jamie STONE (LD)")
    assert stone[-1] == "Elected at stage 6" and stone[-2] == "1342.17613"
    assert rows[-1][0] == "Total" and set(rows[-1][1:-1]) <= {"", "3484.00000"}


def test_csv_defuses_spreadsheet_formulas():
    p = Profile.from_ballots(["=cmd()", "B"], [["=cmd()"], ["B"], ["B"]], seats=1)
    rows = list(csv.reader(io.StringIO(to_csv(count(p, method="fptp").to_dict()))))
    assert rows[1][0] == "'=cmd()"


def test_stage_table_rows_and_outcomes():
    result = count(parse_blt(highland().read_bytes()), method="stv").to_dict()
    table = stage_table(result)
    assert table.headings[0] == "First preferences" and table.headings[3] == "Surplus of Fiona ROBERTSON (Ind)"
    skinner = next(r for r in table.rows if r.label.startswith("Sandra"))
    assert skinner.status == "excluded" and skinner.cells[1] == ("-139.00000", "0.00000")
    assert [r.kind for r in table.rows][-2:] == ["non-transferable", "total"]
    assert "Elected, in order" in text_table(result)


def test_chart_is_accessible_svg_with_escaped_names():
    p = Profile.from_ballots(
        ["<b>Ann</b>", "Bob & Co", "Cy"], [["<b>Ann</b>", "Cy"], ["Bob & Co"], ["Cy"], ["Cy"]], seats=1
    )
    svg = svg_chart(count(p, method="irv").to_dict())
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
    assert "&lt;b&gt;Ann&lt;/b&gt;" in svg and "Bob &amp; Co" in svg and "<b>" not in svg
    assert "<script" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    bars = svg_chart(count(p, method="fptp").to_dict())
    assert "Bar chart" in bars


def test_tally_csv_format():
    assert tally(str(highland()), "--format", "csv").startswith("Candidate,Stage 1 total,")


def test_benchmark_module_runs_small():
    from bench import bench_counting

    report = bench_counting.run(ballots=3000, runs=1)
    assert set(report) == {"title", "rows", "notes"}
    assert [row["name"] for row in report["rows"]] == [name for name, *_ in bench_counting.METHODS]
    for row in report["rows"]:
        assert {"name", "median_s", "runs", "peak_mb", "target_s"} <= set(row)
        assert row["runs"] == 1 and row["peak_mb"] > 0 and len(row["winners"]) in (1, 5)
