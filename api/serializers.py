"""Output serializers (how objects look) and input serializers (the shape a write must have).

Input serializers only check shapes: types, choices, lengths, and that related ids come from the caller's
scope. What a write means, and whether this user may make it, is decided by crm.services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from crm.models import Branch, Employer, Member, Position, Region, Sector, Tag, Workplace
from crm.selectors import (
    branches_visible_to,
    employers_visible_to,
    members_visible_to,
    regions_visible_to,
    workplaces_visible_to,
)

from .fields import NamedChoiceField, ScopedPrimaryKeyRelatedField

NOTES_MAX_LENGTH = 10_000
MAX_TAGS = 50
MAX_REPORTED_UNEXPECTED_FIELDS = 20


# --- Structure (read-only) -------------------------------------------------------------------------------


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "name", "code"]
        read_only_fields = fields


class BranchSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.name", read_only=True)

    class Meta:
        model = Branch
        fields = ["id", "name", "code", "region", "region_name"]
        read_only_fields = fields


class EmployerSerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(enum_name="EmployerKindEnum", choices=Employer.Kind.choices, read_only=True)

    class Meta:
        model = Employer
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class WorkplaceSerializer(serializers.ModelSerializer):
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    region = serializers.IntegerField(source="branch.region_id", read_only=True)
    region_name = serializers.CharField(source="branch.region.name", read_only=True)
    employer_name = serializers.CharField(source="employer.name", read_only=True)
    members_count = serializers.IntegerField(read_only=True, help_text="Active members at this workplace.")
    density = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Active members ÷ eligible staff (0..1); null when the staff headcount is unknown.",
    )

    class Meta:
        model = Workplace
        fields = [
            "id",
            "name",
            "branch",
            "branch_name",
            "region",
            "region_name",
            "employer",
            "employer_name",
            "sector",
            "eligible_staff",
            "postcode",
            "members_count",
            "density",
        ]
        read_only_fields = fields


# --- Members ----------------------------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(read_only=True)
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    region = serializers.IntegerField(source="branch.region_id", read_only=True)
    region_name = serializers.CharField(source="branch.region.name", read_only=True)
    workplace_name = serializers.CharField(source="workplace.name", read_only=True, allow_null=True)
    employer_name = serializers.CharField(source="employer.name", read_only=True, allow_null=True)
    is_in_good_standing = serializers.BooleanField(read_only=True, help_text="Active and not in arrears.")
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    email_consent_source = NamedChoiceField(
        enum_name="ConsentSourceEnum", choices=Member.ConsentSource.choices, allow_blank=True, read_only=True
    )
    sms_consent_source = NamedChoiceField(
        enum_name="ConsentSourceEnum", choices=Member.ConsentSource.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Member
        fields = [
            "id",
            "membership_number",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "mobile",
            "address_line1",
            "address_line2",
            "town",
            "postcode",
            "branch",
            "branch_name",
            "region",
            "region_name",
            "workplace",
            "workplace_name",
            "employer",
            "employer_name",
            "sector",
            "category",
            "status",
            "joined_on",
            "status_changed_on",
            "has_arrears",
            "is_in_good_standing",
            "email_consent",
            "email_consent_source",
            "email_consent_at",
            "sms_consent",
            "sms_consent_source",
            "sms_consent_at",
            "tags",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


class StrictInputMixin:
    """Reject every key the input serializer does not accept, so nothing can be mass-assigned.

    Keys that appear in the resource's representation but cannot be written are reported as read-only;
    anything else as unknown. Both answer 400 alongside any other field errors.
    """

    read_only_names: frozenset[str] = frozenset()

    def unexpected_field_errors(self, data: Any) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}  # DRF itself answers "expected a dictionary"
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unexpected = sorted(str(key) for key in data if key not in writable)[:MAX_REPORTED_UNEXPECTED_FIELDS]
        return {
            name: ["This field is read-only." if name in self.read_only_names else "Unknown field."]
            for name in unexpected
        }

    def to_internal_value(self, data: Any) -> Any:
        errors = self.unexpected_field_errors(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if errors and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **errors}) from error
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value


class MemberWriteSerializer(StrictInputMixin, serializers.Serializer):
    """The member fields staff may set (crm.services.MEMBER_FIELDS), with their shapes."""

    read_only_names = frozenset(MemberSerializer.Meta.fields)

    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    mobile = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="Any common format; stored as E.164."
    )
    address_line1 = serializers.CharField(max_length=150, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=150, required=False, allow_blank=True)
    town = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=10, required=False, allow_blank=True)
    branch = ScopedPrimaryKeyRelatedField(
        model=Branch,
        scope=branches_visible_to,
        required=False,
        help_text="Required unless a workplace is given (a workplace sets its branch).",
    )
    workplace = ScopedPrimaryKeyRelatedField(
        model=Workplace, scope=workplaces_visible_to, required=False, allow_null=True
    )
    employer = ScopedPrimaryKeyRelatedField(model=Employer, scope=employers_visible_to, required=False, allow_null=True)
    sector = serializers.ChoiceField(choices=Sector.choices, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Member.Category.choices)
    status = serializers.ChoiceField(choices=Member.Status.choices, required=False)
    joined_on = serializers.DateField(required=False, allow_null=True)
    has_arrears = serializers.BooleanField(required=False)
    email_consent = serializers.BooleanField(required=False)
    sms_consent = serializers.BooleanField(required=False, help_text="Needs a mobile number.")
    notes = serializers.CharField(max_length=NOTES_MAX_LENGTH, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60),
        max_length=MAX_TAGS,
        required=False,
        help_text="Names of existing tags; replaces the member's tags.",
    )

    def validate_tags(self, names: list[str]) -> list[Tag]:
        wanted = set(names)
        tags = list(Tag.objects.filter(name__in=wanted))
        missing = wanted - {tag.name for tag in tags}
        if missing:
            raise serializers.ValidationError(f"Unknown tags: {', '.join(sorted(missing))}.")
        return tags


class MemberCreateSerializer(MemberWriteSerializer):
    membership_number = serializers.CharField(
        max_length=20, required=False, help_text="Leave out to be given the next number in the series."
    )


class MemberUpdateSerializer(MemberWriteSerializer):
    """PATCH: any subset of the writable fields. The membership number never changes here."""


# --- Positions --------------------------------------------------------------------------------------------


class PositionSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    place_name = serializers.CharField(source="place", read_only=True)
    is_current = serializers.BooleanField(read_only=True, help_text="Held today.")
    kind = NamedChoiceField(enum_name="PositionKindEnum", choices=Position.Kind.choices, read_only=True)

    class Meta:
        model = Position
        fields = [
            "id",
            "member",
            "member_name",
            "kind",
            "workplace",
            "branch",
            "region",
            "place_name",
            "started_on",
            "ended_on",
            "is_current",
        ]
        read_only_fields = fields


class PositionCreateSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = frozenset(PositionSerializer.Meta.fields)

    member = ScopedPrimaryKeyRelatedField(model=Member, scope=members_visible_to)
    kind = NamedChoiceField(enum_name="PositionKindEnum", choices=Position.Kind.choices)
    workplace = ScopedPrimaryKeyRelatedField(
        model=Workplace, scope=workplaces_visible_to, required=False, allow_null=True
    )
    branch = ScopedPrimaryKeyRelatedField(model=Branch, scope=branches_visible_to, required=False, allow_null=True)
    region = ScopedPrimaryKeyRelatedField(model=Region, scope=regions_visible_to, required=False, allow_null=True)
    started_on = serializers.DateField()
    ended_on = serializers.DateField(required=False, allow_null=True)


class PositionEndSerializer(StrictInputMixin, serializers.Serializer):
    """PATCH on a position: only its end date may change."""

    read_only_names = frozenset(PositionSerializer.Meta.fields)

    ended_on = serializers.DateField()


# --- Auth -------------------------------------------------------------------------------------------------


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class TokenRequestSerializer(AuthTokenSerializer):
    otp_token = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        write_only=True,
        help_text="Staff: the code your authenticator app shows now, or one of your recovery codes.",
    )
