"""Run the benchmarks and write bench/results.json and bench/results.md.

    python -m bench.run [--members 100000,1000000] [--only member_list,counting,casting]

Each module is bench/bench_<name>.py with a run() returning {"title", "rows", "notes"} (rows: a list of
dicts, one table row each). A module that does not exist yet is skipped with a note.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
MODULES = ("member_list", "counting", "outreach", "organising", "casting", "import", "import_floor")


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = set(names) - set(MODULES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(MODULES)}"
        )
    return names


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=BENCH_DIR, capture_output=True, text=True, timeout=10
        )
        return result.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    import django

    info = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": None,
        "git_commit": _git_commit(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    return info


def add_postgresql_info(info: dict) -> None:
    """Ask the database the benchmarks used (so after they ran: they create it) for its version: Django's own
    connection's, or, where that is SQLite (`--only import`, whose runs open their own), the import bench's."""
    try:
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                info["postgresql"] = cursor.fetchone()[0]
                cursor.execute("SHOW shared_buffers")
                info["postgresql_shared_buffers"] = cursor.fetchone()[0]
        else:
            from bench.bench_import import DEFAULT_PG_URL, PG_URL_VARIABLE
            from bench.postgres import connect

            with connect(os.environ.get(PG_URL_VARIABLE, DEFAULT_PG_URL), database="postgres") as server:
                info["postgresql"] = server.execute("SHOW server_version").fetchone()[0]
                info["postgresql_shared_buffers"] = server.execute("SHOW shared_buffers").fetchone()[0]
    except Exception as error:  # machine info is best effort; the benchmarks say what failed
        info["postgresql"] = f"unavailable: {error}"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list) -> list[str]:
    if not rows:
        return ["(no rows)"]
    if isinstance(rows[0], dict):
        columns: list[str] = []
        for row in rows:
            columns += [key for key in row if key not in columns]
        body = [[row.get(column) for column in columns] for row in rows]
    else:
        columns = [f"col {i + 1}" for i in range(len(rows[0]))]
        body = [list(row) for row in rows]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in body]
    return lines


def _run_line(machine: dict) -> str:
    return (
        f"{machine['date']}: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB, "
        f"Python {machine['python']}, Django {machine['django']}, PostgreSQL {machine.get('postgresql') or 'n/a'}"
        + (
            f" (shared_buffers {machine['postgresql_shared_buffers']})"
            if machine.get("postgresql_shared_buffers")
            else ""
        )
        + (f", commit {machine['git_commit']}" if machine.get("git_commit") else "")
        + f", load average {machine['load_average_at_start']} at start."
    )


def write_markdown(results: dict, path: Path) -> None:
    lines = ["# Quorum benchmark results", ""]
    lines.append("Each section was measured in the run its first line describes (`make bench` runs them all;")
    lines.append("`--only NAME` reruns one and keeps the others' last results).")
    for name, result in results["benchmarks"].items():
        lines += ["", f"## {result.get('title', name)}", ""]
        machine = result.get("machine") or results.get("machine")
        if machine:
            lines += [_run_line(machine), ""]
        lines += markdown_table(result.get("rows", []))
        notes = result.get("notes") or []
        if isinstance(notes, str):  # a module may give its notes as one text
            notes = [notes]
        if notes:
            lines += ["", *[f"- {note}" for note in notes]]
        explains = result.get("explain") or {}
        if any(explains.values()):
            lines += ["", "### Query plans (EXPLAIN ANALYZE)", ""]
            for group, plans in explains.items():
                for label, plan in plans.items():
                    lines += [f"<details><summary>{group}: {label}</summary>", "", "```", plan, "```", "", "</details>"]
    path.write_text("\n".join(lines) + "\n")


def previous_results() -> dict:
    """The last results file's benchmarks, each with the run it came from, so a partial run keeps the rest."""
    try:
        previous = json.loads((BENCH_DIR / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    benchmarks = previous.get("benchmarks", {})
    for result in benchmarks.values():
        result.setdefault("machine", previous.get("machine"))
    return benchmarks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Quorum's benchmarks and write bench/results.{json,md}.")
    parser.add_argument("--members", type=_sizes, default=None, help="member list sizes, e.g. 100000,1000000")
    parser.add_argument("--only", type=_names, default=MODULES, help="comma-separated: " + ", ".join(MODULES))
    parser.add_argument("--requests", type=int, default=None, help="timed requests per headline measurement")
    args = parser.parse_args(argv)

    if "member_list" in args.only or "outreach" in args.only or "organising" in args.only:
        from bench import bench_member_list

        bench_member_list.configure()  # points Django at PostgreSQL before anything else sets it up
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()

    machine = machine_info()
    results = {"machine": machine, "benchmarks": previous_results()}
    failures = 0
    for name in args.only:
        try:
            module = importlib.import_module(f"bench.bench_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"bench.bench_{name}":
                raise
            print(f"bench: skipping {name}: bench/bench_{name}.py does not exist yet", file=sys.stderr)
            results["benchmarks"][name] = {
                "title": name,
                "rows": [],
                "notes": [f"Skipped: bench/bench_{name}.py does not exist yet."],
            }
            continue
        print(f"bench: running {name}", file=sys.stderr, flush=True)
        try:
            if name == "member_list":
                options = {}
                if args.members:
                    options["sizes"] = args.members
                if args.requests:
                    options["requests"] = args.requests
                result = module.run(**options)
            else:
                result = module.run()
        except Exception:
            failures += 1
            print(f"bench: {name} failed", file=sys.stderr)
            traceback.print_exc()
            result = {"title": name, "rows": [], "notes": ["Failed: " + traceback.format_exc(limit=3)]}
        result["machine"] = machine
        results["benchmarks"][name] = result

    add_postgresql_info(machine)
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_markdown(results, BENCH_DIR / "results.md")
    print("bench: wrote bench/results.json and bench/results.md", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
