"""The union's structure, its members, their positions, the users who sign in, and the audit trail.

Invariants a row can check by itself are database constraints, not only Python.
Workflows that write live in crm.services; shared reads in crm.selectors.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Sector(models.TextChoices):
    EARLY_YEARS = "early_years", "Early years"
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    SPECIAL = "special", "Special"
    SIXTH_FORM = "sixth_form", "Sixth form"
    FURTHER_EDUCATION = "further_education", "Further education"
    INDEPENDENT = "independent", "Independent"
    SUPPLY = "supply", "Supply"


class Region(models.Model):
    name = models.CharField(max_length=100, unique=True)
    code = models.SlugField(max_length=20, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Branch(models.Model):
    """A district branch: the unit members belong to and organisers are assigned to."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="branches")
    name = models.CharField(max_length=100)
    code = models.SlugField(max_length=30, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "branches"
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="branch_name_unique_in_region")]

    def __str__(self) -> str:
        return self.name


class Employer(models.Model):
    class Kind(models.TextChoices):
        LOCAL_AUTHORITY = "local_authority", "Local authority"
        ACADEMY_TRUST = "academy_trust", "Academy trust"
        COLLEGE = "college", "College corporation"
        AGENCY = "agency", "Supply agency"
        INDEPENDENT = "independent", "Independent school"

    name = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Workplace(models.Model):
    """A school or college. Density = members here ÷ eligible staff."""

    name = models.CharField(max_length=150)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="workplaces")
    employer = models.ForeignKey(Employer, on_delete=models.PROTECT, related_name="workplaces")
    sector = models.CharField(max_length=20, choices=Sector.choices)
    eligible_staff = models.PositiveIntegerField(default=0, help_text="Staff headcount eligible to join, for density.")
    postcode = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["branch", "name"], name="workplace_name_unique_in_branch"),
            models.CheckConstraint(condition=Q(eligible_staff__gte=0), name="workplace_staff_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MemberQuerySet(models.QuerySet):
    def in_good_standing(self) -> MemberQuerySet:
        """Active and not in arrears: the usual test for voting and standing."""
        return self.filter(status=Member.Status.ACTIVE, has_arrears=False)

    def not_in_good_standing(self) -> MemberQuerySet:
        return self.exclude(status=Member.Status.ACTIVE, has_arrears=False)


class Member(models.Model):
    class Category(models.TextChoices):
        TEACHER = "teacher", "Teacher"
        LEADER = "leader", "Leader"
        SUPPORT_STAFF = "support_staff", "Support staff"
        SUPPLY = "supply", "Supply"
        LECTURER = "lecturer", "Lecturer"
        STUDENT = "student", "Student"
        RETIRED = "retired", "Retired"

    class Status(models.TextChoices):
        APPLICANT = "applicant", "Applicant"
        ACTIVE = "active", "Active"
        LAPSED = "lapsed", "Lapsed"
        RESIGNED = "resigned", "Resigned"
        DECEASED = "deceased", "Deceased"

    class ConsentSource(models.TextChoices):
        JOIN_FORM = "join_form", "Online join form"
        PAPER_FORM = "paper_form", "Paper form"
        MEMBER_PORTAL = "member_portal", "Member portal"
        IMPORT = "import", "Imported record"
        CONVERSATION = "conversation", "In conversation (recorded by staff)"

    membership_number = models.CharField(max_length=20, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +447700900123.")
    address_line1 = models.CharField(max_length=150, blank=True)
    address_line2 = models.CharField(max_length=150, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)

    # A member always belongs to a branch; with a workplace it is the workplace's branch
    # (crm.services keeps the two together). Supply and retired members have a branch but no workplace.
    # No index of their own: member_branch_profile and member_workplace_status below start with these columns
    # and serve every lookup by branch or workplace; each index more is written on every member added.
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="members", db_index=False)
    workplace = models.ForeignKey(
        Workplace, on_delete=models.PROTECT, null=True, blank=True, related_name="members", db_index=False
    )
    employer = models.ForeignKey(Employer, on_delete=models.PROTECT, null=True, blank=True, related_name="members")
    sector = models.CharField(max_length=20, choices=Sector.choices, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.APPLICANT)
    joined_on = models.DateField(null=True, blank=True)
    status_changed_on = models.DateField(default=datetime.date.today)
    has_arrears = models.BooleanField(default=False)

    email_consent = models.BooleanField(default=False)
    email_consent_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent = models.BooleanField(default=False)
    sms_consent_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    sms_consent_at = models.DateTimeField(null=True, blank=True)

    tags = models.ManyToManyField(Tag, blank=True, related_name="members")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the member's personal data was replaced by placeholders (crm.services.privacy.erase_member).
    erased_at = models.DateTimeField(null=True, blank=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="member_name_order"),
            # Counts over a region or branch ("active secondary teachers in good standing", "tagged X in
            # region Y") read only this index, never the table: the member list's count at a million members.
            models.Index(
                fields=["branch", "status", "sector", "category", "has_arrears", "id"], name="member_branch_profile"
            ),
            models.Index(fields=["workplace", "status"], name="member_workplace_status"),
            models.Index(fields=["status", "has_arrears"], name="member_standing"),
            models.Index(fields=["status", "status_changed_on"], name="member_status_change"),  # recent lapses
            models.Index(fields=["joined_on"], name="member_joined_on"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(email_consent=False) | ~Q(email_consent_source=""),
                name="member_email_consent_has_source",
            ),
            models.CheckConstraint(
                condition=Q(sms_consent=False) | ~Q(sms_consent_source=""),
                name="member_sms_consent_has_source",
            ),
            models.CheckConstraint(
                condition=Q(sms_consent=False) | ~Q(mobile=""), name="member_sms_consent_needs_mobile"
            ),
            models.CheckConstraint(condition=Q(mobile="") | Q(mobile__startswith="+"), name="member_mobile_is_e164"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.membership_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_in_good_standing(self) -> bool:
        return self.status == self.Status.ACTIVE and not self.has_arrears


class PositionQuerySet(models.QuerySet):
    def current(self, on: datetime.date | None = None) -> PositionQuerySet:
        on = on or timezone.localdate()
        return self.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on), started_on__lte=on)


class Position(models.Model):
    """A role a member holds for a time, at exactly one of a workplace, branch or region."""

    class Kind(models.TextChoices):
        WORKPLACE_REP = "workplace_rep", "Workplace rep"
        HEALTH_SAFETY_REP = "health_safety_rep", "Health and safety rep"
        LEARNING_REP = "learning_rep", "Learning rep"
        EQUALITY_REP = "equality_rep", "Equality rep"
        BRANCH_SECRETARY = "branch_secretary", "Branch secretary"
        BRANCH_OFFICER = "branch_officer", "Branch officer"
        REGIONAL_OFFICER = "regional_officer", "Regional officer"

    # Kinds held at a workplace; the others are held at a branch or a region.
    WORKPLACE_KINDS = {Kind.WORKPLACE_REP, Kind.HEALTH_SAFETY_REP, Kind.LEARNING_REP, Kind.EQUALITY_REP}

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="positions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    workplace = models.ForeignKey(Workplace, on_delete=models.PROTECT, null=True, blank=True, related_name="positions")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="positions")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="positions")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    objects = PositionQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(workplace__isnull=False, branch__isnull=True, region__isnull=True)
                    | Q(workplace__isnull=True, branch__isnull=False, region__isnull=True)
                    | Q(workplace__isnull=True, branch__isnull=True, region__isnull=False)
                ),
                name="position_held_at_exactly_one_place",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="position_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.place}"

    @property
    def place(self) -> Workplace | Branch | Region | None:
        return self.workplace or self.branch or self.region

    def is_current(self, on: datetime.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.started_on <= on and (self.ended_on is None or self.ended_on >= on)


class User(AbstractUser):
    """Someone who signs in. Their role decides their scope (see crm.selectors.members_visible_to)."""

    class Role(models.TextChoices):
        NATIONAL_ADMIN = "national_admin", "National admin"
        ORGANISER = "organiser", "Organiser"
        REP = "rep", "Rep"
        MEMBER = "member", "Member"
        SCRUTINEER = "scrutineer", "Scrutineer"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    member = models.OneToOneField(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="user")
    # An organiser's patch: whole regions, single branches, or both.
    regions = models.ManyToManyField(Region, blank=True, related_name="organisers")
    branches = models.ManyToManyField(Branch, blank=True, related_name="organisers")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(role="rep") | Q(member__isnull=False), name="user_rep_is_a_member"),
        ]

    @property
    def is_national(self) -> bool:
        return self.is_superuser or self.role == self.Role.NATIONAL_ADMIN

    @property
    def is_staff_role(self) -> bool:
        """Staff of the union who work on member lists: national admins, organisers and reps."""
        return self.is_national or self.role in {self.Role.ORGANISER, self.Role.REP}


class AuditEntry(models.Model):
    """Who changed what, when. Rows are only ever added."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"

    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept if the user is deleted.")
    action = models.CharField(max_length=10, choices=Action.choices)
    target_type = models.CharField(max_length=50)
    target_id = models.BigIntegerField(null=True, blank=True)
    member = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries")
    changes = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.get_action_display().lower()} {self.target_type} {self.target_id}"


class MembershipSnapshot(models.Model):
    """Members by status in one branch on one day, so organisers can see the trend over time.

    Written by crm.tasks.take_membership_snapshot; the current counts are always derived live.
    """

    taken_on = models.DateField()
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="snapshots")
    status = models.CharField(max_length=12, choices=Member.Status.choices)
    members = models.PositiveIntegerField()

    class Meta:
        ordering = ["taken_on", "branch", "status"]
        constraints = [
            models.UniqueConstraint(fields=["taken_on", "branch", "status"], name="snapshot_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.branch} {self.status} on {self.taken_on}: {self.members}"


# Each area of the CRM keeps its models in a module of its own beside this one, imported here so that
# Django registers them (at the end, because they refer to the models above).
from crm.models.dues import DuesAccount, DuesPayment, StripeEvent, SubscriptionRate  # noqa: E402, F401
from crm.models.imports import ImportJob, ImportRow, ImportSource  # noqa: E402, F401
from crm.models.member_account import ConsentRecord, SignInCode, WorkplaceChange  # noqa: E402, F401
from crm.models.messages import Message, MessageAttachment  # noqa: E402, F401
from crm.models.organising import Assessment, Conversation, EqualitiesAccess, EqualitiesAnswers  # noqa: E402, F401
from crm.models.outreach import Campaign, InboundText, ProviderEvent, SmsOptOut  # noqa: E402, F401
from crm.models.privacy import ClosureRequest  # noqa: E402, F401
from crm.models.security import SecurityEvent  # noqa: E402, F401
from crm.models.segments import Segment  # noqa: E402, F401
