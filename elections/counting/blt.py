"""Read and write BLT, the ballot exchange format of STV counting software.

    6 4                 candidates, seats
    -2                  optional: withdrawn candidates, as negative numbers
    12 1 2 3 0          weight, preferences (candidate numbers from 1), 0 ends the ballot
    (b7) 1 4 0          an optional ballot id in brackets is ignored
    0                   end of ballots
    "Ann Smith"         one name per candidate, in number order (quotes optional)
    "Ward 7"            the title (optional)

Liberal where the format allows (blank lines, comment lines starting with #, ids, quotes, CRLF, a UTF-8 byte
order mark, preferences for withdrawn candidates passed over); strict where a mistake would change the count:
wrong counts, unknown or repeated candidate numbers, a missing 0, weights that are not whole numbers or are
implausibly large, and text that is not UTF-8 are all refused with the line at fault, and nothing is counted.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator

from .types import MAX_CANDIDATES, MAX_TOTAL_WEIGHT, MAX_WEIGHT, CountError, Profile, Ranking, no_gc_pauses

_END_OF_BALLOTS = re.compile(r"^[ \t]*0[ \t]*$", re.MULTILINE)
_INTEGER = re.compile(r"-?[0-9]+")


class BLTError(CountError):
    """A BLT file that cannot be read. ``line`` is the 1-based line at fault (None when it is the whole file)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"BLT line {line}: {message}" if line else f"BLT file: {message}")


def decode_blt(data: bytes) -> str:
    """Decode a BLT file's bytes as UTF-8, naming the line of the first byte that is not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BLTError(line, "is not valid UTF-8 text; save the file as UTF-8 and try again.") from None
    return text


def _int(token: str, lineno: int, what: str) -> int:
    if not _INTEGER.fullmatch(token):
        raise BLTError(lineno, f"{what} {token!r} is not a whole number.")
    return int(token)


def _unquote(text: str, lineno: int, what: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise BLTError(lineno, f"the {what} {text!r} opens a quote but does not close it.")
        text = text[1:-1].strip()
    return text


def parse_blt(source: str | bytes) -> Profile:
    """Parse a BLT file into a :class:`Profile`, aggregating identical ballots."""
    text = decode_blt(source) if isinstance(source, bytes) else source
    with no_gc_pauses():
        return _parse(text)


def _scan(text: str, pos: int, lineno: int) -> Iterator[tuple[int, str, int]]:
    """(line number, line, start of the next line) from ``pos`` on."""
    size = len(text)
    while pos < size:
        end = text.find("\n", pos)
        if end < 0:
            end = size
        lineno += 1
        yield lineno, text[pos:end], end + 1
        pos = end + 1


def _line_of(section: str, raw: str, first: int) -> int:
    for offset, line in enumerate(io.StringIO(section)):
        if line == raw:
            return first + offset
    return first  # pragma: no cover - raw always comes from section


def _parse(text: str) -> Profile:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _scan(text, 0, 0)

    # Header: "candidates seats".
    lineno = 0
    header: list[str] | None = None
    for number, raw, _ in lines:
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            header, lineno = stripped.split(), number
            break
    if header is None:
        raise BLTError(None, "is empty; it must start with a line giving the number of candidates and seats.")
    if len(header) != 2:
        raise BLTError(lineno, "the first line must hold two numbers: candidates and seats.")
    n = _int(header[0], lineno, "the number of candidates")
    seats = _int(header[1], lineno, "the number of seats")
    if not 1 <= n <= MAX_CANDIDATES:
        raise BLTError(lineno, f"the number of candidates must be from 1 to {MAX_CANDIDATES}; got {n}.")
    if not 1 <= seats <= n:
        raise BLTError(lineno, f"the number of seats must be from 1 to the number of candidates ({n}); got {seats}.")

    # Withdrawn candidates, then where the ballots start.
    withdrawn: set[int] = set()
    section_start = len(text)
    first_ballot_line = lineno + 1
    for number, raw, following in lines:
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if tokens[0].startswith("-"):
            for token in tokens:
                value = _int(token, number, "the withdrawn candidate")
                if not -n <= value <= -1:
                    raise BLTError(number, f"withdrawn candidate {token} must be from -1 to -{n}.")
                withdrawn.add(-value - 1)
            continue
        section_start, first_ballot_line = following - len(raw) - 1, number
        break

    # The ballots run to the first line holding a single 0. Identical lines are counted together at C speed
    # (in order of first appearance, so the first bad line in the file is the one reported), then each
    # distinct line is read once.
    end = _END_OF_BALLOTS.search(text, section_start)
    if end is None:
        total_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise BLTError(total_lines + 1, "the file ends before the line holding a single 0 that closes the ballots.")
    section = text[section_start : end.start()]
    ballots: dict[Ranking, int] = {}
    weights: dict[str, int] = {}
    index = {str(number): number - 1 for number in range(1, n + 1)}
    total = 0
    invalid = 0
    for raw, copies in Counter(io.StringIO(section)).items():
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        parsed = _fast_ballot(tokens, index, withdrawn)
        if parsed is None:
            try:
                parsed = _ballot(tokens, 0, n, withdrawn)
            except BLTError as error:
                raise BLTError(_line_of(section, raw, first_ballot_line), error.reason) from None
        key, weight = parsed
        weights[raw] = weight
        total += weight * copies
        if key:
            ballots[key] = ballots.get(key, 0) + weight * copies
        else:
            invalid += weight * copies
    if total > MAX_TOTAL_WEIGHT:
        running = 0
        for offset, raw in enumerate(io.StringIO(section)):
            running += weights.get(raw, 0)
            if running > MAX_TOTAL_WEIGHT:
                raise BLTError(first_ballot_line + offset, f"the ballots add up to more than {MAX_TOTAL_WEIGHT} votes.")
    lines = _scan(text, end.end() + 1, first_ballot_line + section.count("\n"))
    last = first_ballot_line + section.count("\n")

    names: list[str] = []
    index: dict[str, int] = {}
    for lineno, raw, _ in lines:
        last = lineno
        if not raw.strip():
            continue
        name = _unquote(raw, lineno, "candidate name")
        if not name:
            raise BLTError(lineno, "a candidate's name is blank.")
        if name in index:
            raise BLTError(lineno, f"two candidates are both called {name!r}; names must be distinct.")
        index[name] = len(names)
        names.append(name)
        if len(names) == n:
            break
    if len(names) < n:
        raise BLTError(
            last + 1, f"the file gives {len(names)} candidate names but its first line says there are {n} candidates."
        )

    title = ""
    for lineno, raw, _ in lines:
        if not raw.strip():
            continue
        if title:
            raise BLTError(
                lineno, "unexpected text after the title; is there a candidate more than the first line says?"
            )
        title = _unquote(raw, lineno, "title") or " "
    title = title.strip()

    profile = Profile(
        candidates=names,
        seats=seats,
        ballots=ballots,
        withdrawn=frozenset(withdrawn),
        title=title,
        invalid=invalid,
    )
    if not profile.ballots:
        raise BLTError(None, "holds no ballot with a preference for a standing candidate.")
    return profile


def _fast_ballot(tokens: list[str], index: dict[str, int], withdrawn: set[int]) -> tuple[Ranking, int] | None:
    """The common, well-formed line, read quickly; None sends it to the careful reader for its error.

    ``index`` maps "1".."n" to 0..n-1, so an unknown number (or any odd spelling of one) is simply not found.
    """
    if len(tokens) < 2 or tokens[-1] != "0":
        return None
    weight = tokens[0]
    if not (weight.isascii() and weight.isdigit()) or weight[0] == "0" or len(weight) > 9:
        return None  # a weight of 1 to 999,999,999 (within MAX_WEIGHT) in plain digits
    try:
        key = tuple(map(index.__getitem__, tokens[1:-1]))
    except KeyError:
        return None
    if len(set(key)) != len(key):
        return None
    if withdrawn:
        key = tuple([c for c in key if c not in withdrawn])
    return key, int(weight)


def _ballot(tokens: list[str], lineno: int, n: int, withdrawn: set[int]) -> tuple[Ranking, int]:
    """Read one ballot line carefully, refusing it with the reason if it is malformed."""
    if tokens[0].startswith("(") and tokens[0].endswith(")"):
        tokens = tokens[1:]
        if not tokens:
            raise BLTError(lineno, "a ballot id is followed by no weight or preferences.")
    weight = _int(tokens[0], lineno, "the ballot weight")
    if weight < 1:
        raise BLTError(lineno, f"the ballot weight must be at least 1; got {weight}.")
    if weight > MAX_WEIGHT:
        raise BLTError(lineno, f"the ballot weight {weight} is too large (at most {MAX_WEIGHT} on one line).")
    if tokens[-1] != "0" or len(tokens) < 2:
        raise BLTError(lineno, "the ballot does not end with 0 (each ballot line must be terminated by a 0).")
    ranking: list[int] = []
    seen: set[int] = set()
    for token in tokens[1:-1]:
        if "=" in token:
            raise BLTError(lineno, f"equal rankings ({token}) are not supported; rank candidates one by one.")
        if token == "-":
            continue
        number = _int(token, lineno, "the preference")
        if number == 0:
            raise BLTError(lineno, "a 0 in the middle of the ballot; only the last number may be 0.")
        if not 1 <= number <= n:
            raise BLTError(lineno, f"candidate number {number} is not between 1 and {n}.")
        c = number - 1
        if c in seen:
            raise BLTError(lineno, f"candidate number {number} is ranked twice on one ballot.")
        seen.add(c)
        if c not in withdrawn:
            ranking.append(c)
    return tuple(ranking), weight


def _quote(text: str) -> str:
    return '"' + text + '"'


def write_blt(profile: Profile) -> str:
    """The ballots as BLT: identical ballots aggregated and sorted, so the export reveals no casting order."""
    out = [f"{len(profile.candidates)} {profile.seats}"]
    if profile.withdrawn:
        out.append(" ".join(f"-{c + 1}" for c in sorted(profile.withdrawn)))
    for ranking, weight in sorted(profile.ballots.items()):
        out.append(f"{weight} {' '.join(str(c + 1) for c in ranking)} 0")
    if profile.invalid:
        out.append(f"{profile.invalid} 0")
    out.append("0")
    out.extend(_quote(name) for name in profile.candidates)
    out.append(_quote(profile.title))
    return "\n".join(out) + "\n"
