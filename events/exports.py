"""Registration lists as CSV, with formula-like cells neutralised by crm's one CSV helper."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from crm.csvfiles import neutralise


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()
