"""`/api/v1/reports/`: the auditors' tables as JSON, or as CSV/XLSX with `?download=`."""

from dataclasses import asdict

from django import forms
from django.shortcuts import get_object_or_404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from casetracker.api.serializers import EventSerializer
from casetracker.exports import FORMATS
from patients.access import Category, log_access
from patients.models import Patient

from ..models import Batch
from . import selectors
from .forms import CrossingChoiceField, DownloadForm
from .tables import Report, run_report

DESCRIPTIONS = {
    "date_from": "first day (default: {days} days up to date_to)",
    "date_to": "last day (default: today)",
    "download": "a file instead of JSON (logged)",
    "order": "- for descending",
    "crossing": "crossing code, such as rafah or kerem-shalom",
}
REPORT_ROWS = inline_serializer(
    "ReportRows",
    {
        "count": serializers.IntegerField(),
        "results": serializers.ListField(child=serializers.DictField()),
    },
)
EXPORT_TYPES = {fmt: content_type.split(";")[0] for fmt, (content_type, _) in FORMATS.items()}


def _parameter(name: str, field: forms.Field, form: type[DownloadForm]) -> OpenApiParameter:
    description = DESCRIPTIONS.get(name, "").format(days=getattr(form, "default_days", ""))
    if isinstance(field, forms.DateField):
        return OpenApiParameter(name, OpenApiTypes.DATE, description=description)
    if isinstance(field, CrossingChoiceField):
        # Crossings are rows: an enum would make the schema depend on the database.
        return OpenApiParameter(name, str, description=description)
    values = [value for value, _label in field.choices if value]
    return OpenApiParameter(name, str, enum=values, description=description)


class ReportSchema(AutoSchema):
    """Each report documents the filters of its own form (one view class serves them all), and
    its three answers: JSON rows, or the CSV or XLSX file."""

    def get_override_parameters(self):
        form = self.view.report.form
        return [_parameter(name, field, form) for name, field in form.base_fields.items()]

    def get_response_serializers(self):
        return {
            (200, "application/json"): REPORT_ROWS,
            **{(200, media): OpenApiTypes.BINARY for media in EXPORT_TYPES.values()},
        }


class ReportView(APIView):
    """One report of `tables.REPORTS`: its rows as JSON, or a logged CSV/XLSX download."""

    report: Report = None  # set per URL by `as_view(report=...)`
    schema = ReportSchema()

    def get(self, request):
        form, rows, download = run_report(self.report, request.query_params, request.user)
        if rows is None:
            # The same shape as a serializer's errors: {"field": ["message", ...]}.
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        return download or Response({"count": len(rows), "results": rows})


class BatchTimelineView(APIView):
    """Every event of one batch in order, and every line it ever had with its clearance,
    outcome and why it ended."""

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

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, case_reference: str):
        patient = get_object_or_404(
            Patient.objects.visible_to(request.user), case_reference=case_reference
        )
        journey = asdict(selectors.patient_journey(request.user, patient))
        log_access(actor=request.user, category=Category.JOURNEY, subject=patient)
        return Response(journey)
