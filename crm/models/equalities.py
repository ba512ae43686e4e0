"""Equalities answers: special-category data (UK GDPR article 9), kept apart from the member record.

Rules (DESIGN.md rule 2): answers are entered by the member, or by staff with the member's consent recorded
(wording version, time, who); they are readable only with the explicit permission
`crm.view_equalities_answers`, which no role is given by default; every read of one member's answers
writes an EqualitiesAccess row; everyone else sees only aggregates with small numbers suppressed
(crm.selectors.equalities).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from crm.models import Member, User

# The consent wording staff read to a member before recording their answers; a new wording gets a new version.
CONSENT_WORDING_VERSION = "2026-1"
CONSENT_WORDING = (
    "The union asks about ethnicity, and whether you identify as a Black member, an LGBT+ member, a disabled "
    "member or a woman member, to run its equalities networks, conferences and reserved seats and to check "
    "that it represents all its members. Answering is voluntary; every question has 'prefer not to say'. "
    "Your answers are kept apart from your membership record, only a few named staff can read them, every "
    "read is logged, and you can change or withdraw them at any time."
)


class Ethnicity(models.TextChoices):
    """The ethnic group question of the 2021 census in England and Wales (ONS), plus 'prefer not to say'."""

    ASIAN_BANGLADESHI = "asian_bangladeshi", "Bangladeshi"
    ASIAN_CHINESE = "asian_chinese", "Chinese"
    ASIAN_INDIAN = "asian_indian", "Indian"
    ASIAN_PAKISTANI = "asian_pakistani", "Pakistani"
    ASIAN_OTHER = "asian_other", "Any other Asian background"
    BLACK_AFRICAN = "black_african", "African"
    BLACK_CARIBBEAN = "black_caribbean", "Caribbean"
    BLACK_OTHER = "black_other", "Any other Black, Black British, or Caribbean background"
    MIXED_WHITE_ASIAN = "mixed_white_asian", "White and Asian"
    MIXED_WHITE_BLACK_AFRICAN = "mixed_white_black_african", "White and Black African"
    MIXED_WHITE_BLACK_CARIBBEAN = "mixed_white_black_caribbean", "White and Black Caribbean"
    MIXED_OTHER = "mixed_other", "Any other Mixed or Multiple ethnic background"
    WHITE_BRITISH = "white_british", "English, Welsh, Scottish, Northern Irish or British"
    WHITE_IRISH = "white_irish", "Irish"
    WHITE_GYPSY_TRAVELLER = "white_gypsy_traveller", "Gypsy or Irish Traveller"
    WHITE_ROMA = "white_roma", "Roma"
    WHITE_OTHER = "white_other", "Any other White background"
    OTHER_ARAB = "other_arab", "Arab"
    OTHER_ANY = "other_any", "Any other ethnic group"
    PREFER_NOT_TO_SAY = "prefer_not_to_say", "Prefer not to say"


# The census's five high-level groups, in its order: aggregates are shown by group (finer cells would be
# almost all suppressed), forms list each group's categories under its heading.
ETHNIC_GROUPS: list[tuple[str, str]] = [
    ("asian", "Asian, Asian British or Asian Welsh"),
    ("black", "Black, Black British, Black Welsh, Caribbean or African"),
    ("mixed", "Mixed or Multiple ethnic groups"),
    ("white", "White"),
    ("other", "Other ethnic group"),
]


def ethnic_group_of(value: str) -> str:
    """'black_caribbean' -> 'black'; 'prefer_not_to_say' and '' are not a group."""
    group = value.split("_", 1)[0]
    return group if group in dict(ETHNIC_GROUPS) else ""


def ethnicity_choices() -> list:
    """Grouped choices for a select: the census's headings as option groups, then 'prefer not to say'."""
    grouped = [
        (label, [(value, text) for value, text in Ethnicity.choices if ethnic_group_of(value) == group])
        for group, label in ETHNIC_GROUPS
    ]
    return [("", "Not answered"), *grouped, (Ethnicity.PREFER_NOT_TO_SAY.value, Ethnicity.PREFER_NOT_TO_SAY.label)]


class Identifies(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    PREFER_NOT_TO_SAY = "prefer_not_to_say", "Prefer not to say"


# The four self-organised strands: (field on EqualitiesAnswers, label).
STRANDS: list[tuple[str, str]] = [
    ("black_member", "Black member"),
    ("lgbt_member", "LGBT+ member"),
    ("disabled_member", "Disabled member"),
    ("woman_member", "Woman member"),
]


class EqualitiesAnswers(models.Model):
    """One member's answers. Blank means 'not answered'. No default permissions: the only one is the read."""

    class EnteredBy(models.TextChoices):
        MEMBER = "member", "The member"
        STAFF = "staff", "Staff, with the member's consent"

    member = models.OneToOneField(Member, on_delete=models.CASCADE, primary_key=True, related_name="equalities")
    ethnicity = models.CharField(max_length=30, choices=Ethnicity.choices, blank=True)
    black_member = models.CharField(max_length=20, choices=Identifies.choices, blank=True)
    lgbt_member = models.CharField(max_length=20, choices=Identifies.choices, blank=True)
    disabled_member = models.CharField(max_length=20, choices=Identifies.choices, blank=True)
    woman_member = models.CharField(max_length=20, choices=Identifies.choices, blank=True)

    entered_by = models.CharField(max_length=10, choices=EnteredBy.choices)
    consent_wording_version = models.CharField(max_length=20)
    consent_recorded_at = models.DateTimeField()
    consent_recorded_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "equalities answers"
        default_permissions = ()
        permissions = [("view_equalities_answers", "Can read individual members' equalities answers")]
        indexes = [
            # strand_members() and the aggregates: who said yes to a strand.
            models.Index(fields=["black_member"], name="equalities_black"),
            models.Index(fields=["lgbt_member"], name="equalities_lgbt"),
            models.Index(fields=["disabled_member"], name="equalities_disabled"),
            models.Index(fields=["woman_member"], name="equalities_woman"),
        ]

    def __str__(self) -> str:
        return f"Equalities answers of member {self.member_id}"  # never the answers themselves


class EqualitiesAccess(models.Model):
    """A read of one member's equalities answers: who, whose, when, how. Rows are only ever added."""

    class Via(models.TextChoices):
        PAGE = "page", "Page"
        API = "api", "API"

    reader = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    reader_name = models.CharField(max_length=150)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="equalities_reads")
    via = models.CharField(max_length=4, choices=Via.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.reader_name} read member {self.member_id}'s equalities answers"
