"""python manage.py tally FILE.blt --method stv --rule scottish [--seed S] [--format json|table|csv]"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from elections.counting import METHODS, STV_RULES, CountError, ReservedSeats, count, parse_blt
from elections.counting.report import text_table, to_csv


class Command(BaseCommand):
    help = "Count a BLT ballot file and print the result, stage by stage (JSON by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="BLT file to count ('-' reads standard input).")
        parser.add_argument("--method", choices=METHODS, default="stv")
        parser.add_argument("--rule", choices=STV_RULES, help="STV rule (default scottish); only for --method stv.")
        parser.add_argument("--seats", type=int, help="Seats to fill (default: as in the file).")
        parser.add_argument("--seed", default="", help="The seed for any drawing of lots, published before the count.")
        parser.add_argument("--format", choices=("json", "table", "csv"), default="json")
        parser.add_argument("--reserved", type=int, default=0, help="Seats reserved for the --group.")
        parser.add_argument(
            "--group", default="", help="Candidates of the reserved group: numbers from 1 or names, comma-separated."
        )
        parser.add_argument("--group-label", default="the reserved group")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        try:
            data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {source}: {error.strerror}.") from None
        try:
            profile = parse_blt(data)
            reserved = self.reserved(options, profile.candidates)
            rule = options["rule"] or ("scottish" if options["method"] == "stv" else None)
            result = count(
                profile,
                method=options["method"],
                rule=rule,
                seats=options["seats"],
                seed=options["seed"],
                reserved=reserved,
            )
        except CountError as error:
            raise CommandError(f"{source}: {error}") from None
        data_out = result.to_dict()
        if options["format"] == "table":
            self.stdout.write(text_table(data_out), ending="")
        elif options["format"] == "csv":
            self.stdout.write(to_csv(data_out), ending="")
        else:
            self.stdout.write(result.to_json(), ending="")

    @staticmethod
    def reserved(options: dict[str, Any], names: list[str]) -> ReservedSeats | None:
        if not options["reserved"]:
            return None
        group: set[int] = set()
        for item in filter(None, (part.strip() for part in options["group"].split(","))):
            if item.isdigit() and 1 <= int(item) <= len(names):
                group.add(int(item) - 1)
            elif item in names:
                group.add(names.index(item))
            else:
                raise CountError(f"--group names {item!r}, which is neither a candidate number nor a name.")
        if not group:
            raise CountError("--reserved needs --group: the candidates the seats are reserved for.")
        return ReservedSeats(seats=options["reserved"], group=frozenset(group), label=options["group_label"])
