"""`/api/v1/reports/`: the auditors' tables as JSON, or as CSV/XLSX with `?download=`."""

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from casetracker.api.serializers import EventSerializer
from patients.models import Patient

from ..models import Batch, CancelReason, Crossing, InformationSource
from . import selectors
from .access import REPORT_ROLES
from .forms import DOWNLOADS
from .selectors import CANCELLATION_ORDERS
from .tables import Report, run_report


def _choice(name: str, values, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=[v for v in values if v], description=description)


REPORT_PARAMETERS = [
    OpenApiParameter(
        "date_from",
        OpenApiTypes.DATE,
        description="first day (default: 28 days ago; 7 for cancellations)",
    ),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="last day (default: today)"),
    _choice("download", [key for key, _ in DOWNLOADS], "a file instead of JSON (logged)"),
    _choice("crossing", Crossing.values, "cancellations only"),
    _choice("reason", CancelReason.values, "cancellations only"),
    _choice("source", InformationSource.values, "cancellations only"),
    _choice(
        "order",
        [o for key in CANCELLATION_ORDERS for o in (key, f"-{key}")],
        "cancellations only; - for descending",
    ),
]


class ReportView(APIView):
    """One report of `tables.REPORTS`: its rows as JSON, or a logged CSV/XLSX download."""

    read_roles = REPORT_ROLES
    report: Report = None  # set per URL by `as_view(report=...)`

    @extend_schema(parameters=REPORT_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        form, rows, download = run_report(self.report, request.query_params, request.user)
        if rows is None:
            # The same shape as a serializer's errors: {"field": ["message", ...]}.
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        return download or Response({"count": len(rows), "results": rows})


class BatchTimelineView(APIView):
    """Every event of one batch in order, and every line it ever had with its clearance,
    outcome and why it ended."""

    read_roles = REPORT_ROLES

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        batch = get_object_or_404(Batch.objects.visible_to(request.user), code=code)
        events = selectors.batch_timeline(request.user, batch)
        lines = selectors.batch_manifest(request.user, batch)
        return Response(
            {
                "batch": batch.code,
                "status": batch.status,
                "planned_date": batch.planned_date,
                "events": EventSerializer(events, many=True).data,
                "manifest": [
                    {
                        "line": line.pk,
                        "person": line.person_reference,
                        "kind": line.kind,
                        "clearance": line.clearance,
                        "outcome": line.outcome,
                        "end_reason": line.end_reason,
                        "open": line.is_open,
                    }
                    for line in lines
                ],
            }
        )


class PatientJourneyView(APIView):
    """Every batch a patient was placed in, what sent them back, and how long they waited."""

    read_roles = REPORT_ROLES

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, case_reference: str):
        patient = get_object_or_404(
            Patient.objects.visible_to(request.user), case_reference=case_reference
        )
        return Response(asdict(selectors.patient_journey(request.user, patient)))
