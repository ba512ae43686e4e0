"""Setting up an election: its details, candidates, questions and electorate; freezing the roll; credentials.

Every change to an election, its roll or its candidates is audited (crm.services.record_audit).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import Branch, Member, Message, Region, User
from crm.selectors.equalities import STRAND_NAMES, strand_members
from crm.services import _audit_value, record_audit
from crm.services.messages import queue_message
from elections.counting.questions import as_fraction
from elections.counting.types import CountError
from elections.credentials import new_credential
from elections.models import Candidate, Election, Method, Question, RetiredCredential, RollEntry, Rule, VoterRoll
from elections.permissions import can_hold_election_for, can_manage_election
from elections.selectors import audit_count, electorate_of

ELECTION_FIELDS = (
    "title",
    "kind",
    "method",
    "rule",
    "seats",
    "max_choices",
    "reserved_seats",
    "reserved_label",
    "reserved_strand",
    "region",
    "branch",
    "nominations_open_at",
    "nominations_close_at",
    "voting_opens_at",
    "voting_closes_at",
    "opens_on_time",
    "nomination_route",
    "nominations_needed",
    "withdrawal_deadline_at",
    "statement_word_limit",
    "ballot_order",
    "electorate",
    "electorate_values",
    "requires_good_standing",
    "cut_off_on",
    "is_industrial_action",
    "important_public_services",
    "turnout_threshold",
    "electorate_support_threshold",
    "votes_support_threshold",
)
MAX_VALUES = 500
# The group each strand's reserved seats are for, in the union's words (the default reserved-seats label).
STRAND_GROUPS = {
    "black_member": "Black members",
    "lgbt_member": "LGBT+ members",
    "disabled_member": "disabled members",
    "woman_member": "women members",
}


class ElectionRefused(ServiceError):
    """The election, candidate, question or roll change cannot be made; nothing was changed."""


def _require_manager(actor: User, election: Election) -> None:
    if not can_manage_election(actor, election):
        raise NotPermitted("You cannot manage this election.")


def _require_draft(election: Election, what: str) -> None:
    if election.status != Election.Status.DRAFT:
        raise ElectionRefused(f"Voting has opened: {what} can no longer be changed.")


def _check_values(kind: str, values: Any, actor: User, region: Region | None, branch: Branch | None) -> list:
    from crm.models import Sector
    from crm.selectors import branches_visible_to, regions_visible_to, workplaces_visible_to

    if kind == Election.Electorate.STRAND:
        if not isinstance(values, list) or len(values) != 1 or values[0] not in STRAND_NAMES:
            raise ElectionRefused(
                f"Choose one equalities strand ({', '.join(STRAND_GROUPS.values())}).", field="electorate_values"
            )
        return list(values)
    if kind == Election.Electorate.ALL:
        return []
    if not isinstance(values, list) or not values:
        raise ElectionRefused("Choose at least one value for the electorate rule.", field="electorate_values")
    if len(values) > MAX_VALUES:
        raise ElectionRefused(f"At most {MAX_VALUES} values.", field="electorate_values")
    choices: dict[str, Any] = {
        Election.Electorate.SECTOR: set(Sector.values),
        Election.Electorate.CATEGORY: set(Member.Category.values),
    }
    if kind in choices:
        unknown = [v for v in values if v not in choices[kind]]
        if unknown:
            raise ElectionRefused(f"Unknown {kind}: {', '.join(map(str, unknown))}.", field="electorate_values")
        return sorted(set(values))
    visible = {
        Election.Electorate.REGION: regions_visible_to(actor),
        Election.Electorate.BRANCH: branches_visible_to(actor),
        Election.Electorate.WORKPLACE: workplaces_visible_to(actor),
    }[kind]
    try:
        ids = sorted({int(v) for v in values})
    except (TypeError, ValueError):
        raise ElectionRefused("Electorate values must be ids.", field="electorate_values") from None
    found = set(visible.filter(pk__in=ids).values_list("pk", flat=True))
    if found != set(ids):
        missing = sorted(set(ids) - found)
        raise ElectionRefused(f"No such {kind} in your patch: {missing}.", field="electorate_values")
    return ids


def _clean(actor: User, data: dict[str, Any], election: Election | None) -> dict[str, Any]:
    """Check the whole set of details together; raises ElectionRefused naming the field at fault."""
    title = str(data.get("title") or "").strip()
    if not title:
        raise ElectionRefused("Give the election a title.", field="title")
    if len(title) > 200:
        raise ElectionRefused("The title is longer than 200 characters.", field="title")
    data["title"] = title
    kind = data.get("kind")
    if kind not in Election.Kind.values:
        raise ElectionRefused("Choose what kind of election this is.", field="kind")
    method, rule = data.get("method") or "", data.get("rule") or ""
    if kind == Election.Kind.BALLOT:
        method = rule = ""
    elif method not in Method.values:
        raise ElectionRefused("Choose how the election is counted.", field="method")
    elif method == Method.STV:
        rule = rule or Rule.SCOTTISH
        if rule not in Rule.values:
            raise ElectionRefused("Choose an STV rule.", field="rule")
    else:
        rule = ""
    data["method"], data["rule"] = method, rule
    seats = 1 if data.get("seats") is None else data["seats"]
    if not isinstance(seats, int) or not 1 <= seats <= 100:
        raise ElectionRefused("Seats must be a whole number from 1 to 100.", field="seats")
    if method == Method.IRV and seats != 1:
        raise ElectionRefused("The alternative vote fills one seat; use STV for more.", field="seats")
    data["seats"] = seats
    reserved = data.get("reserved_seats") or 0
    if not isinstance(reserved, int) or reserved < 0 or reserved > seats:
        raise ElectionRefused("Reserved seats must be between 0 and the number of seats.", field="reserved_seats")
    strand = data.get("reserved_strand") or ""
    if strand and strand not in STRAND_NAMES:
        raise ElectionRefused("Choose one of the equalities strands.", field="reserved_strand")
    if strand and not reserved:
        raise ElectionRefused("Reserved seats for a strand need at least one reserved seat.", field="reserved_seats")
    if strand and not str(data.get("reserved_label") or "").strip():
        data["reserved_label"] = STRAND_GROUPS[strand]
    if reserved and not str(data.get("reserved_label") or "").strip():
        raise ElectionRefused("Name the group the reserved seats are for.", field="reserved_label")
    data["reserved_seats"] = reserved
    data["reserved_label"] = str(data.get("reserved_label") or "").strip() if reserved else ""
    data["reserved_strand"] = strand
    if data.get("max_choices") is not None and method != Method.APPROVAL:
        data["max_choices"] = None
    region, branch = data.get("region"), data.get("branch")
    if region is not None and branch is not None:
        raise ElectionRefused("An election is held by a region or a branch, not both.", field="branch")
    if not can_hold_election_for(actor, region=region, branch=branch):
        raise NotPermitted("You cannot hold an election for that part of the union.")
    opens, closes = data.get("voting_opens_at"), data.get("voting_closes_at")
    if not isinstance(opens, datetime.datetime) or not isinstance(closes, datetime.datetime):
        raise ElectionRefused("Give the times voting opens and closes.", field="voting_opens_at")
    if closes <= opens:
        raise ElectionRefused("Voting must close after it opens.", field="voting_closes_at")
    n_open, n_close = data.get("nominations_open_at"), data.get("nominations_close_at")
    if n_open and n_close and n_close <= n_open:
        raise ElectionRefused("Nominations must close after they open.", field="nominations_close_at")
    if n_close and n_close > opens:
        raise ElectionRefused("Nominations must close before voting opens.", field="nominations_close_at")
    route = data.get("nomination_route") or Election.NominationRoute.ORGANISER
    if route not in Election.NominationRoute.values or (kind == Election.Kind.BALLOT and route != "organiser"):
        raise ElectionRefused(
            "Choose how candidates are nominated (ballots on questions have none).", field="nomination_route"
        )
    needed = 1 if data.get("nominations_needed") is None else data["nominations_needed"]
    if not isinstance(needed, int) or not 1 <= needed <= 1000:
        raise ElectionRefused("Nominations needed must be from 1 to 1,000.", field="nominations_needed")
    if route != Election.NominationRoute.ORGANISER and not (n_open and n_close):
        raise ElectionRefused("Give the times nominations open and close.", field="nominations_open_at")
    deadline = data.get("withdrawal_deadline_at")
    if deadline and deadline > opens:
        raise ElectionRefused(
            "Candidates must be able to withdraw only until voting opens.", field="withdrawal_deadline_at"
        )
    data["nomination_route"], data["nominations_needed"] = route, needed
    limit = data.get("statement_word_limit", 300)
    if not isinstance(limit, int) or not 0 < limit <= 5000:
        raise ElectionRefused("The statement word limit must be from 1 to 5,000 words.", field="statement_word_limit")
    data["electorate"] = data.get("electorate") or Election.Electorate.ALL
    if data["electorate"] not in Election.Electorate.values:
        raise ElectionRefused("Choose who may vote.", field="electorate")
    data["electorate_values"] = _check_values(
        data["electorate"], data.get("electorate_values") or [], actor, region, branch
    )
    if data["electorate"] == Election.Electorate.STRAND and route == Election.NominationRoute.ORGANISER:
        # Checking a candidate an organiser picks against the electorate would tell the organiser whether
        # that member self-identifies: in a strand election candidates stand by accepting a nomination.
        raise ElectionRefused(
            "In an election for a strand's members, candidates are nominated (by branches or members) and "
            "stand by accepting themselves: only they can say they belong to the strand.",
            field="nomination_route",
        )
    if data.get("requires_good_standing", True) and not data.get("cut_off_on"):
        data["cut_off_on"] = opens.date()
    if data.get("is_industrial_action"):
        if kind != Election.Kind.BALLOT:
            raise ElectionRefused("Only a ballot on questions can be an industrial-action ballot.", field="kind")
        data["turnout_threshold"] = data.get("turnout_threshold") or "50%"
        if data.get("important_public_services"):
            data["electorate_support_threshold"] = data.get("electorate_support_threshold") or "40%"
    for name in ("turnout_threshold", "electorate_support_threshold", "votes_support_threshold"):
        text = str(data.get(name) or "").strip()
        if text:
            try:
                as_fraction(text)
            except CountError as error:
                raise ElectionRefused(str(error), field=name) from None
        data[name] = text
    return data


@transaction.atomic
def create_election(*, actor: User, details: dict[str, Any]) -> Election:
    """Create an election in draft. Raises NotPermitted or ElectionRefused (naming the field); audited."""
    data = _clean(actor, {k: details.get(k) for k in ELECTION_FIELDS if k in details}, None)
    election = Election.objects.create(**data, seed=secrets.token_hex(16), created_by=actor)
    record_audit(
        actor=actor,
        action="create",
        target=election,
        summary=f"Set up election {election.title}",
        changes={k: _audit_value(v) for k, v in data.items()},
    )
    return election


@transaction.atomic
def update_election(*, actor: User, election: Election, details: dict[str, Any]) -> Election:
    """Change an election's details while it is being set up. Audited with each old and new value."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    _require_manager(actor, election)
    _require_draft(election, "the election's details")
    current = {name: getattr(election, name) for name in ELECTION_FIELDS}
    data = _clean(actor, {**current, **{k: v for k, v in details.items() if k in ELECTION_FIELDS}}, election)
    changes = {
        name: [_audit_value(current[name]), _audit_value(value)]
        for name, value in data.items()
        if current[name] != value
    }
    for name, value in data.items():
        setattr(election, name, value)
    election.save()
    if changes:
        record_audit(actor=actor, action="update", target=election, summary="Changed the election", changes=changes)
    return election


def word_count(text: str) -> int:
    return len(text.split())


@transaction.atomic
def add_candidate(
    *,
    actor: User,
    election: Election,
    member: Member,
    name: str = "",
    statement: str = "",
    is_in_reserved_group: bool = False,
    has_consented: bool,
) -> Candidate:
    """Put a member on the ballot (organisers add candidates directly until nominations are built).

    The member must have consented, be in good standing and be in the election's electorate; the statement
    must be within the word limit. Raises NotPermitted or ElectionRefused; audited."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    _require_manager(actor, election)
    if election.nomination_route != Election.NominationRoute.ORGANISER:
        raise ElectionRefused("Candidates in this election are nominated; they stand by accepting nominations.")
    return put_on_ballot(
        actor=actor,
        election=election,
        member=member,
        name=name,
        statement=statement,
        is_in_reserved_group=is_in_reserved_group,
        has_consented=has_consented,
    )


def put_on_ballot(
    *,
    actor: User,
    election: Election,
    member: Member,
    name: str,
    statement: str,
    is_in_reserved_group: bool,
    has_consented: bool,
) -> Candidate:
    """The checks every candidate passes, however they came (added, or nominated and accepting), and the
    audited row. Call with the election locked."""
    _require_draft(election, "the candidates")
    if election.is_ballot:
        raise ElectionRefused("A ballot on questions has no candidates.")
    if not has_consented:
        raise ElectionRefused("A candidate must consent to stand.", field="has_consented")
    if not member.is_in_good_standing:
        raise ElectionRefused(f"{member.full_name} is not in good standing, so cannot stand.", field="member")
    if not electorate_of(election).filter(pk=member.pk).exists():
        raise ElectionRefused(f"{member.full_name} is not in this election's electorate.", field="member")
    name = (name or member.full_name).strip()[:150]
    statement = statement.strip()
    if word_count(statement) > election.statement_word_limit:
        raise ElectionRefused(
            f"The statement has {word_count(statement)} words; the limit is {election.statement_word_limit}.",
            field="statement",
        )
    if election.candidates.filter(member=member).exists():
        raise ElectionRefused(f"{member.full_name} is already standing.", field="member")
    if election.candidates.filter(name=name).exists():
        raise ElectionRefused(f"Another candidate is already called {name}; add a distinguishing detail.", field="name")
    if is_in_reserved_group and not election.reserved_seats:
        raise ElectionRefused("This election has no reserved seats.", field="is_in_reserved_group")
    if is_in_reserved_group and election.reserved_strand:
        _require_self_identified(actor, election, member)
    candidate = Candidate.objects.create(
        election=election,
        member=member,
        name=name,
        sort_name=f"{member.last_name} {member.first_name}".strip(),
        statement=statement,
        is_in_reserved_group=is_in_reserved_group,
        reserved_group_consent_at=timezone.now() if is_in_reserved_group and election.reserved_strand else None,
        has_consented=True,
        ballot_position=election.candidates.count() + 1,
    )
    record_audit(
        actor=actor,
        action="create",
        target=candidate,
        member=member,
        summary=f"Added candidate {name} to {election.title}",
        changes={"election": election.pk, "name": name, "reserved_group": is_in_reserved_group},
    )
    return candidate


def _require_self_identified(actor: User, election: Election, member: Member) -> None:
    """Counting a candidate for a strand's reserved seats: only the candidate can ask (organisers never see
    the answers, so they cannot say it for them), and only from their own answer to that strand."""
    if not (actor.is_authenticated and actor.member_id == member.pk):
        raise ElectionRefused(
            f"Only the candidate can ask to be counted for the reserved seats for {election.reserved_label}, "
            "from their own equalities answers.",
            field="is_in_reserved_group",
        )
    if not strand_members(election.reserved_strand).filter(pk=member.pk).exists():
        raise ElectionRefused(
            f"Your equalities answers do not say you are one of the {election.reserved_label}. If they should, "
            "update your answers on your own page first.",
            field="is_in_reserved_group",
        )


@transaction.atomic
def count_for_reserved_seats(*, actor: User, candidate: Candidate, counts: bool) -> Candidate:
    """The candidate themselves says whether they are counted for the election's strand reserved seats (then
    shown beside their name on the ballot and candidate list), until voting opens. Audited."""
    election = Election.objects.select_for_update().get(pk=candidate.election_id)
    candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
    if not (actor.is_authenticated and actor.member_id == candidate.member_id):
        raise NotPermitted("Only the candidate can change this.")
    _require_draft(election, "the candidates")
    if not election.reserved_strand:
        raise ElectionRefused("This election has no reserved seats for an equalities strand.")
    if candidate.withdrawn_at:
        raise ElectionRefused("You have withdrawn from this election.")
    if counts:
        _require_self_identified(actor, election, candidate.member)
    if candidate.is_in_reserved_group == counts:
        return candidate
    candidate.is_in_reserved_group = counts
    candidate.reserved_group_consent_at = timezone.now() if counts else None
    candidate.save(update_fields=["is_in_reserved_group", "reserved_group_consent_at"])
    record_audit(
        actor=actor,
        action="update",
        target=candidate,
        member=candidate.member,
        summary=f"{candidate.name} {'asked to be' if counts else 'is no longer'} counted for the reserved seats "
        f"for {election.reserved_label} in {election.title}",
        changes={"reserved_group": counts},
    )
    return candidate


@transaction.atomic
def withdraw_candidate(*, actor: User, candidate: Candidate, now: datetime.datetime | None = None) -> Candidate:
    """Withdraw a candidate, by an organiser of the election or the candidate themselves, until the
    withdrawal deadline (or until voting opens). Audited."""
    now = now or timezone.now()
    election = Election.objects.select_for_update().get(pk=candidate.election_id)
    if not (
        can_manage_election(actor, election) or (actor.is_authenticated and actor.member_id == candidate.member_id)
    ):
        raise NotPermitted("You cannot withdraw this candidate.")
    _require_draft(election, "the candidates")
    deadline = election.withdrawal_deadline_at or election.voting_opens_at
    if now > deadline:
        raise ElectionRefused(f"The withdrawal deadline ({timezone.localtime(deadline):%H:%M on %d %B %Y}) has passed.")
    candidate.refresh_from_db()
    if candidate.withdrawn_at:
        raise ElectionRefused(f"{candidate.name} has already withdrawn.")
    candidate.withdrawn_at = now
    candidate.save(update_fields=["withdrawn_at"])
    record_audit(
        actor=actor,
        action="update",
        target=candidate,
        member=candidate.member,
        summary=f"Withdrew candidate {candidate.name} from {election.title}",
    )
    return candidate


def _lot_key(seed: str, name: str) -> str:
    return hashlib.sha256(f"{seed}:ballot-order:{name}".encode()).hexdigest()


@transaction.atomic
def set_ballot_order(*, actor: User, election: Election) -> list[Candidate]:
    """Number the standing candidates by surname, or by lot drawn from the election's seed (so anyone with
    the published seed can repeat the draw). The order is recorded in the audit trail."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    _require_manager(actor, election)
    _require_draft(election, "the ballot order")
    standing = list(election.candidates.filter(withdrawn_at__isnull=True))
    if election.ballot_order == Election.BallotOrder.LOT:
        standing.sort(key=lambda c: _lot_key(election.seed, c.name))
    else:
        standing.sort(key=lambda c: (c.sort_name.casefold(), c.name.casefold()))
    for position, candidate in enumerate(standing, start=1):
        candidate.ballot_position = position
    Candidate.objects.bulk_update(standing, ["ballot_position"])
    record_audit(
        actor=actor,
        action="update",
        target=election,
        summary=f"Set the ballot order ({election.get_ballot_order_display().lower()})",
        changes={"ballot_order": [c.name for c in standing], "by": election.ballot_order},
    )
    return standing


@transaction.atomic
def add_question(*, actor: User, election: Election, text: str, options: list[str]) -> Question:
    """Add a yes/no or multiple-choice question to a ballot. Audited."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    _require_manager(actor, election)
    _require_draft(election, "the questions")
    if not election.is_ballot:
        raise ElectionRefused("Only a ballot on questions has questions.")
    text = text.strip()
    if not text or len(text) > 500:
        raise ElectionRefused("Write the question (up to 500 characters).", field="text")
    options = [option.strip() for option in options if option.strip()]
    if len(options) < 2 or len(options) > 20 or len(set(options)) != len(options):
        raise ElectionRefused("Give from 2 to 20 different options.", field="options")
    if any(len(option) > 200 for option in options):
        raise ElectionRefused("Each option is at most 200 characters.", field="options")
    if election.is_industrial_action and [o.lower() for o in options] != ["yes", "no"]:
        raise ElectionRefused("An industrial-action ballot asks yes/no questions.", field="options")
    question = Question.objects.create(
        election=election, text=text, options=options, position=election.questions.count() + 1
    )
    record_audit(
        actor=actor,
        action="create",
        target=question,
        summary=f"Added a question to {election.title}",
        changes={"election": election.pk, "text": text, "options": options},
    )
    return question


@transaction.atomic
def open_voting(
    *, actor: User | None, election: Election, now: datetime.datetime | None = None, by_timetable: bool = False
) -> VoterRoll:
    """Freeze the electorate into the voter roll and open voting, then send credentials in the background.

    The roll is written with one INSERT ... SELECT from the electorate rule (a 100,000-member roll is one
    statement). Raises NotPermitted or ElectionRefused (too early, already open, nothing to vote on).
    ``by_timetable`` (with no actor) is the opening on the clock (open_due_elections)."""
    now = now or timezone.now()
    election = Election.objects.select_for_update().get(pk=election.pk)
    if not (by_timetable and actor is None):
        _require_manager(actor, election)
    _require_draft(election, "the roll")
    if now < election.voting_opens_at:
        raise ElectionRefused(f"Voting opens at {timezone.localtime(election.voting_opens_at):%H:%M on %d %B %Y}.")
    if now >= election.voting_closes_at:
        raise ElectionRefused("The voting period is already over; change the timeline first.")
    if election.is_ballot and not election.questions.exists():
        raise ElectionRefused("Add at least one question before opening voting.")
    if not election.is_ballot:
        standing = election.candidates.filter(withdrawn_at__isnull=True).count()
        if standing < election.seats:
            raise ElectionRefused(f"There are {election.seats} seats but only {standing} candidates standing.")
        group = election.candidates.filter(withdrawn_at__isnull=True, is_in_reserved_group=True).count()
        if group < election.reserved_seats:
            raise ElectionRefused(
                f"{election.reserved_seats} seats are reserved for {election.reserved_label}, but only {group} "
                "standing candidates are in that group."
            )
    roll = VoterRoll.objects.create(election=election, frozen_at=now, frozen_by=actor)
    members = electorate_of(election).order_by().values_list("pk", "branch_id", "branch__region_id", "workplace_id")
    sql, params = members.query.sql_with_params()
    table = RollEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (roll_id, member_id, branch_id, region_id, workplace_id, credential_issue, "  # noqa: S608 - names are ours
            f"has_voted, is_late_addition, late_reason) SELECT %s, m.*, 0, %s, %s, '' FROM ({sql}) AS m",
            [roll.pk, False, False, *params],
        )
        size = cursor.rowcount
    roll.size_at_freeze = size
    roll.save(update_fields=["size_at_freeze"])
    election.status = Election.Status.VOTING
    election.save(update_fields=["status"])
    record_audit(
        actor=actor,
        action="update",
        target=election,
        # A strand roll's size under 5 is shown as "<5" wherever it is shown, the election's history included.
        summary=f"Opened voting: roll frozen with {audit_count(election, size)} members",
        changes={"roll_size": audit_count(election, size), "seed": election.seed},
    )
    election_id = election.pk
    transaction.on_commit(lambda: _schedule_credentials(election_id))
    return roll


def open_due_elections(*, now: datetime.datetime | None = None) -> dict[str, list[int]]:
    """Open every election set to open on time whose opening time has come (Celery beat, each minute).

    An election that is not ready (too few candidates, no questions, the voting period already over) stays
    in draft, and the refusal is audited once on the election so its organisers see why. Returns the ids
    opened and the ids not ready; running it again opens nothing more."""
    from crm.models import AuditEntry

    now = now or timezone.now()
    done: dict[str, list[int]] = {"opened": [], "not_ready": []}
    due = Election.objects.filter(status=Election.Status.DRAFT, opens_on_time=True, voting_opens_at__lte=now)
    for election in due.order_by("voting_opens_at", "pk"):
        try:
            open_voting(actor=None, election=election, now=now, by_timetable=True)
        except ElectionRefused as refusal:
            done["not_ready"].append(election.pk)
            summary = f"Could not open voting on time: {refusal.message}"
            seen = AuditEntry.objects.filter(target_type="elections.election", target_id=election.pk, summary=summary)
            if not seen.exists():
                record_audit(actor=None, action="update", target=election, summary=summary)
            continue
        done["opened"].append(election.pk)
    return done


def _schedule_credentials(election_id: int) -> None:
    from elections.tasks import issue_credentials

    issue_credentials.delay(election_id)


def _voting_link(election: Election, credential: str) -> str:
    from django.conf import settings

    base = getattr(settings, "QUORUM_SITE_URL", "http://localhost:8000").rstrip("/")
    return f"{base}{reverse('elections:vote', args=[election.pk])}?credential={credential}"


def _new_credential_for(entry: RollEntry) -> str:
    """Make a new credential for the entry and keep only its hash; the secret goes to the member alone."""
    credential, digest = new_credential()
    entry.credential_hash = digest
    entry.credential_issue += 1
    entry.save(update_fields=["credential_hash", "credential_issue"])
    return credential


def _send_credential(election: Election, entry: RollEntry, member: Member) -> Message:
    """Make a new credential for the entry, keep its hash, and queue the message that carries it."""
    credential = _new_credential_for(entry)
    closes = timezone.localtime(election.voting_closes_at)
    link = _voting_link(election, credential)
    channel = Message.Channel.EMAIL if member.email or not member.mobile else Message.Channel.SMS
    if channel == Message.Channel.SMS:
        body = f"Vote in {election.title} by {closes:%H:%M %d %b}: {link} (one use only)"
    else:
        body = (
            f"Dear {member.first_name},\n\nYou can vote in {election.title} until {closes:%H:%M on %d %B %Y}.\n\n"
            f"Your personal voting link (it works once; do not share it):\n{link}\n\n"
            f"Your ballot is secret: the union records that you voted, never how.\n"
        )
    return queue_message(
        member=member,
        channel=channel,
        basis=Message.Basis.SERVICE,
        key=f"election:{election.pk}:credential:{entry.pk}:{entry.credential_issue}",
        subject=f"Your vote: {election.title}",
        body=body,
        confidential=True,
    )


def issue_credentials(*, election_id: int, batch: int = 500) -> int:
    """Send a credential to every roll entry that has none yet, a batch per transaction (so progress shows
    and a restart carries on). Safe to run twice: entries with a credential are skipped. Returns how many."""
    election = Election.objects.get(pk=election_id)
    if election.status != Election.Status.VOTING:
        return 0
    issued = 0
    while True:
        with transaction.atomic():
            entries = list(
                RollEntry.objects.select_for_update(skip_locked=True)
                .filter(roll__election=election, credential_hash__isnull=True, has_voted=False)
                .select_related("member")
                .order_by("pk")[:batch]
            )
            if not entries:
                return issued
            for entry in entries:
                _send_credential(election, entry, entry.member)
            issued += len(entries)


def _retire_credential(actor: User, entry: RollEntry, *, members_only: bool = False) -> RollEntry:
    """Lock the entry, check that a new credential may be made for it now, and retire the old one (so using
    it says it was replaced). The checks shared by reissuing and voting from the portal."""
    entry = RollEntry.objects.select_for_update().select_related("roll__election", "member").get(pk=entry.pk)
    election = entry.roll.election
    is_self = actor.is_authenticated and actor.member_id == entry.member_id
    if not (is_self or (not members_only and can_manage_election(actor, election))):
        raise NotPermitted("You cannot reissue this credential.")
    if not is_self and election.electorate == Election.Electorate.STRAND:
        raise NotPermitted("On a strand election's roll only the member can ask for a new link.")
    if election.status != Election.Status.VOTING or timezone.now() >= election.voting_closes_at:
        raise ElectionRefused("Voting is not open, so no credential can be sent.")
    if entry.has_voted:
        raise ElectionRefused(f"This member already voted, on {entry.voted_on:%d %B %Y}.")
    if entry.credential_hash:
        RetiredCredential.objects.create(
            election=election, credential_hash=entry.credential_hash, retired_on=timezone.localdate()
        )
    return entry


def _audit_new_credential(actor: User, entry: RollEntry, summary: str, *, in_portal: bool = False) -> None:
    # Who asked, for which election and which issue: never the credential, and nothing about any ballot.
    election = entry.roll.election
    by_member = actor.member_id == entry.member_id
    changes = {"election": election.pk, "issue": entry.credential_issue, "by_member": by_member}
    if in_portal:
        changes["in_portal"] = True
    record_audit(
        actor=actor,
        action="update",
        target=entry,
        member=entry.member,
        summary=f"{summary} for {election.title} (issue {entry.credential_issue})"[:255],
        changes=changes,
    )


@transaction.atomic
def reissue_credential(*, actor: User, entry: RollEntry) -> Message:
    """Send a new credential for a roll entry; the old one stops working at once. For the member themselves
    or an organiser who manages the election. Refused once the entry has voted or voting is over. Audited."""
    entry = _retire_credential(actor, entry)
    message = _send_credential(entry.roll.election, entry, entry.member)
    _audit_new_credential(actor, entry, "Reissued the voting credential")
    return message


@transaction.atomic
def credential_for_portal_vote(*, actor: User, entry: RollEntry) -> str:
    """A new credential handed straight to the member's own ballot page, when they press "Vote" signed in to
    the member portal, instead of a link by message. Only for the member themselves (an organiser is
    refused, even one who manages the election); the same checks as reissue_credential, and the old
    credential (the link in their message) stops working at once. Audited as a reissue in the portal; the
    credential itself is returned once and stored nowhere, so the ballot stays as secret as by message.
    Raises NotPermitted or ElectionRefused, with nothing changed."""
    entry = _retire_credential(actor, entry, members_only=True)
    credential = _new_credential_for(entry)
    _audit_new_credential(actor, entry, "Issued a voting credential in the member portal", in_portal=True)
    return credential


@transaction.atomic
def add_to_roll(*, actor: User, election: Election, member: Member, reason: str) -> RollEntry:
    """A late correction: add a member wrongly left off the roll, with the reason, and send a credential.

    The member must be in the election's area and the actor must manage the election. Audited."""
    election = Election.objects.select_for_update().get(pk=election.pk)
    _require_manager(actor, election)
    if election.status != Election.Status.VOTING:
        raise ElectionRefused("Members can be added to the roll only while voting is open.")
    if election.electorate == Election.Electorate.STRAND:
        # Whether the addition were accepted or refused would tell the organiser how the member answered.
        raise ElectionRefused(
            "The roll of a strand election comes only from members' own equalities answers, so it takes no "
            "late additions. A member missing from it updates their answers and contacts the returning officer."
        )
    reason = reason.strip()
    if not reason:
        raise ElectionRefused("Say why this member is being added.", field="reason")
    if len(reason) > 300:
        raise ElectionRefused("Keep the reason under 300 characters.", field="reason")
    from elections.selectors import election_area

    if not election_area(election).filter(pk=member.pk).exists():
        raise ElectionRefused(f"{member.full_name} is not in {election.held_by}.", field="member")
    if RollEntry.objects.filter(roll__election=election, member=member).exists():
        raise ElectionRefused(f"{member.full_name} is already on the roll.", field="member")
    entry = RollEntry.objects.create(
        roll=election.roll,
        member=member,
        branch_id=member.branch_id,
        region_id=member.branch.region_id,
        workplace_id=member.workplace_id,
        is_late_addition=True,
        late_reason=reason,
    )
    _send_credential(election, entry, member)
    record_audit(
        actor=actor,
        action="create",
        target=entry,
        member=member,
        summary=f"Added {member.full_name} to the roll of {election.title}",
        changes={"election": election.pk, "reason": reason},
    )
    return entry
