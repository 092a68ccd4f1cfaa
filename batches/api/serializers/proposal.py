"""The batch builder's proposal (batches/proposal/): its query and its answer."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.api.fields import ScopedSlugRelatedField
from patients.models import MOBILITY_NEEDS

from ...models import Direction
from ...proposal import REASON_CODES
from .common import crossing_field


class ProposalQuerySerializer(serializers.Serializer):
    """The query of `GET /api/v1/batches/proposal/`. An empty optional parameter means "not
    given", as everywhere in the API (casetracker/schema.py)."""

    crossing = crossing_field()
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
