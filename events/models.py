"""Events, registrations, check-in and the rep training programme.

Invariants a row can check by itself are database constraints. Workflows that write live in
events.services; shared reads in events.selectors.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Branch, Member, Region, Sector
from crm.models.equalities import STRANDS

# How an event for a strand is described: the network's name, which says who the event is for and nothing
# about any one person.
STRAND_NETWORKS = {
    "black_member": "the Black members' network",
    "lgbt_member": "the LGBT+ members' network",
    "disabled_member": "the disabled members' network",
    "woman_member": "the women members' network",
}


class Course(models.Model):
    """A unit of the rep training programme. Completing it gives a certification on the training record."""

    code = models.SlugField(max_length=40, unique=True, help_text="A short fixed name, e.g. foundation.")
    title = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    prerequisites = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="leads_to", help_text="Courses to complete first."
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class EventSeries(models.Model):
    """Events that repeat weekly (a weekly member call): each occurrence is an Event of its own."""

    title = models.CharField(max_length=200)
    weeks = models.PositiveSmallIntegerField(help_text="How many weekly occurrences were made.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "event series"

    def __str__(self) -> str:
        return f"{self.title} (weekly, {self.weeks})"


class Event(models.Model):
    class Kind(models.TextChoices):
        CONFERENCE = "conference", "Conference"
        TRAINING = "training", "Training session"
        ACADEMY = "academy", "Activist academy"
        MEMBER_CALL = "member_call", "Member call"
        HUSTINGS = "hustings", "Hustings"
        MEETING = "meeting", "Meeting"

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "All members"
        REGION = "region", "Members in a region"
        BRANCH = "branch", "Members in a branch"
        SECTOR = "sector", "Members in a sector"
        CATEGORY = "category", "Members in a membership category"
        REPS = "reps", "Reps only (members holding a current position)"
        STRAND = "strand", "An equalities strand's members (those who self-identify)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    venue = models.CharField(max_length=255, blank=True)
    online_url = models.URLField(blank=True, help_text="The link to join online.")
    capacity = models.PositiveIntegerField(help_text="Places; registrations beyond this join the waiting list.")
    registration_opens_at = models.DateTimeField()
    registration_closes_at = models.DateTimeField()

    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.EVERYONE)
    audience_region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    audience_branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    audience_sector = models.CharField(max_length=20, choices=Sector.choices, blank=True)
    audience_category = models.CharField(max_length=20, choices=Member.Category.choices, blank=True)
    # The strand's field on crm's EqualitiesAnswers ("lgbt_member"...): who may book is read from the members'
    # own answers (crm.selectors.equalities.strand_members), never stored here or shown to anyone else.
    audience_strand = models.CharField(max_length=20, choices=STRANDS, blank=True)

    # Who runs it: a branch, a region, or (neither) the national office. Its organisers manage it.
    host_branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    host_region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="events")

    course = models.ForeignKey(Course, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    series = models.ForeignKey(EventSeries, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    is_cancelled = models.BooleanField(default=False)
    motions_close_at = models.DateTimeField(
        null=True, blank=True, help_text="Conferences: motions (and amendments, unless later) until then."
    )
    amendments_close_at = models.DateTimeField(
        null=True, blank=True, help_text="Conferences: a later deadline for amendments, once the motions are known."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["starts_at"], name="event_starts_at")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"),
            models.CheckConstraint(
                condition=Q(registration_closes_at__gt=models.F("registration_opens_at")),
                name="event_registration_window_ordered",
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="event_has_places"),
            models.CheckConstraint(condition=~Q(venue="", online_url=""), name="event_has_venue_or_link"),
            models.CheckConstraint(
                condition=~Q(host_branch__isnull=False, host_region__isnull=False), name="event_one_host"
            ),
            models.CheckConstraint(
                condition=Q(kind="training", course__isnull=False) | (~Q(kind="training") & Q(course__isnull=True)),
                name="event_training_has_course",
            ),
            models.CheckConstraint(
                condition=(
                    Q(audience__in=["everyone", "reps", "strand"])
                    | Q(audience="region", audience_region__isnull=False)
                    | Q(audience="branch", audience_branch__isnull=False)
                    | Q(audience="sector") & ~Q(audience_sector="")
                    | Q(audience="category") & ~Q(audience_category="")
                ),
                name="event_audience_complete",
            ),
            models.CheckConstraint(
                condition=Q(audience="strand", audience_strand__in=[name for name, _ in STRANDS])
                | (~Q(audience="strand") & Q(audience_strand="")),
                name="event_strand_audience_named",
            ),
            models.CheckConstraint(
                condition=Q(amendments_close_at__isnull=True)
                | Q(motions_close_at__isnull=False, amendments_close_at__gte=models.F("motions_close_at")),
                name="event_amendments_after_motions",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({timezone.localtime(self.starts_at):%d %b %Y})"

    @property
    def is_for_strand(self) -> bool:
        return self.audience == self.Audience.STRAND

    @property
    def amendments_deadline(self):
        """When amendments close: their own deadline if set, else the motions deadline."""
        return self.amendments_close_at or self.motions_close_at

    @property
    def host(self) -> Branch | Region | None:
        return self.host_branch or self.host_region

    def audience_label(self) -> str:
        detail = {
            self.Audience.REGION: self.audience_region,
            self.Audience.BRANCH: self.audience_branch,
            self.Audience.SECTOR: self.get_audience_sector_display(),
            self.Audience.CATEGORY: self.get_audience_category_display(),
            self.Audience.STRAND: STRAND_NETWORKS.get(self.audience_strand),
        }.get(self.audience)
        return f"{self.get_audience_display()}: {detail}" if detail else self.get_audience_display()

    def is_registration_open(self, at=None) -> bool:
        at = at or timezone.now()
        return not self.is_cancelled and self.registration_opens_at <= at < self.registration_closes_at


class Steward(models.Model):
    """A user an event's organisers name to check people in at that event, and nothing else."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="stewards")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stewarding")
    named_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    named_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["named_at", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="steward_once_per_event")]

    def __str__(self) -> str:
        return f"{self.user} stewards {self.event}"


class Registration(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        WAITING = "waiting", "On the waiting list"
        CANCELLED = "cancelled", "Cancelled"

    class Attendance(models.TextChoices):
        UNKNOWN = "unknown", "Not yet known"
        ATTENDED = "attended", "Attended"
        NO_SHOW = "no_show", "Did not attend"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="event_registrations")
    status = models.CharField(max_length=10, choices=Status.choices)
    # The waiting list is served in the order people joined it.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # Answers to the registration questions. Access needs are sensitive (they often reveal a disability):
    # shown only to the member and the event's organisers, never in lists for reps, never exported.
    access_needs = models.TextField(blank=True, max_length=2000)
    needs_childcare = models.BooleanField(default=False)
    dietary_needs = models.CharField(max_length=255, blank=True)

    attendance = models.CharField(max_length=10, choices=Attendance.choices, default=Attendance.UNKNOWN)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["event", "status", "waiting_since"], name="registration_event_status")]
        constraints = [
            # One live registration per member per event; a cancelled one does not stop registering again.
            models.UniqueConstraint(
                fields=["event", "member"], condition=~Q(status="cancelled"), name="registration_once_per_event"
            ),
            models.CheckConstraint(
                condition=~Q(status="waiting") | Q(waiting_since__isnull=False), name="registration_waiting_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(attendance="attended") | Q(checked_in_at__isnull=False),
                name="registration_attended_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} at {self.event} ({self.status})"


class Certification(models.Model):
    """A course completed: one row per member per course, on the member's training record."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="certifications")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="certifications")
    completed_on = models.DateField()
    session = models.ForeignKey(Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-completed_on", "id"]
        constraints = [models.UniqueConstraint(fields=["member", "course"], name="certification_once_per_course")]

    def __str__(self) -> str:
        return f"{self.member} completed {self.course} on {self.completed_on}"


class DelegateRule(models.Model):
    """How a conference's delegates are shared between branches: one per so many active members (or part
    thereof), with a minimum per branch. The allocation is fixed from the membership on one day."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="delegate_rule")
    members_per_delegate = models.PositiveIntegerField()
    minimum_per_branch = models.PositiveSmallIntegerField(default=1)
    counted_on = models.DateField(help_text="The day membership was counted.")
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(members_per_delegate__gte=1), name="delegate_rule_positive")]

    def __str__(self) -> str:
        return f"One delegate per {self.members_per_delegate} members at {self.event}"


class DelegateAllocation(models.Model):
    """One branch's delegates to a conference, with the membership figure it came from."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="delegate_allocations")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="delegate_allocations")
    members = models.PositiveIntegerField()
    delegates = models.PositiveIntegerField()

    class Meta:
        ordering = ["branch__region__name", "branch__name"]
        constraints = [models.UniqueConstraint(fields=["event", "branch"], name="delegates_once_per_branch")]

    def __str__(self) -> str:
        return f"{self.branch}: {self.delegates} delegates to {self.event}"


class CallQuestion(models.Model):
    """A question a registered member sends in before a member call, for the organisers to pick from."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="questions")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="call_questions")
    text = models.TextField(max_length=1000)
    asked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["asked_at", "id"]

    def __str__(self) -> str:
        return f"Question from {self.member} for {self.event}"


class Delegate(models.Model):
    """A member named by their branch as one of its delegates to a conference, within its allocation."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="delegates")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="delegacies")
    named_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    named_at = models.DateTimeField(default=timezone.now)
    credential_checked_at = models.DateTimeField(null=True, blank=True, help_text="When shown at the conference.")

    class Meta:
        ordering = ["branch__name", "named_at", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="delegate_once_per_conference")]

    def __str__(self) -> str:
        return f"{self.member} for {self.branch} at {self.event}"


class Motion(models.Model):
    """A motion a branch submits to a conference; motions on one subject may be composited into one."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        COMPOSITED = "composited", "Composited into another motion"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="motions")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=200)
    text = models.TextField(max_length=10_000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    composite = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="parts")
    agenda_position = models.PositiveIntegerField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agenda_position", "submitted_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="composited") | Q(composite__isnull=False), name="motion_composited_into_one"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_composite(self) -> bool:
        return self.branch_id is None


class Amendment(models.Model):
    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="amendments")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=5_000)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["submitted_at", "id"]

    def __str__(self) -> str:
        return f"Amendment from {self.branch} to {self.motion}"
