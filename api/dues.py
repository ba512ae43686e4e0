"""Dues in the API: subscription rates, a member's dues state, and payments. Thin, like api/views.py:
scope from crm.selectors, writes through crm.services.dues."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from crm.models import Member
from crm.models.dues import DuesAccount, DuesPayment, SubscriptionRate
from crm.selectors import dues as dues_selectors
from crm.selectors import members_visible_to
from crm.services import dues as dues_services

from .serializers import StrictInputMixin
from .views import ERROR_RESPONSES, NOT_FOUND, QuorumAPIMixin


class SubscriptionRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubscriptionRate
        fields = ["id", "category", "pay_band", "monthly_pence", "is_active", "stripe_price_id"]
        read_only_fields = fields


class SubscriptionRateWriteSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = frozenset({"id", "stripe_price_id"})

    category = serializers.ChoiceField(choices=Member.Category.choices)
    pay_band = serializers.CharField(max_length=60)
    monthly_pence = serializers.IntegerField(min_value=0, max_value=100_000)
    is_active = serializers.BooleanField(default=True)


class DuesStateSerializer(serializers.Serializer):
    """A member's dues: how they pay and whether they are in good standing (derived, never stored)."""

    member = serializers.IntegerField(source="pk")
    membership_number = serializers.CharField()
    status = serializers.CharField()
    has_arrears = serializers.BooleanField()
    is_in_good_standing = serializers.BooleanField()
    method = serializers.SerializerMethodField()
    rate = serializers.SerializerMethodField()
    arrears_since = serializers.SerializerMethodField()
    subscription_status = serializers.SerializerMethodField()
    mandate_status = serializers.SerializerMethodField()

    def _account(self, member: Member) -> DuesAccount | None:
        return getattr(member, "dues", None)  # a member who never had dues has no account

    def get_method(self, member: Member) -> str | None:
        account = self._account(member)
        return account.method if account else None

    def get_rate(self, member: Member) -> int | None:
        account = self._account(member)
        return account.rate_id if account else None

    def get_arrears_since(self, member: Member) -> str | None:
        account = self._account(member)
        return account.arrears_since.isoformat() if account and account.arrears_since else None

    def get_subscription_status(self, member: Member) -> str:
        account = self._account(member)
        return account.subscription_status if account else ""

    def get_mandate_status(self, member: Member) -> str:
        account = self._account(member)
        return account.mandate_status if account else ""


class DuesPaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = DuesPayment
        fields = ["id", "member", "stripe_invoice_id", "outcome", "amount_pence", "category", "attempts", "occurred_at"]
        read_only_fields = fields


class RatesWriteOnlyForNational(BasePermission):
    message = "Only national admins set subscription rates."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or dues_services.can_edit_rates(request.user)


@extend_schema_view(
    list=extend_schema(summary="Subscription rates"),
    retrieve=extend_schema(summary="One subscription rate", responses={200: SubscriptionRateSerializer, **NOT_FOUND}),
)
class SubscriptionRateViewSet(
    QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Monthly rates in pence by category and pay band. Anyone signed in reads; national admins write."""

    serializer_class = SubscriptionRateSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    permission_classes = [IsAuthenticated, RatesWriteOnlyForNational]

    def get_queryset(self) -> QuerySet[SubscriptionRate]:
        return SubscriptionRate.objects.order_by("category", "monthly_pence", "id")

    @extend_schema(
        summary="Add a rate",
        request=SubscriptionRateWriteSerializer,
        responses={201: SubscriptionRateSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = SubscriptionRateWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate = dues_services.save_rate(actor=request.user, **data.validated_data)
        return Response(SubscriptionRateSerializer(rate).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a rate",
        request=SubscriptionRateWriteSerializer,
        responses={200: SubscriptionRateSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rate = self.get_object()
        data = SubscriptionRateWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        given = {
            "category": rate.category,
            "pay_band": rate.pay_band,
            "monthly_pence": rate.monthly_pence,
            "is_active": rate.is_active,
            **data.validated_data,
        }
        rate = dues_services.save_rate(actor=request.user, rate=rate, **given)
        return Response(SubscriptionRateSerializer(rate).data)


@extend_schema_view(
    retrieve=extend_schema(
        summary="A member's dues state",
        description="By member id. 404 outside your scope; 403 for reps, who see standing but not dues.",
        responses={200: DuesStateSerializer, **NOT_FOUND},
    ),
)
class DuesStateViewSet(QuorumAPIMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DuesStateSerializer
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[Member]:
        return members_visible_to(self.request.user).select_related("dues")

    def get_object(self) -> Member:
        try:
            member = self.get_queryset().get(pk=self.kwargs["pk"])
        except Member.DoesNotExist as error:
            raise Http404 from error
        if not dues_selectors.can_view_dues_of(self.request.user, member):
            raise PermissionDenied("You cannot see this member's dues.")
        return member


@extend_schema_view(
    list=extend_schema(
        summary="Dues payments",
        description="Your own, or (organisers and national admins) those of members in your scope.",
        parameters=[OpenApiParameter("member", int, description="Only this member's payments.")],
    ),
    retrieve=extend_schema(summary="One payment", responses={200: DuesPaymentSerializer, **NOT_FOUND}),
)
class DuesPaymentViewSet(QuorumAPIMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = DuesPaymentSerializer

    def get_queryset(self) -> QuerySet[DuesPayment]:
        payments = dues_selectors.payments_visible_to(self.request.user).order_by("-occurred_at", "-id")
        member = self.request.query_params.get("member")
        if member is not None:
            if not member.isdigit():
                raise ValidationError({"member": ["A member id is a whole number."]})
            payments = payments.filter(member_id=int(member))
        return payments
