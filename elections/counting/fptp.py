"""First past the post, for one seat or several.

With one seat each ballot is a vote for its first preference. With several seats (block voting, as in
multi-member wards) each ballot is a vote for each of its first ``seats`` marks: a marked ballot lists at most
that many candidates, and a ranked ballot's top choices stand for its crosses. The most votes win; a tie for
the last seat is decided by lot.
"""

from __future__ import annotations

from .plurality import elect_most_voted
from .types import Profile, ReservedSeats, Result


def count_fptp(profile: Profile, *, seats: int, seed: str = "", reserved: ReservedSeats | None = None) -> Result:
    totals = [0] * len(profile.candidates)
    for ranking, weight in profile.ballots.items():
        for c in ranking[:seats]:
            totals[c] += weight
    note = "Votes for each candidate." if seats == 1 else f"Votes for each candidate (up to {seats} per ballot)."
    return elect_most_voted(profile, method="fptp", totals=totals, seats=seats, seed=seed, reserved=reserved, note=note)
