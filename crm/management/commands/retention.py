"""Apply the retention rules in settings, or with --dry-run say what a run would do and change nothing.

python manage.py retention --dry-run
python manage.py retention            # what the daily Celery beat task does
python manage.py retention --dry-run --json
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from crm.services.retention import apply_retention, retention_report


class Command(BaseCommand):
    help = "Apply the data retention rules (README 'Data protection'); --dry-run reports without changing anything."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would be done; change nothing.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as JSON.")

    def handle(self, *args, dry_run: bool = False, as_json: bool = False, **options):
        outcomes = retention_report() if dry_run else apply_retention()
        if as_json:
            self.stdout.write(json.dumps(outcomes, indent=2))
            return
        verb = "would" if dry_run else "did"
        self.stdout.write("Dry run: nothing changed.\n" if dry_run else "Retention rules applied.\n")
        for rule in outcomes:
            if rule["is_off"]:
                self.stdout.write(f"- {rule['what']}: off ({rule['setting']}=0)")
                continue
            count = rule["due"] if dry_run else rule["done"]
            self.stdout.write(f"- {rule['what']} ({rule['period']}): {verb} change {count}")
            for skipped in rule["skipped"]:
                self.stdout.write(f"    member {skipped['member_id']} skipped: {' '.join(skipped['reasons'])}")
