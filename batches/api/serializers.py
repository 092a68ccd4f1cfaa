from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.api.fields import ScopedPrimaryKeyRelatedField, ScopedSlugRelatedField, TextField
from patients.models import Companion, Patient, Returnee

from ..models import (
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    CrossingQuota,
    EndReason,
    InformationSource,
    Outcome,
)
from ..states import allowed_transitions


def _until_set(choices) -> serializers.ChoiceField:
    """A read-only choice that stays blank until its step happens (the schema says so: the
    generated field would promise one of the choices)."""
    return serializers.ChoiceField(choices=choices, read_only=True, allow_blank=True)


class BatchSerializer(serializers.ModelSerializer):
    staging_facility = ScopedSlugRelatedField(slug_field="code", queryset=Facility.objects.all())
    rescheduled_from = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    cancel_reason_code = _until_set(CancelReason.choices)
    cancel_source = _until_set(InformationSource.choices)
    cancelled_from = _until_set(BatchStatus.choices)
    rescheduled_as = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "code",
            "crossing",
            "direction",
            "planned_date",
            "staging_facility",
            "status",
            "rescheduled_from",
            "rescheduled_as",
            "cancel_reason_code",
            "cancel_reason_text",
            "cancel_source",
            "cancelled_from",
            "cancelled_at",
            "created_at",
            "allowed_transitions",
        ]
        read_only_fields = [
            "code",
            "status",
            "cancel_reason_code",
            "cancel_reason_text",
            "cancel_source",
            "cancelled_from",
            "cancelled_at",
            "created_at",
        ]

    def get_rescheduled_as(self, obj: Batch) -> str | None:
        successor = getattr(obj, "rescheduled_as", None)
        return successor.code if successor else None

    def get_allowed_transitions(self, obj: Batch) -> list[str]:
        return allowed_transitions(obj.status)


class MemberSerializer(serializers.ModelSerializer):
    """A manifest line. People appear by reference; names are on the person's own record."""

    kind = serializers.CharField(read_only=True)
    # Exactly one of patient, companion and returnee is set; the other two are null.
    patient = serializers.SlugRelatedField(
        slug_field="case_reference", read_only=True, allow_null=True
    )
    companion = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    companion_of = serializers.SerializerMethodField()
    returnee = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)
    end_reason = _until_set(EndReason.choices)
    outcome = _until_set(Outcome.choices)

    class Meta:
        model = BatchMember
        fields = [
            "id",
            "kind",
            "patient",
            "companion",
            "companion_of",
            "returnee",
            "is_open",
            "end_reason",
            "clearance",
            "clearance_note",
            "clearance_recorded_at",
            "outcome",
            "added_at",
        ]

    def get_companion_of(self, obj: BatchMember) -> str | None:
        return obj.companion.patient.case_reference if obj.companion_id else None


class MemberAddSerializer(serializers.Serializer):
    """Add a patient (with companions) or a returnee, or a companion of a patient on board."""

    patient = ScopedSlugRelatedField(
        slug_field="case_reference", queryset=Patient.objects.all(), required=False
    )
    companions = ScopedPrimaryKeyRelatedField(
        queryset=Companion.objects.all(), many=True, required=False
    )
    companion = ScopedPrimaryKeyRelatedField(queryset=Companion.objects.all(), required=False)
    returnee = ScopedSlugRelatedField(
        slug_field="reference", queryset=Returnee.objects.all(), required=False
    )

    def validate(self, attrs):
        given = [name for name in ("patient", "companion", "returnee") if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["give exactly one of patient, companion or returnee"]}
            )
        if attrs.get("companions") and not attrs.get("patient"):
            raise serializers.ValidationError({"companions": ["companions go with a patient"]})
        return attrs


class ClearanceSerializer(serializers.Serializer):
    clearance = serializers.ChoiceField(choices=[Clearance.APPROVED, Clearance.REJECTED])
    note = TextField(max_length=500, required=False, allow_blank=True)


class CancelSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=CancelReason.choices)
    reason_text = TextField(max_length=2000)
    source = serializers.ChoiceField(choices=InformationSource.choices)


class OutcomeSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)


class CrossSerializer(serializers.Serializer):
    outcomes = OutcomeSerializer(many=True, allow_empty=False)

    def validate_outcomes(self, value):
        ids = [item["member"] for item in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("a line is listed twice")
        return {item["member"]: item["outcome"] for item in value}


class RescheduleSerializer(serializers.Serializer):
    planned_date = serializers.DateField()
    staging_facility = ScopedSlugRelatedField(
        slug_field="code", queryset=Facility.objects.all(), required=False
    )


class CrossingQuotaSerializer(serializers.ModelSerializer):
    class Meta:
        model = CrossingQuota
        fields = ["id", "crossing", "date", "direction", "agreed_patients", "agreed_companions"]
        # POST replaces the quota of an existing day instead of refusing it, so both numbers are
        # required: a missing one must not silently become zero.
        validators = []
        extra_kwargs = {"agreed_companions": {"required": True}}
