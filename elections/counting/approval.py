"""Approval voting: each ballot is a vote for every candidate it marks; the most approved win.

A tie for the last seat is decided by lot.
"""

from __future__ import annotations

from .plurality import elect_most_voted
from .types import Profile, ReservedSeats, Result


def count_approval(profile: Profile, *, seats: int, seed: str = "", reserved: ReservedSeats | None = None) -> Result:
    totals = [0] * len(profile.candidates)
    for marked, weight in profile.ballots.items():
        for c in marked:
            totals[c] += weight
    return elect_most_voted(
        profile,
        method="approval",
        totals=totals,
        seats=seats,
        seed=seed,
        reserved=reserved,
        note="Approvals for each candidate.",
    )
