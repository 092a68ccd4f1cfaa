"""Manifest lines: a line as the API answers it, adding a person, one vetting decision or many,
and the outcomes at the crossing, each line named by its id or by its person."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casetracker.api.fields import ScopedPrimaryKeyRelatedField, ScopedSlugRelatedField, TextField
from casetracker.api.serializers import RedactionSerializer
from casetracker.audit.models import Action, Event, EventText, SubjectType
from patients.models import Companion, Patient, Returnee

from ...models import BatchMember, Clearance, EndReason, Outcome
from ...services.lines import LineKey
from .common import _redaction, _serialized_with, _until_set, occurred_at_field

# Lines one bulk request may name: more than any batch carries (a day's whole quota).
MAX_LINES = 500
# A vetting decision, for one line or many (the schema's ClearanceDecisionEnum).
CLEARANCE_DECISIONS = [Clearance.APPROVED, Clearance.REJECTED]


def clearance_note_redactions(lines) -> dict[int, EventText]:
    """By line id, the redaction of each clearance note that was redacted (one query): the
    text of the line's latest clearance decision, whose note the line shows."""
    refs = {f"{line.batch.code}#{line.pk}": line.pk for line in lines if not line.clearance_note}
    if not refs:
        return {}
    events = (
        Event.objects.filter(
            subject_type=SubjectType.MEMBER, action=Action.CLEARANCE, subject_ref__in=refs
        )
        .select_related("text_row__redacted_by")
        # Whether the text was redacted, and by whom, when and why: not the rest of the row.
        .only(
            "subject_ref",
            "text_digest",
            "text_row__redacted_at",
            "text_row__redaction_reason",
            "text_row__redaction_event",
            "text_row__redacted_by__username",
        )
    )
    latest = {event.subject_ref: event for event in events.order_by("id")}
    return {refs[ref]: event.redaction for ref, event in latest.items() if event.redaction}


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
    clearance_note_redaction = serializers.SerializerMethodField(
        help_text="who redacted the clearance note, when and why (`clearance_note` is then "
        "empty); null: not redacted"
    )

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
            "clearance_note_redaction",
            "clearance_recorded_at",
            "outcome",
            "added_at",
        ]

    def get_companion_of(self, obj: BatchMember) -> str | None:
        return obj.companion.patient.case_reference if obj.companion_id else None

    @extend_schema_field(RedactionSerializer(allow_null=True))
    def get_clearance_note_redaction(self, obj: BatchMember) -> dict | None:
        if not hasattr(self, "_note_redactions"):
            self._note_redactions = clearance_note_redactions(_serialized_with(self, obj))
        return _redaction(self._note_redactions.get(obj.pk))


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
    clearance = serializers.ChoiceField(choices=CLEARANCE_DECISIONS)
    note = TextField(max_length=500, required=False, allow_blank=True)
    occurred_at = occurred_at_field()


class LineRefSerializer(serializers.Serializer):
    """One manifest line of the batch, named in one of three ways."""

    member = serializers.IntegerField(
        required=False, help_text="the line's id (`id` in `members/`)"
    )
    person = TextField(
        required=False,
        max_length=20,
        help_text="the case reference of a patient (EV-…) or the reference of a returnee (RT-…)",
    )
    companion = serializers.IntegerField(
        required=False, help_text="a companion's id (`companion` in `members/`)"
    )

    def validate(self, attrs):
        given = [name for name in LineKey.KINDS if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["give exactly one of member, person or companion"]}
            )
        return attrs


def _line_keys(items: list[dict], field: str) -> dict:
    """{line key: item} for the service: a bare line id for `member`, as the services have
    always taken; a `LineKey` for a person or a companion. A line named twice the same way is
    refused here; named twice in two ways, by the service."""
    keyed = {}
    for item in items:
        name = next(kind for kind in LineKey.KINDS if kind in item)
        key = item[name] if name == "member" else LineKey(name, item[name])
        if key in keyed:
            raise serializers.ValidationError(
                f"{LineKey(name, item[name])} is listed twice in {field}"
            )
        keyed[key] = item
    return keyed


class OutcomeSerializer(LineRefSerializer):
    """One person's outcome at the crossing; the line named by exactly one of `member`,
    `person` or `companion`."""

    outcome = serializers.ChoiceField(choices=Outcome.choices)


class CrossSerializer(serializers.Serializer):
    outcomes = OutcomeSerializer(
        many=True,
        allow_empty=False,
        max_length=MAX_LINES,
        help_text="one outcome for every person on board; each names its line by `member`, "
        "`person` or `companion`",
    )

    occurred_at = occurred_at_field()

    def validate_outcomes(self, value):
        return {key: item["outcome"] for key, item in _line_keys(value, "outcomes").items()}


class ClearanceDecisionSerializer(LineRefSerializer):
    """One person's vetting decision; the line named by exactly one of `member`, `person` or
    `companion`."""

    clearance = serializers.ChoiceField(choices=CLEARANCE_DECISIONS)
    note = TextField(max_length=500, required=False, allow_blank=True)


class BulkClearanceSerializer(serializers.Serializer):
    """The vetting decisions of many people on one submitted batch, recorded all or nothing."""

    decisions = ClearanceDecisionSerializer(
        many=True,
        allow_empty=False,
        max_length=MAX_LINES,
        help_text="each names its line by `member`, `person` or `companion`",
    )
    occurred_at = occurred_at_field()

    def validate_decisions(self, value):
        keyed = _line_keys(value, "decisions")
        return {key: (item["clearance"], item.get("note", "")) for key, item in keyed.items()}
