"""Elections, their candidates and questions, voter rolls, credentials, ballots, and certified counts.

Ballot secrecy (DESIGN.md rule 3): a Ballot row holds no link to a member, roll entry or credential and no
time finer than the day. The roll records *that* a member voted, never how. tests/elections check this by
inspecting the models.


A Count keeps the anonymised ballots as canonical BLT (identical ballots aggregated and sorted, so nothing
about the order of casting survives), the SHA-256 of that text, and the result exactly as the counting code
printed it. Anyone with the BLT and the seed can recount and must get the same bytes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Method(models.TextChoices):
    STV = "stv", "Single transferable vote"
    IRV = "irv", "Alternative vote (instant run-off)"
    FPTP = "fptp", "First past the post"
    APPROVAL = "approval", "Approval voting"


class Rule(models.TextChoices):
    NONE = "", "None (not STV)"
    SCOTTISH = "scottish", "Scottish STV (2007 Order, rules 45-52)"
    ERS97 = "ers97", "ERS97 (Electoral Reform Society, 1997)"
    MEEK = "meek", "Meek STV"


class Count(models.Model):
    election = models.OneToOneField(
        "Election",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="count",
        help_text="The election this is the count of; empty for a count of an uploaded BLT file.",
    )
    title = models.CharField(max_length=200)
    method = models.CharField(max_length=10, choices=Method.choices)
    rule = models.CharField(max_length=10, choices=Rule.choices, blank=True)
    seats = models.PositiveSmallIntegerField()
    seed = models.CharField(max_length=200, help_text="Published before the count; decides any drawing of lots.")
    reserved_seats = models.PositiveSmallIntegerField(default=0)
    reserved_group = models.JSONField(default=list, blank=True, help_text="Candidate numbers (from 1).")
    reserved_label = models.CharField(max_length=100, blank=True)
    blt_text = models.TextField(help_text="The anonymised ballots, as canonical BLT.")
    blt_sha256 = models.CharField(max_length=64)
    source_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file as uploaded.")
    result_json = models.TextField(help_text="The result exactly as the counting code produced it.")
    result_sha256 = models.CharField(max_length=64)
    counted_at = models.DateTimeField(default=timezone.now)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    certified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-counted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(method="stv") & ~Q(rule="")) | (~Q(method="stv") & Q(rule="")),
                name="count_rule_only_for_stv",
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="count_has_seats"),
            models.CheckConstraint(
                condition=Q(reserved_seats__lte=models.F("seats")), name="count_reserved_within_seats"
            ),
            models.CheckConstraint(
                condition=Q(blt_sha256__regex=r"^[0-9a-f]{64}$") & Q(result_sha256__regex=r"^[0-9a-f]{64}$"),
                name="count_hashes_are_sha256",
            ),
            models.CheckConstraint(
                condition=Q(certified_at__isnull=True) | Q(certified_by__isnull=False),
                name="count_certified_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_certified(self) -> bool:
        return self.certified_at is not None


class Recount(models.Model):
    """A recount from the stored BLT, and whether it reproduced the stored result byte for byte."""

    count = models.ForeignKey(Count, on_delete=models.CASCADE, related_name="recounts")
    recounted_at = models.DateTimeField(default=timezone.now)
    recounted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    blt_sha256 = models.CharField(max_length=64)
    result_sha256 = models.CharField(max_length=64)
    is_identical = models.BooleanField()
    difference = models.TextField(blank=True, help_text="Where the results first differ, if they do.")

    class Meta:
        ordering = ["-recounted_at", "-id"]

    def __str__(self) -> str:
        return f"Recount of {self.count} ({'identical' if self.is_identical else 'DIFFERENT'})"


class Election(models.Model):
    """A contest for seats, or a ballot on questions, held by the whole union, a region or a branch."""

    class Kind(models.TextChoices):
        SEAT = "seat", "Seat election"
        DELEGATE = "delegate", "Delegate election"
        BALLOT = "ballot", "Ballot on questions"

    class Status(models.TextChoices):
        DRAFT = "draft", "Being set up"
        VOTING = "voting", "Voting"
        CLOSED = "closed", "Closed and sealed"
        PUBLISHED = "published", "Results published"

    class Electorate(models.TextChoices):
        ALL = "all", "All members"
        REGION = "region", "Members in regions"
        BRANCH = "branch", "Members in branches"
        WORKPLACE = "workplace", "Members at workplaces"
        SECTOR = "sector", "Members in sectors"
        CATEGORY = "category", "Members in categories"
        STRAND = "strand", "An equalities strand's self-identified members"

    class NominationRoute(models.TextChoices):
        ORGANISER = "organiser", "Organisers add candidates"
        BRANCHES = "branches", "Nominated by branches"
        MEMBERS = "members", "Nominated by members"

    class BallotOrder(models.TextChoices):
        SURNAME = "surname", "By surname"
        LOT = "lot", "By lot"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    method = models.CharField(max_length=10, choices=Method.choices, blank=True, help_text="Not for ballots.")
    rule = models.CharField(max_length=10, choices=Rule.choices, blank=True)
    seats = models.PositiveSmallIntegerField(default=1)
    max_choices = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Approval voting: the most candidates a voter may mark (empty: any)."
    )
    reserved_seats = models.PositiveSmallIntegerField(default=0)
    reserved_label = models.CharField(max_length=100, blank=True, help_text="For example: women members.")
    reserved_strand = models.CharField(
        max_length=20,
        blank=True,
        help_text="The equalities strand the reserved seats are for: candidates count themselves in, from their "
        "own answers and with their consent (elections.services.setup).",
    )
    # Who holds the election: a branch, a region, or (both empty) the whole union.
    region = models.ForeignKey("crm.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    branch = models.ForeignKey("crm.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    nominations_open_at = models.DateTimeField(null=True, blank=True)
    nominations_close_at = models.DateTimeField(null=True, blank=True)
    voting_opens_at = models.DateTimeField()
    voting_closes_at = models.DateTimeField()
    opens_on_time = models.BooleanField(
        default=False,
        help_text="Open voting at the opening time without anyone pressing open (Celery beat, each minute).",
    )
    nomination_route = models.CharField(
        max_length=10, choices=NominationRoute.choices, default=NominationRoute.ORGANISER
    )
    nominations_needed = models.PositiveSmallIntegerField(
        default=1, help_text="How many branches, or members, must nominate someone for them to stand."
    )
    withdrawal_deadline_at = models.DateTimeField(
        null=True, blank=True, help_text="Candidates may withdraw until then (empty: until voting opens)."
    )
    statement_word_limit = models.PositiveIntegerField(default=300)
    ballot_order = models.CharField(max_length=10, choices=BallotOrder.choices, default=BallotOrder.SURNAME)
    electorate = models.CharField(max_length=10, choices=Electorate.choices, default=Electorate.ALL)
    electorate_values = models.JSONField(
        default=list, blank=True, help_text="Ids (regions, branches, workplaces) or codes (sectors, categories)."
    )
    requires_good_standing = models.BooleanField(default=True)
    cut_off_on = models.DateField(null=True, blank=True, help_text="Good standing is judged on this day.")
    is_industrial_action = models.BooleanField(default=False)
    important_public_services = models.BooleanField(default=False)
    turnout_threshold = models.CharField(max_length=10, blank=True, help_text="For example 50%.")
    electorate_support_threshold = models.CharField(max_length=10, blank=True, help_text="For example 40%.")
    votes_support_threshold = models.CharField(max_length=10, blank=True, help_text="For example 50%.")
    seed = models.CharField(max_length=64, help_text="Decides any drawing of lots; published when voting opens.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    ballots_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the canonical ballot set.")
    roll_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the sealed roll.")
    question_results = models.JSONField(null=True, blank=True, help_text="Ballots on questions: the counted result.")
    results_certified_at = models.DateTimeField(null=True, blank=True)
    results_certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    results_published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-voting_opens_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(voting_closes_at__gt=models.F("voting_opens_at")), name="election_closes_after_it_opens"
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="election_has_seats"),
            models.CheckConstraint(
                condition=Q(reserved_seats__lte=models.F("seats")), name="election_reserved_within_seats"
            ),
            models.CheckConstraint(
                condition=Q(region__isnull=True) | Q(branch__isnull=True), name="election_held_by_one_body"
            ),
            models.CheckConstraint(
                condition=(Q(kind="ballot") & Q(method="")) | (~Q(kind="ballot") & ~Q(method="")),
                name="election_method_only_for_contests",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_ballot(self) -> bool:
        return self.kind == self.Kind.BALLOT

    @property
    def is_ranked(self) -> bool:
        return self.method in (Method.IRV, Method.STV)

    @property
    def held_by(self) -> str:
        return str(self.branch or self.region or "the whole union")

    def is_open_at(self, moment) -> bool:
        return self.status == self.Status.VOTING and self.voting_opens_at <= moment < self.voting_closes_at


class Candidate(models.Model):
    """Someone standing. Organisers add candidates directly until nominations are built."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="candidates")
    member = models.ForeignKey("crm.Member", on_delete=models.PROTECT, related_name="candidacies")
    name = models.CharField(max_length=150, help_text="As it appears on the ballot.")
    sort_name = models.CharField(max_length=150, help_text="Surname first, for ordering.")
    statement = models.TextField(blank=True)
    is_in_reserved_group = models.BooleanField(default=False)
    reserved_group_consent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the candidate themselves asked to be counted for the reserved seats of a strand.",
    )
    has_consented = models.BooleanField(default=False)
    ballot_position = models.PositiveSmallIntegerField(default=0)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["ballot_position", "sort_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["election", "member"], name="candidate_once_per_election"),
            models.UniqueConstraint(fields=["election", "name"], name="candidate_names_distinct"),
        ]

    def __str__(self) -> str:
        return self.name


class Nomination(models.Model):
    """One nomination of a member to stand: by a branch (recorded by its organiser) or by a member."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="nominations")
    nominee = models.ForeignKey("crm.Member", on_delete=models.PROTECT, related_name="nominations")
    by_branch = models.ForeignKey("crm.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    by_member = models.ForeignKey(
        "crm.Member", on_delete=models.PROTECT, null=True, blank=True, related_name="nominations_made"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(by_branch__isnull=True, by_member__isnull=False)
                | Q(by_branch__isnull=False, by_member__isnull=True),
                name="nomination_by_branch_or_member",
            ),
            models.UniqueConstraint(fields=["election", "nominee", "by_branch"], name="nomination_once_per_branch"),
            models.UniqueConstraint(fields=["election", "nominee", "by_member"], name="nomination_once_per_member"),
        ]

    def __str__(self) -> str:
        return f"Nomination of {self.nominee_id} in {self.election_id}"


class Question(models.Model):
    """A question on a ballot: yes/no, or a choice between options."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=1)
    text = models.CharField(max_length=500)
    options = models.JSONField(default=list, help_text='["Yes", "No"] for a yes/no question.')

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class VoterRoll(models.Model):
    """Who may vote, frozen from the electorate rule when voting opens."""

    election = models.OneToOneField(Election, on_delete=models.CASCADE, related_name="roll")
    frozen_at = models.DateTimeField(default=timezone.now)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    size_at_freeze = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Roll of {self.election}"


class RollEntry(models.Model):
    """One member on a roll. Records *that* they voted (and the day, to answer a second use), never how.

    Region, branch and workplace are copied in when the roll is frozen, so turnout stays as the roll was.
    """

    roll = models.ForeignKey(VoterRoll, on_delete=models.CASCADE, related_name="entries")
    member = models.ForeignKey("crm.Member", on_delete=models.PROTECT, related_name="roll_entries")
    region = models.ForeignKey("crm.Region", on_delete=models.PROTECT, null=True, related_name="+")
    branch = models.ForeignKey("crm.Branch", on_delete=models.PROTECT, null=True, related_name="+")
    workplace = models.ForeignKey("crm.Workplace", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    credential_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    credential_issue = models.PositiveSmallIntegerField(default=0, help_text="How many credentials were sent.")
    has_voted = models.BooleanField(default=False)
    voted_on = models.DateField(null=True, blank=True)
    is_late_addition = models.BooleanField(default=False)
    late_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["roll", "member"], name="roll_entry_once_per_member"),
            models.CheckConstraint(
                condition=Q(has_voted=False) | Q(voted_on__isnull=False), name="roll_entry_voted_has_day"
            ),
            models.CheckConstraint(
                condition=Q(is_late_addition=False) | ~Q(late_reason=""), name="roll_entry_late_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["roll", "has_voted"], name="roll_entry_turnout"),
            models.Index(fields=["roll", "workplace", "has_voted"], name="roll_entry_workplace"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} on {self.roll}"


class RetiredCredential(models.Model):
    """The hash of a credential that a reissue replaced, so using it says so instead of "not valid"."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="+")
    credential_hash = models.CharField(max_length=64, unique=True)
    retired_on = models.DateField()

    def __str__(self) -> str:
        return f"Retired credential for {self.election_id}"


class Ballot(models.Model):
    """One cast ballot. Deliberately holds no member, roll entry, credential or precise time.

    The key is a random UUID, not a sequence, so ids say nothing about the order of casting; at the close
    the ballots are also rewritten in random order (elections.services.close_election).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="ballots")
    cast_on = models.DateField(help_text="The day only: never a time.")
    receipt_code = models.CharField(max_length=16)
    choices = models.JSONField(default=dict, help_text="ranking / marks (candidate ids) or answers by question.")
    is_spoilt = models.BooleanField(default=False)

    class Meta:
        ordering = ["receipt_code"]
        constraints = [
            models.UniqueConstraint(fields=["election", "receipt_code"], name="ballot_receipt_unique"),
        ]

    def __str__(self) -> str:
        return f"Ballot {self.receipt_code}"


class CandidatePhoto(models.Model):
    """A candidate's photo, re-encoded by elections.services.photos (metadata stripped, at most 600 px a side).

    Kept in the database, not in media storage: it is small once re-encoded (tens of kilobytes), it must only
    be served through a view that checks who may see it (so a public media folder would not do), and it is
    backed up, restored and deleted with the candidate it belongs to. Its own table, so reading candidates
    never reads the image bytes.
    """

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="photo")
    image = models.BinaryField(help_text="JPEG, re-encoded: no EXIF, GPS or other metadata.")
    width = models.PositiveSmallIntegerField()
    height = models.PositiveSmallIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(width__gte=1, width__lte=600, height__gte=1, height__lte=600),
                name="candidate_photo_within_size",
            ),
        ]

    def __str__(self) -> str:
        return f"Photo of candidate {self.candidate_id}"
