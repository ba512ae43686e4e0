"""Counting, as pure functions: candidates, seats and ballots in; a result with every stage out.

No database, no Django: the same code counts a live election, a BLT file and a test vector.

    from elections.counting import count, parse_blt
    result = count(parse_blt(text), method="stv", rule="scottish", seed="published-before-the-count")
    print(result.to_json())
"""

from __future__ import annotations

from .blt import BLTError, decode_blt, parse_blt, write_blt
from .types import CountError, Profile, ReservedSeats, Result, Stage, Tie, format_value

METHODS = ("fptp", "approval", "irv", "stv")
STV_RULES = ("scottish", "ers97", "meek")


def count(
    profile: Profile,
    *,
    method: str,
    rule: str | None = None,
    seats: int | None = None,
    seed: str = "",
    reserved: ReservedSeats | None = None,
) -> Result:
    """Count ``profile`` by ``method`` ("fptp", "approval", "irv" or "stv" with ``rule`` "scottish",
    "ers97" or "meek"). ``seats`` overrides the profile's; ``seed`` is the published seed for any lot;
    ``reserved`` keeps at least some seats for a group. Raises :class:`CountError` on impossible input."""
    from . import approval, fptp, irv, meek, stv
    from .reserved import check_reserved

    if method not in METHODS:
        raise CountError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    if method == "stv":
        rule = rule or "scottish"
        if rule not in STV_RULES:
            raise CountError(f"Unknown STV rule {rule!r}; choose one of {', '.join(STV_RULES)}.")
    elif rule:
        raise CountError(f"The {method} method takes no rule (rules are for STV); got {rule!r}.")
    profile = profile.with_seats(seats)
    n_seats = profile.seats
    standing = len(profile.candidates) - len(profile.withdrawn)
    if n_seats > standing:
        raise CountError(f"There are {n_seats} seats but only {standing} candidates standing.")
    check_reserved(reserved, profile, n_seats)
    if method == "fptp":
        return fptp.count_fptp(profile, seats=n_seats, seed=seed, reserved=reserved)
    if method == "approval":
        return approval.count_approval(profile, seats=n_seats, seed=seed, reserved=reserved)
    if method == "irv":
        return irv.count_irv(profile, seats=n_seats, seed=seed, reserved=reserved)
    if rule == "meek":
        return meek.MeekCount(profile, seats=n_seats, seed=seed, reserved=reserved).run()
    return stv.RULES[rule or "scottish"](profile, seats=n_seats, seed=seed, reserved=reserved).run()


__all__ = [
    "METHODS",
    "STV_RULES",
    "BLTError",
    "CountError",
    "Profile",
    "ReservedSeats",
    "Result",
    "Stage",
    "Tie",
    "count",
    "decode_blt",
    "format_value",
    "parse_blt",
    "write_blt",
]
