"""API for organising: segments, bulk tags, conversations, assessments and equalities answers.

The same scope and services as the pages: querysets come from the scope selectors, writes go through
crm.services, objects outside the caller's scope answer 404. Equalities answers appear in exactly two
places: the caller's own (equalities/me/) and one member's with the explicit permission (logged); the
summary holds only suppressed counts.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.filters import YES_NO
from crm.models import Assessment, Conversation, Member, Segment, Workplace
from crm.models.conversations import NOTES_MAX_LENGTH
from crm.models.equalities import STRANDS, EqualitiesAccess, EqualitiesAnswers, Ethnicity, Identifies
from crm.permissions import can_view_member_lists
from crm.selectors import members_visible_to, workplaces_with_density
from crm.selectors.conversations import assessments_visible_to, conversations_visible_to, follow_ups_due
from crm.selectors.equalities import can_read_equalities, can_view_equalities_summary, equalities_summary
from crm.selectors.organising import assessment_counts, density_trend, workplaces_without_rep
from crm.selectors.segments import segment_members, usable_segments
from crm.services import conversations as conversation_services
from crm.services import equalities as equalities_services
from crm.services import segments as segment_services

from .fields import NamedChoiceField, ScopedPrimaryKeyRelatedField
from .serializers import MemberSerializer, StrictInputMixin
from .views import ERROR_RESPONSES, NOT_FOUND, QuorumAPIMixin

# --- Segments ---------------------------------------------------------------------------------------------


class SegmentSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    filters = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        read_only=True,
        help_text="The member list's filters, as query parameter names to lists of values.",
    )
    shared_with = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")
    is_mine = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "name", "owner", "is_mine", "filters", "is_shared", "shared_with", "created_at", "updated_at"]
        read_only_fields = fields

    def get_is_mine(self, segment: Segment) -> bool:
        return segment.owner_id == self.context["request"].user.pk


class SegmentCreateSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = frozenset(SegmentSerializer.Meta.fields)

    name = serializers.CharField(max_length=segment_services.SEGMENT_NAME_MAX_LENGTH)
    filters = serializers.DictField(
        child=serializers.ListField(
            child=serializers.CharField(max_length=segment_services.MAX_FILTER_VALUE_LENGTH),
            max_length=segment_services.MAX_FILTER_VALUES,
        ),
        required=False,
        default=dict,
        help_text='Member list filters, e.g. {"status": ["active"], "branch": ["3"]}.',
    )
    is_shared = serializers.BooleanField(required=False, default=False)
    shared_with = serializers.ListField(
        child=serializers.CharField(max_length=150), max_length=50, required=False, help_text="Usernames."
    )


class SegmentUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """PATCH: rename or change the sharing. The filters of a saved segment do not change."""

    read_only_names = frozenset(SegmentSerializer.Meta.fields)

    name = serializers.CharField(max_length=segment_services.SEGMENT_NAME_MAX_LENGTH, required=False)
    is_shared = serializers.BooleanField(required=False)
    shared_with = serializers.ListField(
        child=serializers.CharField(max_length=150), max_length=50, required=False, help_text="Usernames."
    )


@extend_schema_view(
    list=extend_schema(summary="Your segments and those shared with you"),
    retrieve=extend_schema(summary="One segment", responses={200: SegmentSerializer, **NOT_FOUND}),
    destroy=extend_schema(
        summary="Delete one of your segments", responses={204: None, 403: ERROR_RESPONSES[403], **NOT_FOUND}
    ),
)
class SegmentViewSet(
    QuorumAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Saved member filters, evaluated afresh within the caller's scope on every use. Only the owner changes one."""

    serializer_class = SegmentSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Segment]:
        return usable_segments(self.request.user)

    @extend_schema(
        summary="Save a segment", request=SegmentCreateSerializer, responses={201: SegmentSerializer, **ERROR_RESPONSES}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = SegmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = segment_services.save_segment(actor=request.user, **data.validated_data)
        return Response(
            SegmentSerializer(segment, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Rename or share one of your segments",
        request=SegmentUpdateSerializer,
        responses={200: SegmentSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        segment = self.get_object()
        data = SegmentUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        segment = segment_services.update_segment(actor=request.user, segment=segment, **data.validated_data)
        return Response(SegmentSerializer(segment, context=self.get_serializer_context()).data)

    def perform_destroy(self, instance: Segment) -> None:
        segment_services.delete_segment(actor=self.request.user, segment=instance)

    @extend_schema(
        summary="The members of a segment, as they are now, within your scope",
        responses={200: MemberSerializer(many=True), 400: ERROR_RESPONSES[400], **NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def members(self, request: Request, pk: str | None = None) -> Response:
        segment = self.get_object()
        members = segment_members(request.user, segment).select_related("branch__region", "workplace", "employer")
        page = self.paginate_queryset(members.prefetch_related("tags"))
        return self.get_paginated_response(
            MemberSerializer(page, many=True, context=self.get_serializer_context()).data
        )


# --- Bulk tags --------------------------------------------------------------------------------------------


class BulkTagSerializer(StrictInputMixin, serializers.Serializer):
    filters = serializers.DictField(
        child=serializers.ListField(
            child=serializers.CharField(max_length=segment_services.MAX_FILTER_VALUE_LENGTH),
            max_length=segment_services.MAX_FILTER_VALUES,
        ),
        required=False,
        help_text="The member list's filters; every member you can see that matches is tagged.",
    )
    tag = serializers.CharField(max_length=segment_services.TAG_NAME_MAX_LENGTH)
    action = NamedChoiceField(enum_name="BulkTagActionEnum", choices=[("add", "Add"), ("remove", "Remove")])


class BulkTagResultSerializer(serializers.Serializer):
    tag = serializers.CharField()
    action = NamedChoiceField(enum_name="BulkTagActionEnum", choices=[("add", "Add"), ("remove", "Remove")])
    members = serializers.IntegerField(help_text="How many members gained (or lost) the tag.")


class BulkTagView(QuorumAPIMixin, APIView):
    """Tag (or untag) every member matching the filters, in one transaction; one audit row for the action."""

    @extend_schema(
        summary="Tag or untag every member matching the filters",
        request=BulkTagSerializer,
        responses={200: BulkTagResultSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = BulkTagSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = segment_services.bulk_tag_members(
            actor=request.user,
            filters=data.validated_data.get("filters", {}),
            tag_name=data.validated_data["tag"],
            remove=data.validated_data["action"] == "remove",
        )
        tag = segment_services.clean_tag_name(data.validated_data["tag"])
        return Response({"tag": tag, "action": data.validated_data["action"], "members": count})


# --- Conversations and assessments ------------------------------------------------------------------------


def _scoped_members(request) -> QuerySet[Member]:
    return members_visible_to(getattr(request, "user", None))


class ConversationFilter(django_filters.FilterSet):
    member = django_filters.ModelChoiceFilter(queryset=_scoped_members)
    follow_up_due = django_filters.ChoiceFilter(
        label="Follow-up due (today or earlier, not done)", choices=YES_NO, method="filter_follow_up_due"
    )
    mine = django_filters.ChoiceFilter(label="Logged by me", choices=YES_NO, method="filter_mine")

    class Meta:
        model = Conversation
        fields: list[str] = []

    def filter_follow_up_due(self, queryset, name, value):
        due = follow_ups_due(queryset)
        return due if value == "true" else queryset.exclude(pk__in=due.values("pk"))

    def filter_mine(self, queryset, name, value):
        user = self.request.user
        return queryset.filter(logged_by=user) if value == "true" else queryset.exclude(logged_by=user)


class AssessmentFilter(django_filters.FilterSet):
    member = django_filters.ModelChoiceFilter(queryset=_scoped_members)

    class Meta:
        model = Assessment
        fields: list[str] = []


CHANNEL = {"enum_name": "ConversationChannelEnum", "choices": Conversation.Channel.choices}
OUTCOME = {"enum_name": "ConversationOutcomeEnum", "choices": Conversation.Outcome.choices}


class ConversationSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    logged_by = serializers.CharField(source="logged_by.username", read_only=True, allow_null=True)
    channel = NamedChoiceField(**CHANNEL, read_only=True)
    outcome = NamedChoiceField(**OUTCOME, read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "member",
            "member_name",
            "channel",
            "held_on",
            "outcome",
            "notes",
            "follow_up_on",
            "follow_up_done_at",
            "logged_by",
            "created_at",
        ]
        read_only_fields = fields


class ConversationCreateSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = frozenset(ConversationSerializer.Meta.fields)

    member = ScopedPrimaryKeyRelatedField(model=Member, scope=members_visible_to)
    channel = NamedChoiceField(**CHANNEL)
    held_on = serializers.DateField()
    outcome = NamedChoiceField(**OUTCOME)
    notes = serializers.CharField(max_length=NOTES_MAX_LENGTH, required=False, allow_blank=True)
    follow_up_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, data: dict) -> dict:
        if data.get("follow_up_on") and data["follow_up_on"] < data["held_on"]:
            raise serializers.ValidationError({"follow_up_on": ["The follow-up cannot be before the conversation."]})
        return data


class AssessmentSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    assessed_by = serializers.CharField(source="assessed_by.username", read_only=True, allow_null=True)
    score = serializers.IntegerField(read_only=True, help_text="1 = leader … 5 = hostile.")

    class Meta:
        model = Assessment
        fields = ["id", "member", "member_name", "score", "assessed_on", "assessed_by", "notes", "created_at"]
        read_only_fields = fields


class AssessmentCreateSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = frozenset(AssessmentSerializer.Meta.fields)

    member = ScopedPrimaryKeyRelatedField(model=Member, scope=members_visible_to)
    score = serializers.IntegerField(min_value=1, max_value=5, help_text="1 = leader … 5 = hostile.")
    assessed_on = serializers.DateField()
    notes = serializers.CharField(
        max_length=conversation_services.ASSESSMENT_NOTES_MAX_LENGTH, required=False, allow_blank=True
    )


@extend_schema_view(
    list=extend_schema(summary="Conversations with members in your scope"),
    retrieve=extend_schema(summary="One conversation", responses={200: ConversationSerializer, **NOT_FOUND}),
)
class ConversationViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Conversations logged with members the caller can see (staff only: members see none here)."""

    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Conversation]:
        return conversations_visible_to(self.request.user).order_by("-held_on", "-id")

    @extend_schema(
        summary="Log a conversation",
        request=ConversationCreateSerializer,
        responses={201: ConversationSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ConversationCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        conversation = conversation_services.log_conversation(actor=request.user, **data.validated_data)
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark a conversation's follow-up done",
        request=None,
        responses={200: ConversationSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="follow-up-done")
    def follow_up_done(self, request: Request, pk: str | None = None) -> Response:
        conversation = conversation_services.complete_follow_up(actor=request.user, conversation=self.get_object())
        return Response(ConversationSerializer(conversation).data)


@extend_schema_view(
    list=extend_schema(summary="Assessments of members in your scope, latest first"),
    retrieve=extend_schema(summary="One assessment", responses={200: AssessmentSerializer, **NOT_FOUND}),
)
class AssessmentViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Assessments (1 = leader … 5 = hostile), every one kept: a member's first in the list is their current one."""

    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Assessment]:
        return assessments_visible_to(self.request.user).order_by("-assessed_on", "-id")

    @extend_schema(
        summary="Record an assessment",
        request=AssessmentCreateSerializer,
        responses={201: AssessmentSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = AssessmentCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        assessment = conversation_services.record_assessment(actor=request.user, **data.validated_data)
        return Response(AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)


# --- Equalities -------------------------------------------------------------------------------------------

IDENTIFIES = {"enum_name": "IdentifiesEnum", "choices": Identifies.choices, "allow_blank": True}


class EqualitiesAnswersSerializer(StrictInputMixin, serializers.Serializer):
    """One member's answers. Blank means not answered; a PUT replaces them all."""

    read_only_names = frozenset({"entered_by", "consent_wording_version", "consent_recorded_at", "updated_at"})

    ethnicity = NamedChoiceField(
        enum_name="EthnicityEnum", choices=Ethnicity.choices, allow_blank=True, required=False,
        help_text="The 2021 census (England and Wales) categories, or prefer_not_to_say.",
    )  # fmt: skip
    black_member = NamedChoiceField(**IDENTIFIES, required=False)
    lgbt_member = NamedChoiceField(**IDENTIFIES, required=False)
    disabled_member = NamedChoiceField(**IDENTIFIES, required=False)
    woman_member = NamedChoiceField(**IDENTIFIES, required=False)
    entered_by = NamedChoiceField(
        enum_name="EnteredByEnum", choices=EqualitiesAnswers.EnteredBy.choices, read_only=True, allow_null=True
    )
    consent_wording_version = serializers.CharField(read_only=True)
    consent_recorded_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def _answers_data(answers: EqualitiesAnswers | None) -> dict:
    if answers is None:
        return dict.fromkeys(equalities_services.ANSWER_FIELDS, "") | {
            "entered_by": None,
            "consent_wording_version": "",
            "consent_recorded_at": None,
            "updated_at": None,
        }
    return EqualitiesAnswersSerializer(answers).data


class MyEqualitiesView(QuorumAPIMixin, APIView):
    """The caller's own equalities answers (any signed-in user with a member record). Every read is logged."""

    permission_classes = [IsAuthenticated]  # a member writes their own answers: not a staff-only write

    def _member(self, request: Request) -> Member:
        if not request.user.member_id:
            raise PermissionDenied("Only a member can have equalities answers.")
        return Member.objects.get(pk=request.user.member_id)

    @extend_schema(
        summary="Your own equalities answers", responses={200: EqualitiesAnswersSerializer, 403: ERROR_RESPONSES[403]}
    )
    def get(self, request: Request) -> Response:
        member = self._member(request)
        answers = equalities_services.read_equalities_answers(
            reader=request.user, member=member, via=EqualitiesAccess.Via.API
        )
        return Response(_answers_data(answers))

    @extend_schema(
        summary="Give or change your own equalities answers",
        request=EqualitiesAnswersSerializer,
        responses={200: EqualitiesAnswersSerializer, **ERROR_RESPONSES},
    )
    def put(self, request: Request) -> Response:
        self._member(request)
        data = EqualitiesAnswersSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answers = equalities_services.save_own_equalities_answers(user=request.user, answers=data.validated_data)
        return Response(_answers_data(answers))


class MemberEqualitiesView(QuorumAPIMixin, APIView):
    """One member's answers, only with the permission crm.view_equalities_answers; every read is logged."""

    @extend_schema(
        summary="One member's equalities answers (needs the permission; logged)",
        responses={200: EqualitiesAnswersSerializer, 403: ERROR_RESPONSES[403], **NOT_FOUND},
    )
    def get(self, request: Request, member_id: int) -> Response:
        member = get_object_or_404(members_visible_to(request.user), pk=member_id)
        if not can_read_equalities(request.user, member):  # a member's own answers are at equalities/me/
            raise PermissionDenied("Reading a member's equalities answers needs a permission you do not have.")
        answers = equalities_services.read_equalities_answers(
            reader=request.user, member=member, via=EqualitiesAccess.Via.API
        )
        return Response(_answers_data(answers))


class SummaryCellSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField(allow_null=True, help_text="Null when suppressed.")
    shown = serializers.CharField(
        help_text='The figure, "<5" (0 to 4) or "hidden" (so a small one cannot be worked out).'
    )


class SummaryStrandSerializer(serializers.Serializer):
    strand = serializers.ChoiceField(choices=STRANDS)
    label = serializers.CharField()
    cells = SummaryCellSerializer(many=True)


class EqualitiesSummarySerializer(serializers.Serializer):
    area = serializers.CharField()
    members = serializers.IntegerField(help_text="Active members counted; each row adds up to this.")
    strands = SummaryStrandSerializer(many=True)
    ethnicity = SummaryCellSerializer(many=True)


class EqualitiesSummaryView(QuorumAPIMixin, APIView):
    """Counts of equalities answers of active members in your scope, with small numbers suppressed."""

    @extend_schema(
        summary="Equalities counts, small numbers suppressed (national admins and organisers)",
        parameters=[
            OpenApiParameter("branch", int, description="A branch in your scope."),
            OpenApiParameter("region", int, description="A region in your scope."),
        ],
        responses={200: EqualitiesSummarySerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        if not can_view_equalities_summary(request.user):
            raise PermissionDenied("Equalities counts are for organisers and national admins.")
        summary = equalities_summary(
            request.user, branch=request.query_params.get("branch"), region=request.query_params.get("region")
        )
        return Response(EqualitiesSummarySerializer(summary).data)


# --- Organising figures per workplace ---------------------------------------------------------------------


class TrendPointSerializer(serializers.Serializer):
    months_ago = serializers.IntegerField()
    on = serializers.DateField()
    members = serializers.IntegerField(help_text="Active members then, derived from joins and status changes.")


class AssessmentCountsSerializer(serializers.Serializer):
    leader = serializers.IntegerField(help_text="Latest assessment 1.")
    supporter = serializers.IntegerField(help_text="Latest assessment 2.")
    undecided = serializers.IntegerField(help_text="Latest assessment 3.")
    opposed = serializers.IntegerField(help_text="Latest assessment 4.")
    hostile = serializers.IntegerField(help_text="Latest assessment 5.")
    not_assessed = serializers.IntegerField()


class OrganisingWorkplaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    branch = serializers.IntegerField(source="branch_id")
    eligible_staff = serializers.IntegerField()
    members_count = serializers.IntegerField(help_text="Active members now.")
    density = serializers.FloatField(allow_null=True, help_text="Active members ÷ eligible staff (0..1).")
    has_workplace_rep = serializers.BooleanField()
    trend = TrendPointSerializer(many=True)
    assessments = AssessmentCountsSerializer(help_text="Active members by their latest assessment.")


class OrganisingWorkplaceFilter(django_filters.FilterSet):
    without_rep = django_filters.ChoiceFilter(
        label="Without a current workplace rep", choices=YES_NO, method="filter_without_rep"
    )

    class Meta:
        model = Workplace
        fields: list[str] = []

    def filter_without_rep(self, queryset, name, value):
        without = workplaces_without_rep(self.request.user).values("pk")
        return queryset.filter(pk__in=without) if value == "true" else queryset.exclude(pk__in=without)


@extend_schema_view(list=extend_schema(summary="Organising figures per workplace in your scope, lowest density first"))
class OrganisingWorkplaceViewSet(QuorumAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Density now and derived 3 and 12 months ago, whether there is a workplace rep, and active members by
    their latest assessment, for each workplace in the caller's scope (staff only)."""

    serializer_class = OrganisingWorkplaceSerializer
    filterset_class = OrganisingWorkplaceFilter

    def get_queryset(self) -> QuerySet[Workplace]:
        return workplaces_with_density(self.request.user).order_by(F("density").asc(nulls_last=True), "name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can_view_member_lists(request.user):
            raise PermissionDenied("Organising figures are for union staff.")
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        without = set(
            workplaces_without_rep(request.user).filter(pk__in=[w.pk for w in page]).values_list("pk", flat=True)
        )
        trends = {row["workplace"].pk: row for row in density_trend(page)}
        scores = {row["workplace"].pk: row for row in assessment_counts(page)}
        names = ["leader", "supporter", "undecided", "opposed", "hostile"]
        rows = []
        for workplace in page:
            counts = {name: cell["members"] for name, cell in zip(names, scores[workplace.pk]["scores"], strict=True)}
            rows.append(
                {
                    "id": workplace.pk,
                    "name": workplace.name,
                    "branch_id": workplace.branch_id,
                    "eligible_staff": workplace.eligible_staff,
                    "members_count": workplace.members_count,
                    "density": workplace.density,
                    "has_workplace_rep": workplace.pk not in without,
                    "trend": [
                        {"months_ago": t["months"], "on": t["on"], "members": t["members"]}
                        for t in trends[workplace.pk]["then"]
                    ],
                    "assessments": counts | {"not_assessed": scores[workplace.pk]["not_assessed"]},
                }
            )
        return self.get_paginated_response(OrganisingWorkplaceSerializer(rows, many=True).data)
