"""The API for CSV imports and member exports: serializers and views, calling crm's import services.

POST /imports/ (multipart: the file, its source, optionally a mapping and a kind, members or workplaces)
uploads and checks a file and answers with the dry-run report; POST /imports/{id}/confirm/ queues the import;
GET /imports/{id}/ shows its status and progress; GET /imports/{id}/report/ is the whole report as CSV.
GET /members/export/ streams the members matching the member list's filters as CSV.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors
from crm.filters import MemberFilter
from crm.models import ImportJob, ImportRow
from crm.permissions import can_export_members, can_import_members
from crm.selectors import imports as import_selectors
from crm.selectors import workplace_imports as workplace_import_selectors
from crm.services import import_kinds
from crm.services import imports as import_services
from crm.views.imports import export_response

from .fields import NamedChoiceField
from .parsers import BoundedJSONParser
from .serializers import StrictInputMixin
from .views import ERROR_RESPONSES, NOT_FOUND, QuorumAPIMixin

REPORT_ROWS_SHOWN = 500


class CSVRenderer(BaseRenderer):
    """Lets a client ask for text/csv; the CSV itself is streamed by the view, errors come back as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        return json.dumps(data).encode()


class ImportRowSerializer(serializers.ModelSerializer):
    outcome = NamedChoiceField(enum_name="ImportOutcomeEnum", choices=ImportRow.Outcome.choices, read_only=True)
    problems = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        read_only=True,
        help_text="[column, reason] pairs; empty unless the row is rejected or repeats an earlier row.",
    )
    changed = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ImportRow
        fields = [
            "number",
            "line",
            "outcome",
            "membership_number",
            "name",
            "member",
            "workplace",
            "changed",
            "problems",
        ]
        read_only_fields = fields


class ImportJobSerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(enum_name="ImportKindEnum", choices=ImportJob.Kind.choices, read_only=True)
    source = serializers.CharField(source="source.name", read_only=True)
    status = NamedChoiceField(enum_name="ImportStatusEnum", choices=ImportJob.Status.choices, read_only=True)
    mapping = serializers.DictField(child=serializers.CharField(), read_only=True)
    headers = serializers.ListField(child=serializers.CharField(), read_only=True)
    percent_done = serializers.IntegerField(read_only=True)
    report = serializers.SerializerMethodField(
        help_text=f"The first {REPORT_ROWS_SHOWN} rows that were rejected or repeat an earlier row; "
        "`report_csv` has every row."
    )
    report_csv = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "source",
            "filename",
            "status",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "total_rows",
            "rows_done",
            "percent_done",
            "created_count",
            "updated_count",
            "unchanged_count",
            "duplicate_count",
            "rejected_count",
            "error",
            "created_at",
            "checked_at",
            "confirmed_at",
            "finished_at",
            "report",
            "report_csv",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportRowSerializer(many=True))
    def get_report(self, job: ImportJob) -> list[dict]:
        rows = job.rows.exclude(outcome__in=[ImportRow.Outcome.CREATED, ImportRow.Outcome.UPDATED, "unchanged"])
        return ImportRowSerializer(rows.order_by("number")[:REPORT_ROWS_SHOWN], many=True).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_report_csv(self, job: ImportJob) -> str:
        path = reverse("api:import-report", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ImportCreateSerializer(StrictInputMixin, serializers.Serializer):
    # A job's status, counts, report and times come from the import services only: refused, never ignored.
    read_only_names = frozenset(ImportJobSerializer.Meta.fields)

    kind = serializers.ChoiceField(
        choices=ImportJob.Kind.choices,
        default=ImportJob.Kind.MEMBERS,
        help_text="What the file lists: members (the default) or workplaces (matched by name within branch).",
    )

    file = serializers.FileField(
        help_text=f"A CSV file with a heading row, up to {import_services.MAX_FILE_BYTES // 1024 // 1024} MB."
    )
    source = serializers.CharField(max_length=100, help_text="Where the file comes from; its mapping is remembered.")
    mapping = serializers.JSONField(
        required=False,
        binary=True,
        help_text='Column heading -> field, as JSON: {"Surname": "last_name", ...} (workplaces: name, branch, '
        "employer, sector, eligible_staff, postcode). Without it, the mapping remembered for the source and kind "
        "(or guessed from the headings) is used.",
    )


@extend_schema_view(
    list=extend_schema(summary="Your imports"),
    retrieve=extend_schema(
        summary="An import's status, progress and report", responses={200: ImportJobSerializer, **NOT_FOUND}
    ),
)
class ImportJobViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """CSV imports of members or workplaces. National admins and organisers only; each sees their own (national
    admins all)."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, BoundedJSONParser]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[ImportJob]:
        return import_selectors.import_jobs_for(self.request.user)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not can_import_members(request.user):
            raise PermissionDenied("Only national admins and organisers import members.")

    @extend_schema(
        summary="Upload a CSV file and check it (dry run)",
        request={"multipart/form-data": ImportCreateSerializer},
        responses={201: ImportJobSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        services = import_kinds.services_for(data.validated_data["kind"])
        with transaction.atomic():  # a mapping that cannot be used leaves no job behind
            job = services.start_import(
                actor=request.user, source_name=data.validated_data["source"], filename=upload.name, upload=upload
            )
            mapping = data.validated_data.get("mapping")
            job = services.check_import(actor=request.user, job=job, mapping=mapping)
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Confirm a checked import: its valid rows are imported in the background",
        request=None,
        responses={202: ImportJobSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        job = import_kinds.services_for(job.kind).confirm_import(actor=request.user, job=job)
        job = self.get_queryset().get(pk=job.pk)
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The import's report as CSV: row, line, outcome, membership number (members), name, column, reason",
        responses={(200, "text/csv"): OpenApiTypes.STR, **NOT_FOUND},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer])
    def report(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        job = self.get_object()
        response = StreamingHttpResponse(
            workplace_import_selectors.report_lines_for(job), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
        return response


class MemberExportView(QuorumAPIMixin, generics.GenericAPIView):
    """The members matching the member list's filters, within your scope, as CSV (streamed; audited)."""

    filterset_class = MemberFilter
    renderer_classes = [JSONRenderer, CSVRenderer]

    def get_queryset(self) -> QuerySet:
        return selectors.member_list_for(self.request.user)

    @extend_schema(
        summary="Export members as CSV",
        filters=True,
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(description="A filter value is invalid or outside your scope."),
            403: OpenApiResponse(description="Members and scrutineers cannot export."),
            # DRF answers an unknown `?format=` (anything but csv or json) with 404 before the view runs.
            404: OpenApiResponse(description="`format` names a format this endpoint does not offer."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        if not can_export_members(request.user):
            raise PermissionDenied("You cannot export member lists.")
        member_filter = MemberFilter(request.query_params, queryset=self.get_queryset(), request=request)
        if not member_filter.is_valid():
            raise serializers.ValidationError(member_filter.errors)
        return export_response(request.user, member_filter)
