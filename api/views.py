"""Viewsets for /api/v1/. Thin: a scope selector for every queryset, an input serializer for every write,
then one service call. Objects outside the caller's scope are simply not in the queryset, so they answer
404 exactly like ids that do not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from crm import selectors, services
from crm.errors import NotPermitted, ServiceError
from crm.filters import MemberFilter
from crm.models import Member, Position
from crm.permissions import can_manage_member, must_use_two_factor
from crm.services.accounts import match_second_factor

from .authentication import VerifiedSessionAuthentication
from .filters import PositionFilter
from .parsers import BoundedJSONParser
from .permissions import StaffRoleForWrites
from .serializers import (
    BranchSerializer,
    EmployerSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    PositionCreateSerializer,
    PositionEndSerializer,
    PositionSerializer,
    RegionSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    WorkplaceSerializer,
)
from .throttling import TokenLoginThrottle

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: `{field: [messages]}` or `{non_field_errors: [messages]}`."),
    403: OpenApiResponse(description="You can see this but may not change it, or you may not write at all."),
}
NOT_FOUND = {404: OpenApiResponse(description="No such object, or not in your scope (the two look the same).")}


class QuorumAPIMixin:
    """What every endpoint shares: token first (so a missing login answers 401 with `WWW-Authenticate: Token`),
    then the session; bounded JSON bodies; numeric ids; and domain errors from crm.services mapped to HTTP."""

    authentication_classes = [TokenAuthentication, VerifiedSessionAuthentication]
    permission_classes = [IsAuthenticated, StaffRoleForWrites]
    parser_classes = [BoundedJSONParser]
    lookup_value_regex = r"[0-9]+"

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NotPermitted):
            exc = PermissionDenied(exc.message)
        elif isinstance(exc, ServiceError):
            exc = ValidationError({exc.field or api_settings.NON_FIELD_ERRORS_KEY: [exc.message]})
        return super().handle_exception(exc)  # type: ignore[misc]


# --- Structure: read-only, scoped -------------------------------------------------------------------------


class RegionViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Regions the caller works in: all for national staff; those holding their branches for others."""

    serializer_class = RegionSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.regions_visible_to(self.request.user).order_by("name")


class BranchViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Branches in the caller's scope."""

    serializer_class = BranchSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.branches_visible_to(self.request.user).order_by("name", "id")


class EmployerViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Employers: public bodies, listed in full for union staff and for nobody else."""

    serializer_class = EmployerSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.employers_visible_to(self.request.user).order_by("name")


class WorkplaceViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Workplaces in the caller's scope, with their active members and density."""

    serializer_class = WorkplaceSerializer

    def get_queryset(self) -> QuerySet:
        return selectors.workplaces_with_density(self.request.user).order_by("name", "id")


# --- Members ----------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Members in your scope", description="Filter with the query parameters below."),
    retrieve=extend_schema(summary="One member", responses={200: MemberSerializer, **NOT_FOUND}),
)
class MemberViewSet(
    QuorumAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Members in the caller's scope. No DELETE: a member leaves by a change of status."""

    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Member]:
        return selectors.member_list_for(self.request.user).select_related("employer").prefetch_related("tags")

    def _member_response(self, member: Member, status_code: int) -> Response:
        member = self.get_queryset().get(pk=member.pk)  # fresh, with the joins the representation needs
        return Response(MemberSerializer(member, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(
        summary="Add a member",
        request=MemberCreateSerializer,
        responses={201: MemberSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MemberCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        details = dict(data.validated_data)
        membership_number = details.pop("membership_number", "")
        member = services.create_member(actor=request.user, details=details, membership_number=membership_number)
        return self._member_response(member, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change some of a member's details",
        request=MemberUpdateSerializer,
        responses={200: MemberSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        member = self.get_object()
        if not can_manage_member(request.user, member):
            raise PermissionDenied("You cannot change this member.")
        data = MemberUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        member = services.update_member(actor=request.user, member=member, details=dict(data.validated_data))
        return self._member_response(member, status.HTTP_200_OK)


# --- Positions --------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Positions held by members in your scope"),
    retrieve=extend_schema(summary="One position", responses={200: PositionSerializer, **NOT_FOUND}),
)
class PositionViewSet(
    QuorumAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Positions of members in the caller's scope. Once created, only the end date can change."""

    serializer_class = PositionSerializer
    filterset_class = PositionFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Position]:
        return selectors.positions_visible_to(self.request.user).order_by("-started_on", "id")

    def _position_response(self, position: Position, status_code: int) -> Response:
        position = self.get_queryset().get(pk=position.pk)
        return Response(PositionSerializer(position, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(
        summary="Give a member a position",
        request=PositionCreateSerializer,
        responses={201: PositionSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PositionCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        position = services.add_position(actor=request.user, **data.validated_data)
        return self._position_response(position, status.HTTP_201_CREATED)

    @extend_schema(
        summary="End a position",
        request=PositionEndSerializer,
        responses={200: PositionSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        position = self.get_object()
        if not can_manage_member(request.user, position.member):
            raise PermissionDenied("You cannot change this member.")
        data = PositionEndSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        position = services.end_position(actor=request.user, position=position, **data.validated_data)
        return self._position_response(position, status.HTTP_200_OK)


# --- Auth -------------------------------------------------------------------------------------------------


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password (and, for staff, a two-factor code) for an API token.

    The same token each time until it is revoked. Staff must send `otp_token` (the code from their app, or
    a recovery code) while two-factor sign-in is on, so a token is never weaker than a page sign-in.
    """

    authentication_classes: list = []  # a password login: no session, so no CSRF check
    parser_classes = [BoundedJSONParser, FormParser]
    throttle_classes = [TokenLoginThrottle]
    serializer_class = TokenRequestSerializer

    @extend_schema(
        summary="Obtain an API token",
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                description="Wrong username, password or two-factor code, or the account is inactive."
            ),
            429: OpenApiResponse(description="Too many attempts; try again later."),
        },
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if must_use_two_factor(user):
            code = serializer.validated_data.get("otp_token", "")
            if not code or match_second_factor(user=user, code=code) is None:
                raise ValidationError({"otp_token": ["Staff need a current two-factor code (or a recovery code)."]})
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# --- Docs -------------------------------------------------------------------------------------------------


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI served from our own static files (the sidecar), with nothing fetched from elsewhere.

    The split view serves its start-up script as a separate file (`?script`), so the page runs under our
    content security policy with no inline script.

    Swagger UI's default "online validator" badge is an image from validator.swagger.io that would also send
    it our schema's address, so it is switched off here.
    """

    url_name = "api:schema"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        ui_settings = spectacular_settings.SWAGGER_UI_SETTINGS
        # A string setting is raw JavaScript, left as the project wrote it.
        if "script" in request.GET and isinstance(ui_settings, dict):
            response.data["settings"] = self._dump({**ui_settings, "validatorUrl": None})
        return response
