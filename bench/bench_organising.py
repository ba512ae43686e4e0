"""Organising benchmark on PostgreSQL: bulk-tag a filtered list at 100,000 members, and the equalities summary
(suppressed counts) for a region at that size.

It uses a database of its own, `quorum_organising_bench_100k` on the server of QUORUM_BENCH_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/quorum_bench), seeded once with seed_demo; equalities answers are
then generated for about 70% of members (fixed seed, in one INSERT … SELECT) before each run.

Timed, in-process, after a warm-up:
- bulk tag: crm.services.segments.bulk_tag_members as the national admin, adding a new tag to every member
  matching the filters (so every row is written) and then removing it again; one transaction each, with its
  audit row. Filters: none (all 100,000 members) and "active teachers" (a large filtered list).
- equalities summary: crm.selectors.equalities.equalities_summary for each region in turn as the national
  admin, and GET /api/v1/equalities/summary/?region=… (the same plus serialising).

Run it with `python -m bench.run --only organising`, or alone: `python -m bench.bench_organising`.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable

SIZE = 100_000
DATABASE = "quorum_organising_bench_100k"
BULK_RUNS = 5
SUMMARY_RUNS = 24


def log(message: str) -> None:
    print(f"bench organising: {message}", file=sys.stderr, flush=True)


def prepare() -> None:
    """Migrate and seed the benchmark's own database (once), then lay fresh equalities answers on it."""
    from django.core.management import call_command
    from django.db import connection

    from bench.bench_member_list import use_database
    from crm.management.demo_seed import DEMO_USERNAMES
    from crm.models import Member, User

    use_database(DATABASE)
    call_command("migrate", verbosity=0)
    if Member.objects.count() != SIZE or User.objects.filter(username__in=DEMO_USERNAMES).count() != len(
        DEMO_USERNAMES
    ):
        log(f"{DATABASE}: seeding {SIZE:,} members")
        call_command("seed_demo", members=SIZE, seed=1, flush=True, stdout=io.StringIO(), stderr=sys.stderr)
    with connection.cursor() as cursor:
        # Answers for ~70% of members, spread over the choices, the same every run (setseed).
        cursor.execute("TRUNCATE crm_equalitiesaccess, crm_equalitiesanswers")
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            """
            INSERT INTO crm_equalitiesanswers (member_id, ethnicity, black_member, lgbt_member, disabled_member,
                woman_member, entered_by, consent_wording_version, consent_recorded_at, updated_at)
            SELECT id,
                (ARRAY['white_british','white_british','white_british','white_british','white_irish','white_other',
                       'asian_indian','asian_pakistani','black_caribbean','black_african','mixed_white_asian',
                       'other_arab','white_roma','prefer_not_to_say',''])[1 + floor(random() * 15)::int],
                (ARRAY['yes','no','no','no','no','no','no','no','prefer_not_to_say',''])[1 + floor(random() * 10)::int],
                (ARRAY['yes','no','no','no','no','no','no','no','prefer_not_to_say',''])[1 + floor(random() * 10)::int],
                (ARRAY['yes','no','no','no','no','no','no','prefer_not_to_say','',''])[1 + floor(random() * 10)::int],
                (ARRAY['yes','yes','yes','yes','yes','yes','no','no','prefer_not_to_say',''])
                    [1 + floor(random() * 10)::int],
                'member', '2026-1', now(), now()
            FROM crm_member WHERE random() < 0.7
            """
        )
        cursor.execute("DELETE FROM crm_tag WHERE name LIKE 'bench-organising-%%'")
        cursor.execute("ANALYZE crm_equalitiesanswers")
        cursor.execute("ANALYZE crm_member_tags")


def _median_ms(timings: list[float]) -> float:
    return round(statistics.median(timings) * 1000, 1)


def bench_bulk_tag(admin) -> list[dict]:
    from crm.services.segments import bulk_tag_members

    rows = []
    for label, filters in (
        ("all members (no filter)", {}),
        ("active teachers", {"status": ["active"], "category": ["teacher"]}),
    ):
        bulk_tag_members(actor=admin, filters=filters, tag_name="bench-organising-warm-up")  # warm-up
        bulk_tag_members(actor=admin, filters=filters, tag_name="bench-organising-warm-up", remove=True)
        adds, removes, counts = [], [], []
        for run in range(BULK_RUNS):
            tag = f"bench-organising-{run}"
            started = time.perf_counter()
            counts.append(bulk_tag_members(actor=admin, filters=filters, tag_name=tag))
            adds.append(time.perf_counter() - started)
            started = time.perf_counter()
            bulk_tag_members(actor=admin, filters=filters, tag_name=tag, remove=True)
            removes.append(time.perf_counter() - started)
        rows.append(
            {
                "scenario": f"bulk tag: {label}",
                "members tagged": counts[0],
                "runs": BULK_RUNS,
                "median ms": _median_ms(adds),
                "max ms": round(max(adds) * 1000, 1),
                "untag median ms": _median_ms(removes),
            }
        )
        log(f"{rows[-1]}")
    return rows


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def bench_summary(admin) -> list[dict]:
    from django.test import Client

    from crm.models import Member, Region
    from crm.selectors.equalities import equalities_summary

    regions = list(Region.objects.order_by("id"))
    sizes = {r.pk: Member.objects.filter(branch__region=r, status="active").count() for r in regions}
    client = Client()
    client.force_login(admin)
    position = {"i": 0}

    def next_region() -> Region:
        region = regions[position["i"] % len(regions)]
        position["i"] += 1
        return region

    def selector() -> None:
        equalities_summary(admin, region=next_region().pk)

    def api() -> None:
        response = client.get(f"/api/v1/equalities/summary/?region={next_region().pk}")
        assert response.status_code == 200, response.content[:200]

    for call in (selector, api):  # warm-up
        _timed(call, len(regions))
    rows = []
    for label, call in (("equalities summary, selector", selector), ("equalities summary, API", api)):
        timings = _timed(call, SUMMARY_RUNS)
        rows.append(
            {
                "scenario": f"{label}: one region",
                "members tagged": None,
                "runs": SUMMARY_RUNS,
                "median ms": _median_ms(timings),
                "max ms": round(max(timings) * 1000, 1),
                "untag median ms": None,
                "active members per region": f"{min(sizes.values()):,}–{max(sizes.values()):,}",
            }
        )
        log(f"{rows[-1]}")
    return rows


def run() -> dict:
    from django.conf import settings

    from crm.models import User

    settings.DEBUG = False
    prepare()
    admin = User.objects.get(username="admin")
    rows = bench_bulk_tag(admin) + bench_summary(admin)
    return {
        "title": f"Organising at {SIZE:,} members (PostgreSQL): bulk tag and equalities summary",
        "rows": rows,
        "notes": [
            "Bulk tag: an INSERT … SELECT of the filtered members' ids per window of 25,000 ids (no member row "
            "comes into Python), "
            "skipping members who have the tag; untagging is one DELETE. Each in one transaction with one audit row. "
            "Adding is dominated by writing the link rows into the table's four indexes and by the foreign-key "
            "checks PostgreSQL runs for each new row at commit.",
            "Equalities summary: one aggregate query (a filtered COUNT per strand answer and per ethnicity) over "
            "the region's active members' answers, plus a count of the members; then suppression in Python.",
            f"Database {DATABASE}, seeded by seed_demo --members {SIZE} --seed 1; answers for ~70% of members.",
        ],
    }


def main() -> None:
    from bench.bench_member_list import configure

    configure()
    result = run()
    for row in result["rows"]:
        print(row)


if __name__ == "__main__":
    main()
