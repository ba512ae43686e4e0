"""/api/v1/elections/: set-up, roll counts, turnout and results. Never ballots, and no results before the close.

Scoped like the pages: organisers see elections held by the whole union or touching their patch and manage
those their patch holds; national admins all; scrutineers read all (and certify on the pages); reps see
turnout for their workplaces; members see none here (their ballots are on the member pages).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from crm.models import Branch, Member, Region
from crm.models.equalities import STRANDS
from crm.selectors import branches_visible_to, members_visible_to, regions_visible_to
from crm.selectors.equalities import SMALL
from elections import selectors
from elections.ballot_views import _may_see_results, results_context
from elections.models import Election, Method, Rule
from elections.permissions import can_manage_election, can_scrutinise, can_see_turnout
from elections.services import closing, nominations, setup

from .fields import NamedChoiceField, ScopedPrimaryKeyRelatedField
from .serializers import StrictInputMixin
from .views import ERROR_RESPONSES, NOT_FOUND, QuorumAPIMixin


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ballot_position = serializers.IntegerField()
    is_in_reserved_group = serializers.BooleanField()
    is_withdrawn = serializers.SerializerMethodField()

    def get_is_withdrawn(self, candidate: Any) -> bool:
        return candidate.withdrawn_at is not None


class QuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    options = serializers.ListField(child=serializers.CharField())


class ElectionSerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(enum_name="ElectionKindEnum", choices=Election.Kind.choices)
    method = NamedChoiceField(enum_name="ElectionMethodEnum", choices=Method.choices, allow_blank=True)
    rule = NamedChoiceField(enum_name="ElectionRuleEnum", choices=Rule.choices, allow_blank=True)
    status = NamedChoiceField(enum_name="ElectionStatusEnum", choices=Election.Status.choices, read_only=True)
    electorate = NamedChoiceField(enum_name="ElectorateRuleEnum", choices=Election.Electorate.choices)
    ballot_order = NamedChoiceField(enum_name="BallotOrderEnum", choices=Election.BallotOrder.choices)
    candidates = CandidateSerializer(many=True, read_only=True)
    questions = QuestionSerializer(many=True, read_only=True)
    seed = serializers.SerializerMethodField(help_text="Published when voting opens.")

    class Meta:
        model = Election
        fields = [
            "id",
            "title",
            "kind",
            "method",
            "rule",
            "seats",
            "max_choices",
            "reserved_seats",
            "reserved_label",
            "reserved_strand",
            "region",
            "branch",
            "nominations_open_at",
            "nominations_close_at",
            "voting_opens_at",
            "voting_closes_at",
            "opens_on_time",
            "statement_word_limit",
            "ballot_order",
            "electorate",
            "electorate_values",
            "requires_good_standing",
            "cut_off_on",
            "is_industrial_action",
            "important_public_services",
            "turnout_threshold",
            "electorate_support_threshold",
            "votes_support_threshold",
            "status",
            "seed",
            "closed_at",
            "ballots_sha256",
            "roll_sha256",
            "results_published_at",
            "candidates",
            "questions",
        ]
        read_only_fields = fields

    def get_seed(self, election: Election) -> str:
        return "" if election.status == Election.Status.DRAFT else election.seed


class ElectionWriteSerializer(StrictInputMixin, serializers.Serializer):
    """The shape of a set-up write; the service decides whether it makes sense and who may make it."""

    read_only_names = frozenset(
        {"id", "status", "seed", "closed_at", "ballots_sha256", "roll_sha256", "results_published_at", "candidates"}
        | {"questions"}
    )
    title = serializers.CharField(max_length=200)
    kind = NamedChoiceField(enum_name="ElectionKindEnum", choices=Election.Kind.choices)
    method = NamedChoiceField(enum_name="ElectionMethodEnum", choices=Method.choices, required=False, allow_blank=True)
    rule = NamedChoiceField(enum_name="ElectionRuleEnum", choices=Rule.choices, required=False, allow_blank=True)
    seats = serializers.IntegerField(min_value=1, max_value=100, required=False)
    max_choices = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    reserved_seats = serializers.IntegerField(min_value=0, max_value=100, required=False)
    reserved_label = serializers.CharField(max_length=100, required=False, allow_blank=True)
    reserved_strand = NamedChoiceField(
        enum_name="ReservedStrandEnum",
        choices=STRANDS,
        required=False,
        allow_blank=True,
        help_text="Reserved seats for a strand's members: each candidate counts themselves in, from their own answers.",
    )
    region = ScopedPrimaryKeyRelatedField(model=Region, scope=regions_visible_to, required=False, allow_null=True)
    branch = ScopedPrimaryKeyRelatedField(model=Branch, scope=branches_visible_to, required=False, allow_null=True)
    nominations_open_at = serializers.DateTimeField(required=False, allow_null=True)
    nominations_close_at = serializers.DateTimeField(required=False, allow_null=True)
    voting_opens_at = serializers.DateTimeField()
    voting_closes_at = serializers.DateTimeField()
    opens_on_time = serializers.BooleanField(required=False)
    statement_word_limit = serializers.IntegerField(min_value=1, max_value=5000, required=False)
    ballot_order = NamedChoiceField(enum_name="BallotOrderEnum", choices=Election.BallotOrder.choices, required=False)
    electorate = NamedChoiceField(enum_name="ElectorateRuleEnum", choices=Election.Electorate.choices, required=False)
    electorate_values = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=500, required=False
    )
    requires_good_standing = serializers.BooleanField(required=False)
    cut_off_on = serializers.DateField(required=False, allow_null=True)
    is_industrial_action = serializers.BooleanField(required=False)
    important_public_services = serializers.BooleanField(required=False)
    turnout_threshold = serializers.CharField(max_length=10, required=False, allow_blank=True)
    electorate_support_threshold = serializers.CharField(max_length=10, required=False, allow_blank=True)
    votes_support_threshold = serializers.CharField(max_length=10, required=False, allow_blank=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        rule = data.get("electorate")
        values = data.get("electorate_values")
        if values is not None and rule in ("region", "branch", "workplace"):
            if not all(value.isdigit() for value in values):
                raise serializers.ValidationError(
                    {"electorate_values": ["Give ids for regions, branches, workplaces."]}
                )
            data["electorate_values"] = [int(value) for value in values]
        return data


class CandidateWriteSerializer(StrictInputMixin, serializers.Serializer):
    member = ScopedPrimaryKeyRelatedField(model=Member, scope=members_visible_to)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    statement = serializers.CharField(max_length=40000, required=False, allow_blank=True)
    is_in_reserved_group = serializers.BooleanField(required=False, default=False)
    has_consented = serializers.BooleanField()


class QuestionWriteSerializer(StrictInputMixin, serializers.Serializer):
    text = serializers.CharField(max_length=500)
    options = serializers.ListField(child=serializers.CharField(max_length=200), min_length=2, max_length=20)


class NoInputSerializer(StrictInputMixin, serializers.Serializer):
    """A step that takes nothing: any field sent is refused, so nobody thinks it did something."""


class BranchNominationWriteSerializer(StrictInputMixin, serializers.Serializer):
    """As on the page: the nominee by membership number (a branch may nominate a member of another branch)."""

    branch = ScopedPrimaryKeyRelatedField(model=Branch, scope=branches_visible_to)
    membership_number = serializers.CharField(max_length=20)

    def validate_membership_number(self, value: str) -> Member:
        member = Member.objects.filter(membership_number__iexact=value.strip()).first()
        if member is None:
            raise serializers.ValidationError("No member has that number.")
        return member


NOMINATIONS = inline_serializer(
    "Nominee",
    {
        "nominee": serializers.CharField(),
        "nominations": serializers.IntegerField(),
        "is_enough": serializers.BooleanField(),
        "is_standing": serializers.BooleanField(),
    },
    many=True,
)


TURNOUT_ROW = inline_serializer(
    "TurnoutRow",
    {
        "id": serializers.IntegerField(allow_null=True),
        "name": serializers.CharField(),
        "on_roll": serializers.IntegerField(allow_null=True, help_text="Null where suppressed (strand rolls)."),
        "voted": serializers.IntegerField(allow_null=True, help_text="Null where suppressed (strand rolls)."),
        "on_roll_shown": serializers.CharField(help_text='The figure, "<5" or "hidden".'),
        "voted_shown": serializers.CharField(help_text='The figure, "<5" or "hidden".'),
        "percent": serializers.FloatField(allow_null=True),
    },
)
TURNOUT = inline_serializer(
    "Turnout",
    {
        "by": serializers.CharField(),
        "on_roll": serializers.IntegerField(allow_null=True),
        "voted": serializers.IntegerField(allow_null=True),
        "is_suppressed": serializers.BooleanField(),
        "percent": serializers.FloatField(allow_null=True),
        "rows": TURNOUT_ROW,
    },
)
ROLL = inline_serializer(
    "RollCounts",
    {
        "is_frozen": serializers.BooleanField(),
        "total": serializers.IntegerField(allow_null=True, help_text="Null when a strand's roll has under 5."),
        "by_branch": inline_serializer(
            "RollBranchCount",
            {
                "branch": serializers.IntegerField(),
                "name": serializers.CharField(),
                "members": serializers.IntegerField(allow_null=True, help_text="Null where suppressed."),
                "shown": serializers.CharField(help_text='The figure, "<5" or "hidden".'),
            },
            many=True,
        ),
        "late_additions": serializers.IntegerField(),
        "credentials_sent": serializers.IntegerField(
            allow_null=True, help_text="Null for a strand roll under 5 (it would give the roll's size)."
        ),
    },
)
RESULTS = inline_serializer(
    "ElectionResults",
    {
        "electorate": serializers.IntegerField(allow_null=True, help_text="Null when suppressed (strand, under 5)."),
        "ballots_cast": serializers.IntegerField(allow_null=True, help_text="Null when suppressed (strand, under 5)."),
        "electorate_shown": serializers.CharField(help_text='The figure, or "<5" for a strand election.'),
        "ballots_cast_shown": serializers.CharField(help_text='The figure, or "<5" for a strand election.'),
        "turnout_percent": serializers.FloatField(allow_null=True),
        "is_suppressed": serializers.BooleanField(),
        "ballots_sha256": serializers.CharField(),
        "is_published": serializers.BooleanField(),
        "count": serializers.JSONField(allow_null=True, help_text="The count, every stage (contests)."),
        "questions": serializers.JSONField(allow_null=True, help_text="Each question's result (ballots)."),
    },
)


@extend_schema_view(
    list=extend_schema(summary="Elections you can see"),
    retrieve=extend_schema(summary="One election", responses={200: ElectionSerializer, **NOT_FOUND}),
)
class ElectionViewSet(QuorumAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ElectionSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = None

    def get_queryset(self) -> QuerySet[Election]:
        return selectors.elections_for(self.request.user).prefetch_related("candidates", "questions")

    def _response(self, election: Election, status_code: int) -> Response:
        return Response(
            ElectionSerializer(self.get_queryset().get(pk=election.pk), context=self.get_serializer_context()).data,
            status=status_code,
        )

    @extend_schema(
        summary="Set up an election",
        request=ElectionWriteSerializer,
        responses={201: ElectionSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ElectionWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        election = setup.create_election(actor=request.user, details=dict(data.validated_data))
        return self._response(election, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an election being set up",
        request=ElectionWriteSerializer,
        responses={200: ElectionSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        election = self.get_object()
        if not can_manage_election(request.user, election):
            raise PermissionDenied("You cannot change this election.")
        data = ElectionWriteSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        election = setup.update_election(actor=request.user, election=election, details=dict(data.validated_data))
        return self._response(election, status.HTTP_200_OK)

    @extend_schema(
        summary="Add a candidate (elections whose organisers add candidates)",
        request=CandidateWriteSerializer,
        responses={201: CandidateSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def candidates(self, request: Request, pk: str | None = None) -> Response:
        election = self.get_object()
        data = CandidateWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        candidate = setup.add_candidate(actor=request.user, election=election, **data.validated_data)
        return Response(CandidateSerializer(candidate).data, status=status.HTTP_201_CREATED)

    def _step(self, request: Request, run: Any) -> Response:
        election = self.get_object()
        NoInputSerializer(data=request.data or {}).is_valid(raise_exception=True)
        return self._response(run(election), status.HTTP_200_OK)

    @extend_schema(
        summary="Open voting: freeze the roll and send credentials (from the opening time; the same checks as the "
        "page)",
        request=None,
        responses={200: ElectionSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="open")
    def open_voting(self, request: Request, pk: str | None = None) -> Response:
        def run(election: Election) -> Election:
            setup.open_voting(actor=request.user, election=election)
            return election

        return self._step(request, run)

    @extend_schema(
        summary="Close voting, seal and count (after the closing time)",
        request=None,
        responses={200: ElectionSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, lambda election: closing.close_election(actor=request.user, election=election))

    @extend_schema(
        summary="Publish certified results",
        request=None,
        responses={200: ElectionSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        return self._step(request, lambda election: closing.publish_results(actor=request.user, election=election))

    @extend_schema(
        methods=["GET"],
        summary="Nominees and their nominations (organisers managing the election, scrutineers)",
        responses={200: NOMINATIONS, **NOT_FOUND},
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a branch's nomination (an organiser for that branch), within the nomination window",
        request=BranchNominationWriteSerializer,
        responses={201: NOMINATIONS, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["get", "post"])
    def nominations(self, request: Request, pk: str | None = None) -> Response:
        election = self.get_object()
        if request.method == "POST":
            data = BranchNominationWriteSerializer(data=request.data, context=self.get_serializer_context())
            data.is_valid(raise_exception=True)
            nominations.nominate_by_branch(
                actor=request.user,
                election=election,
                branch=data.validated_data["branch"],
                nominee=data.validated_data["membership_number"],
            )
            return Response(selectors.nominations_of(election), status=status.HTTP_201_CREATED)
        if not (can_manage_election(request.user, election) or can_scrutinise(request.user)):
            raise PermissionDenied("Nominations are for the election's organisers and scrutineers.")
        return Response(selectors.nominations_of(election))

    @extend_schema(
        summary="Add a question (ballots on questions)",
        request=QuestionWriteSerializer,
        responses={201: QuestionSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def questions(self, request: Request, pk: str | None = None) -> Response:
        election = self.get_object()
        data = QuestionWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        question = setup.add_question(actor=request.user, election=election, **data.validated_data)
        return Response(QuestionSerializer(question).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Roll counts: the electorate by branch (a preview until voting opens)",
        responses={200: ROLL, **NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def roll(self, request: Request, pk: str | None = None) -> Response:
        election = self.get_object()
        if not (can_manage_election(request.user, election) or can_scrutinise(request.user)):
            raise PermissionDenied("Roll counts are for the election's organisers and scrutineers.")
        if election.status == Election.Status.DRAFT:
            preview = selectors.electorate_preview(election)
            rows = [
                {
                    "branch": r["branch_id"],
                    "name": r["branch__name"],
                    "members": r["members"],
                    "shown": r["members_shown"],
                }
                for r in preview["branches"]
            ]
            return Response(
                {
                    "is_frozen": False,
                    "total": preview["total"],
                    "by_branch": rows,
                    "late_additions": 0,
                    "credentials_sent": 0,
                }
            )
        entries = election.roll.entries
        by_branch = selectors.turnout(request.user, election, by="branch")["rows"]
        total = entries.count()
        sent: int | None = entries.filter(credential_hash__isnull=False).count()
        if election.electorate == Election.Electorate.STRAND and total < SMALL:
            # A strand's roll: small numbers are not shown (see "Strand elections" in the README), nor the
            # number of credentials sent, which is the roll's size once they are all out.
            total = sent = None
        return Response(
            {
                "is_frozen": True,
                "total": total,
                "by_branch": [
                    {"branch": r["id"], "name": r["name"], "members": r["on_roll"], "shown": r["on_roll_shown"]}
                    for r in by_branch
                ],
                "late_additions": entries.filter(is_late_addition=True).count(),
                "credentials_sent": sent,
            }
        )

    @extend_schema(
        summary="Turnout so far, in your part of the union (never how anyone voted)",
        parameters=[OpenApiParameter("by", str, enum=["region", "branch", "workplace"], default="branch")],
        responses={200: TURNOUT, **NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def turnout(self, request: Request, pk: str | None = None) -> Response:
        election = self.get_object()
        by = request.query_params.get("by", "branch")
        if by not in ("region", "branch", "workplace"):
            return Response({"by": ["Choose region, branch or workplace."]}, status=status.HTTP_400_BAD_REQUEST)
        if election.status == Election.Status.DRAFT or not can_see_turnout(request.user, election):
            raise Http404
        return Response(selectors.turnout(request.user, election, by=by))

    @extend_schema(
        summary="Results: after the close for organisers and scrutineers; once published, for all who see it",
        responses={200: RESULTS, 404: OpenApiResponse(description="No results yet (or not in your scope).")},
    )
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> Response:
        election = self.get_object()
        if not _may_see_results(request.user, election):
            raise Http404
        context = results_context(election)
        questions = election.question_results
        if questions and context["is_suppressed"]:  # the same figures, suppressed the same way
            questions = {**questions, "electorate": context["electorate"], "ballots_cast": context["cast"]}
        return Response(
            {
                "electorate": context["electorate"],
                "ballots_cast": context["cast"],
                "electorate_shown": context["electorate_shown"],
                "ballots_cast_shown": context["cast_shown"],
                "turnout_percent": context["turnout_percent"],
                "is_suppressed": context["is_suppressed"],
                "ballots_sha256": election.ballots_sha256,
                "is_published": election.status == Election.Status.PUBLISHED,
                "count": context.get("result"),
                "questions": questions,
            }
        )
