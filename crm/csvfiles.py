"""Reading the CSV files people actually have, and writing CSV that spreadsheets open safely.

Files come from Excel, from old membership systems and from employers' HR systems: UTF-8 with or without
a byte-order mark, Windows-1252, UTF-16 ("Unicode text" from Excel), commas, semicolons or tabs, quoted
cells with line breaks in them, blank lines. Anything that is not text (a workbook, a PDF, an image) is
refused with a message saying what it looks like and how to save a CSV instead.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator

from crm.errors import ServiceError

DELIMITERS = (",", ";", "\t", "|")
# What a spreadsheet would run as a formula when a cell starts with it (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The first bytes of files people upload by mistake, and what to call them.
SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)
SAVE_AS_CSV = "In your spreadsheet, choose Save As and the format 'CSV UTF-8 (comma delimited)'."


class FileRefused(ServiceError):
    """The whole file cannot be read as a CSV; nothing in it was looked at row by row."""


def decode(content: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was in. Raises FileRefused for anything that is not text."""
    for signature, kind in SIGNATURES:
        if content.startswith(signature):
            raise FileRefused(f"This file is {kind}, not a CSV file. {SAVE_AS_CSV}", field="file")
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise FileRefused(f"This file says it is UTF-16 but is not. {SAVE_AS_CSV}", field="file") from error
    if b"\x00" in content[:65536]:
        raise FileRefused(f"This is not a text file (it holds binary data). {SAVE_AS_CSV}", field="file")
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as error:
        raise FileRefused(
            f"This file's characters are neither UTF-8 nor Windows-1252 (byte {error.start + 1} cannot be read). "
            + SAVE_AS_CSV,
            field="file",
        ) from error


def sniff_delimiter(text: str) -> str:
    """The delimiter used in the heading row: whichever of , ; tab | it holds most of (comma if none)."""
    first = next((line for line in _lines(text) if line.strip()), "")
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


LINE_END = re.compile(r"\r\n|\n|\r")


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time (csv joins the lines of a quoted cell again).
    Not io.StringIO: that holds a copy of the whole text at four bytes a character."""
    start = 0
    for end in LINE_END.finditer(text):
        yield text[start : end.end()]
        start = end.end()
    if start < len(text):
        yield text[start:]


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, its cells) for every non-blank record, the heading row included."""
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=False)
    previous_end = 0
    try:
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                yield start, cells
    except csv.Error as error:
        raise FileRefused(f"Line {reader.line_num}: this file is not a well-formed CSV ({error}).") from error


def read_headers(text: str, delimiter: str) -> list[str]:
    for _line, cells in records(text, delimiter):
        headers = [cell.strip() for cell in cells]
        while headers and not headers[-1]:
            headers.pop()
        seen: set[str] = set()
        for heading in headers:
            if not heading:
                raise FileRefused("A column in the heading row has no name: give every column a heading.")
            if heading.lower() in seen:
                raise FileRefused(f"The column '{heading}' appears twice in the heading row.")
            seen.add(heading.lower())
        return headers
    raise FileRefused("This file is empty: it needs a heading row and at least one data row.", field="file")


def neutralise(value: object) -> str:
    """A cell as text that no spreadsheet will run as a formula: a leading apostrophe makes it plain text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralise(value: str) -> str:
    """Undo neutralise() on a cell read back from one of our own exports (so '+447... is a phone number)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


class Echo:
    """A file-like object whose write() returns what it is given: csv.writer then yields lines to stream."""

    def write(self, value: str) -> str:
        return value
