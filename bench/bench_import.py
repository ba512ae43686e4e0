"""Import and export benchmark: a 100,000-row CSV imported, and 100,000 members exported, on PostgreSQL and SQLite.

For each database it seeds a union of 100,000 members with seed_demo (in a separate process, untimed), then in
a fresh process:

- export: GET /members/export.csv as the national admin (django.test.Client, the whole view: filter, count,
  audit row, streamed CSV of all 100,000 members), consumed to the last byte;
- import: a generated 100,000-row CSV with 12 columns (membership number, first name, surname, email,
  mobile in local formats, address, town, postcode, workplace, branch, category, date joined in UK format):
  10% update existing members (found by their number), 89% are new (numbered by Quorum), 1% are bad (a date,
  a workplace, a mobile or an email that cannot be read). Timed: reading the file (start_import), the dry
  run (check_import, every row validated and deduplicated, the report written) and the import itself
  (run_import: every row checked again and committed in batches, with audit rows), as the national admin.

Peak memory is the measuring process's maximum resident set size (getrusage), which covers the export and
the import and Django itself; seeding runs in another process so it does not count.

Where each step's time goes, as CPU time rather than elapsed time (this machine's speed drifts): the measuring
process's own (Python, every thread) and, on PostgreSQL, that of the server process serving its connection
(read from /proc: the server runs on this machine). A step whose elapsed time is near one of them is bound by
it: the dry run by Python, the import by PostgreSQL's work on its one connection.

PostgreSQL: QUORUM_BENCH_IMPORT_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/quorum_bench_import),
created if missing. SQLite: a file in a temporary directory.

    python -m bench.run --only import
    python -m bench.bench_import --backend postgresql   # one backend, JSON on stdout
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
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

from bench.postgres import create_database

ROOT = Path(__file__).resolve().parent.parent
PG_URL_VARIABLE = "QUORUM_BENCH_IMPORT_DATABASE_URL"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench_import"
# Smaller sizes only for trying the benchmark out; the figures quoted are at 100,000.
MEMBERS = int(os.environ.get("QUORUM_BENCH_IMPORT_MEMBERS", "100000"))
ROWS = int(os.environ.get("QUORUM_BENCH_IMPORT_ROWS", "100000"))
# Runs per database, each on a freshly seeded union; the table gives their medians (one run is noisy here).
REPEAT = int(os.environ.get("QUORUM_BENCH_IMPORT_REPEAT", "3"))
UPDATE_SHARE = 0.10
BAD_SHARE = 0.01
TARGETS = {"postgresql": 20.0, "sqlite": 30.0}
EXPORT_TARGET = 10.0
MEMORY_TARGET_MB = 500
HEADINGS = [
    "Membership number",
    "First name",
    "Surname",
    "Email",
    "Mobile",
    "Address line 1",
    "Town",
    "Postcode",
    "Workplace",
    "Branch",
    "Category",
    "Date joined",
]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _manage(url: str, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def _mobile(rng: random.Random) -> str:
    """A valid UK mobile number, written in one of the ways people write them."""
    import phonenumbers

    while True:
        digits = f"7{rng.randint(100000000, 999999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse("+44" + digits)):
            break
    return rng.choice(
        [f"0{digits[:4]} {digits[4:]}", f"+44 {digits[:4]} {digits[4:]}", f"(0{digits[:4]}) {digits[4:]}", f"0{digits}"]
    )


def generate_csv(rng: random.Random, existing: list[tuple[str, str]], workplaces: list[tuple[str, str]]) -> bytes:
    """The file: ROWS rows, UPDATE_SHARE of them for `existing` members (number, email), BAD_SHARE bad."""
    first_names = ["Amira", "Ben", "Chloe", "Dev", "Eilidh", "Femi", "Grace", "Hamza", "Isla", "Jack", "Zoë"]
    last_names = ["Smith", "Jones", "Patel", "Khan", "O'Brien", "Williams", "Nowak", "Evans", "Ali", "Brown"]
    towns = ["Leeds", "York", "Bristol", "Hull", "Bath", "Derby", "Sheffield"]
    categories = ["teacher", "Teacher", "support staff", "leader", "lecturer"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    updates = set(rng.sample(range(ROWS), int(ROWS * UPDATE_SHARE)))
    bad = set(rng.sample(sorted(set(range(ROWS)) - updates), int(ROWS * BAD_SHARE)))
    existing_iter = iter(rng.sample(existing, len(updates)))
    for i in range(ROWS):
        workplace, branch = workplaces[rng.randrange(len(workplaces))]
        first, last = rng.choice(first_names), rng.choice(last_names)
        ascii_name = f"{first}.{last}".lower().replace("ë", "e").replace("'", "")
        number, email = "", f"{ascii_name}.{i}@bench.example.org"
        if i in updates:
            number, email = next(existing_iter)
        mobile = _mobile(rng)
        joined = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2024)}"
        row = [
            number,
            first,
            last,
            email,
            mobile,
            f"{rng.randint(1, 300)} High Street",
            rng.choice(towns),
            f"LS{rng.randint(1, 28)} {rng.randint(1, 9)}AB",
            workplace,
            branch,
            rng.choice(categories),
            joined,
        ]
        if i in bad:
            kind = i % 4
            if kind == 0:
                row[11] = "31/13/2024"
            elif kind == 1:
                row[8] = "No Such School"
            elif kind == 2:
                row[4] = "12345"
            else:
                row[3] = "not-an-email"
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


class ServerClock:
    """CPU seconds (user + system) of the PostgreSQL server process serving Django's connection, from
    /proc/<pid>/stat; None where that cannot be read (SQLite, or a server on another machine)."""

    def __init__(self) -> None:
        from django.db import connection

        self.path: Path | None = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.path = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def __call__(self) -> float | None:
        if self.path is None:
            return None
        try:
            fields = self.path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 2)


class CollectorClock:
    """Seconds Python's cycle collector spends collecting, and how many full collections it makes, from its own
    start and stop callbacks (crm.services.imports.fewer_collections explains why this is worth watching)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2


def _max_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(backend: str, url: str) -> dict:
    """Run in a fresh process with DATABASE_URL set: export, then import; returns the figures."""
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from crm.models import AuditEntry, ImportJob, Member, User, Workplace
    from crm.services import imports

    settings.DEBUG = False  # no query log growing in memory
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.QUORUM_STAFF_2FA = False  # the export page is measured, not the sign-in (force_login skips it)
    admin = User.objects.get(username="admin")
    members_before = Member.objects.count()
    load_at_start = round(os.getloadavg()[0], 2)

    client = Client()
    client.force_login(admin)
    started = time.perf_counter()
    response = client.get("/members/export.csv")
    exported_bytes = sum(len(chunk) for chunk in response.streaming_content)
    export_seconds = time.perf_counter() - started
    exported_rows = AuditEntry.objects.filter(action="export").latest("pk").changes["rows"]
    rss_after = {"export": _max_rss_mb()}

    rng = random.Random(7)
    existing = list(Member.objects.exclude(email="").order_by("?").values_list("membership_number", "email")[:20000])
    workplaces = list(Workplace.objects.values_list("name", "branch__code"))
    content = generate_csv(rng, existing, workplaces)

    audit_before = AuditEntry.objects.count()
    collector = CollectorClock()
    gc.callbacks.append(collector)
    timings = {}
    server = ServerClock()
    cpu: dict[str, float | None] = {}
    started = time.perf_counter()
    job = imports.start_import(actor=admin, source_name="Benchmark staff list", filename="bench.csv", upload=content)
    timings["read"] = time.perf_counter() - started
    mapping = imports.guess_mapping(job.headers)  # the headings are all ones the importer recognises
    started, python, database = time.perf_counter(), time.process_time(), server()
    job = imports.check_import(actor=admin, job=job, mapping=mapping)
    timings["dry_run"] = time.perf_counter() - started
    cpu["dry_run_python_cpu_s"] = round(time.process_time() - python, 2)
    cpu["dry_run_database_cpu_s"] = _spent(database, server())
    dry = {"created": job.created_count, "updated": job.updated_count, "rejected": job.rejected_count}
    rss_after["dry_run"] = _max_rss_mb()
    imports.confirm_import(actor=admin, job=job, in_background=False)
    started, python, database = time.perf_counter(), time.process_time(), server()
    job = imports.run_import(job_id=job.pk)
    timings["import"] = time.perf_counter() - started
    cpu["import_python_cpu_s"] = round(time.process_time() - python, 2)
    cpu["import_database_cpu_s"] = _spent(database, server())
    gc.callbacks.remove(collector)
    job = ImportJob.objects.get(pk=job.pk)
    rss_after["import"] = peak_mb = _max_rss_mb()
    return {
        "backend": backend,
        "load_average_at_start": load_at_start,
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "members_before": members_before,
        "export_rows": exported_rows,
        "export_mb": round(exported_bytes / 1024 / 1024, 1),
        "export_s": round(export_seconds, 2),
        "file_mb": round(len(content) / 1024 / 1024, 1),
        "read_s": round(timings["read"], 2),
        "dry_run_s": round(timings["dry_run"], 2),
        "import_s": round(timings["import"], 2),
        "total_s": round(sum(timings.values()), 2),
        **cpu,
        "dry_run": dry,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "duplicate": job.duplicate_count,
        "rejected": job.rejected_count,
        "members_after": Member.objects.count(),
        "audit_rows_added": AuditEntry.objects.count() - audit_before,
        "peak_rss_mb": round(peak_mb),
        "batch_size": imports.BATCH_SIZE,
        # Over reading the file, the dry run and the import.
        "collector_s": round(collector.seconds, 2),
        "full_collections": collector.full,
        "max_rss_mb_after": rss_after,
    }


def prepare(backend: str, workdir: Path) -> str:
    if backend == "postgresql":
        url = os.environ.get(PG_URL_VARIABLE, DEFAULT_PG_URL)
        create_database(url)
    else:
        url = f"sqlite:///{workdir / 'bench_import.sqlite3'}"
    _log(f"import bench ({backend}): migrating and seeding {MEMBERS:,} members")
    _manage(url, "migrate", "--noinput", "-v", "0")
    _manage(url, "seed_demo", "--members", str(MEMBERS), "--seed", "1", "--flush")
    return url


def run_backend(backend: str, repeat: int = 1) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for n in range(repeat):
            url = prepare(backend, Path(workdir))
            _log(f"import bench ({backend}): run {n + 1} of {repeat}")
            results.append(measure_apart(backend, url))
            _log(f"import bench ({backend}): {results[-1]}")
    return results


def measure_apart(backend: str, url: str) -> dict:
    """`measure` in a fresh process (so seeding and earlier runs count for nothing): its figures."""
    process = subprocess.run(
        [sys.executable, "-m", "bench.bench_import", "--measure", backend, "--url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"{backend} import bench failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def run(backends: tuple[str, ...] = ("postgresql", "sqlite"), repeat: int = REPEAT) -> dict:
    rows, notes = [], []
    for backend in backends:
        results = run_backend(backend, repeat)
        median = {
            key: statistics.median(r[key] for r in results)
            for key in ("export_s", "read_s", "dry_run_s", "import_s", "total_s", "peak_rss_mb", "collector_s")
        }
        for key in ("dry_run_python_cpu_s", "import_python_cpu_s", "import_database_cpu_s"):
            values = [r[key] for r in results if r.get(key) is not None]
            median[key] = statistics.median(values) if values else None
        last = results[-1]
        rows.append(
            {
                "database": backend,
                "runs": len(results),
                "rows": ROWS,
                "read s": median["read_s"],
                "dry run s": median["dry_run_s"],
                "import s": median["import_s"],
                "total s": median["total_s"],
                "target s": TARGETS[backend],
                "peak RSS MB": median["peak_rss_mb"],
                "cycle collector s": median["collector_s"],
                "dry run Python CPU s": median["dry_run_python_cpu_s"],
                "import Python CPU s": median["import_python_cpu_s"],
                "import PostgreSQL CPU s": median["import_database_cpu_s"],
                "created / updated / rejected": f"{last['created']:,} / {last['updated']:,} / {last['rejected']:,}",
                f"export {last['export_rows']:,} rows s": median["export_s"],
                "export target s": EXPORT_TARGET,
            }
        )
        notes.append(f"{backend}: {json.dumps(last)}")
    notes.insert(
        0,
        "Medians. Total = reading the file + the dry run (every row validated and deduplicated, the "
        "report written) + the import (rows checked again, committed in batches of "
        f"{last['batch_size']:,} with an audit row per member). Peak RSS covers export, import and Django, "
        f"target {MEMORY_TARGET_MB} MB. CPU: the benchmark process's (Python, all threads) and the PostgreSQL "
        "server process's serving its connection, during that step: a step whose time is near one of them is "
        "bound by it.",
    )
    return {"title": "Import 100,000 CSV rows and export 100,000 members", "rows": rows, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], action="append")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--measure", choices=["postgresql", "sqlite"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url)))
        return
    print(json.dumps(run(tuple(args.backend or ("postgresql", "sqlite")), args.repeat), indent=2))


if __name__ == "__main__":
    main()
