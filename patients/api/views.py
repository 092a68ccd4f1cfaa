import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from casetracker.accounts.permissions import WRITE_ROLES
from casetracker.accounts.roles import Role
from casetracker.api.viewsets import ServiceViewSet

from .. import services
from ..models import Companion, Patient, Readiness, Referral, Returnee
from .serializers import (
    CompanionSerializer,
    CompanionUpdateSerializer,
    PatientSerializer,
    PatientStatusSerializer,
    ReadinessSerializer,
    ReadinessStateSerializer,
    ReasonSerializer,
    ReferralDecisionSerializer,
    ReferralSerializer,
    ReturneeSerializer,
)

READINESS_WRITERS = WRITE_ROLES | {Role.HOSPITAL_STAFF}
NO_PUT = ["get", "post", "patch", "head", "options"]


class PatientFilter(django_filters.FilterSet):
    facility = django_filters.CharFilter(field_name="facility__code")

    class Meta:
        model = Patient
        fields = ["status", "priority", "clinical_category", "facility"]


class PatientViewSet(ServiceViewSet):
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
    # Hospital staff report readiness for their own patients; everything else they only read.
    action_roles = {"readiness:POST": READINESS_WRITERS}

    def get_queryset(self):
        return super().get_queryset().queue_order()

    @extend_schema(request=ReadinessSerializer, responses=ReadinessStateSerializer)
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
        return Response(data, status=status.HTTP_201_CREATED if request.method == "POST" else 200)

    @extend_schema(request=PatientStatusSerializer, responses=PatientSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, case_reference=None):
        """Record that a waiting patient died or withdrew."""
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


class CompanionViewSet(ServiceViewSet):
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


class ReferralViewSet(ServiceViewSet):
    model = Referral
    serializer_class = ReferralSerializer
    filterset_class = ReferralFilter
    related = ("patient", "referring_facility")
    http_method_names = ["get", "post", "head", "options"]
    create_service = services.referral_create

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


class ReturneeViewSet(ServiceViewSet):
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
