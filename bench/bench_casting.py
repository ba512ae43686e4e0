"""Casting under load through the real web stack: gunicorn and PostgreSQL, with a load generator on loopback.

Each simulated voter does what a browser does: GET the ballot page from the link in their message, then POST
the cast from it (with the page's Origin; a CSRF cookie and token too if the page gives them, as older builds
did). The load generator is a bounded pool of Python
threads, each request on a new connection (gunicorn's sync workers close after each response).

The database is `<prefix>_casting` on the benchmark server (QUORUM_BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/quorum_bench), seeded once with seed_demo. Each run sets up a new
union-wide STV election, freezes its roll (timed: the roll is one INSERT ... SELECT), gives credentials to
the voters it will use, then starts gunicorn and casts.

    python -m bench.run --only casting
    python -m bench.bench_casting            # alone, printing the result
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.postgres import create_database

REPO = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench"
URL_VARIABLE = "QUORUM_BENCH_DATABASE_URL"
MEMBERS = 100_000
VOTERS = 3000
WARM_UP = 100
CONCURRENCY = 8
WORKERS = 4
TARGET_BALLOTS_PER_SECOND = 200
TARGET_P95_MS = 250
SECRET_KEY = "benchmark-only-secret-key-not-for-production-0123456789"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
RECEIPT = re.compile(rb"<strong>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</strong>")


def database_url() -> str:
    base = os.environ.get(URL_VARIABLE, DEFAULT_URL)
    parts = urlsplit(base)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"The casting benchmark needs PostgreSQL: set {URL_VARIABLE} to a postgres:// URL.")
    name = (parts.path.lstrip("/") or "quorum_bench") + "_casting"
    return parts._replace(path="/" + name).geturl()


def environment(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SECRET_KEY=SECRET_KEY,  # the credential hash is keyed with it: the same in both processes
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


# --- In the prepare subprocess (Django on the benchmark database) ----------------------------------------


def prepare(out_path: str, voters: int) -> None:
    import django

    django.setup()
    import secrets as random_secrets

    from django.core.management import call_command
    from django.utils import timezone

    from crm.models import Member, User
    from elections.credentials import new_credential
    from elections.models import RollEntry
    from elections.services import setup

    # Sending a credential to each of the whole roll is the Celery task's work, not what is measured here.
    setup._schedule_credentials = lambda election_id: None
    call_command("migrate", verbosity=0)
    if Member.objects.count() != MEMBERS:
        call_command("seed_demo", members=MEMBERS, seed=1, flush=True, stdout=sys.stderr)
    national = User.objects.filter(role=User.Role.NATIONAL_ADMIN).first()
    now = timezone.now()
    election = setup.create_election(
        actor=national,
        details={
            "title": f"Benchmark executive election {random_secrets.token_hex(3)}",
            "kind": "seat",
            "method": "stv",
            "rule": "scottish",
            "seats": 2,
            "voting_opens_at": now - timezone.timedelta(minutes=1),
            "voting_closes_at": now + timezone.timedelta(days=1),
            "electorate": "all",
            "requires_good_standing": True,
            "cut_off_on": timezone.localdate(),
        },
    )
    candidates = Member.objects.in_good_standing().order_by("pk")[:5]
    for member in candidates:
        setup.add_candidate(actor=national, election=election, member=member, has_consented=True)
    started = time.perf_counter()
    roll = setup.open_voting(actor=national, election=election)
    freeze_seconds = time.perf_counter() - started
    # Credentials as issue_credentials makes them, for the voters this run uses.
    entries = list(RollEntry.objects.filter(roll=roll).order_by("?")[:voters])
    credentials = []
    for entry in entries:
        credential, entry.credential_hash = new_credential()
        credentials.append(credential)
    RollEntry.objects.bulk_update(entries, ["credential_hash"], batch_size=2000)
    Path(out_path).write_text(
        json.dumps(
            {
                "election": election.pk,
                "candidates": list(election.candidates.values_list("pk", flat=True)),
                "credentials": credentials,
                "roll_size": roll.size_at_freeze,
                "freeze_seconds": freeze_seconds,
            }
        )
    )


def count_ballots(election_id: int) -> None:
    import django

    django.setup()
    from elections.models import Ballot, RollEntry

    print(
        json.dumps(
            {
                "ballots": Ballot.objects.filter(election_id=election_id).count(),
                "voted": RollEntry.objects.filter(roll__election_id=election_id, has_voted=True).count(),
            }
        )
    )


# --- In the parent: gunicorn and the load generator ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Set-Cookie") or "", response.read()
    finally:
        connection.close()


def open_ballot(port: int, election: int, credential: str) -> tuple[str, str, float]:
    """A voter opens the link from their message: the ballot page (and its CSRF token and cookie, if any)."""
    started = time.perf_counter()
    status, cookie, page = request(port, "GET", f"/elections/{election}/vote/?{urlencode({'credential': credential})}")
    latency = (time.perf_counter() - started) * 1000
    if status != 200 or b'name="credential"' not in page:
        raise RuntimeError(f"ballot page answered {status}")
    # The ballot page sets no cookie and has no CSRF token now (the credential is the key); an older build
    # still gets both sent back, so the same command measures either.
    token, cookie_value = TOKEN.search(page), re.search(r"csrftoken=([^;]+)", cookie)
    return (token.group(1).decode() if token else ""), (cookie_value.group(1) if cookie_value else ""), latency


def cast(port: int, election: int, credential: str, token: str, cookie: str, ranking: list[int]) -> tuple[float, str]:
    """The voter casts. Returns the cast's latency in ms and the receipt code."""
    fields = {"credential": credential, "step": "cast", "choices": json.dumps({"ranking": ranking})}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{port}"}
    if token:
        fields["csrfmiddlewaretoken"] = token
        headers["Cookie"] = f"csrftoken={cookie}"
    started = time.perf_counter()
    status, _cookie, body = request(port, "POST", f"/elections/{election}/vote/", urlencode(fields).encode(), headers)
    latency = (time.perf_counter() - started) * 1000
    receipt = RECEIPT.search(body)
    if status != 200 or not receipt:
        raise RuntimeError(f"cast answered {status}")
    return latency, receipt.group(1).decode()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run(voters: int = VOTERS, concurrency: int = CONCURRENCY, workers: int = WORKERS) -> dict:
    url = database_url()
    create_database(url)
    env = environment(url)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "prepared.json"
        subprocess.run(
            [sys.executable, "-m", "bench.bench_casting", "--prepare", str(out), "--voters", str(voters + WARM_UP)],
            cwd=REPO,
            env=env,
            check=True,
        )
        prepared = json.loads(out.read_text())
    port = free_port()
    server_env = {
        **env,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
    }
    # Production settings serve static files from a manifest: build it as a deployment would.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=REPO, env=server_env, check=True
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=server_env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request(port, "GET", "/accounts/login/")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        election, candidates = prepared["election"], prepared["candidates"]
        credentials = prepared["credentials"]

        errors: list[str] = []
        lock = threading.Lock()

        def guarded(work):
            def wrapped(index: int):
                try:
                    return work(index)
                except Exception as error:  # counted and reported, never hidden
                    with lock:
                        errors.append(repr(error))
                    return None

            return wrapped

        def opened(index: int):
            return open_ballot(port, election, credentials[index])

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            # Every voter first opens their ballot (timed on its own), then the casts are timed together.
            started = time.perf_counter()
            pages = list(pool.map(guarded(opened), range(WARM_UP + voters)))
            page_seconds = time.perf_counter() - started

            def voted(index: int):
                token, cookie, _latency = pages[index]
                ranking = [candidates[(index + k) % len(candidates)] for k in range(3)]
                return cast(port, election, credentials[index], token, cookie, ranking)

            list(pool.map(guarded(voted), range(WARM_UP)))
            started = time.perf_counter()
            outcomes = list(pool.map(guarded(voted), range(WARM_UP, WARM_UP + voters)))
            seconds = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    counted = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.bench_casting", "--count", str(election)],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    page_latencies = [p[2] for p in pages if p]
    latencies = [o[0] for o in outcomes if o]
    cast_count = len(latencies)
    rate = cast_count / seconds
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    rows = [
        {
            "scenario": f"{voters:,} voters, {concurrency} at a time, {workers} gunicorn workers",
            "ballots cast": cast_count,
            "errors": len(errors),
            "seconds": round(seconds, 1),
            "ballots per second": round(rate, 1),
            "cast median ms": round(p50, 1),
            "cast p95 ms": round(p95, 1),
            "target": f">= {TARGET_BALLOTS_PER_SECOND}/s, p95 < {TARGET_P95_MS} ms",
            "met": rate >= TARGET_BALLOTS_PER_SECOND and p95 < TARGET_P95_MS,
        },
        {
            "scenario": f"opening the ballot page: {len(pages):,} voters, {concurrency} at a time",
            "ballots cast": None,
            "errors": None,
            "seconds": round(page_seconds, 1),
            "ballots per second": round(len(page_latencies) / page_seconds, 1),
            "cast median ms": round(statistics.median(page_latencies), 1),
            "cast p95 ms": round(percentile(page_latencies, 0.95), 1),
            "target": "pages per second and page latency",
            "met": None,
        },
        {
            "scenario": f"freezing the roll of a {MEMBERS:,}-member union (one INSERT ... SELECT)",
            "ballots cast": None,
            "errors": None,
            "seconds": round(prepared["freeze_seconds"], 2),
            "ballots per second": None,
            "cast median ms": None,
            "cast p95 ms": None,
            "target": f"{prepared['roll_size']:,} roll entries",
            "met": None,
        },
    ]
    notes = [
        "Each voter first GETs the ballot page from their link (timed as its own row), "
        "then all voters POST their casts, timed together: ballots per second over the casts' wall time.",
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        f"Ballots in the database after the run: {counted['ballots']:,} (including {WARM_UP} warm-up ballots); "
        f"roll entries marked voted: {counted['voted']:,}.",
        "Load generator, gunicorn and PostgreSQL share the machine's cores (and, while this ran, other work).",
    ]
    if errors:
        notes.append(f"First errors: {errors[:3]}")
    return {"title": "Casting ballots through gunicorn and PostgreSQL", "rows": rows, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--voters", type=int, default=VOTERS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.voters)
    elif args.count:
        count_ballots(args.count)
    else:
        print(json.dumps(run(args.voters, args.concurrency, args.workers), indent=2))


if __name__ == "__main__":
    main()
