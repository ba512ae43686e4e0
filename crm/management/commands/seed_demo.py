"""`manage.py seed_demo --members N`: fill an empty database with a plausible demo union and demo logins."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from crm.management.demo_seed import (
    DEMO_PASSWORD,
    DemoUnionBuilder,
    SeedSummary,
    existing_crm_data,
    flush_crm_data,
)

MIN_MEMBERS = 100
MAX_MEMBERS = 5_000_000


class Command(BaseCommand):
    help = (
        "Build a demo education union: regions, branches, employers, schools and colleges, members, "
        "positions, membership snapshots, and one login per role (password: quorum-demo, demo only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="How many members to create (default 2000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed: the same seed gives the same union.")
        parser.add_argument(
            "--flush", action="store_true", help="Delete existing crm data (and the demo users) before seeding."
        )

    def handle(self, *args, members: int, seed: int, flush: bool, **options):
        if not MIN_MEMBERS <= members <= MAX_MEMBERS:
            raise CommandError(f"--members must be between {MIN_MEMBERS:,} and {MAX_MEMBERS:,}.")
        found = existing_crm_data()
        if found and not flush:
            listed = ", ".join(f"{n:,} {name}" for name, n in found.items())
            raise CommandError(
                f"This database already has data ({listed}). seed_demo only fills an empty database: "
                "run it with --flush to delete the existing crm data first."
            )
        if found:
            self._progress("flushing existing crm data")
            kept = flush_crm_data()
            if kept:
                self._progress(f"kept {kept:,} other users, without their member records or patches")
        builder = DemoUnionBuilder(members=members, seed=seed, progress=self._progress)
        summary = builder.build()
        self._report(summary)

    def _progress(self, message: str) -> None:
        self.stderr.write(f"seed_demo: {message}")
        self.stderr.flush()

    def _report(self, summary: SeedSummary) -> None:
        c = summary.counts
        by_status = ", ".join(f"{n:,} {status}" for status, n in summary.members_by_status.items() if n)
        out = self.stdout
        out.write(
            self.style.SUCCESS(
                f"Demo union seeded in {summary.seconds:.1f} s on {connection.vendor} (seed {summary.seed})."
            )
        )
        out.write(
            f"  {c['regions']} regions, {c['branches']} branches, {c['employers']:,} employers, "
            f"{c['workplaces']:,} workplaces"
        )
        out.write(f"  {c['members']:,} members: {by_status}; {summary.in_arrears:,} in arrears")
        out.write(f"  {c['positions']:,} positions, {c['snapshots']:,} membership snapshots, {c['tags']} tags")
        out.write("")
        out.write(f"Demo logins. Every one has the password {DEMO_PASSWORD!r}: demo data only, never a real system.")
        width = max(len(login.username) for login in summary.logins) + 2
        role_width = max(len(login.role) for login in summary.logins) + 2
        out.write(f"  {'username':<{width}}{'role':<{role_width}}sees")
        for login in summary.logins:
            out.write(f"  {login.username:<{width}}{login.role:<{role_width}}{login.sees}")
