"""Member list benchmark: the API page, the HTML page and the dashboard over a seeded union, on PostgreSQL only.

For each size (100,000 and 1,000,000 members by default) it uses its own database, `quorum_bench_100k`,
`quorum_bench_1m`... (the prefix comes from QUORUM_BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/quorum_bench), creates and migrates it, and seeds it with seed_demo
unless it already holds that many members. It then times requests in-process with django.test.Client
(force_login, after a warm-up): server time without the network, as the national admin and as a
regional organiser, rotating surnames, regions and branches. Three layers are timed:

- queryset: MemberFilter over crm.selectors.member_list_for, count and first page (what both pages run);
- api: GET /api/v1/members/ (50 rows, count included);
- page: GET /members/ (the HTML member list, same query parameters);
- dashboard: GET /dashboard/ (figures, recent joins and lapses, lowest density, trend), once per user.

Run it with `python -m bench.run`, or alone: `python -m bench.bench_member_list --members 100000`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench"
URL_VARIABLE = "QUORUM_BENCH_DATABASE_URL"
DEFAULT_SIZES = (100_000, 1_000_000)
HEADLINE_REQUESTS = 200
VARIETY_REQUESTS = 60
PAGE_VARIETY_REQUESTS = 20
WARM_UP = 10
TARGET_MEDIAN_MS = 50
TARGET_P95_MS = 150
PAGE_SIZE = 50
API_URL = "/api/v1/members/"
PAGE_URL = "/members/"
DASHBOARD_URL = "/dashboard/"


def configure() -> None:
    """Point Django at the benchmark server before Django is set up; refuse anything but PostgreSQL."""
    url = os.environ.get(URL_VARIABLE, DEFAULT_URL)
    if urlsplit(url).scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(
            f"The member list benchmark needs PostgreSQL, not {urlsplit(url).scheme or url!r}: set {URL_VARIABLE} "
            "to a postgres:// URL. SQLite cannot show what a million members cost."
        )
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit(
            "The member list benchmark needs PostgreSQL, but Django was already set up with another database."
        )
    # Measure as production runs: no per-query logging (DEBUG), and the test client's host allowed.
    settings.DEBUG = False
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def database_name(size: int) -> str:
    """One database per size, so switching sizes never reseeds: quorum_bench_100k, quorum_bench_1m."""
    prefix = urlsplit(os.environ.get(URL_VARIABLE, DEFAULT_URL)).path.lstrip("/") or "quorum_bench"
    if size % 1_000_000 == 0:
        return f"{prefix}_{size // 1_000_000}m"
    if size % 1000 == 0:
        return f"{prefix}_{size // 1000}k"
    return f"{prefix}_{size}"


def use_database(name: str) -> None:
    """Switch Django's default connection to another database on the same server, creating it if need be."""
    import psycopg
    from django.conf import settings
    from django.db import connections
    from psycopg import sql

    for conn in connections.all():
        conn.close()
    params = connections["default"].settings_dict
    with psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params["NAME"] = name
    settings.DATABASES["default"]["NAME"] = name


def prepare(size: int, log: Callable[[str], None]) -> dict:
    """Migrate the size's database and seed it unless it already holds a demo union of that size."""
    from django.core.management import call_command

    from crm.management.demo_seed import DEMO_USERNAMES
    from crm.models import Member, User

    name = database_name(size)
    use_database(name)
    call_command("migrate", verbosity=0)
    members = Member.objects.count()
    demo_users = User.objects.filter(username__in=DEMO_USERNAMES).count()
    if members == size and demo_users == len(DEMO_USERNAMES):
        log(f"{name}: already seeded with {size:,} members")
        info = {"database": name, "seeded_now": False}
    else:
        log(f"{name}: seeding {size:,} members (found {members:,})")
        out = io.StringIO()
        started = time.monotonic()
        call_command("seed_demo", members=size, seed=1, flush=True, stdout=out, stderr=sys.stderr)
        seconds = time.monotonic() - started
        log(out.getvalue().rstrip())
        info = {"database": name, "seeded_now": True, "seed_seconds": round(seconds, 1)}
    prewarm(log)
    return info


def prewarm(log: Callable[[str], None]) -> None:
    """Read the crm tables and indexes into the OS cache, so the first scenario is not the one paying."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            cursor.execute(
                "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname LIKE 'crm\\_%%' AND c.relkind IN ('r', 'i')"
            )
            log(f"prewarmed {cursor.fetchone()[0] * 8 // 1024:,} MB of crm tables and indexes")
    except Exception as error:  # pg_prewarm is a contrib extension: measure anyway, just colder
        log(f"could not prewarm ({error}); measuring with whatever is cached")


# --------------------------------------------------------------------------- the data to ask for


@dataclass
class Fixture:
    """Values to rotate through, read from the seeded database."""

    regions: list[int]
    organiser_region: int
    organiser_branches: list[int]
    branches: list[int]
    workplaces: list[int]
    prefixes: list[str]
    first_names: list[str]
    emails: list[str]
    numbers: list[str]
    tag: str


def load_fixture() -> Fixture:
    from django.db import connection

    from crm.models import Branch, Member, Region, Tag, User, Workplace

    organiser = User.objects.get(username="organiser")
    organiser_region = organiser.regions.get()
    with connection.cursor() as cursor:
        # The commonest three-letter surname starts: what people type into the search box.
        cursor.execute(
            "SELECT lower(left(last_name, 3)) AS prefix FROM crm_member GROUP BY prefix ORDER BY count(*) DESC LIMIT 16"
        )
        prefixes = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT lower(first_name) FROM crm_member GROUP BY first_name ORDER BY count(*) DESC LIMIT 12")
        first_names = [row[0] for row in cursor.fetchall()]
    sample = Member.objects.exclude(email="").order_by("id")
    step = max(1, Member.objects.count() // 40)
    sampled = list(sample.filter(id__in=range(1, step * 40, step)).values_list("email", "membership_number"))
    return Fixture(
        regions=list(Region.objects.order_by("id").values_list("id", flat=True)),
        organiser_region=organiser_region.id,
        organiser_branches=list(organiser_region.branches.order_by("id").values_list("id", flat=True)),
        branches=list(Branch.objects.order_by("id").values_list("id", flat=True)),
        workplaces=list(Workplace.objects.order_by("-eligible_staff", "id").values_list("id", flat=True)[:40]),
        prefixes=prefixes,
        first_names=first_names,
        emails=[email.split("@")[0] + "@" for email, _ in sampled] or ["sarah.smith@"],
        numbers=[number[:6] for _, number in sampled] or ["Q00012"],
        tag=Tag.objects.order_by("name").values_list("name", flat=True)[2],
    )


@dataclass
class Scenario:
    name: str
    user: str  # demo username: "admin" (national) or "organiser" (one region)
    params: Callable[[Fixture, int], dict]
    requests: int
    headline: bool = False


def _pick(values: list, i: int):
    return values[i % len(values)]


def scenarios(headline_requests: int, variety_requests: int) -> list[Scenario]:
    h, v = headline_requests, variety_requests

    def headline(f: Fixture, i: int, region: int | None = None) -> dict:
        return {
            "status": "active",
            "category": "teacher",
            "region": region or _pick(f.regions, i),
            "q": _pick(f.prefixes, i * 7),
        }

    return [
        Scenario("3 filters + surname search", "admin", headline, h, headline=True),
        Scenario(
            "3 filters + surname search",
            "organiser",
            lambda f, i: headline(f, i, region=f.organiser_region),
            h,
            headline=True,
        ),
        Scenario("surname search only", "admin", lambda f, i: {"q": _pick(f.prefixes, i)}, v),
        Scenario(
            "first name + surname",
            "admin",
            lambda f, i: {"q": f"{_pick(f.first_names, i)} {_pick(f.prefixes, i * 3)}"},
            v,
        ),
        Scenario("membership number", "admin", lambda f, i: {"q": _pick(f.numbers, i)}, v),
        Scenario("email", "admin", lambda f, i: {"q": _pick(f.emails, i)}, v),
        Scenario("region + active", "admin", lambda f, i: {"region": _pick(f.regions, i), "status": "active"}, v),
        Scenario("branch + lapsed", "admin", lambda f, i: {"branch": _pick(f.branches, i), "status": "lapsed"}, v),
        Scenario("one workplace", "admin", lambda f, i: {"workplace": _pick(f.workplaces, i)}, v),
        Scenario(
            "good standing + sector + region",
            "admin",
            lambda f, i: {"good_standing": "true", "sector": "secondary", "region": _pick(f.regions, i)},
            v,
        ),
        Scenario(
            "position holders in region", "admin", lambda f, i: {"position": "any", "region": _pick(f.regions, i)}, v
        ),
        Scenario("tag + region", "admin", lambda f, i: {"tag": f.tag, "region": _pick(f.regions, i)}, v),
        Scenario(
            "SMS-reachable in branch",
            "admin",
            lambda f, i: {"has_mobile": "true", "consent": "sms", "branch": _pick(f.branches, i)},
            v,
        ),
        Scenario(
            "by date joined, page 5",
            "admin",
            lambda f, i: {"status": "active", "region": _pick(f.regions, i), "ordering": "-joined_on", "page": 5},
            v,
        ),
        Scenario("no filters (first page)", "admin", lambda f, i: {}, v),
        Scenario("surname search in patch", "organiser", lambda f, i: {"q": _pick(f.prefixes, i)}, v),
        Scenario(
            "branch + active in patch",
            "organiser",
            lambda f, i: {"branch": _pick(f.organiser_branches, i), "status": "active"},
            v,
        ),
    ]


# --------------------------------------------------------------------------- measuring


class Unavailable(Exception):
    """The endpoint is not there (yet), or answers with an error."""


def _queryset_runner(user) -> Callable[[dict], int]:
    """Run what the list pages run, without HTTP: the filtered, scoped queryset's count and first page."""
    from django.test import RequestFactory

    from crm.filters import MemberFilter
    from crm.selectors import member_list_for

    factory = RequestFactory()

    def run(params: dict) -> int:
        params = {k: v for k, v in params.items() if k != "page"}
        request = factory.get("/", params)
        request.user = user
        member_filter = MemberFilter(params, queryset=member_list_for(user), request=request)
        if not member_filter.is_valid():
            raise Unavailable(f"invalid filter: {member_filter.errors.as_json()}")
        queryset = member_filter.qs
        count = queryset.count()
        list(queryset[:PAGE_SIZE])
        return count

    return run


def _client_runner(client, url: str, *, api: bool) -> Callable[[dict], int | None]:
    def run(params: dict) -> int | None:
        headers = {"HTTP_ACCEPT": "application/json"} if api else {}
        response = client.get(url, params, **headers)
        if response.status_code != 200:
            raise Unavailable(f"GET {url} answered {response.status_code}")
        if api:
            body = json.loads(response.content)
            if "count" not in body or len(body.get("results", [])) > PAGE_SIZE:
                raise Unavailable(f"GET {url} did not answer a counted page of {PAGE_SIZE}")
            return body["count"]
        return None

    return run


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class QueryRecorder:
    """Records the SQL a block runs. (CaptureQueriesContext cannot: each request resets the query log.)"""

    def __init__(self) -> None:
        self.queries: list[tuple[str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        self.queries.append((sql, params))
        return execute(sql, params, many, context)


def measure(run: Callable[[dict], int | None], params_for: Callable[[int], dict], requests: int) -> dict:
    """Warm up, count the SQL queries of one request, then time `requests` requests (rotating parameters)."""
    from django.db import connection

    for i in range(WARM_UP):
        run(params_for(i + 1000))
    recorder = QueryRecorder()
    with connection.execute_wrapper(recorder):
        run(params_for(0))
    timings = []
    matches = []
    slowest: tuple[float, dict] = (0.0, {})
    for i in range(requests):
        params = params_for(i)
        started = time.perf_counter()
        found = run(params)
        elapsed = (time.perf_counter() - started) * 1000
        timings.append(elapsed)
        if found is not None:
            matches.append(found)
        if elapsed > slowest[0]:
            slowest = (elapsed, params)
    return {
        "requests": requests,
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(_percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "queries": len(recorder.queries),
        "median_matches": int(statistics.median(matches)) if matches else None,
        "_slowest_params": slowest[1],
    }


def explain_member_queries(run: Callable[[dict], object], params: dict) -> str:
    """EXPLAIN ANALYZE the member queries (count and page) one request makes."""
    from django.db import connection

    recorder = QueryRecorder()
    with connection.execute_wrapper(recorder):
        run(params)
    plans = [f"-- parameters: {params}"]
    with connection.cursor() as cursor:
        for sql, sql_params in recorder.queries:
            upper = sql.upper()
            if '"crm_member"' not in sql or not upper.lstrip().startswith("SELECT"):
                continue
            if "COUNT(" not in upper and "LIMIT" not in upper:
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, sql_params)
            plans.append(f"-- {sql[:200]}...\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(plans)


def signed_in_with_second_factor(client, user):
    """A staff session as production has it: signed in, and verified with a (confirmed) authenticator app,
    so each request pays for the second-factor check too."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device, _created = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def bench_size(size: int, args, log: Callable[[str], None]) -> tuple[list[dict], list[str], dict]:
    from django.test import Client

    from crm.models import User

    info = prepare(size, log)
    fixture = load_fixture()
    users = {name: User.objects.get(username=name) for name in ("admin", "organiser")}
    clients = {}
    for name, user in users.items():
        clients[name] = signed_in_with_second_factor(Client(), user)
    rows: list[dict] = []
    notes: list[str] = []
    explains: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    load_before = os.getloadavg()[0]
    for scenario in scenarios(args.requests, args.variety_requests):
        user = users[scenario.user]
        api = _client_runner(clients[scenario.user], API_URL, api=True)
        layers: list[tuple[str, Callable, int]] = [("api", api, scenario.requests)]
        if scenario.headline:
            layers.insert(0, ("queryset", _queryset_runner(user), scenario.requests))
        # The HTML page renders the whole filter form, so it is slower: fewer requests outside the headline.
        page_requests = scenario.requests if scenario.headline else min(scenario.requests, PAGE_VARIETY_REQUESTS)
        layers.append(("page", _client_runner(clients[scenario.user], PAGE_URL, api=False), page_requests))
        for layer, run, requests in layers:
            if layer in unavailable:
                continue
            log(f"  {size:>9,} {layer:<14} {scenario.user:<9} {scenario.name}")
            try:
                result = measure(run, lambda i, s=scenario: s.params(fixture, i), requests)
            except Unavailable as error:
                if not any(row["layer"] == layer and row["members"] == size for row in rows):
                    unavailable[layer] = str(error)  # never answered: the endpoint is not there (yet)
                    notes.append(f"{size:,} members, {layer}: not measured: {error}.")
                else:
                    notes.append(f"{size:,} members, {layer}, {scenario.name}: not measured: {error}.")
                continue
            slowest = result.pop("_slowest_params")
            rows.append({"members": size, "layer": layer, "user": scenario.user, "scenario": scenario.name, **result})
            log(f"  {'':>9} {'':<14} median {result['median_ms']} ms, p95 {result['p95_ms']} ms")
            key = f"{layer} / {scenario.user} / {scenario.name}"
            slow = layer.startswith("api") and result["median_ms"] > TARGET_MEDIAN_MS
            if (scenario.headline and layer.startswith("api")) or slow:
                explains[key] = explain_member_queries(run, slowest)
    # The dashboard's figures and density chart cover the whole scope: the national one reads a million rows.
    for name in ("admin", "organiser"):
        log(f"  {size:>9,} {'dashboard':<14} {name:<9}")
        result = measure(_client_runner(clients[name], DASHBOARD_URL, api=False), lambda i: {}, args.variety_requests)
        result.pop("_slowest_params")
        rows.append({"members": size, "layer": "dashboard", "user": name, "scenario": "dashboard", **result})
        log(f"  {'':>9} {'':<14} median {result['median_ms']} ms, p95 {result['p95_ms']} ms")
    load_after = os.getloadavg()[0]
    notes.append(
        f"{size:,} members ({info['database']}"
        + (f", seeded now in {info['seed_seconds']} s" if info.get("seeded_now") else ", seeded earlier")
        + f"): load average {load_before:.2f} before, {load_after:.2f} after."
    )
    for row in rows:
        if row["layer"].startswith("api") and row["scenario"] == "3 filters + surname search":
            met = row["median_ms"] < TARGET_MEDIAN_MS and row["p95_ms"] < TARGET_P95_MS
            notes.append(
                f"{size:,} members, {row['layer']} headline as {row['user']}: median {row['median_ms']} ms "
                f"(target < {TARGET_MEDIAN_MS}), p95 {row['p95_ms']} ms (target < {TARGET_P95_MS}): "
                + ("met." if met else "MISSED.")
            )
    return rows, notes, explains


def run(
    sizes: tuple[int, ...] = DEFAULT_SIZES, *, requests: int = HEADLINE_REQUESTS, variety_requests: int | None = None
) -> dict:
    """Benchmark every size; returns {"title", "rows", "notes", "explain"} for bench.run."""
    if variety_requests is None:
        variety_requests = min(VARIETY_REQUESTS, requests)
    args = argparse.Namespace(requests=requests, variety_requests=variety_requests)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    configure()
    rows: list[dict] = []
    notes = [
        "Server time in-process (django.test.Client, force_login, DEBUG off), after a warm-up; "
        "milliseconds per request including session, user and permission queries.",
        "'queryset' is MemberFilter over member_list_for: count plus first page, without HTTP.",
        "Before timing, each database's crm tables and indexes are read into the OS cache (pg_prewarm), as on a "
        "server whose memory holds the member table; the first requests after a cold start are slower.",
    ]
    explains: dict[str, dict[str, str]] = {}
    for size in sizes:
        size_rows, size_notes, size_explains = bench_size(size, args, log)
        rows += size_rows
        notes += size_notes
        explains[f"{size:,} members"] = size_explains
    return {
        "title": "Member list (API and HTML page, filters and search) and dashboard",
        "rows": rows,
        "notes": notes,
        "explain": explains,
    }


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=_sizes, default=DEFAULT_SIZES, help="Sizes, e.g. 100000,1000000")
    parser.add_argument("--requests", type=int, default=HEADLINE_REQUESTS)
    parser.add_argument("--variety-requests", type=int, default=None)
    args = parser.parse_args(argv)
    result = run(args.members, requests=args.requests, variety_requests=args.variety_requests)
    json.dump(result, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
