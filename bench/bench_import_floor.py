"""What the database alone needs for one import, on PostgreSQL: the rows the import benchmark writes, loaded
with COPY and no Python in between.

The import benchmark's union (100,000 members, seeded by bench.bench_import.prepare) is kept as a template,
then the benchmark's 100,000-row import runs against it (bench.bench_import, in its own process, timed as
usual). The rows that import wrote (the new members, their audit rows and the report's lines) are copied out,
and then, into a fresh copy of the template each time, loaded with COPY in one transaction, as the importer
writes a batch (synchronous_commit off): members, audit rows, report lines, then the commit, which runs the
deferred foreign-key checks. Twice: with the member table as migrated, and without the five search indexes
of crm/0002 (to show their share; the member list needs them). The 10,000 updates are not in it.

The sum is a floor for the import step on this machine: whatever the importer does in Python comes on top.

    python -m bench.run --only import_floor
    python -m bench.bench_import_floor          # JSON on stdout
"""

from __future__ import annotations

import importlib
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench import bench_import
from bench.postgres import connect, named

REPEAT = 3
# Loaded in this order, as the importer writes them; the job and its source go in first, untimed.
TABLES = ("crm_member", "crm_auditentry", "crm_importrow")
SEARCH_INDEXES = tuple(importlib.import_module("crm.migrations.0002_member_search_indexes").INDEXES)


def _drop_database(url: str, name: str) -> None:
    from psycopg import sql

    with connect(url, database="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _copy_database(url: str, template: str, name: str) -> None:
    from psycopg import sql

    _drop_database(url, name)
    with connect(url, database="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


def _copy_out(connection, query: str, params: list) -> bytes:
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT", params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    return buffer.getvalue()


def _copy_in(connection, table: str, data: bytes) -> None:
    with connection.cursor() as cursor, cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
        copy.write(data)


def written_rows(url: str, before: dict[str, int]) -> dict[str, bytes]:
    """The rows the import added, table by table, as COPY text (every column, in the table's order)."""
    with connect(url) as connection:
        job = connection.execute("SELECT max(id) FROM crm_importjob").fetchone()[0]
        queries = {
            "crm_importsource": ("SELECT s.* FROM crm_importsource s JOIN crm_importjob j ON j.source_id = s.id "
                                 "WHERE j.id = %s", [job]),
            "crm_importjob": ("SELECT * FROM crm_importjob WHERE id = %s", [job]),
            "crm_member": ("SELECT * FROM crm_member WHERE id > %s ORDER BY id", [before["crm_member"]]),
            # One audit row a member; the job's own summary row names no member.
            "crm_auditentry": ("SELECT * FROM crm_auditentry WHERE id > %s AND member_id IS NOT NULL ORDER BY id",
                               [before["crm_auditentry"]]),
            "crm_importrow": ("SELECT * FROM crm_importrow WHERE job_id = %s ORDER BY id", [job]),
        }  # fmt: skip
        return {table: _copy_out(connection, query, params) for table, (query, params) in queries.items()}


def load(url: str, rows: dict[str, bytes], *, drop_search_indexes: bool) -> dict[str, float]:
    """Load the import's rows into a fresh copy of the seeded union; seconds per table and for the commit."""
    with connect(url) as connection:
        if drop_search_indexes:
            for name in SEARCH_INDEXES:
                connection.execute(f'DROP INDEX "{name}"')
        for table in ("crm_importsource", "crm_importjob"):
            _copy_in(connection, table, rows[table])
        connection.commit()
        timings = {}
        connection.execute("SET LOCAL synchronous_commit = off")
        for table in TABLES:
            started = time.perf_counter()
            _copy_in(connection, table, rows[table])
            timings[table] = time.perf_counter() - started
        started = time.perf_counter()
        connection.commit()
        timings["commit"] = time.perf_counter() - started
    return timings


def run(repeat: int = REPEAT) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        url = bench_import.prepare("postgresql", Path(workdir))
    seeded = urlsplit(url).path.lstrip("/")
    template, scratch = f"{seeded}_floor_seed", f"{seeded}_floor_run"
    _copy_database(url, seeded, template)
    with connect(url) as connection:
        before = {t: connection.execute(f'SELECT coalesce(max(id), 0) FROM "{t}"').fetchone()[0] for t in TABLES}
    bench_import._log("import floor: the import benchmark's import, for its rows")
    imported = bench_import.measure_apart("postgresql", url)
    rows = written_rows(url, before)
    counts = {table: rows[table].count(b"\n") for table in TABLES}
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        for n in range(repeat):
            for drop in (False, True):
                state = "dropped" if drop else "kept"
                bench_import._log(f"import floor: load {n + 1} of {repeat}, search indexes {state}")
                _copy_database(url, template, scratch)
                results[drop].append(load(named(url, scratch), rows, drop_search_indexes=drop))
    finally:
        _drop_database(url, scratch)
        _drop_database(url, template)
    table_rows = []
    for drop, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in (*TABLES, "commit")}
        table_rows.append(
            {
                "member table": "without the 5 search indexes" if drop else "as migrated",
                "runs": len(runs),
                f"{counts['crm_member']:,} members s": round(median["crm_member"], 2),
                f"{counts['crm_auditentry']:,} audit rows s": round(median["crm_auditentry"], 2),
                f"{counts['crm_importrow']:,} report lines s": round(median["crm_importrow"], 2),
                "commit (foreign-key checks) s": round(median["commit"], 2),
                "total s": round(sum(median.values()), 2),
                "the import step itself s": imported["import_s"],
            }
        )
    return {
        "title": "What the database alone needs for one import (PostgreSQL)",
        "rows": table_rows,
        "notes": [
            "Medians. The rows the 100,000-row import benchmark wrote, loaded again with COPY into a fresh copy "
            "of the seeded union, in one transaction (synchronous_commit off, as the importer's batches); the "
            "10,000 updates are not included. The last column is that benchmark's import step, run once here "
            f"(dry run {imported['dry_run_s']} s before it), for comparison.",
            f"Load average at the import's start {imported['load_average_at_start']}; "
            f"{os.getloadavg()[0]:.2f} at the end of the loads.",
        ],
    }


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
