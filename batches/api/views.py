import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from patients.access import Category, log_access
from patients.api.serializers import DOWNLOAD_RESPONSES, DownloadQuerySerializer
from patients.models import Patient, Returnee

from .. import services
from ..manifest_export import manifest_export_response
from ..models import Batch, BatchMember, CrossingQuota, Direction, Statement
from ..proposal import propose
from ..selectors import NOT_SHOWN
from ..services.clearance import batch_record_clearances
from ..services.statements import statement_add
from .serializers import (
    BatchSerializer,
    BulkClearanceSerializer,
    CancelSerializer,
    ClearanceSerializer,
    CrossingQuotaSerializer,
    CrossSerializer,
    MemberAddSerializer,
    MemberSerializer,
    OccurredSerializer,
    ProposalQuerySerializer,
    ProposalSerializer,
    RescheduleSerializer,
    StatementAddSerializer,
    StatementSerializer,
)

# The columns MemberSerializer reads: the line's own, and of the batch and the people on it
# their codes and references (the batch code names the line's clearance events).
MEMBER_ROW = [
    "is_open",
    "end_reason",
    "clearance",
    "clearance_note",
    "clearance_recorded_at",
    "outcome",
    "added_at",
    "batch__code",
    "patient__case_reference",
    "companion__patient__case_reference",
    "returnee__reference",
]

REFUSED = OpenApiResponse(description="The transition is refused now; `problems` lists why.")


class BatchSchema(AutoSchema):
    """Only a GET of the list is paginated: a POST that answers a list (the lines it wrote)
    answers all of them, as a plain array."""

    def _get_paginator(self):
        return super()._get_paginator() if self.method == "GET" else None


def _crossing_filter() -> django_filters.CharFilter:
    # By code, as the facility: an unknown code finds nothing (crossings are rows, not an enum).
    return django_filters.CharFilter(
        field_name="crossing", help_text="crossing code, such as rafah or kerem-shalom"
    )


class BatchFilter(django_filters.FilterSet):
    crossing = _crossing_filter()
    staging_facility = django_filters.CharFilter(field_name="staging_facility__code")
    date_from = django_filters.DateFilter(field_name="planned_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="planned_date", lookup_expr="lte")

    class Meta:
        model = Batch
        fields = ["status", "direction", "crossing", "planned_date", "staging_facility"]


def _transition(name: str, input_serializer=None, doc: str = ""):
    """One POST action per transition, each calling the service of the same name."""
    service = getattr(services, f"batch_{name}")
    success = status.HTTP_201_CREATED if name == "reschedule" else status.HTTP_200_OK

    def view(self, request, code=None):
        kwargs = {}
        if input_serializer is not None:
            serializer = input_serializer(data=request.data, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            kwargs = serializer.validated_data
        batch = service(batch=self.get_object(), actor=request.user, **kwargs)
        return Response(self.get_serializer(batch).data, status=success)

    view.__name__ = name
    view.__doc__ = doc
    # extend_schema goes on the action, not under it: `action` replaces `view.kwargs`, which is
    # where extend_schema keeps its schema, so applied first it would be silently dropped.
    return extend_schema(
        request=input_serializer,
        responses={success: BatchSerializer, 409: REFUSED},
        description=doc,
    )(action(detail=True, methods=["post"])(view))


class BatchViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Daily batches through the crossing, and their transitions."""

    serializer_class = BatchSerializer
    lookup_field = "code"
    filterset_class = BatchFilter
    schema = BatchSchema()

    def get_queryset(self):
        batches = Batch.objects.visible_to(self.request.user)
        if self.action in ("members", "member") and self.request.method == "GET":
            # Reading a manifest looks its batch up only to know it is there and may be seen.
            return batches
        return batches.select_related(
            "crossing", "staging_facility", "rescheduled_from", "rescheduled_as"
        )

    def perform_create(self, serializer):
        serializer.instance = services.batch_create(
            actor=self.request.user, **serializer.validated_data
        )

    # Every step takes `occurred_at`, when it happened (default now): the body of the steps
    # that need nothing else is optional.
    prepare = _transition("prepare", OccurredSerializer, "Check every rule and freeze the list.")
    reopen = _transition("reopen", OccurredSerializer, "Back to draft to change the list.")
    submit = _transition(
        "submit", OccurredSerializer, "The list went to the border authority for vetting."
    )
    clear = _transition(
        "clear", OccurredSerializer, "Every clearance decided; rejected people stay behind."
    )
    depart = _transition("depart", OccurredSerializer, "The ambulances left the staging facility.")
    cross = _transition(
        "cross",
        CrossSerializer,
        "Record each person's outcome at the crossing, all or nothing: one outcome for every "
        "person on board, each naming its line by `member` (the line id), `person` (a case or "
        "returnee reference) or `companion` (a companion's id).",
    )
    cancel = _transition(
        "cancel",
        CancelSerializer,
        "Cancel with a reason code, a text, who decided it (`source`) and who relayed it to us "
        "(`relayed_by`, blank: directly).",
    )
    reschedule = _transition(
        "reschedule", RescheduleSerializer, "A new draft batch with the same people."
    )

    def _lines(self, batch):
        # A line names its people by reference: their ID numbers (each a decryption) and
        # diagnoses are not loaded.
        return (
            BatchMember.objects.visible_to(self.request.user)
            .filter(batch=batch)
            .select_related("batch", "patient", "companion__patient", "returnee")
            .defer(*NOT_SHOWN)
            .order_by("id")
        )

    @extend_schema(
        methods=["GET"],
        responses=MemberSerializer(many=True),
        description="The manifest, every line the batch ever had (open or closed), in order.",
    )
    @extend_schema(
        methods=["POST"],
        request=MemberAddSerializer,
        responses={201: MemberSerializer(many=True), 409: REFUSED},
        description="Add a patient with companions, a companion of a patient on board, or a "
        "returnee, to a draft. Answers the lines written (a patient's first), not paginated.",
    )
    # The batch list's filters do not apply to a manifest.
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def members(self, request, code=None):
        """The manifest; POST adds a patient with companions, a companion, or a returnee."""
        batch = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(self._shown_lines(batch))
            return self.get_paginated_response(MemberSerializer(page, many=True).data)
        serializer = MemberAddSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("patient"):
            lines = services.batch_add_patient(
                batch=batch,
                patient=data["patient"],
                companions=data.get("companions", []),
                actor=request.user,
            )
        elif data.get("companion"):
            lines = [
                services.batch_add_companion(
                    batch=batch, companion=data["companion"], actor=request.user
                )
            ]
        else:
            lines = [
                services.batch_add_returnee(
                    batch=batch, returnee=data["returnee"], actor=request.user
                )
            ]
        lines = self._lines(batch).filter(pk__in=[line.pk for line in lines])
        return Response(MemberSerializer(lines, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[DownloadQuerySerializer], responses=DOWNLOAD_RESPONSES)
    @action(detail=True, methods=["get"], url_path="manifest-export", filter_backends=[])
    def manifest_export(self, request, code=None):
        """The printed manifest as a CSV or XLSX file: one row per person (a patient, then
        their companions; or a returnee), with names, date of birth, clearance and vehicle.
        National ID numbers whole for coordinators and admins, last four digits otherwise.
        Logged as an export and in the access log."""
        batch = self.get_object()  # another facility's batch is not found, whatever the query
        query = DownloadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return manifest_export_response(
            batch=batch, user=request.user, fmt=query.validated_data["download"]
        )

    def _member(self, batch, member_id) -> BatchMember:
        return get_object_or_404(self._lines(batch), pk=member_id)

    def _shown_lines(self, batch):
        # What a line answers, and no more: its people's whole rows (dates, names, phones) would
        # be read and converted for every line of every manifest page, and thrown away.
        return self._lines(batch).only(*MEMBER_ROW)

    @extend_schema(methods=["GET"], responses=MemberSerializer)
    @extend_schema(methods=["DELETE"], responses={204: None, 409: REFUSED})
    @action(detail=True, methods=["get", "delete"], url_path=r"members/(?P<member_id>\d+)")
    def member(self, request, code=None, member_id=None):
        """One manifest line; DELETE takes it off a draft (a patient leaves with companions)."""
        batch = self.get_object()
        if request.method == "GET":
            line = get_object_or_404(self._shown_lines(batch), pk=member_id)
            return Response(MemberSerializer(line).data)
        line = self._member(batch, member_id)
        services.batch_remove_member(batch=batch, member=line, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ClearanceSerializer, responses={200: MemberSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"], url_path=r"members/(?P<member_id>\d+)/clearance")
    def clearance(self, request, code=None, member_id=None):
        """Record the vetting decision for one person on a submitted batch."""
        batch = self.get_object()
        line = self._member(batch, member_id)
        serializer = ClearanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        line = services.batch_record_clearance(
            batch=batch, member=line, actor=request.user, **serializer.validated_data
        )
        return Response(MemberSerializer(self._member(batch, line.pk)).data)

    @extend_schema(
        request=BulkClearanceSerializer,
        responses={200: MemberSerializer(many=True), 409: REFUSED},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="clearance",
        url_name="bulk-clearance",
        filter_backends=[],
    )
    def bulk_clearance(self, request, code=None):
        """Record the vetting decisions of many people on a submitted batch at once, all or
        nothing. Each decision names its line by `member` (the line id), `person` (a case or
        returnee reference) or `companion` (a companion's id). A line not on the batch, named
        twice, or a bad decision or note is a 400 under `decisions` naming each; a batch that
        is not submitted is a 409. Either way nothing is recorded. Answers the lines decided,
        in manifest order; one clearance event each."""
        batch = self.get_object()
        serializer = BulkClearanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # `occurred_at`, when the list was decided, is the time of every decision in it.
        recorded = batch_record_clearances(
            batch=batch, actor=request.user, **serializer.validated_data
        )
        lines = self._lines(batch).filter(pk__in=[line.pk for line in recorded])
        return Response(MemberSerializer(lines, many=True).data)

    @extend_schema(
        methods=["GET"],
        responses=StatementSerializer(many=True),
        description="What parties said about the batch or its cancellation after the fact, "
        "in the order it was said.",
    )
    @extend_schema(
        methods=["POST"],
        request=StatementAddSerializer,
        responses={201: StatementSerializer, 409: REFUSED},
        description="Record what a party said (`source`), when (`said_at`, default now) and "
        "who relayed it to us (`relayed_by`, blank: directly), at any time, in any state of "
        "the batch; with `about_cancellation` it is about the cancellation (a 409 unless the "
        "batch is cancelled). An event of its own (action `statement`) notifies the "
        "coordinators and auditors, and the webhooks of `batch.statement` (without the text).",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def statements(self, request, code=None):
        """Statements made about the batch after the fact; POST records one."""
        batch = self.get_object()
        # In the order they were said, as their chained events record it.
        statements = (
            Statement.objects.visible_to(request.user)
            .filter(batch=batch)
            .select_related("event__actor", "event__text_row__redacted_by")
            .order_by("event__occurred_at", "id")
        )
        if request.method == "GET":
            page = self.paginate_queryset(statements)
            return self.get_paginated_response(StatementSerializer(page, many=True).data)
        serializer = StatementAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        statement = statement_add(batch=batch, actor=request.user, **serializer.validated_data)
        return Response(
            StatementSerializer(statements.get(pk=statement.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class QuotaFilter(django_filters.FilterSet):
    crossing = _crossing_filter()

    class Meta:
        model = CrossingQuota
        fields = ["crossing", "direction", "date"]


class CrossingQuotaViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Agreed daily numbers per crossing and direction. POST creates or replaces a day's quota."""

    serializer_class = CrossingQuotaSerializer
    filterset_class = QuotaFilter

    def get_queryset(self):
        return CrossingQuota.objects.visible_to(self.request.user).select_related("crossing")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.quota_set(
            actor=self.request.user,
            crossing=data.get("crossing"),  # None: the default crossing, Rafah
            day=data["date"],
            direction=data["direction"],
            agreed_patients=data.get("agreed_patients"),
            agreed_companions=data.get("agreed_companions"),
            agreed_returnees=data.get("agreed_returnees"),
            source=data.get("source", ""),
            reason_text=data.get("note", ""),
        )


class BatchProposalView(APIView):
    """The batch builder's proposal for a day (batches/proposal/): the waiting patients in
    queue order who can travel that day, each with their companions (guardian first, within
    the limit), as many as the places left in the day's quota allow; or, for a return day, the
    waiting returnees in registration order. Everyone skipped is listed with each reason, as a
    code and a sentence. Nothing is saved: create the batch and add its people with
    `POST /api/v1/batches/` and `.../members/`."""

    @extend_schema(parameters=[ProposalQuerySerializer], responses=ProposalSerializer)
    def get(self, request):
        # An empty optional parameter means "not given" (an HTML form sends every field).
        given = {name: value for name, value in request.query_params.items() if value != ""}
        query = ProposalQuerySerializer(data=given, context={"request": request})
        query.is_valid(raise_exception=True)
        data = query.validated_data
        proposal = propose(
            user=request.user,
            crossing=data.get("crossing"),  # None: the default crossing, Rafah
            direction=data["direction"],
            day=data["date"],
            staging_facility=data.get("staging_facility"),
        )
        body = ProposalSerializer(proposal).data
        people = [p.patient for p in proposal.patients] + [r.returnee for r in proposal.returnees]
        people += [s.person for s in proposal.skipped]
        log_access(
            actor=request.user,
            category=Category.IDENTITY,
            results=people,
            model=Patient if data["direction"] == Direction.EXIT else Returnee,
        )
        return Response(body)
