"""Casting a ballot with a one-time credential (DESIGN.md rule 3).

One transaction (on PostgreSQL, one statement) locks the roll entry the credential belongs to, marks it
voted, and stores the ballot. The ballot row gets no member, roll entry, credential or time of day; the voter
gets a receipt code instead.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from crm.errors import ServiceError
from elections.credentials import hash_credential, new_receipt_code
from elections.models import Ballot, CandidatePhoto, Election, Method, RetiredCredential, RollEntry

MAX_CREDENTIAL_LENGTH = 100


class CredentialRefused(ServiceError):
    """The credential cannot be used (not valid, replaced, used already, another election, not open)."""


class BallotRefused(ServiceError):
    """The choices on the ballot are not valid; nothing was stored."""


@dataclass(frozen=True)
class BallotPaper:
    """What a voter may choose from: the standing candidates in ballot order, or the questions."""

    election: Election
    candidates: list[tuple[int, str]]  # (id, name)
    questions: list[tuple[int, str, list[str]]]  # (id, text, options)
    photo_ids: frozenset[int] = frozenset()  # the candidates with a photo (fixed, like the rest, once voting opens)

    @classmethod
    def of(cls, election: Election) -> BallotPaper:
        # Once voting opens the candidates and questions can no longer change, so each process reads them once
        # per election rather than on every page and every cast.
        key = (election.pk, election.seed)  # the seed is random per election: never a stale hit on a reused id
        cached = _PAPERS.get(key) if election.status != Election.Status.DRAFT else None
        if cached is None:
            standing = election.candidates.filter(withdrawn_at__isnull=True)
            cached = (
                list(standing.order_by("ballot_position", "sort_name", "pk").values_list("pk", "name")),
                [(q.pk, q.text, list(q.options)) for q in election.questions.order_by("position", "pk")],
                frozenset(CandidatePhoto.objects.filter(candidate__in=standing).values_list("candidate_id", flat=True))
                if not election.is_ballot
                else frozenset(),
            )
            if election.status != Election.Status.DRAFT:
                if len(_PAPERS) > 200:
                    _PAPERS.clear()
                _PAPERS[key] = cached
        return cls(election=election, candidates=list(cached[0]), questions=list(cached[1]), photo_ids=cached[2])


_PAPERS: dict[tuple[int, str], tuple[list[tuple[int, str]], list[tuple[int, str, list[str]]], frozenset[int]]] = {}


def _ids(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or any(type(item) is not int for item in value):
        raise BallotRefused(f"The {what} must be a list of candidate numbers.", field="choices")
    return value


def check_choices(paper: BallotPaper, choices: Any) -> tuple[dict[str, Any], bool]:
    """Validate a voter's choices against the ballot paper; return them normalised, and whether spoilt.

    - ranked (IRV, STV): {"ranking": [candidate ids, most preferred first]}, each at most once;
    - marked (FPTP, approval): {"marks": [candidate ids]}, at most the seats (FPTP) or the limit (approval);
    - questions: {"answers": {"<question id>": option index or null}};
    - {"spoilt": true} spoils the ballot; choosing nothing casts a blank ballot.
    Raises BallotRefused, in plain words, for anything else."""
    election = paper.election
    if not isinstance(choices, dict):
        raise BallotRefused("The ballot could not be read.", field="choices")
    if choices.get("spoilt") is True:
        if set(choices) != {"spoilt"}:
            raise BallotRefused("A spoilt ballot carries no choices.", field="choices")
        return {}, True
    if election.is_ballot:
        answers = choices.get("answers", {})
        if set(choices) - {"answers"} or not isinstance(answers, dict):
            raise BallotRefused("The ballot could not be read.", field="choices")
        options = {str(pk): opts for pk, _text, opts in paper.questions}
        clean: dict[str, int | None] = {}
        for key, answer in answers.items():
            if str(key) not in options:
                raise BallotRefused("The ballot answers a question that is not on it.", field="choices")
            if answer is None:
                continue
            if type(answer) is not int or not 0 <= answer < len(options[str(key)]):
                raise BallotRefused("The ballot gives an answer that is not one of the options.", field="choices")
            clean[str(key)] = answer
        return {"answers": dict(sorted(clean.items()))}, False
    standing = {pk for pk, _name in paper.candidates}
    key = "ranking" if election.is_ranked else "marks"
    if set(choices) - {key}:
        raise BallotRefused("The ballot could not be read.", field="choices")
    picked = _ids(choices.get(key, []), "ranking" if key == "ranking" else "marks")
    if any(pk not in standing for pk in picked):
        raise BallotRefused("The ballot names a candidate who is not standing in this election.", field="choices")
    if len(set(picked)) != len(picked):
        raise BallotRefused("The ballot gives the same candidate more than one preference.", field="choices")
    if election.method == Method.FPTP and len(picked) > election.seats:
        raise BallotRefused(
            f"Vote for at most {election.seats} candidate{'s' if election.seats > 1 else ''}.", field="choices"
        )
    if election.method == Method.APPROVAL and election.max_choices and len(picked) > election.max_choices:
        raise BallotRefused(f"Mark at most {election.max_choices} candidates.", field="choices")
    return {key: picked if key == "ranking" else sorted(picked)}, False


def _day(moment: datetime.datetime) -> str:
    return f"{timezone.localtime(moment):%-d %B %Y}"


def _when(moment: datetime.datetime) -> str:
    return f"{timezone.localtime(moment):%H:%M on %-d %B %Y}"


def _refuse_unusable(election: Election, entry: RollEntry | None, digest: str, now: datetime.datetime) -> RollEntry:
    """The clear reason a credential cannot vote in this election now, or the roll entry if it can."""
    if entry is None:
        retired = RetiredCredential.objects.filter(credential_hash=digest).select_related("election").first()
        if retired and retired.election_id == election.pk:
            raise CredentialRefused(
                f"This voting link was replaced by a newer one on {retired.retired_on:%-d %B %Y}. "
                "Use the link in your most recent message."
            )
        if retired:
            raise CredentialRefused(f"This voting link is for another election: {retired.election.title}.")
        raise CredentialRefused(
            "This voting link is not valid. Check that you copied the whole link, or ask for a new one."
        )
    if entry.roll.election_id != election.pk:
        raise CredentialRefused(f"This voting link is for another election: {entry.roll.election.title}.")
    if entry.has_voted:
        raise CredentialRefused(
            f"This voting link has already been used: a ballot was cast with it on {entry.voted_on:%-d %B %Y}. "
            "Each member votes once."
        )
    if election.status == Election.Status.DRAFT or now < election.voting_opens_at:
        raise CredentialRefused(f"Voting has not opened yet. It opens at {_when(election.voting_opens_at)}.")
    if election.status != Election.Status.VOTING or now >= election.voting_closes_at:
        raise CredentialRefused(f"Voting has closed. It closed at {_when(election.voting_closes_at)}.")
    return entry


def votable_election(election_id: int) -> Election | None:
    """The election a voting link points at, unless it is still being set up. Read with one plain SQL
    statement: building the ORM query cost more than running it, on every ballot page and cast."""
    if not 0 < election_id < 2**63:  # the URL takes any whole number; the column is a 64-bit integer
        return None
    table = Election._meta.db_table
    found = list(Election.objects.raw(f"SELECT * FROM {table} WHERE id = %s AND status <> %s", [election_id, "draft"]))  # noqa: S608
    return found[0] if found else None


def _digest(credential: Any) -> str:
    if not isinstance(credential, str) or not credential.strip() or len(credential) > MAX_CREDENTIAL_LENGTH:
        raise CredentialRefused(
            "This voting link is not valid. Check that you copied the whole link, or ask for a new one."
        )
    return hash_credential(credential)


def check_credential(*, election: Election, credential: Any, now: datetime.datetime | None = None) -> RollEntry:
    """Whether a credential could vote now (no lock): for showing the ballot page. Raises CredentialRefused."""
    digest = _digest(credential)
    entry = RollEntry.objects.select_related("roll__election").filter(credential_hash=digest).first()
    return _refuse_unusable(election, entry, digest, now or timezone.now())


# One statement marks the roll entry and stores the ballot (PostgreSQL): the UPDATE locks the entry and only
# matches one that has not voted, in this election's roll, while the election is open; the election row is
# read FOR SHARE, so a close (which takes it FOR UPDATE) waits for casts in flight and no cast lands after
# the seal. If nothing matched, nothing was inserted; the slower path below then finds the reason to give.
_CAST_SQL = """
WITH marked AS (
    UPDATE elections_rollentry SET has_voted = true, voted_on = %(today)s
    WHERE credential_hash = %(digest)s
      AND has_voted = false
      AND roll_id = (SELECT id FROM elections_voterroll WHERE election_id = %(election)s)
      AND EXISTS (
          SELECT 1 FROM elections_election
          WHERE id = %(election)s AND status = 'voting' AND voting_opens_at <= %(now)s AND voting_closes_at > %(now)s
          FOR SHARE
      )
    RETURNING 1
)
INSERT INTO elections_ballot (id, election_id, cast_on, receipt_code, choices, is_spoilt)
SELECT %(id)s, %(election)s, %(today)s, %(receipt)s, %(choices)s::jsonb, %(spoilt)s FROM marked
"""


def _mark_and_store(ballot: Ballot, digest: str, now: datetime.datetime) -> bool:
    """Mark the credential's roll entry voted and store the ballot, atomically; False (storing nothing) when
    the credential cannot vote in this election now."""
    if connection.vendor == "postgresql":
        params = {
            "today": ballot.cast_on,
            "digest": digest,
            "election": ballot.election_id,
            "now": now,
            "id": ballot.id,
            "receipt": ballot.receipt_code,
            "choices": json.dumps(ballot.choices),
            "spoilt": ballot.is_spoilt,
        }
        with connection.cursor() as cursor:
            cursor.execute(_CAST_SQL, params)
            return cursor.rowcount == 1
    # Elsewhere (SQLite in the tests) the same steps in one transaction; SQLite locks the database to write.
    with transaction.atomic():
        if not Election.objects.get(pk=ballot.election_id).is_open_at(now):
            return False
        marked = RollEntry.objects.filter(
            credential_hash=digest, has_voted=False, roll__election_id=ballot.election_id
        ).update(has_voted=True, voted_on=ballot.cast_on)
        if marked:
            ballot.save(force_insert=True)
        return bool(marked)


def cast_ballot(
    *,
    election: Election,
    credential: Any,
    choices: Any,
    now: datetime.datetime | None = None,
    paper: BallotPaper | None = None,
) -> Ballot:
    """Cast one ballot with a one-time credential. Returns the ballot, whose receipt code the voter keeps.

    Guarantees: atomically (one statement on PostgreSQL) the roll entry is locked, checked, marked voted (with
    the day only) and the ballot stored with no link back and no time finer than the day; a credential used
    twice, even at the same instant, casts once. Raises CredentialRefused or BallotRefused, storing nothing
    (a credential that cannot vote is refused before choices that cannot be read). ``paper`` saves reading
    the candidates again when the caller already has them (they are fixed once voting opens).
    """
    digest = _digest(credential)
    paper = paper or BallotPaper.of(election)
    now = now or timezone.now()
    try:
        clean, spoilt = check_choices(paper, choices)
    except BallotRefused:
        check_credential(election=election, credential=credential, now=now)
        raise
    today = timezone.localdate(now)
    ballot = Ballot(
        election_id=election.pk, cast_on=today, receipt_code=new_receipt_code(), choices=clean, is_spoilt=spoilt
    )
    if _mark_and_store(ballot, digest, now):
        return ballot
    fresh = Election.objects.get(pk=election.pk)
    check_credential(election=fresh, credential=credential, now=now)
    raise CredentialRefused("This voting link could not be used just now. Please try again.")
