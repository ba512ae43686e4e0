"""Reads for elections: electorates, scoped election lists, turnout and non-voters. Never how anyone voted."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from crm.models import Branch, Member, Region, User, Workplace
from crm.selectors import members_visible_to, organiser_branch_ids, rep_workplace_ids
from crm.selectors.equalities import SHOWN_SMALL, SMALL, STRAND_NAMES, strand_members, suppress_row
from elections.models import Ballot, Candidate, CandidatePhoto, Election, RollEntry
from elections.permissions import can_manage_election, can_scrutinise, can_see_turnout


def election_area(election: Election) -> QuerySet[Member]:
    """The members of the body that holds the election: its branch, its region or the whole union."""
    members = Member.objects.all()
    if election.branch_id:
        return members.filter(branch_id=election.branch_id)
    if election.region_id:
        return members.filter(branch__region_id=election.region_id)
    return members


def electorate_of(election: Election, *, with_strand: bool = True) -> QuerySet[Member]:
    """Who may vote under the election's rule, today: the area, narrowed by the rule and by good standing.

    A strand rule keeps the members who self-identify with the strand (crm.selectors.equalities.strand_members,
    used only inside this query: never displayed). with_strand=False leaves that part out, for checks made
    on behalf of someone other than the member (see elections.services.nominations).

    Good standing on the cut-off day: active and not in arrears, and active since that day at the latest
    (the CRM keeps the day a status last changed, not a history of arrears, so arrears are as they are now).
    """
    members = election_area(election)
    values = election.electorate_values or []
    rule = election.electorate
    if rule == Election.Electorate.REGION:
        members = members.filter(branch__region_id__in=values)
    elif rule == Election.Electorate.BRANCH:
        members = members.filter(branch_id__in=values)
    elif rule == Election.Electorate.WORKPLACE:
        members = members.filter(workplace_id__in=values)
    elif rule == Election.Electorate.SECTOR:
        members = members.filter(sector__in=values)
    elif rule == Election.Electorate.CATEGORY:
        members = members.filter(category__in=values)
    elif rule == Election.Electorate.STRAND and with_strand:
        strand = values[0] if len(values) == 1 and values[0] in STRAND_NAMES else None
        if strand is None:
            return members.none()  # refused when set up; a hand-edited rule admits nobody
        members = members.filter(pk__in=strand_members(strand).values("pk"))
    if election.requires_good_standing:
        members = members.in_good_standing()
        if election.cut_off_on:
            members = members.filter(status_changed_on__lte=election.cut_off_on).filter(
                Q(joined_on__isnull=True) | Q(joined_on__lte=election.cut_off_on)
            )
    return members


def is_strand_election(election: Election) -> bool:
    return election.electorate == Election.Electorate.STRAND


def suppressed(rows: list[dict[str, Any]], field: str) -> None:
    """Add `<field>_shown` to each row: the figure, or crm's "<5" / "hidden" (crm.selectors.equalities
    suppress_row: the same rule as the equalities aggregates), and blank `field` where it is not shown."""
    for row, (count, shown) in zip(rows, suppress_row([row[field] for row in rows]), strict=True):
        row[field], row[f"{field}_shown"] = count, shown


def _shown_total(total: int) -> str:
    return f"{total:,}" if total >= SMALL else SHOWN_SMALL


def shown_count(election: Election, count: int) -> str:
    """A whole-election figure (roll size, ballots cast) as it may be shown: for a strand election under 5
    is "<5", since it says how few members of the area self-identify (the README's "Strand elections")."""
    return _shown_total(count) if is_strand_election(election) else f"{count:,}"


def audit_count(election: Election, count: int) -> int | str:
    """A whole-election figure as written in the election's history: the number, or for a strand election
    the suppressed figure (shown_count), since organisers read that history."""
    return shown_count(election, count) if is_strand_election(election) else count


def results_turnout(election: Election) -> dict[str, Any]:
    """The electorate, ballots cast and turnout shown beside results (pages and API alike).

    Whole-election figures only: never by region, branch or workplace. For a strand election a figure under
    5 is shown as "<5" (its number left out) and no percentage is given from a suppressed figure."""
    electorate = RollEntry.objects.filter(roll__election=election).count()
    cast = Ballot.objects.filter(election=election).count()
    percent = round(100 * cast / electorate, 1) if electorate else None
    suppressed_any = is_strand_election(election) and (electorate < SMALL or cast < SMALL)
    small = is_strand_election(election)
    return {
        "electorate": None if small and electorate < SMALL else electorate,
        "cast": None if small and cast < SMALL else cast,
        "electorate_shown": shown_count(election, electorate),
        "cast_shown": shown_count(election, cast),
        "turnout_percent": None if suppressed_any else percent,
        "is_suppressed": suppressed_any,
    }


def electorate_preview(election: Election) -> dict[str, Any]:
    """How many members the rule gives, by branch, before the roll is frozen.

    For a strand electorate a count says how many members of a branch self-identify, so the counts are
    suppressed exactly as crm's equalities aggregates are (under 5 shown as "<5", and any figure that would
    let one be worked out hidden too); branch names are the only other thing shown."""
    rows = list(
        electorate_of(election)
        .order_by()
        .values("branch_id", "branch__name", "branch__region__name")
        .annotate(members=Count("id"))
        .order_by("branch__region__name", "branch__name")
    )
    total = sum(row["members"] for row in rows)
    if is_strand_election(election):
        suppressed(rows, "members")
        shown_total = total if total >= SMALL else None
        return {"total": shown_total, "total_shown": _shown_total(total), "branches": rows, "is_suppressed": True}
    for row in rows:
        row["members_shown"] = f"{row['members']:,}"
    return {"total": total, "total_shown": f"{total:,}", "branches": rows, "is_suppressed": False}


def elections_for(user: User) -> QuerySet[Election]:
    """Elections a staff user may see: national admins and scrutineers all; organisers those held by the
    whole union or touching their patch; reps those touching their workplaces' branches."""
    elections = Election.objects.select_related("region", "branch")
    if not (user and user.is_authenticated and user.is_active):
        return elections.none()
    if can_scrutinise(user):
        return elections
    if user.role == User.Role.ORGANISER:
        branch_ids = organiser_branch_ids(user)
    elif user.role == User.Role.REP:
        branch_ids = list(Workplace.objects.filter(pk__in=rep_workplace_ids(user)).values_list("branch_id", flat=True))
    else:
        return elections.none()
    region_ids = Branch.objects.filter(pk__in=branch_ids).values_list("region_id", flat=True)
    return elections.filter(
        Q(region__isnull=True, branch__isnull=True) | Q(branch_id__in=branch_ids) | Q(region_id__in=region_ids)
    )


def election_for(user: User, election_id: int) -> Election:
    """One election, or Election.DoesNotExist when missing or out of the user's sight (the same answer)."""
    return elections_for(user).get(pk=election_id)


TURNOUT_GROUPS = {
    "region": ("region_id", Region),
    "branch": ("branch_id", Branch),
    "workplace": ("workplace_id", Workplace),
}


def _entries_in_sight(user: User, election: Election) -> QuerySet[RollEntry]:
    entries = RollEntry.objects.filter(roll__election=election)
    if can_manage_election(user, election) or can_scrutinise(user):
        return entries
    if user.role == User.Role.ORGANISER:
        return entries.filter(branch_id__in=organiser_branch_ids(user))
    if user.role == User.Role.REP:
        return entries.filter(workplace_id__in=rep_workplace_ids(user))
    return entries.none()


def turnout(user: User, election: Election, *, by: str = "branch") -> dict[str, Any]:
    """Turnout so far in the part of the roll the user may see: on the roll, voted, and the percentage,
    grouped by region, branch or workplace. Counts only; the roll says *that* someone voted, never how."""
    strand = is_strand_election(election)
    if not can_see_turnout(user, election) or by not in TURNOUT_GROUPS or (strand and by == "workplace"):
        # A strand election's roll is never broken down by workplace: the groups are too small to count.
        return {"by": by, "rows": [], "on_roll": 0, "voted": 0, "percent": None, "is_suppressed": strand}
    column, model = TURNOUT_GROUPS[by]
    rows = list(
        _entries_in_sight(user, election)
        .order_by()
        .values(column)
        .annotate(on_roll=Count("id"), voted=Count("id", filter=Q(has_voted=True)))
    )
    names = dict(model.objects.filter(pk__in=[r[column] for r in rows if r[column]]).values_list("pk", "name"))
    result = []
    for row in rows:
        result.append(
            {
                "id": row[column],
                "name": names.get(row[column], "No workplace" if by == "workplace" else "Unknown"),
                "on_roll": row["on_roll"],
                "voted": row["voted"],
                "percent": round(100 * row["voted"] / row["on_roll"], 1) if row["on_roll"] else None,
            }
        )
    result.sort(key=lambda r: r["name"].casefold())
    on_roll = sum(r["on_roll"] for r in result)
    voted = sum(r["voted"] for r in result)
    percent = round(100 * voted / on_roll, 1) if on_roll else None
    if strand:
        # How many of a branch are on a strand's roll says how many self-identify: suppressed like crm's
        # equalities aggregates, both columns, and no percentage from a hidden figure.
        suppressed(result, "on_roll")
        suppressed(result, "voted")
        for row in result:
            if row["on_roll"] is None or row["voted"] is None:
                row["percent"] = None
        if on_roll < SMALL or voted < SMALL:
            percent = None
        return {
            "by": by,
            "rows": result,
            "on_roll": on_roll if on_roll >= SMALL else None,
            "voted": voted if voted >= SMALL else None,
            "on_roll_shown": _shown_total(on_roll),
            "voted_shown": _shown_total(voted),
            "percent": percent,
            "is_suppressed": True,
        }
    for row in result:
        row["on_roll_shown"], row["voted_shown"] = f"{row['on_roll']:,}", f"{row['voted']:,}"
    return {
        "by": by,
        "rows": result,
        "on_roll": on_roll,
        "voted": voted,
        "on_roll_shown": f"{on_roll:,}",
        "voted_shown": f"{voted:,}",
        "percent": percent,
        "is_suppressed": False,
    }


def non_voters_for(user: User, election: Election) -> QuerySet[RollEntry]:
    """Members of the user's own scope who are on the roll and have not voted yet, so reps can chase them.

    Goes through members_visible_to (scrutineers see no member data, so nobody)."""
    if election.status != Election.Status.VOTING or not can_see_turnout(user, election) or is_strand_election(election):
        # Nobody lists a strand election's roll: it would say who self-identifies (the README's "Strand elections").
        return RollEntry.objects.none()
    return (
        _entries_in_sight(user, election)
        .filter(has_voted=False, member__in=members_visible_to(user))
        .select_related("member", "workplace")
        .order_by("workplace__name", "member__last_name", "member__first_name")
    )


def roll_entries_of(member: Member) -> QuerySet[RollEntry]:
    """A member's own place on each roll: the elections they may vote in ("my ballots")."""
    return RollEntry.objects.filter(member=member).select_related("roll__election").order_by("-roll__frozen_at")


def roll_entry_of(member: Member, election_id: int) -> RollEntry:
    """The member's own place on one election's roll, or RollEntry.DoesNotExist (the same answer for an
    election that does not exist and one the member is not on the roll for)."""
    if not 0 < election_id < 2**63:  # a lookup through a foreign key does not guard the column's range itself
        raise RollEntry.DoesNotExist("No such roll entry.")
    return roll_entries_of(member).get(roll__election_id=election_id)


def closed_elections_of(member: Member) -> QuerySet[Election]:
    """Elections the member was on the roll for whose receipt list is published (closed or with results)."""
    return Election.objects.filter(
        roll__entries__member=member, status__in=[Election.Status.CLOSED, Election.Status.PUBLISHED]
    ).order_by("-voting_closes_at", "id")


def standing_candidacies(member: Member) -> QuerySet[Candidate]:
    """The member's own candidacies in elections being set up: they may set their photo and, where the
    election has reserved seats for a strand, count themselves in or out
    (elections.services.setup.count_for_reserved_seats)."""
    return (
        Candidate.objects.filter(member=member, withdrawn_at__isnull=True, election__status=Election.Status.DRAFT)
        .annotate(has_photo=Exists(CandidatePhoto.objects.filter(candidate=OuterRef("pk"))))
        .select_related("election")
    )


def is_receipt_in_count(election: Election, receipt_code: str) -> bool:
    """Whether a receipt code is in the election's published receipt list. Only once voting is over (the
    list is public then); a receipt says nothing about who holds it or how they voted."""
    if election.status not in (Election.Status.CLOSED, Election.Status.PUBLISHED):
        return False
    return Ballot.objects.filter(election=election, receipt_code=receipt_code).exists()


def receipts_of(election: Election) -> list[str]:
    """The published receipt codes, sorted, once voting is over (empty before)."""
    if election.status not in (Election.Status.CLOSED, Election.Status.PUBLISHED):
        return []
    return list(
        Ballot.objects.filter(election=election).order_by("receipt_code").values_list("receipt_code", flat=True)
    )


def nominations_of(election: Election) -> list[dict[str, Any]]:
    """Each nominee with how many nominations they have, whether that is enough, and whether they stand."""
    from elections.models import Nomination

    rows = (
        Nomination.objects.filter(election=election)
        .order_by()
        .values("nominee_id", "nominee__first_name", "nominee__last_name")
        .annotate(nominations=Count("id"))
        .order_by("nominee__last_name", "nominee__first_name")
    )
    standing = set(election.candidates.values_list("member_id", flat=True))
    return [
        {
            "nominee": f"{row['nominee__first_name']} {row['nominee__last_name']}",
            "nominations": row["nominations"],
            "is_enough": row["nominations"] >= election.nominations_needed,
            "is_standing": row["nominee_id"] in standing,
        }
        for row in rows
    ]


def nominations_open_to(member: Member) -> list[dict[str, Any]]:
    """Elections taking nominations now whose electorate includes this member, with how many nominations the
    member has received and whether they already stand."""
    from django.utils import timezone

    from elections.models import Nomination

    now = timezone.now()
    found = []
    elections = Election.objects.filter(
        status=Election.Status.DRAFT, nominations_open_at__lte=now, nominations_close_at__gt=now
    ).exclude(nomination_route=Election.NominationRoute.ORGANISER)
    for election in elections:
        if electorate_of(election).filter(pk=member.pk).exists():
            found.append(
                {
                    "election": election,
                    "received": Nomination.objects.filter(election=election, nominee=member).count(),
                    "is_standing": election.candidates.filter(member=member).exists(),
                }
            )
    return found


def candidate_photo_for(
    user: User, election_id: int, candidate_id: int, *, from_ballot_page: bool = False
) -> CandidatePhoto | None:
    """A candidate's photo if this user may see it, else None (missing and hidden look the same).

    Those running or scrutinising the election, and the candidate, always; once the candidates are public
    (nominations closed, or voting opened) and while the candidate stands: a voter holding the ballot page's
    link to it (``from_ballot_page``, checked by the caller), staff who can see the election, and members on
    its roll. Never anyone else: a candidate in a strand election is shown only to that election's people."""
    from elections.services.photos import candidates_are_public, may_always_see_photo

    photo = (
        CandidatePhoto.objects.select_related("candidate__election")
        .filter(candidate_id=candidate_id, candidate__election_id=election_id)
        .first()
    )
    if photo is None:
        return None
    candidate, election = photo.candidate, photo.candidate.election
    if may_always_see_photo(user, candidate, election):
        return photo
    if not candidates_are_public(election) or candidate.withdrawn_at:
        return None
    if from_ballot_page or elections_for(user).filter(pk=election.pk).exists():
        return photo
    member_id = getattr(user, "member_id", None) if user.is_authenticated else None
    on_roll = bool(member_id) and RollEntry.objects.filter(roll__election=election, member_id=member_id).exists()
    return photo if on_roll else None
