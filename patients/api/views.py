import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from casetracker.api.parsers import JSONParser
from casetracker.api.viewsets import ServiceViewSet

from .. import services
from ..access import Category, log_access, record_category
from ..imports.queue_export import queue_export_response
from ..models import Companion, Patient, Readiness, Referral, Returnee
from ..selectors import patient_search, search_kind
from .serializers import (
    DOWNLOAD_RESPONSES,
    CompanionSerializer,
    CompanionUpdateSerializer,
    DownloadQuerySerializer,
    PatientRegisterSerializer,
    PatientSearchResultSerializer,
    PatientSearchSerializer,
    PatientSerializer,
    PatientStatusSerializer,
    ReadinessSerializer,
    ReadinessStateSerializer,
    ReasonSerializer,
    ReferralDecisionSerializer,
    ReferralSerializer,
    ReturneeSerializer,
)

NO_PUT = ["get", "post", "patch", "head", "options"]


class AccessLoggedViewSet(ServiceViewSet):
    """Every record shown and every list page of people leaves one event in the access log
    (`patients/access.py`), written once the answer is built."""

    def access_category(self) -> str:
        return Category.IDENTITY

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        data = self.get_serializer(instance).data
        log_access(actor=request.user, category=self.access_category(), subject=instance)
        return Response(data)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(queryset) if page is None else page
        data = self.get_serializer(rows, many=True).data
        log_access(
            actor=request.user, category=self.access_category(), results=rows, model=self.model
        )
        return Response(data) if page is None else self.get_paginated_response(data)


class PatientFilter(django_filters.FilterSet):
    facility = django_filters.CharFilter(field_name="facility__code")

    class Meta:
        model = Patient
        fields = ["status", "priority", "clinical_category", "facility"]


class PatientViewSet(AccessLoggedViewSet):
    """Cases, in queue order (most urgent first, then by registration time)."""

    model = Patient
    serializer_class = PatientSerializer
    lookup_field = "case_reference"
    filterset_class = PatientFilter
    related = ("facility",)
    http_method_names = NO_PUT
    create_service = services.patient_register
    update_service = services.patient_update
    instance_kwarg = "patient"

    def get_queryset(self):
        patients = super().get_queryset()
        # One case is looked up by its reference: no order to build (an expression per request).
        return patients if self.detail else patients.queue_order()

    def get_serializer_class(self):
        # A registration also says when the person registered (`occurred_at`, default now).
        return PatientRegisterSerializer if self.action == "create" else PatientSerializer

    def access_category(self) -> str:
        return record_category(self.request.user)

    @extend_schema(request=PatientSearchSerializer, responses=PatientSearchResultSerializer)
    # JSON only: a form body would read an empty field as "not given" instead of refusing it.
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def search(self, request):
        """Cases you may see with this national ID (exact, in any digit form) and/or whose name
        contains this text. The values go in the body, so they stay out of URLs and logs."""
        query = PatientSearchSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        found = patient_search(request.user, **query.validated_data)
        page = self.paginate_queryset(found)
        data = self.get_serializer(page, many=True).data
        log_access(
            actor=request.user,
            category=self.access_category(),
            results=page,
            search_by=search_kind(**query.validated_data),
        )
        return self.get_paginated_response(data)

    @extend_schema(parameters=[DownloadQuerySerializer], responses=DOWNLOAD_RESPONSES)
    @action(detail=False, methods=["get"], url_path="queue-export", filter_backends=[])
    def queue_export(self, request):
        """The waiting queue you may see, in queue order, as a CSV or XLSX file in the columns
        of the import template (it imports again), headers in your language. National ID
        numbers whole for coordinators and admins, last four digits otherwise; the diagnosis
        for those who may read it. Logged as an export and in the access log."""
        query = DownloadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return queue_export_response(user=request.user, fmt=query.validated_data["download"])

    @extend_schema(
        request=ReadinessSerializer,
        responses={200: ReadinessStateSerializer, 201: ReadinessStateSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def readiness(self, request, case_reference=None):
        """Current readiness and its history; POST records what the facility reports."""
        patient = self.get_object()
        if request.method == "POST":
            serializer = ReadinessSerializer(data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            services.readiness_update(
                patient=patient, actor=request.user, **serializer.validated_data
            )
        # Every patient gets a row at registration; a read never writes one.
        current = Readiness.objects.select_related("updated_by").filter(
            patient=patient
        ).first() or Readiness(patient=patient)
        history = patient.readiness_history.select_related("changed_by")
        data = ReadinessStateSerializer(
            {"current": current, "history": history}, context=self.get_serializer_context()
        ).data
        if request.method == "GET":  # a POST is logged as the change it records
            log_access(actor=request.user, category=Category.READINESS, subject=patient)
        return Response(data, status=status.HTTP_201_CREATED if request.method == "POST" else 200)

    @extend_schema(request=PatientStatusSerializer, responses=PatientSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, case_reference=None):
        """Record that a waiting patient died or withdrew, and when (`occurred_at`, default
        now): the deaths report and the waits count from that time."""
        serializer = PatientStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_set_status(
            patient=self.get_object(), actor=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(patient).data)


class CompanionFilter(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="patient__case_reference")

    class Meta:
        model = Companion
        fields = ["patient", "is_guardian"]


class CompanionViewSet(AccessLoggedViewSet):
    model = Companion
    filterset_class = CompanionFilter
    related = ("patient",)
    http_method_names = NO_PUT
    create_service = services.companion_add
    update_service = services.companion_update
    instance_kwarg = "companion"

    def get_serializer_class(self):
        return CompanionUpdateSerializer if self.action == "partial_update" else CompanionSerializer


class ReferralFilter(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="patient__case_reference")

    class Meta:
        model = Referral
        fields = ["patient", "status"]


class ReferralViewSet(AccessLoggedViewSet):
    model = Referral
    serializer_class = ReferralSerializer
    filterset_class = ReferralFilter
    related = ("patient", "referring_facility")
    http_method_names = ["get", "post", "head", "options"]
    create_service = services.referral_create

    def access_category(self) -> str:
        # A referral names the specialty and the hospital abroad: clinical detail.
        return Category.CLINICAL

    @extend_schema(request=ReferralDecisionSerializer, responses=ReferralSerializer)
    @action(detail=True, methods=["post"])
    def decision(self, request, pk=None):
        """Record the decision on a referral: approved, rejected or expired."""
        serializer = ReferralDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        referral = services.referral_decide(
            referral=self.get_object(), actor=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(referral).data)


class ReturneeViewSet(AccessLoggedViewSet):
    """People registered to come back in."""

    model = Returnee
    serializer_class = ReturneeSerializer
    lookup_field = "reference"
    filterset_fields = ["status"]
    http_method_names = ["get", "post", "head", "options"]
    create_service = services.returnee_register

    @extend_schema(request=ReasonSerializer, responses=ReturneeSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, reference=None):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        returnee = services.returnee_withdraw(
            returnee=self.get_object(), actor=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(returnee).data)
