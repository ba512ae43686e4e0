"""Reserved seats: "at least k of the seats go to candidates of a group" (e.g. women members).

Two rules keep the reservation, in every method:
- when the seats left equal the reserved seats still unfilled, every continuing candidate outside the
  group is excluded (and a candidate outside the group is never deemed elected into a seat the group needs);
- a candidate of the group is not excluded while the group's continuing candidates are only just enough
  to fill its unfilled reserved seats.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from .types import CountError, Profile, ReservedSeats


def check_reserved(reserved: ReservedSeats | None, profile: Profile, seats: int) -> None:
    if reserved is None:
        return
    if reserved.seats < 0 or reserved.seats > seats:
        raise CountError(f"Reserved seats must be between 0 and the {seats} seats; got {reserved.seats}.")
    unknown = [c for c in reserved.group if not 0 <= c < len(profile.candidates)]
    if unknown:
        raise CountError(f"The reserved group names unknown candidate numbers: {sorted(c + 1 for c in unknown)}.")
    standing = [c for c in reserved.group if c not in profile.withdrawn]
    if len(standing) < reserved.seats:
        raise CountError(
            f"{reserved.seats} seats are reserved for {reserved.label} "
            f"but only {len(standing)} of its candidates stand."
        )


def unfilled(reserved: ReservedSeats | None, elected: Iterable[int]) -> int:
    if reserved is None or reserved.seats == 0:
        return 0
    return max(0, reserved.seats - sum(1 for c in elected if c in reserved.group))


def may_elect(reserved: ReservedSeats | None, candidate: int, seats_left: int, elected: Collection[int]) -> bool:
    """Whether electing this candidate still leaves room for the group's unfilled reserved seats."""
    if reserved is None or candidate in reserved.group:
        return True
    return seats_left - 1 >= unfilled(reserved, elected)


def outsiders_to_exclude(
    reserved: ReservedSeats | None, seats_left: int, elected: Collection[int], continuing: Iterable[int]
) -> list[int]:
    need = unfilled(reserved, elected)
    if reserved is None or need == 0 or seats_left > need:
        return []
    return sorted(c for c in continuing if c not in reserved.group)


def protected(reserved: ReservedSeats | None, elected: Collection[int], continuing: Collection[int]) -> set[int]:
    """Group candidates who may not be excluded, because the group needs every one of them."""
    need = unfilled(reserved, elected)
    if reserved is None or need == 0:
        return set()
    members = {c for c in continuing if c in reserved.group}
    return members if len(members) <= need else set()


def reserved_note(reserved: ReservedSeats, names: list[str], excluded: list[int]) -> str:
    who = ", ".join(names[c] for c in excluded)
    return (
        f"The seats left equal the seats reserved for {reserved.label} still unfilled, so every continuing "
        f"candidate outside the group is excluded: {who}."
    )


def protected_note(reserved: ReservedSeats, names: list[str]) -> str:
    who = ", ".join(names)
    return f"{who} stayed in the count: the seats reserved for {reserved.label} need every one of the group left."
