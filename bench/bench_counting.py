"""Counting benchmark: one million ranked ballots, 20 candidates, 5 seats.

The ballots are generated with a fixed seed and a realistic structure: five slates (party or faction) of
2 to 6 candidates with unequal support; each voter ranks their own slate first, in an order driven by each
candidate's popularity (so a few orderings are very common), stops early about a third of the time at
each step, and sometimes goes on to a second or third slate. Many ballots repeat; many do not.

They are written as a BLT file with one line per ballot (weight 1, nothing aggregated in advance), and each
method runs in a fresh subprocess so its peak memory (ru_maxrss) is its own. For each run the worker times:

- ``parse_s``: reading the BLT text and aggregating identical ballots (the same for every method);
- ``count_s``: counting the aggregated ballots (building the ballot tree, every stage, the report);
- ``median_s``: the median of ``count_s``, which is what the targets below apply to; ``end_to_end_s`` is the
  median of parse + count, from the file to the result.

    python -m bench.bench_counting            # prints the rows
    python -m bench.bench_counting --ballots 100000 --runs 1
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CANDIDATES = 20
SEATS = 5
BALLOTS = 1_000_000
SEED = 20260501
RUNS = 3

# (name, method, rule, seats, target seconds)
METHODS = [
    ("Scottish STV", "stv", "scottish", SEATS, 10.0),
    ("ERS97 STV", "stv", "ers97", SEATS, 10.0),
    ("Meek STV", "stv", "meek", SEATS, 30.0),
    ("IRV (alternative vote)", "irv", None, 1, 3.0),
    ("FPTP", "fptp", None, SEATS, 1.0),
]

SLATES = [("Red", 6, 0.32), ("Blue", 5, 0.27), ("Green", 4, 0.19), ("Gold", 3, 0.13), ("Independent", 2, 0.09)]


def generate_blt(ballots: int = BALLOTS, seed: int = SEED) -> tuple[str, dict[str, Any]]:
    """A BLT text with one line per ballot, and figures describing it."""
    rng = random.Random(seed)
    names: list[str] = []
    members: list[list[int]] = []
    for slate, size, _ in SLATES:
        members.append(list(range(len(names), len(names) + size)))
        names.extend(f"{slate} {i + 1}" for i in range(size))
    assert len(names) == CANDIDATES
    popularity = [rng.uniform(0.3, 3.0) ** 2 for _ in names]
    slate_cum = _cumulative([share for _, _, share in SLATES])
    # Which slate a voter turns to next, for each slate they start from.
    affinity = [
        _cumulative([0.0 if other == own else rng.uniform(0.1, 1.0) for other in range(len(SLATES))])
        for own in range(len(SLATES))
    ]
    lines = [f"{CANDIDATES} {SEATS}"]
    total_length = 0
    random_ = rng.random
    for _ in range(ballots):
        slate = bisect.bisect(slate_cum, random_() * slate_cum[-1])
        ranking: list[int] = []
        visited = 0
        while True:
            visited |= 1 << slate
            pool = list(members[slate])
            while pool:
                weights = _cumulative([popularity[c] for c in pool])
                pick = pool.pop(bisect.bisect(weights, random_() * weights[-1]))
                ranking.append(pick)
                if random_() < 0.3:
                    break
            if random_() < 0.55 or visited == (1 << len(SLATES)) - 1:
                break
            cum = affinity[slate]
            while True:
                slate = bisect.bisect(cum, random_() * cum[-1])
                if not visited >> slate & 1:
                    break
        total_length += len(ranking)
        lines.append("1 " + " ".join(str(c + 1) for c in ranking) + " 0")
    distinct = len(set(lines)) - 1
    lines.append("0")
    lines.extend(f'"{name}"' for name in names)
    lines.append('"Benchmark: one million ballots"')
    stats = {
        "ballots": ballots,
        "candidates": CANDIDATES,
        "seats": SEATS,
        "distinct_ballots": distinct,
        "mean_preferences": round(total_length / ballots, 2),
        "seed": seed,
    }
    return "\n".join(lines) + "\n", stats


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def worker(path: str, method: str, rule: str | None, seats: int, runs: int) -> dict[str, Any]:
    """Run in a fresh process: time parse and count ``runs`` times; report peak memory."""
    from elections.counting import count, parse_blt

    text = Path(path).read_text(encoding="utf-8")
    parse_times, count_times, winners, stages = [], [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        profile = parse_blt(text)
        parsed = time.perf_counter()
        result = count(profile, method=method, rule=rule, seats=seats, seed="bench")
        result.to_json()
        finished = time.perf_counter()
        parse_times.append(parsed - started)
        count_times.append(finished - parsed)
        winners, stages = result.winners, len(result.stages)
        del profile, result
    return {
        "parse": parse_times,
        "count": count_times,
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "winners": winners,
        "stages": stages,
    }


def run(ballots: int = BALLOTS, runs: int = RUNS) -> dict[str, Any]:
    started = time.perf_counter()
    text, stats = generate_blt(ballots)
    generated = time.perf_counter() - started
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ballots.blt")
        Path(path).write_text(text, encoding="utf-8")
        size_mb = round(len(text.encode()) / 1e6, 1)
        del text
        for name, method, rule, seats, target in METHODS:
            command = [sys.executable, "-m", "bench.bench_counting", "--worker", path, method, rule or "-", str(seats)]
            command += ["--runs", str(runs)]
            done = subprocess.run(
                command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{done.stderr}")
            figures = json.loads(done.stdout)
            count_median = statistics.median(figures["count"])
            totals = [p + c for p, c in zip(figures["parse"], figures["count"], strict=True)]
            rows.append(
                {
                    "name": name,
                    "median_s": round(count_median, 3),
                    "end_to_end_s": round(statistics.median(totals), 3),
                    "parse_s": round(statistics.median(figures["parse"]), 3),
                    "runs": runs,
                    "peak_mb": figures["peak_mb"],
                    "target_s": target,
                    "meets_target": count_median < target,
                    "stages": figures["stages"],
                    "winners": figures["winners"],
                }
            )
    notes = (
        f"{stats['ballots']:,} ballots ({stats['distinct_ballots']:,} distinct, "
        f"{stats['mean_preferences']} preferences on average), {stats['candidates']} candidates, "
        f"{stats['seats']} seats (IRV fills 1), seed {stats['seed']}; BLT file {size_mb} MB, one line per ballot, "
        f"generated in {generated:.1f} s. median_s is the count from the aggregated ballots (what the targets "
        "apply to); end_to_end_s adds parse_s, reading the BLT file and aggregating identical ballots. "
        "peak_mb is the peak resident memory of the process that parsed and counted (Python itself included). "
        f"One process, one core, median of {runs} runs."
    )
    return {"title": "Counting: 1M ranked ballots, 20 candidates, 5 seats", "rows": rows, "notes": notes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=4, metavar=("PATH", "METHOD", "RULE", "SEATS"))
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--ballots", type=int, default=BALLOTS)
    args = parser.parse_args(argv)
    if args.worker:
        path, method, rule, seats = args.worker
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(worker(path, method, None if rule == "-" else rule, int(seats), args.runs)))
        return
    report = run(args.ballots, args.runs)
    print(report["title"])
    header = f"{'method':<24}{'count s':>9}{'end-to-end s':>14}{'parse s':>9}{'peak MB':>9}{'target s':>10}  ok"
    print(header)
    for row in report["rows"]:
        print(
            f"{row['name']:<24}{row['median_s']:>9.2f}{row['end_to_end_s']:>14.2f}{row['parse_s']:>9.2f}"
            f"{row['peak_mb']:>9.1f}{row['target_s']:>10.1f}  {'yes' if row['meets_target'] else 'NO'}"
        )
    print(report["notes"])


if __name__ == "__main__":
    main()
