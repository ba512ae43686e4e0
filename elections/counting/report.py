"""Reports of a count, made from its result as a dict (``Result.to_dict()`` or the stored JSON).

- :func:`stage_table` -- the stage-by-stage table as councils publish it, as rows of cells;
- :func:`text_table` -- the same as plain text, for the terminal;
- :func:`to_csv` -- the same as CSV;
- :func:`svg_chart` -- an accessible inline SVG chart of the totals at each stage (no scripts, no fonts).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import Any

# The one formula-neutralising rule for every CSV Quorum writes (plain Python: counting stays pure).
from crm.csvfiles import neutralise

ACTION_LABELS = {"first": "First preferences", "surplus": "Surplus of", "exclusion": "Exclusion of"}


def stage_heading(stage: Mapping[str, Any]) -> str:
    if stage["action"] == "first":
        return "First preferences"
    names = stage.get("candidates") or ([stage["candidate"]] if stage.get("candidate") else [])
    label = ACTION_LABELS.get(stage["action"], stage["action"].title())
    if not names:
        return label
    if len(names) == 1:
        return f"{label} {names[0]}"
    return f"{label} {', '.join(names[:-1])} and {names[-1]}"


@dataclass
class Row:
    label: str
    cells: list[tuple[str, str]]  # (transfer, total) per stage; transfer is "" for the first stage
    outcome: str = ""
    status: str = ""  # "elected", "excluded" or ""
    kind: str = "candidate"  # "candidate", "non-transferable" or "total"


@dataclass
class StageTable:
    headings: list[str]
    numbers: list[int]
    rows: list[Row] = field(default_factory=list)
    quotas: list[str] = field(default_factory=list)


def _signed(value: str) -> str:
    if Decimal(value) == 0:
        return ""
    return value if value.startswith("-") else "+" + value


def stage_table(result: Mapping[str, Any]) -> StageTable:
    stages = result["stages"]
    table = StageTable(
        headings=[stage_heading(stage) for stage in stages],
        numbers=[stage["number"] for stage in stages],
        quotas=[stage.get("quota") or "" for stage in stages],
    )
    outcome: dict[str, tuple[str, str]] = {}
    for stage in stages:
        for name in stage["elected"]:
            outcome.setdefault(name, ("elected", f"Elected at stage {stage['number']}"))
        for name in stage["excluded"]:
            outcome.setdefault(name, ("excluded", f"Excluded at stage {stage['number']}"))
    withdrawn = set(result.get("withdrawn") or [])
    for name in result["candidates"]:
        cells = [
            ("" if stage["action"] == "first" else _signed(stage["transfers"][name]), stage["totals"][name])
            for stage in stages
        ]
        status, text = outcome.get(name, ("", "Withdrawn" if name in withdrawn else ""))
        table.rows.append(Row(label=name, cells=cells, outcome=text, status=status))
    nt_cells = [
        ("" if stage["action"] == "first" else _signed(stage["non_transferable_change"]), stage["non_transferable"])
        for stage in stages
    ]
    if any(Decimal(total) for _, total in nt_cells):
        table.rows.append(Row(label="Non-transferable", cells=nt_cells, kind="non-transferable"))
    precision = result.get("precision", 0)
    totals = []
    for stage in stages:
        whole = sum(Decimal(v) for v in stage["totals"].values()) + Decimal(stage["non_transferable"])
        totals.append(("", f"{whole:.{precision}f}"))
    table.rows.append(Row(label="Total", cells=totals, kind="total"))
    return table


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    lines = []
    if result.get("title"):
        lines.append(result["title"])
    lines.append(f"Method: {result.get('method_name') or result['method']}")
    lines.append(f"Seats: {result['seats']}   Valid poll: {result['valid_poll']}   Quota: {result.get('quota') or '-'}")
    if result.get("reserved"):
        reserved = result["reserved"]
        lines.append(
            f"Reserved: at least {reserved['seats']} seat(s) for {reserved['label']}: {', '.join(reserved['group'])}"
        )
    lines.append("Elected, in order: " + (", ".join(result["elected"]) or "nobody"))
    for tie in result.get("ties", []):
        lines.append(f"Tie at stage {tie['stage']} ({tie['decided_by']}): {tie['detail']}")
    return lines


def text_table(result: Mapping[str, Any]) -> str:
    table = stage_table(result)
    short = {"first": "first", "surplus": "surplus", "exclusion": "exclusion"}
    header = ["Stage"] + [str(n) for n in table.numbers] + ["Result"]
    action = ["Action"] + [short.get(stage["action"], stage["action"]) for stage in result["stages"]] + [""]
    body = [header, action]
    for row in table.rows:
        cells = []
        for transfer, total in row.cells:
            cells.append(f"{transfer} = {total}" if transfer else total)
        body.append([row.label, *cells, row.outcome])
    widths = [max(len(line[i]) for line in body) for i in range(len(header))]
    out = summary_lines(result) + ["", "Stages:"]
    out += [f"{number:>5}  {heading}" for number, heading in zip(table.numbers, table.headings, strict=True)]
    out.append("")
    for i, line in enumerate(body):
        out.append(
            "  ".join(
                cell.ljust(widths[j]) if j == 0 else cell.rjust(widths[j]) for j, cell in enumerate(line)
            ).rstrip()
        )
        if i == 1:
            out.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return "\n".join(out) + "\n"


def to_csv(result: Mapping[str, Any]) -> str:
    """The stage table as CSV: one row per candidate (then non-transferable, total), two columns per stage."""
    table = stage_table(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["Candidate"]
    for number, heading in zip(table.numbers, table.headings, strict=True):
        if number > 1:
            header.append(f"Stage {number} transfer ({heading})")
        header.append(f"Stage {number} total")
    header.append("Result")
    writer.writerow(header)
    for row in table.rows:
        line = [neutralise(row.label)]  # a candidate's name may start with =, + ...
        for number, (transfer, total) in zip(table.numbers, row.cells, strict=True):
            if number > 1:
                line.append(transfer)
            line.append(total)
        line.append(row.outcome)
        writer.writerow(line)
    return buffer.getvalue()


# ---- chart ---------------------------------------------------------------------------------------------

# Colours distinguishable with common colour-vision deficiencies (Okabe-Ito), each with its own dash
# pattern and marker, so no line is told apart by colour alone.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#E69F00", "#56B4E9", "#8C6D00"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"]


def svg_chart(result: Mapping[str, Any], *, chart_id: str = "stage-chart") -> str:
    stages = result["stages"]
    if len(stages) <= 1:
        return _bar_chart(result, chart_id)
    names = [name for name in result["candidates"] if name not in set(result.get("withdrawn") or [])]
    values = {name: [Decimal(stage["totals"][name]) for stage in stages] for name in names}
    quota = Decimal(result["quota"]) if result.get("quota") else None
    top = max([max(v) for v in values.values()] + ([quota] if quota else []) + [Decimal(1)])
    left, right, top_margin, bottom = 64, 250, 20, 48
    width, height = 860, 400
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    count = len(stages)

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: Decimal) -> float:
        return top_margin + plot_h - float(v / top) * plot_h

    title = f"Votes for each candidate at each of the {count} stages"
    desc = (
        "Line chart. The horizontal axis is the stage of the count, the vertical axis the candidate's votes"
        + (f"; the dashed grey line is the quota ({result['quota']})" if quota else "")
        + ". The stage table on this page gives the same figures."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="stage-chart">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        '<g class="axes" font-size="12" fill="#1b1b1f">',
    ]
    for k in range(5):
        value = top * k / 4
        yy = y(value)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#d9d7e0"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{value:.0f}</text>')
    for i, stage in enumerate(stages):
        parts.append(
            f'<text x="{x(i):.1f}" y="{top_margin + plot_h + 18}" text-anchor="middle">{stage["number"]}</text>'
        )
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">Stage</text>')
    parts.append(
        f'<text x="16" y="{top_margin + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top_margin + plot_h / 2:.1f})">Votes</text>'
    )
    parts.append("</g>")
    if quota:
        yy = y(quota)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#6b6b76" '
            'stroke-width="2" stroke-dasharray="4 4"/>'
        )
        parts.append(f'<text x="{left + plot_w - 4}" y="{yy - 6:.1f}" text-anchor="end" font-size="12">Quota</text>')
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        dash = DASHES[(index // len(PALETTE) + index) % len(DASHES)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values[name]))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="series"><title>{escape(name)}</title>')
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        for i, v in enumerate(values[name]):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(name)}: {stages[i]['totals'][name]} at stage {stages[i]['number']}</title></circle>"
            )
        parts.append("</g>")
        ly = top_margin + 14 + index * 20
        lx = left + plot_w + 16
        parts.append(
            f'<line x1="{lx}" x2="{lx + 28}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2.5"{dash_attr}/>'
            f'<text x="{lx + 34}" y="{ly}" font-size="12">{escape(_short(name))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _bar_chart(result: Mapping[str, Any], chart_id: str) -> str:
    stage = result["stages"][0]
    withdrawn = set(result.get("withdrawn") or [])
    rows = sorted(
        ((name, Decimal(stage["totals"][name])) for name in result["candidates"] if name not in withdrawn),
        key=lambda item: -item[1],
    )
    top = max([v for _, v in rows] + [Decimal(1)])
    label_w, bar_w, row_h = 240, 480, 26
    height = 20 + row_h * len(rows)
    elected = set(result["elected"])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + 90} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="stage-chart">',
        f'<title id="{chart_id}-title">Votes for each candidate</title>',
        f'<desc id="{chart_id}-desc">Bar chart of each candidate\'s votes, most first; elected candidates are '
        "marked with a star. The table on this page gives the same figures.</desc>",
    ]
    for i, (name, value) in enumerate(rows):
        yy = 10 + i * row_h
        length = float(value / top) * bar_w
        colour = PALETTE[0] if name in elected else "#8a8797"
        star = " ★" if name in elected else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{yy + 16}" text-anchor="end" font-size="13">'
            f"{escape(_short(name))}{star}</text>"
            f'<rect x="{label_w}" y="{yy + 3}" width="{length:.1f}" height="{row_h - 8}" fill="{colour}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{yy + 16}" font-size="13">{value}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _short(name: str, limit: int = 32) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
