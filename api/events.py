"""Events API: events, registrations (with the waiting list and check-in) and training records.

Thin, like the rest of /api/v1/: a scope selector for every queryset, a strict input serializer for every
write, then one events.services call. Access needs appear only for the member themselves and the event's
organisers; for anyone else the key is absent.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.models import Branch, Member, Region, Sector
from crm.models.equalities import STRANDS, EqualitiesAccess
from crm.selectors import branches_visible_to, members_visible_to, regions_visible_to
from events import selectors, services
from events.models import (
    Amendment,
    CallQuestion,
    Certification,
    Course,
    Delegate,
    DelegateAllocation,
    Event,
    Motion,
    Registration,
    Steward,
)
from events.permissions import can_manage_event, can_view_training_gaps

from .fields import NamedChoiceField, ScopedPrimaryKeyRelatedField
from .serializers import StrictInputMixin
from .views import ERROR_RESPONSES, NOT_FOUND, QuorumAPIMixin

# --- Serializers ------------------------------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(enum_name="EventKindEnum", choices=Event.Kind.choices, read_only=True)
    audience_sector = NamedChoiceField(enum_name="EventSectorEnum", choices=Sector.choices, read_only=True)
    audience_category = NamedChoiceField(enum_name="EventCategoryEnum", choices=Member.Category.choices, read_only=True)
    audience_strand = NamedChoiceField(enum_name="EventStrandEnum", choices=STRANDS, read_only=True)
    places_taken = serializers.IntegerField(read_only=True)
    course_code = serializers.CharField(source="course.code", read_only=True, default=None)

    class Meta:
        model = Event
        fields = [
            "id",
            "kind",
            "title",
            "description",
            "starts_at",
            "ends_at",
            "venue",
            "online_url",
            "capacity",
            "places_taken",
            "registration_opens_at",
            "registration_closes_at",
            "audience",
            "audience_region",
            "audience_branch",
            "audience_sector",
            "audience_category",
            "audience_strand",
            "host_branch",
            "host_region",
            "course",
            "course_code",
            "series",
            "is_cancelled",
            "motions_close_at",
            "amendments_close_at",
        ]
        read_only_fields = fields


class EventCreateSerializer(StrictInputMixin, serializers.Serializer):
    kind = NamedChoiceField(enum_name="EventKindEnum", choices=Event.Kind.choices)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    venue = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    online_url = serializers.URLField(max_length=200, required=False, allow_blank=True, default="")
    capacity = serializers.IntegerField(min_value=1, max_value=100_000)
    registration_opens_at = serializers.DateTimeField()
    registration_closes_at = serializers.DateTimeField()
    audience = serializers.ChoiceField(choices=Event.Audience.choices, default=Event.Audience.EVERYONE)
    audience_region = serializers.PrimaryKeyRelatedField(queryset=Region.objects.all(), required=False, default=None)
    audience_branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all(), required=False, default=None)
    audience_sector = NamedChoiceField(
        enum_name="EventSectorEnum", choices=Sector.choices, required=False, allow_blank=True, default=""
    )
    audience_category = NamedChoiceField(
        enum_name="EventCategoryEnum", choices=Member.Category.choices, required=False, allow_blank=True, default=""
    )
    audience_strand = NamedChoiceField(
        enum_name="EventStrandEnum", choices=STRANDS, required=False, allow_blank=True, default=""
    )
    host_branch = ScopedPrimaryKeyRelatedField(model=Branch, scope=branches_visible_to, required=False, default=None)
    host_region = ScopedPrimaryKeyRelatedField(model=Region, scope=regions_visible_to, required=False, default=None)
    course = serializers.SlugRelatedField(
        slug_field="code", queryset=Course.objects.all(), required=False, default=None, help_text="A course code."
    )
    repeat_weeks = serializers.IntegerField(min_value=2, max_value=services.MAX_WEEKS, required=False)


class EventUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """The details that may change after an event is made (events.services.EDITABLE_FIELDS); send only those
    that change."""

    read_only_names = frozenset({"kind", "host_branch", "host_region", "course", "series", "is_cancelled", "id"})

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    venue = serializers.CharField(max_length=255, required=False, allow_blank=True)
    online_url = serializers.URLField(max_length=200, required=False, allow_blank=True)
    capacity = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    registration_opens_at = serializers.DateTimeField(required=False)
    registration_closes_at = serializers.DateTimeField(required=False)
    audience = serializers.ChoiceField(choices=Event.Audience.choices, required=False)
    audience_region = serializers.PrimaryKeyRelatedField(queryset=Region.objects.all(), required=False, allow_null=True)
    audience_branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all(), required=False, allow_null=True)
    audience_sector = NamedChoiceField(
        enum_name="EventSectorEnum", choices=Sector.choices, required=False, allow_blank=True
    )
    audience_category = NamedChoiceField(
        enum_name="EventCategoryEnum", choices=Member.Category.choices, required=False, allow_blank=True
    )
    audience_strand = NamedChoiceField(enum_name="EventStrandEnum", choices=STRANDS, required=False, allow_blank=True)


class StewardSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Steward
        fields = ["id", "event", "username", "named_at"]
        read_only_fields = fields


class StewardCreateSerializer(StrictInputMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)


class RegistrationSerializer(serializers.ModelSerializer):
    status = NamedChoiceField(enum_name="RegistrationStatusEnum", choices=Registration.Status.choices, read_only=True)
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    membership_number = serializers.CharField(source="member.membership_number", read_only=True)

    class Meta:
        model = Registration
        fields = [
            "id",
            "event",
            "member",
            "member_name",
            "membership_number",
            "status",
            "waiting_since",
            "attendance",
            "checked_in_at",
            "access_needs",
            "needs_childcare",
            "dietary_needs",
            "created_at",
            "cancelled_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "access_needs": {"help_text": "Only for the member and the event's organisers; absent otherwise."}
        }

    def to_representation(self, instance: Registration) -> dict[str, Any]:
        data = super().to_representation(instance)
        user = self.context["request"].user
        if instance.member_id != user.member_id and not can_manage_event(user, instance.event):
            data.pop("access_needs")
        return data


class RegistrationCreateSerializer(StrictInputMixin, serializers.Serializer):
    event = serializers.PrimaryKeyRelatedField(queryset=Event.objects.all())
    member = ScopedPrimaryKeyRelatedField(
        model=Member, scope=members_visible_to, required=False, help_text="Yourself if left out."
    )
    access_needs = serializers.CharField(
        max_length=services.MAX_ACCESS_NEEDS, required=False, allow_blank=True, default=""
    )
    needs_childcare = serializers.BooleanField(required=False, default=False)
    dietary_needs = serializers.CharField(max_length=services.MAX_DIETARY, required=False, allow_blank=True, default="")


class CheckInSerializer(StrictInputMixin, serializers.Serializer):
    code = serializers.CharField(max_length=64)


class CertificationSerializer(serializers.ModelSerializer):
    course_code = serializers.CharField(source="course.code", read_only=True)
    course_title = serializers.CharField(source="course.title", read_only=True)

    class Meta:
        model = Certification
        fields = ["id", "member", "course", "course_code", "course_title", "completed_on", "session"]
        read_only_fields = fields


class AmendmentSerializer(serializers.ModelSerializer):
    branch_name = serializers.CharField(source="branch.name", read_only=True)

    class Meta:
        model = Amendment
        fields = ["id", "motion", "branch", "branch_name", "text", "submitted_at"]
        read_only_fields = fields


class MotionSerializer(serializers.ModelSerializer):
    status = NamedChoiceField(enum_name="MotionStatusEnum", choices=Motion.Status.choices, read_only=True)
    branch_name = serializers.CharField(source="branch.name", read_only=True, default=None)
    amendments = AmendmentSerializer(many=True, read_only=True)

    class Meta:
        model = Motion
        fields = [
            "id",
            "event",
            "branch",
            "branch_name",
            "title",
            "text",
            "status",
            "composite",
            "agenda_position",
            "submitted_at",
            "amendments",
        ]
        read_only_fields = fields


class MotionCreateSerializer(StrictInputMixin, serializers.Serializer):
    event = serializers.PrimaryKeyRelatedField(queryset=Event.objects.all())
    branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all())
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=services.MAX_MOTION)


class AmendmentCreateSerializer(StrictInputMixin, serializers.Serializer):
    branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all())
    text = serializers.CharField(max_length=services.MAX_AMENDMENT)


class CompositeSerializer(StrictInputMixin, serializers.Serializer):
    event = serializers.PrimaryKeyRelatedField(queryset=Event.objects.all())
    motions = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=2, max_length=200)
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=services.MAX_MOTION)


class AgendaSerializer(StrictInputMixin, serializers.Serializer):
    event = serializers.PrimaryKeyRelatedField(queryset=Event.objects.all())
    motions = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=1000, help_text="Motion ids, first on the agenda first."
    )


class DeadlineSerializer(StrictInputMixin, serializers.Serializer):
    closes_at = serializers.DateTimeField(help_text="When motions close.")
    amendments_close_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="A later deadline for amendments, if any."
    )


class DelegateSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    membership_number = serializers.CharField(source="member.membership_number", read_only=True)
    branch_name = serializers.CharField(source="branch.name", read_only=True)

    class Meta:
        model = Delegate
        fields = [
            "id",
            "event",
            "branch",
            "branch_name",
            "member",
            "member_name",
            "membership_number",
            "named_at",
            "credential_checked_at",
        ]
        read_only_fields = fields


class DelegateCreateSerializer(StrictInputMixin, serializers.Serializer):
    event = serializers.PrimaryKeyRelatedField(queryset=Event.objects.all())
    branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all())
    membership_number = serializers.CharField(max_length=20)


class AllocationSerializer(serializers.ModelSerializer):
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    named = serializers.IntegerField(read_only=True)

    class Meta:
        model = DelegateAllocation
        fields = ["branch", "branch_name", "members", "delegates", "named"]
        read_only_fields = fields


class AllocateSerializer(StrictInputMixin, serializers.Serializer):
    members_per_delegate = serializers.IntegerField(min_value=1, max_value=100_000)
    minimum_per_branch = serializers.IntegerField(min_value=0, max_value=100_000, default=1)


class CallQuestionSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)

    class Meta:
        model = CallQuestion
        fields = ["id", "event", "member", "member_name", "text", "asked_at"]
        read_only_fields = fields


class CallQuestionCreateSerializer(StrictInputMixin, serializers.Serializer):
    event = serializers.PrimaryKeyRelatedField(queryset=Event.objects.all())
    text = serializers.CharField(max_length=services.MAX_QUESTION)


# --- Viewsets ---------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Upcoming events (filter with ?kind=)"),
    retrieve=extend_schema(summary="One event", responses={200: EventSerializer, **NOT_FOUND}),
)
class EventViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Events are not personal data: everyone signed in sees them. Organisers create them for their patch."""

    serializer_class = EventSerializer
    filterset_class = None
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Event]:
        events = selectors.events_visible_to(self.request.user).annotate(
            places_taken=Count("registrations", filter=Q(registrations__status=Registration.Status.REGISTERED))
        )
        if self.action == "list":
            events = selectors.upcoming_events_for(self.request.user, kind=self.request.query_params.get("kind", ""))
        return events.order_by("starts_at", "id")

    @extend_schema(
        summary="Create an event (or a weekly series)",
        request=EventCreateSerializer,
        responses={201: EventSerializer(many=True), **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = EventCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        details = dict(data.validated_data)
        weeks = details.pop("repeat_weeks", None)
        if weeks:
            events = services.create_weekly_events(actor=request.user, details=details, weeks=weeks)
        else:
            events = [services.create_event(actor=request.user, details=details)]
        fresh = self.get_queryset().filter(pk__in=[e.pk for e in events])
        return Response(EventSerializer(fresh, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Check a member in with their code",
        request=CheckInSerializer,
        responses={200: RegistrationSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, pk: str | None = None) -> Response:
        event = self.get_object()
        data = CheckInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration = services.check_in(
            actor=request.user, event=event, code=data.validated_data["code"], via=EqualitiesAccess.Via.API
        )
        return Response(RegistrationSerializer(registration, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Change an event's details (its organisers)",
        request=EventUpdateSerializer,
        responses={200: EventSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        event = self.get_object()
        if not can_manage_event(request.user, event):
            raise PermissionDenied("Only the event's organisers can change it.")
        data = EventUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        services.update_event(actor=request.user, event=event, changes=dict(data.validated_data))
        return Response(EventSerializer(self.get_queryset().get(pk=event.pk)).data)

    @extend_schema(
        summary="Stewards of the event (its organisers); POST names one by user name",
        request=StewardCreateSerializer,
        responses={200: StewardSerializer(many=True), 201: StewardSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["get", "post"])
    def stewards(self, request: Request, pk: str | None = None) -> Response:
        event = self.get_object()
        if not can_manage_event(request.user, event):
            raise PermissionDenied("Only the event's organisers manage its stewards.")
        if request.method == "GET":
            return Response(StewardSerializer(event.stewards.select_related("user"), many=True).data)
        data = StewardCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        steward = services.name_steward(actor=request.user, event=event, username=data.validated_data["username"])
        return Response(StewardSerializer(steward).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Set the motions deadline, and a later amendments deadline (the conference's organisers)",
        request=DeadlineSerializer,
        responses={200: EventSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="motions-deadline")
    def motions_deadline(self, request: Request, pk: str | None = None) -> Response:
        event = self.get_object()
        data = DeadlineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.set_motions_deadline(actor=request.user, event=event, **data.validated_data)
        return Response(EventSerializer(self.get_queryset().get(pk=event.pk)).data)

    @extend_schema(
        summary="Delegates per branch (everyone signed in); POST allocates them (the conference's organisers)",
        request=AllocateSerializer,
        responses={200: AllocationSerializer(many=True), **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["get", "post"], url_path="delegate-allocations")
    def delegate_allocations(self, request: Request, pk: str | None = None) -> Response:
        event = self.get_object()
        if request.method == "POST":
            data = AllocateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            services.allocate_delegates(actor=request.user, event=event, **data.validated_data)
        named = dict(event.delegates.order_by().values_list("branch_id").annotate(n=Count("pk")))
        rows = list(event.delegate_allocations.select_related("branch"))
        for row in rows:
            row.named = named.get(row.branch_id, 0)
        return Response(AllocationSerializer(rows, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="Registrations of members in your scope, and of the events you run"),
    retrieve=extend_schema(summary="One registration", responses={200: RegistrationSerializer, **NOT_FOUND}),
)
class RegistrationViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Members register themselves; reps and organisers register members they can see (events.services
    decides). So writes here are open to every signed-in user, unlike the member endpoints."""

    serializer_class = RegistrationSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Registration]:
        registrations = selectors.registrations_for(self.request.user)
        event = self.request.query_params.get("event", "")
        if event.isdigit():
            registrations = registrations.filter(event_id=int(event))
        return registrations.order_by("event__starts_at", "status", "waiting_since", "id")

    def _log_strand_reads(self, registrations: list[Registration]) -> None:
        """Registrations of strand events in an answer are reads of equalities answers: logged per event."""
        by_event: dict[int, tuple[Event, list[int]]] = {}
        for registration in registrations:
            if registration.event.is_for_strand:
                by_event.setdefault(registration.event_id, (registration.event, []))[1].append(registration.member_id)
        for event, member_ids in by_event.values():
            services.log_strand_list_read(
                reader=self.request.user, event=event, member_ids=member_ids, via=EqualitiesAccess.Via.API
            )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        self._log_strand_reads(rows)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        registration = self.get_object()
        self._log_strand_reads([registration])
        return Response(self.get_serializer(registration).data)

    @extend_schema(
        summary="Register (yourself, or a member you can see)",
        request=RegistrationCreateSerializer,
        responses={201: RegistrationSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RegistrationCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        details = dict(data.validated_data)
        member = details.pop("member", None) or request.user.member
        if member is None:
            raise PermissionDenied("You have no member record: name the member to register.")
        registration = services.register_for_event(actor=request.user, member=member, **details)
        return Response(
            RegistrationSerializer(registration, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Cancel a registration",
        request=None,
        responses={200: RegistrationSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        registration = services.cancel_registration(actor=request.user, registration=self.get_object())
        return Response(RegistrationSerializer(registration, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(summary="Training records (courses completed) of members in your scope"),
    retrieve=extend_schema(summary="One certification", responses={200: CertificationSerializer, **NOT_FOUND}),
)
class TrainingRecordViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CertificationSerializer

    def get_queryset(self) -> QuerySet[Certification]:
        records = Certification.objects.filter(member__in=members_visible_to(self.request.user)).select_related(
            "course"
        )
        member = self.request.query_params.get("member", "")
        if member.isdigit():
            records = records.filter(member_id=int(member))
        return records.order_by("member_id", "-completed_on", "id")


class TrainingGapsRowSerializer(serializers.Serializer):
    positions = serializers.IntegerField(help_text="Current rep positions held by members in scope.")
    gaps = serializers.IntegerField(help_text="Positions whose holder still needs a course the position requires.")
    trained_percent = serializers.IntegerField(help_text="Positions with all their training, as a percentage.")


class RegionTrainingSerializer(TrainingGapsRowSerializer):
    region = serializers.IntegerField(source="region.pk")
    region_name = serializers.CharField(source="region.name")


class BranchTrainingSerializer(RegionTrainingSerializer):
    branch = serializers.IntegerField(source="branch.pk")
    branch_name = serializers.CharField(source="branch.name")


class RepStillToTrainSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="position.member_id")
    name = serializers.CharField(source="position.member.full_name")
    position = serializers.CharField(source="position.get_kind_display")
    branch = serializers.IntegerField(source="position.member.branch_id")
    missing = serializers.ListField(child=serializers.CharField(), help_text="Titles of the courses still needed.")


class TrainingGapsSerializer(serializers.Serializer):
    regions = RegionTrainingSerializer(many=True)
    branches = BranchTrainingSerializer(many=True)
    gaps = RepStillToTrainSerializer(many=True)


class TrainingGapsView(QuorumAPIMixin, APIView):
    """Reps by training status: the same report as the training gaps page, in the caller's patch."""

    @extend_schema(
        summary="Reps by training status, by region and branch (national admins and organisers)",
        responses={200: TrainingGapsSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        if not can_view_training_gaps(request.user):
            raise PermissionDenied("Training gaps are for organisers and national admins.")
        return Response(TrainingGapsSerializer(selectors.training_gaps_for(request.user)).data)


# --- Conferences and member calls -------------------------------------------------------------------------
# Scoped like their pages: motions are read by every signed-in user; delegates by name only by the
# conference's organisers, the branch's organisers and secretary, and the delegate; questions by the call's
# organisers and the member who asked. Writes are open to every signed-in user because a branch secretary or
# a member may make them: events.services decides, and refuses with 403 or 400.


def _event_filter(queryset: QuerySet, request: Request) -> QuerySet:
    event = request.query_params.get("event", "")
    return queryset.filter(event_id=int(event)) if event.isdigit() else queryset


@extend_schema_view(
    list=extend_schema(summary="Conference motions with their amendments (filter with ?event=)"),
    retrieve=extend_schema(summary="One motion", responses={200: MotionSerializer, **NOT_FOUND}),
)
class MotionViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MotionSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Motion]:
        motions = _event_filter(selectors.motions_of_conferences(self.request.user), self.request)
        return motions.order_by("event_id", "agenda_position", "submitted_at", "id")

    def _motion(self, motion: Motion) -> Response:
        return Response(MotionSerializer(self.get_queryset().get(pk=motion.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Submit a motion for a branch you act for",
        request=MotionCreateSerializer,
        responses={201: MotionSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MotionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._motion(services.submit_motion(actor=request.user, **data.validated_data))

    @extend_schema(
        summary="Amend a motion for a branch you act for",
        request=AmendmentCreateSerializer,
        responses={201: AmendmentSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def amendments(self, request: Request, pk: str | None = None) -> Response:
        motion = self.get_object()
        data = AmendmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        amendment = services.submit_amendment(actor=request.user, motion=motion, **data.validated_data)
        return Response(AmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Composite motions (the conference's organisers)",
        request=CompositeSerializer,
        responses={201: MotionSerializer, **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["post"])
    def composite(self, request: Request) -> Response:
        data = CompositeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        composite = services.composite_motions(
            actor=request.user,
            event=values["event"],
            motion_ids=values["motions"],
            title=values["title"],
            text=values["text"],
        )
        return self._motion(composite)

    @extend_schema(
        summary="Order the agenda (the conference's organisers)",
        request=AgendaSerializer,
        responses={200: MotionSerializer(many=True), **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["post"])
    def agenda(self, request: Request) -> Response:
        data = AgendaSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.set_agenda(actor=request.user, event=values["event"], motion_ids=values["motions"])
        ordered = self.get_queryset().filter(event=values["event"], status=Motion.Status.SUBMITTED)
        return Response(MotionSerializer(ordered, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="Delegates by name that you may see (filter with ?event=)"),
    retrieve=extend_schema(summary="One delegate", responses={200: DelegateSerializer, **NOT_FOUND}),
)
class DelegateViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DelegateSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Delegate]:
        delegates = _event_filter(selectors.delegates_visible_to(self.request.user), self.request)
        return delegates.order_by("event_id", "branch__name", "named_at", "id")

    @extend_schema(
        summary="Name a delegate for a branch you act for, within its allocation",
        request=DelegateCreateSerializer,
        responses={201: DelegateSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = DelegateCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        delegate = services.name_delegate(actor=request.user, **data.validated_data)
        return Response(DelegateSerializer(delegate).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Questions for member calls: your own, and all for the calls you run"),
    retrieve=extend_schema(summary="One question", responses={200: CallQuestionSerializer, **NOT_FOUND}),
)
class CallQuestionViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CallQuestionSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[CallQuestion]:
        questions = _event_filter(selectors.questions_visible_to(self.request.user), self.request)
        return questions.order_by("event_id", "asked_at", "id")

    @extend_schema(
        summary="Send in a question for a member call you are registered for",
        request=CallQuestionCreateSerializer,
        responses={201: CallQuestionSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = CallQuestionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        question = services.ask_question(actor=request.user, **data.validated_data)
        return Response(CallQuestionSerializer(question).data, status=status.HTTP_201_CREATED)
