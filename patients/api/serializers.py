from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.accounts.roles import Role, user_role
from casetracker.api.fields import (
    OccurredAtField,
    ScopedSlugRelatedField,
    StrictModelSerializer,
    TextField,
)
from casetracker.exports import FORMATS

from ..access import national_id_for
from ..fields import validate_national_id
from ..models import (
    Companion,
    Patient,
    PatientStatus,
    Readiness,
    ReadinessChange,
    Referral,
    ReferralStatus,
    Returnee,
)
from ..names import normalise_name, validate_person_name
from ..services import (
    COMPANION_EDITABLE,
    PATIENT_EDITABLE,
    REFERRAL_EDITABLE,
    RETURNEE_EDITABLE,
)


def hides_clinical_detail(context) -> bool:
    """Auditors review what happened, not why a person is ill."""
    request = context.get("request")
    return request is not None and user_role(request.user) is Role.AUDITOR


class ShownNationalId:
    """National ID numbers whole for coordinators and admins, the last four digits for everyone
    else: the rule of the pages and the printed manifests (`patients.access`)."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if data.get("national_id") and request is not None:
            data["national_id"] = national_id_for(request.user, data["national_id"])
        return data


def _facility_field(**kwargs):
    return ScopedSlugRelatedField(slug_field="code", queryset=Facility.objects.all(), **kwargs)


def _patient_field(**kwargs):
    return ScopedSlugRelatedField(
        slug_field="case_reference", queryset=Patient.objects.all(), **kwargs
    )


# When a registration happened (`registered_at`, the place in the queue): see
# `patients.occurred.registration_occurred_at`.
REGISTERED_AT_HELP = (
    "when the person registered, if not just now: ISO 8601, such as "
    "2026-02-06T07:40:00+02:00 (without an offset: the deployment's time zone). Default: "
    "now; it is the place in the queue. Refused in the future (beyond 5 minutes of clock "
    "difference) and more than REGISTRATION_BACKDATE_DAYS (default 7) days ago"
)


class PatientSerializer(ShownNationalId, StrictModelSerializer):
    facility = _facility_field()

    class Meta:
        model = Patient
        fields = ["case_reference", *PATIENT_EDITABLE, "status", "registered_at"]
        read_only_fields = ["case_reference", "status", "registered_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if hides_clinical_detail(self.context):
            data.pop("diagnosis", None)
        return data


class PatientRegisterSerializer(PatientSerializer):
    """A registration: the case's fields, and when the person registered if not just now (the
    case's `registered_at`, its place in the queue)."""

    occurred_at = OccurredAtField(follows=None, write_only=True, help_text=REGISTERED_AT_HELP)

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "occurred_at"]


class PatientStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[PatientStatus.DECEASED, PatientStatus.WITHDRAWN])
    reason_text = TextField(max_length=2000, required=False, allow_blank=True)
    occurred_at = OccurredAtField(
        follows="the patient's registration",
        help_text="when the patient died or withdrew, if not just now: ISO 8601, such as "
        "2026-02-06T07:40:00+02:00 (without an offset: the deployment's time zone). Default: "
        "now. Refused in the future (beyond 5 minutes of clock difference) and before the "
        "latest step of the patient's record: their registration, a clearance decision about "
        "them, or the batch step that sent them back to the queue",
    )


class CompanionSerializer(ShownNationalId, StrictModelSerializer):
    patient = _patient_field()

    class Meta:
        model = Companion
        fields = ["id", "patient", *COMPANION_EDITABLE]


class CompanionUpdateSerializer(CompanionSerializer):
    patient = serializers.SlugRelatedField(slug_field="case_reference", read_only=True)


class ReferralSerializer(StrictModelSerializer):
    patient = _patient_field()
    referring_facility = _facility_field()

    class Meta:
        model = Referral
        fields = ["id", "patient", *REFERRAL_EDITABLE, "status"]
        read_only_fields = ["status"]


class ReferralDecisionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[ReferralStatus.APPROVED, ReferralStatus.REJECTED, ReferralStatus.EXPIRED]
    )


class ReadinessSerializer(StrictModelSerializer):
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Readiness
        fields = [
            "fit_to_travel",
            "documents_ready",
            "companions_present",
            "transport_confirmed",
            "note",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = ["updated_by", "updated_at"]
        extra_kwargs = {name: {"required": False} for name in fields}


class ReadinessChangeSerializer(StrictModelSerializer):
    changed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ReadinessChange
        fields = ["changed_by", "changed_at", "old", "new"]


class ReadinessStateSerializer(serializers.Serializer):
    current = ReadinessSerializer()
    history = ReadinessChangeSerializer(many=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # The free-text note may carry clinical detail.
        if hides_clinical_detail(self.context):
            data["current"].pop("note", None)
            for change in data["history"]:
                change["old"].pop("note", None)
                change["new"].pop("note", None)
        return data


class ReturneeSerializer(ShownNationalId, StrictModelSerializer):
    # On registration: when the person registered, if not just now (`registered_at`).
    occurred_at = OccurredAtField(follows=None, write_only=True, help_text=REGISTERED_AT_HELP)

    class Meta:
        model = Returnee
        fields = ["reference", *RETURNEE_EDITABLE, "status", "registered_at", "occurred_at"]
        read_only_fields = ["reference", "status", "registered_at"]


class ReasonSerializer(serializers.Serializer):
    reason_text = TextField(max_length=2000, required=False, allow_blank=True)
    occurred_at = OccurredAtField(
        follows="the latest step of the returnee's record (their registration, a clearance "
        "decision about them, or the batch step that sent them back to the queue)"
    )


class PatientSearchSerializer(serializers.Serializer):
    """A search by national ID (exact; Arabic-Indic digits, spaces and dashes allowed) and/or by
    name (part of the Latin or Arabic name). In a POST body: never in a URL or a server log."""

    national_id = TextField(max_length=20, required=False, validators=[validate_national_id])
    name = TextField(min_length=2, max_length=200, required=False)

    def validate_name(self, value: str) -> str:
        value = normalise_name(value)
        validate_person_name(value)
        return value

    def validate(self, attrs):
        if not attrs.get("national_id") and not attrs.get("name"):
            raise serializers.ValidationError(
                {"national_id": "give a national ID or a name to search for"}
            )
        return attrs


class PatientSearchResultSerializer(serializers.Serializer):
    """The answer to a search: one page of cases, as the patient list."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PatientSerializer(many=True)


class DownloadQuerySerializer(serializers.Serializer):
    """The query of a file download (the waiting queue, a batch's manifest); `download`, as
    the reports' downloads (`format` is DRF's own parameter, choosing the renderer)."""

    download = serializers.ChoiceField(
        choices=[("csv", "CSV"), ("xlsx", "XLSX")], help_text="the file's format"
    )


# The answers of a file download: the file, as CSV or XLSX (casetracker/exports.py).
DOWNLOAD_RESPONSES = {
    (200, content_type.split(";")[0]): OpenApiTypes.BINARY
    for content_type, _extension in FORMATS.values()
}
