"""Outreach through the API: campaigns (create, edit, preview, schedule or send, cancel, progress) and their
messages. The same services as the pages; national admins and organisers only (reps and members get 403)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import StrictInputMixin
from api.views import QuorumAPIMixin
from crm.models import Campaign, Member, Message
from crm.services import outreach


class CanSendCampaigns(BasePermission):
    message = "Only national admins and organisers may use outreach."

    def has_permission(self, request, view) -> bool:
        return outreach.can_send_campaigns(request.user)


class CampaignSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "purpose",
            "audience_kind",
            "segment",
            "election",
            "event",
            "include_waiting_list",
            "subject",
            "body",
            "html_body",
            "sender_name",
            "is_urgent",
            "status",
            "scheduled_at",
            "recipients",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class CampaignInputSerializer(StrictInputMixin, serializers.Serializer):
    # Status, recipients, times and the author are set by the outreach services only: refused, never ignored.
    read_only_names = frozenset(CampaignSerializer.Meta.fields)

    name = serializers.CharField(max_length=120)
    channel = serializers.ChoiceField(choices=Campaign.Channel.choices)
    purpose = serializers.ChoiceField(choices=Campaign.Purpose.choices, default=Campaign.Purpose.NEWS)
    audience_kind = serializers.ChoiceField(
        choices=Campaign.AudienceKind.choices, required=False, default=Campaign.AudienceKind.SEGMENT
    )
    segment = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    election = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    event = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    include_waiting_list = serializers.BooleanField(required=False, default=False)
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=20_000)
    html_body = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    sender_name = serializers.CharField(max_length=11, required=False, allow_blank=True, default="")
    is_urgent = serializers.BooleanField(required=False, default=False)

    # Each reference becomes the object the service checks; one outside the caller's reach reads as missing.
    def validate_segment(self, value: int | None):
        if value is None:
            return None
        segment = outreach.segments_usable_by(self.context["request"].user).filter(pk=value).first()
        if segment is None:
            raise serializers.ValidationError("Choose one of your segments or a shared one.")
        return segment

    def validate_election(self, value: int | None):
        if value is None:
            return None
        election = outreach.elections_usable_by(self.context["request"].user).filter(pk=value).first()
        if election is None:
            raise serializers.ValidationError("Choose an election that is open for voting.")
        return election

    def validate_event(self, value: int | None):
        if value is None:
            return None
        event = outreach.events_usable_by(self.context["request"].user).filter(pk=value).first()
        if event is None:
            raise serializers.ValidationError("Choose an event that has not long ended.")
        return event


class ScheduleSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = frozenset(CampaignSerializer.Meta.fields)

    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        # Never a body: a confidential one (a voting credential) must not leave the pipeline but to its member.
        fields = ["id", "key", "campaign", "member", "channel", "basis", "to", "status", "reason", "attempts"]
        fields += ["confidential", "created_at", "sent_at"]
        read_only_fields = fields


class CampaignViewSet(
    QuorumAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns the caller wrote (national admins: all). Out of scope answers 404."""

    serializer_class = CampaignSerializer
    permission_classes = [IsAuthenticated, CanSendCampaigns]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Campaign]:
        return outreach.campaigns_visible_to(self.request.user).order_by("-created_at", "-id")

    def _respond(self, campaign: Campaign, status_code: int = 200) -> Response:
        return Response(CampaignSerializer(campaign).data, status=status_code)

    @extend_schema(request=CampaignInputSerializer, responses={201: CampaignSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = CampaignInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        return self._respond(outreach.create_campaign(actor=request.user, details=dict(data.validated_data)), 201)

    @extend_schema(request=CampaignInputSerializer, responses={200: CampaignSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        data = CampaignInputSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        given = {name: value for name, value in data.validated_data.items() if name in request.data}
        return self._respond(outreach.update_campaign(actor=request.user, campaign=campaign, details=given))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)

    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """The message as a sample member gets it (`?member=<id>`, else the first of the audience), the
        recipient counts after consent and opt-outs, and for texts the character set, parts and cost."""
        campaign = self.get_object()
        member = None
        raw = request.query_params.get("member", "")
        if raw:
            if not raw.isdigit() or len(raw) > 12:
                raise serializers.ValidationError({"member": ["A member id is a whole number."]})
            member = Member.objects.filter(pk=int(raw)).first()
            if member is None:
                raise serializers.ValidationError({"member": ["That member is not in this campaign's audience."]})
        preview = outreach.preview_campaign(actor=request.user, campaign=campaign, member=member)
        counts = outreach.count_recipients(actor=request.user, campaign=campaign)
        body = {
            "member": preview.member.pk if preview.member else None,
            "subject": preview.subject,
            "body": preview.body,
            "html_body": preview.html_body,
            "recipients": counts,
        }
        if preview.sms:
            body["sms"] = {
                "encoding": preview.sms.encoding,
                "characters": preview.sms.units,
                "segments": preview.sms.segments,
                "estimated_cost_pence": outreach.estimated_cost_pence(preview.sms.segments, counts["sendable"]),
            }
        return Response(body)

    @extend_schema(request=ScheduleSerializer, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        """Send at `scheduled_at`, or now when it is absent or null."""
        campaign = self.get_object()
        data = ScheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at = data.validated_data["scheduled_at"]
        return self._respond(outreach.schedule_campaign(actor=request.user, campaign=campaign, at=at))

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._respond(outreach.cancel_campaign(actor=request.user, campaign=self.get_object()))

    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        """Messages by state: queued, sending, sent, delivered, failed, opted_out, suppressed, cancelled..."""
        campaign = self.get_object()
        return Response({"status": campaign.status, "messages": outreach.campaign_progress(campaign)})


class MessageViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Messages of the campaigns the caller may see; `?campaign=<id>` and `?status=` narrow the list."""

    serializer_class = MessageSerializer
    permission_classes = [IsAuthenticated, CanSendCampaigns]
    filterset_fields = ["campaign", "status", "channel"]

    def get_queryset(self) -> QuerySet[Message]:
        campaigns = outreach.campaigns_visible_to(self.request.user)
        return Message.objects.filter(campaign__in=campaigns).order_by("-id")
