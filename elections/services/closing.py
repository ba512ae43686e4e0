"""Closing an election: seal the roll and the ballots, count, certify, publish."""

from __future__ import annotations

import datetime
import hashlib
import json
import random
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import User
from crm.services import record_audit
from elections.counting import CountError, Profile, ReservedSeats, write_blt
from elections.counting.questions import count_question
from elections.models import Ballot, Count, Election, Method, RollEntry
from elections.permissions import can_manage_election, can_scrutinise
from elections.selectors import audit_count
from elections.services import count_election


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _candidates(election: Election) -> list:
    return list(election.candidates.filter(withdrawn_at__isnull=True).order_by("ballot_position", "sort_name", "pk"))


def ballot_profile(election: Election) -> Profile:
    """The cast ballots of a contest as a counting profile (identical ballots aggregated; blank and spoilt
    ballots counted as invalid)."""
    candidates = _candidates(election)
    index = {c.pk: i for i, c in enumerate(candidates)}
    key = "ranking" if election.is_ranked else "marks"
    ballots: dict[tuple[int, ...], int] = {}
    for choices in Ballot.objects.filter(election=election).values_list("choices", flat=True).iterator():
        ranking = tuple(index[pk] for pk in (choices or {}).get(key, []))
        ballots[ranking] = ballots.get(ranking, 0) + 1
    return Profile.from_ballots(
        [c.name for c in candidates],
        list(ballots.items()),
        seats=min(election.seats, len(candidates)),
        title=election.title,
        weighted=True,
    )


def canonical_answers(election: Election) -> str:
    """A ballot on questions as canonical text: one JSON line per ballot, sorted (so no casting order)."""
    lines = sorted(
        json.dumps({"spoilt": spoilt, **choices}, sort_keys=True, separators=(",", ":"))
        for choices, spoilt in Ballot.objects.filter(election=election).values_list("choices", "is_spoilt")
    )
    return "".join(line + "\n" for line in lines)


def question_results(election: Election, electorate: int) -> dict[str, Any]:
    """Count every question on a ballot, with the election's thresholds. Blank answers count as spoilt for
    that question (they were cast, so they count towards turnout)."""
    ballots = list(Ballot.objects.filter(election=election).values_list("choices", "is_spoilt"))
    results = []
    for question in election.questions.order_by("position", "pk"):
        votes = [0] * len(question.options)
        spoilt = 0
        for choices, is_spoilt in ballots:
            answer = None if is_spoilt else (choices or {}).get("answers", {}).get(str(question.pk))
            if answer is None:
                spoilt += 1
            else:
                votes[answer] += 1
        result = count_question(
            question=question.text,
            options=question.options,
            votes=votes,
            spoilt=spoilt,
            electorate=electorate,
            turnout_threshold=election.turnout_threshold or None,
            electorate_support_threshold=election.electorate_support_threshold or None,
            votes_support_threshold=election.votes_support_threshold or None,
            seed=election.seed,
        )
        results.append(result.to_dict())
    return {"electorate": electorate, "ballots_cast": len(ballots), "questions": results}


def _reserved(election: Election, candidates: list) -> ReservedSeats | None:
    if not election.reserved_seats:
        return None
    group = frozenset(i for i, c in enumerate(candidates) if c.is_in_reserved_group)
    return ReservedSeats(seats=election.reserved_seats, group=group, label=election.reserved_label)


def _shuffle_ballots(election: Election) -> int:
    """Rewrite the ballots in random order in this transaction, and touch every roll entry, so neither the
    rows' physical order nor the transaction that last wrote them (PostgreSQL's xmin) matches the order of
    casting any more."""
    ballots = list(Ballot.objects.filter(election=election))
    random.SystemRandom().shuffle(ballots)
    Ballot.objects.filter(election=election).delete()
    Ballot.objects.bulk_create(ballots, batch_size=2000)
    RollEntry.objects.filter(roll__election=election).update(has_voted=F("has_voted"))
    return len(ballots)


def close_due_elections(*, now: datetime.datetime | None = None) -> list[int]:
    """Close, seal and count every election whose voting time is over (run by Celery beat each minute, so an
    election closes on time even if nobody presses the button). Returns the ids closed; running it again
    closes nothing more."""
    now = now or timezone.now()
    closed = []
    for election in Election.objects.filter(status=Election.Status.VOTING, voting_closes_at__lte=now):
        try:
            close_election(actor=None, election=election, now=now, by_timetable=True)
        except ServiceError:
            continue  # closed at the same moment by an organiser
        closed.append(election.pk)
    return closed


@transaction.atomic
def close_election(
    *, actor: User | None, election: Election, now: datetime.datetime | None = None, by_timetable: bool = False
) -> Election:
    """Close voting, seal the roll and ballots (SHA-256 of each, published), and count.

    The election row is locked exclusively, so a cast in flight either lands before the seal or is refused.
    A contest is counted by elections.counting and stored as a Count (recount and certification work as
    for any count); a ballot's questions are counted with their thresholds. Raises NotPermitted or
    ServiceError (not yet closed, not voting). ``by_timetable`` (with no actor) is the scheduled close."""
    now = now or timezone.now()
    election = Election.objects.select_for_update().get(pk=election.pk)
    if not (by_timetable and actor is None) and not can_manage_election(actor, election):
        raise NotPermitted("You cannot close this election.")
    if election.status != Election.Status.VOTING:
        raise ServiceError("Only an election that is voting can be closed.")
    if now < election.voting_closes_at:
        raise ServiceError(
            f"Voting is open until {timezone.localtime(election.voting_closes_at):%H:%M on %d %B %Y}; "
            "it cannot be closed early."
        )
    cast = _shuffle_ballots(election)
    roll_lines = sorted(
        f"{member}:{int(voted)}"
        for member, voted in RollEntry.objects.filter(roll__election=election).values_list(
            "member__membership_number", "has_voted"
        )
    )
    electorate = len(roll_lines)
    election.roll_sha256 = sha256("".join(line + "\n" for line in roll_lines))
    count_error = ""
    if election.is_ballot:
        election.ballots_sha256 = sha256(canonical_answers(election))
        election.question_results = question_results(election, electorate)
    else:
        candidates = _candidates(election)
        profile = ballot_profile(election)
        blt = write_blt(profile)
        election.ballots_sha256 = sha256(blt)
        try:
            # No valid ballot at all (none cast, or all blank or spoilt) is counted as nobody elected.
            result_json = count_election(
                profile,
                method=election.method,
                rule=election.rule or None,
                seats=None,
                seed=election.seed,
                reserved=_reserved(election, candidates),
            ).to_json()
        except CountError as error:
            count_error = str(error)
        else:
            Count.objects.create(
                election=election,
                title=election.title,
                method=election.method,
                rule=election.rule if election.method == Method.STV else "",
                seats=json.loads(result_json)["seats"],
                seed=election.seed,
                reserved_seats=election.reserved_seats,
                reserved_group=sorted(i + 1 for i, c in enumerate(candidates) if c.is_in_reserved_group)
                if election.reserved_seats
                else [],
                reserved_label=election.reserved_label if election.reserved_seats else "",
                blt_text=blt,
                blt_sha256=election.ballots_sha256,
                source_sha256=election.ballots_sha256,
                result_json=result_json,
                result_sha256=sha256(result_json),
                counted_by=actor,
            )
    election.status = Election.Status.CLOSED
    election.closed_at = now
    election.save()
    record_audit(
        actor=actor,
        action="update",
        target=election,
        summary=f"Closed and sealed {election.title}: {audit_count(election, cast)} ballots from a roll of "
        f"{audit_count(election, electorate)}" + (f"; not counted: {count_error}" if count_error else ""),
        changes={
            "ballots": audit_count(election, cast),
            "electorate": audit_count(election, electorate),
            "ballots_sha256": election.ballots_sha256,
            "roll_sha256": election.roll_sha256,
            "count_error": count_error,
        },
    )
    return election


def is_certified(election: Election) -> bool:
    if election.is_ballot:
        return election.results_certified_at is not None
    counted = Count.objects.filter(election=election).first()
    return bool(counted and counted.is_certified)


@transaction.atomic
def certify_question_results(*, actor: User, election: Election) -> Election:
    """A scrutineer recounts a ballot's questions from the sealed ballots and certifies them if the ballots
    still match their published hash and the result is the same. Raises NotPermitted or ServiceError."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    if not can_scrutinise(actor):
        raise NotPermitted("Only scrutineers and national admins certify results.")
    if not election.is_ballot or election.status != Election.Status.CLOSED:
        raise ServiceError("Only a closed ballot on questions is certified here.")
    if election.results_certified_at:
        raise ServiceError("These results are already certified.")
    if sha256(canonical_answers(election)) != election.ballots_sha256:
        raise ServiceError("The ballots no longer match their sealed hash; not certified.")
    again = question_results(election, election.question_results["electorate"])
    if again != election.question_results:
        raise ServiceError("A recount from the sealed ballots gave a different result; not certified.")
    election.results_certified_at, election.results_certified_by = timezone.now(), actor
    election.save(update_fields=["results_certified_at", "results_certified_by"])
    record_audit(actor=actor, action="update", target=election, summary=f"Certified the results of {election.title}")
    return election


@transaction.atomic
def publish_results(*, actor: User, election: Election) -> Election:
    """Publish certified results to members. Raises NotPermitted or ServiceError (not closed or certified)."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    if not can_manage_election(actor, election):
        raise NotPermitted("You cannot publish this election's results.")
    if election.status != Election.Status.CLOSED:
        raise ServiceError("Only a closed election's results can be published.")
    if not is_certified(election):
        raise ServiceError("A scrutineer must certify the count before the results are published.")
    election.status = Election.Status.PUBLISHED
    election.results_published_at = timezone.now()
    election.save(update_fields=["status", "results_published_at"])
    record_audit(actor=actor, action="update", target=election, summary=f"Published the results of {election.title}")
    return election
