from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.api.fields import ScopedPrimaryKeyRelatedField, ScopedSlugRelatedField, TextField
from patients.models import MOBILITY_NEEDS, Companion, Patient, Returnee

from ..models import (
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    Crossing,
    CrossingQuota,
    Direction,
    EndReason,
    InformationSource,
    Outcome,
)
from ..proposal import REASON_CODES
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


# --- The batch builder's proposal (batches/proposal.py) -----------------------------------


class ProposalQuerySerializer(serializers.Serializer):
    """The query of `GET /api/v1/batches/proposal/`. An empty optional parameter means "not
    given", as everywhere in the API (casetracker/schema.py)."""

    crossing = serializers.ChoiceField(
        choices=Crossing.choices, required=False, help_text="default: rafah"
    )
    direction = serializers.ChoiceField(choices=Direction.choices)
    date = serializers.DateField(help_text="the planned day of the batch")
    staging_facility = ScopedSlugRelatedField(
        slug_field="code",
        queryset=Facility.objects.all(),
        required=False,
        help_text="facility code; carried into the answer",
    )


class ProposalReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=REASON_CODES)
    reason = serializers.CharField(source="text", help_text="in the user's language")


class ProposalCompanionSerializer(serializers.Serializer):
    """A registered companion by id (names are on `/api/v1/companions/{id}/`)."""

    id = serializers.IntegerField(source="companion.pk")
    relationship = serializers.CharField(source="companion.relationship")
    is_guardian = serializers.BooleanField(source="companion.is_guardian")
    age = serializers.IntegerField(help_text="on the planned day")
    proposed = serializers.BooleanField(
        help_text="travels in the proposal (guardian first, within the limit)"
    )


class ProposalPatientSerializer(serializers.Serializer):
    case_reference = serializers.CharField(source="patient.case_reference")
    priority = serializers.CharField(source="patient.priority")
    clinical_category = serializers.CharField(source="patient.clinical_category")
    age = serializers.IntegerField(help_text="on the planned day")
    is_child = serializers.BooleanField()
    mobility_needs = serializers.SerializerMethodField()
    companions = ProposalCompanionSerializer(many=True)

    def get_mobility_needs(self, obj) -> list[str]:
        return [name for name in MOBILITY_NEEDS if getattr(obj.patient, name)]


class ProposalReturneeSerializer(serializers.Serializer):
    reference = serializers.CharField(source="returnee.reference")
    age = serializers.IntegerField(help_text="on the planned day")


class ProposalSkippedSerializer(serializers.Serializer):
    kind = serializers.SerializerMethodField()
    reference = serializers.CharField(help_text="case or returnee reference")
    reasons = ProposalReasonSerializer(many=True)

    def get_kind(self, obj) -> str:
        return "patient" if obj.patient else "returnee"


class PlacesSerializer(serializers.Serializer):
    patients = serializers.IntegerField(help_text="patient places (returnees on a return day)")
    companions = serializers.IntegerField()


class ProposalSerializer(serializers.Serializer):
    """Who the next batch of the day should take, and who was skipped and why. People appear
    by reference and companions by id, never by name."""

    crossing = serializers.CharField()
    direction = serializers.CharField()
    date = serializers.DateField(source="day")
    staging_facility = serializers.CharField(
        source="staging_facility.code", allow_null=True, help_text="facility code"
    )
    places_left = serializers.SerializerMethodField(help_text="before this batch; null: no quota")
    places_after = serializers.SerializerMethodField(help_text="once this batch holds its places")
    patients = ProposalPatientSerializer(many=True)
    returnees = ProposalReturneeSerializer(many=True)
    skipped = ProposalSkippedSerializer(many=True)
    notes = ProposalReasonSerializer(many=True, help_text="about the proposal as a whole")
    looked_at = serializers.IntegerField(help_text="people of the queue the walk read")
    truncated = serializers.BooleanField(help_text="stopped at the limit, more people waiting")

    @extend_schema_field(PlacesSerializer(allow_null=True))
    def get_places_left(self, obj) -> dict | None:
        if obj.places is None:
            return None
        return {"patients": obj.places.patients, "companions": obj.places.companions}

    @extend_schema_field(PlacesSerializer(allow_null=True))
    def get_places_after(self, obj) -> dict | None:
        after = obj.places_after()
        return None if after is None else {"patients": after[0], "companions": after[1]}
