from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.api.fields import (
    OccurredAtField,
    ScopedPrimaryKeyRelatedField,
    ScopedSlugRelatedField,
    StrictBooleanField,
    TextField,
)
from casetracker.api.serializers import RedactionSerializer
from casetracker.audit.models import Action, Event, EventText, SubjectType
from patients.models import MOBILITY_NEEDS, Companion, Patient, Returnee

from ..models import (
    STATEMENT_MAX_LENGTH,
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    Crossing,
    Direction,
    EndReason,
    InformationSource,
    Outcome,
    Statement,
)
from ..proposal import REASON_CODES
from ..services.lines import LineKey
from ..states import allowed_transitions

# Lines one bulk request may name: more than any batch carries (a day's whole quota).
MAX_LINES = 500
# A vetting decision, for one line or many (the schema's ClearanceDecisionEnum).
CLEARANCE_DECISIONS = [Clearance.APPROVED, Clearance.REJECTED]


def _serialized_with(serializer: serializers.Serializer, obj) -> list:
    """The objects answered together with `obj`: the whole page or list when `serializer` is
    the child of a list, so a look-up made for one of them is made once for all."""
    parent = serializer.parent
    if isinstance(parent, serializers.ListSerializer) and parent.instance is not None:
        return list(parent.instance)
    return [obj]


def _redaction(found: EventText | None) -> dict | None:
    return RedactionSerializer(found).data if found is not None else None


def cancel_text_redactions(batches) -> dict[str, EventText]:
    """By batch code, the redaction of each cancel text that was redacted (one query): a
    cancelled batch's blank text is a redacted one."""
    codes = [
        b.code for b in batches if b.status == BatchStatus.CANCELLED and not b.cancel_reason_text
    ]
    if not codes:
        return {}
    events = Event.objects.filter(
        subject_type=SubjectType.BATCH, action=Action.CANCEL, subject_ref__in=codes
    ).select_related("text_row__redacted_by")
    return {event.subject_ref: event.redaction for event in events if event.redaction}


def clearance_note_redactions(lines) -> dict[int, EventText]:
    """By line id, the redaction of each clearance note that was redacted (one query): the
    text of the line's latest clearance decision, whose note the line shows."""
    refs = {f"{line.batch.code}#{line.pk}": line.pk for line in lines if not line.clearance_note}
    if not refs:
        return {}
    events = Event.objects.filter(
        subject_type=SubjectType.MEMBER, action=Action.CLEARANCE, subject_ref__in=refs
    ).select_related("text_row__redacted_by")
    latest = {event.subject_ref: event for event in events.order_by("id")}
    return {refs[ref]: event.redaction for ref, event in latest.items() if event.redaction}


def _until_set(choices) -> serializers.ChoiceField:
    """A read-only choice that stays blank until its step happens (the schema says so: the
    generated field would promise one of the choices)."""
    return serializers.ChoiceField(choices=choices, read_only=True, allow_blank=True)


def crossing_field(**kwargs) -> ScopedSlugRelatedField:
    """A crossing by its code (`rafah`, `kerem-shalom`...); Rafah when not given."""
    return ScopedSlugRelatedField(
        slug_field="code",
        queryset=Crossing.objects.all(),
        required=False,
        help_text="crossing code, such as rafah or kerem-shalom (default: rafah)",
        **kwargs,
    )


# What a fact of a batch must not precede (`batches.services.common.batch_occurred_at`).
AFTER_BATCH_EVENT = "the batch's latest event"


def occurred_at_field(**kwargs) -> OccurredAtField:
    return OccurredAtField(follows=AFTER_BATCH_EVENT, **kwargs)


class OccurredSerializer(serializers.Serializer):
    """The body of a step that needs nothing more: optionally, when it happened."""

    occurred_at = occurred_at_field()


class BatchSerializer(serializers.ModelSerializer):
    crossing = crossing_field()
    # On creation only: when the batch was opened, if not just now.
    occurred_at = OccurredAtField(follows=None, write_only=True)
    staging_facility = ScopedSlugRelatedField(slug_field="code", queryset=Facility.objects.all())
    rescheduled_from = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    cancel_reason_code = _until_set(CancelReason.choices)
    cancel_source = _until_set(InformationSource.choices)
    cancel_relayed_by = serializers.ChoiceField(
        choices=InformationSource.choices,
        read_only=True,
        allow_blank=True,
        help_text="who relayed the cancellation to us; blank: heard directly (or not cancelled)",
    )
    cancelled_from = _until_set(BatchStatus.choices)
    cancel_reason_redaction = serializers.SerializerMethodField(
        help_text="who redacted the cancel text, when and why (`cancel_reason_text` is then "
        "empty); null: not redacted"
    )
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
            "cancel_reason_redaction",
            "cancel_source",
            "cancel_relayed_by",
            "cancelled_from",
            "cancelled_at",
            "created_at",
            "allowed_transitions",
            "occurred_at",
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

    @extend_schema_field(RedactionSerializer(allow_null=True))
    def get_cancel_reason_redaction(self, obj: Batch) -> dict | None:
        if not hasattr(self, "_cancel_redactions"):
            self._cancel_redactions = cancel_text_redactions(_serialized_with(self, obj))
        return _redaction(self._cancel_redactions.get(obj.code))

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


def relayed_by_field(what: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=InformationSource.choices,
        required=False,
        allow_blank=True,
        help_text=f"who relayed {what} to us (e.g. who for a decision of the border authority); "
        "empty or left out: we heard it directly",
    )


class CancelSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=CancelReason.choices)
    reason_text = TextField(max_length=2000)
    source = serializers.ChoiceField(
        choices=InformationSource.choices, help_text="who decided the cancellation"
    )
    relayed_by = relayed_by_field("the decision")
    occurred_at = occurred_at_field()


class StatementAddSerializer(serializers.Serializer):
    """What a party said about the batch, or about its cancellation, and when."""

    source = serializers.ChoiceField(choices=InformationSource.choices, help_text="who said it")
    text = TextField(max_length=STATEMENT_MAX_LENGTH, help_text="what was said")
    relayed_by = relayed_by_field("it")
    said_at = OccurredAtField(
        follows="the batch's creation (for a statement about the cancellation: the cancellation)",
        help_text="when it was said, if not just now: ISO 8601, such as "
        "2026-02-07T10:00:00+02:00 (without an offset: the deployment's time zone). Refused "
        "in the future (beyond 5 minutes of clock difference) and before the batch's creation "
        "(for a statement about the cancellation: before the cancellation)",
    )
    about_cancellation = StrictBooleanField(
        required=False,
        default=False,
        help_text="about the batch's cancellation (the batch must be cancelled)",
    )


class StatementSerializer(serializers.ModelSerializer):
    """A statement as its audit event records it (`event`, in the hash chain: who said it, who
    relayed it, when, what, who recorded it and when); its text is empty once redacted
    (`redaction` says who, when and why)."""

    # Read from the chained event, not from the statement's own columns: those are copies for
    # the batch page, and an UPDATE to them would go unnoticed by `verify_audit_log`.
    batch = serializers.CharField(source="event.batch_ref", read_only=True)
    about_cancellation = serializers.BooleanField(
        source="event.details.about_cancellation",
        read_only=True,
        help_text="about the batch's cancellation",
    )
    source = serializers.ChoiceField(
        source="event.source",
        choices=InformationSource.choices,
        read_only=True,
        help_text="who said it",
    )
    relayed_by = serializers.ChoiceField(
        source="event.details.relayed_by",
        choices=InformationSource.choices,
        read_only=True,
        allow_blank=True,
        help_text="blank: they told us directly",
    )
    said_at = serializers.DateTimeField(
        source="event.occurred", read_only=True, help_text="when it was said"
    )
    text = serializers.CharField(
        source="event.reason_text", read_only=True, help_text="what was said; empty once redacted"
    )
    recorded_by = serializers.SlugRelatedField(
        source="event.actor", slug_field="username", read_only=True, allow_null=True
    )
    recorded_at = serializers.DateTimeField(source="event.created_at", read_only=True)
    event = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="its audit event (`/api/v1/events/{id}/`)"
    )
    redaction = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "id",
            "batch",
            "about_cancellation",
            "source",
            "relayed_by",
            "said_at",
            "text",
            "redaction",
            "recorded_by",
            "recorded_at",
            "event",
        ]

    @extend_schema_field(RedactionSerializer(allow_null=True))
    def get_redaction(self, obj: Statement) -> dict | None:
        return _redaction(obj.event.redaction)


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


class RescheduleSerializer(serializers.Serializer):
    planned_date = serializers.DateField(
        help_text="the new day: the cancelled batch's own day or any later one"
    )
    staging_facility = ScopedSlugRelatedField(
        slug_field="code", queryset=Facility.objects.all(), required=False
    )
    occurred_at = OccurredAtField(follows="the cancelled batch's latest event")


def _agreed(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, help_text=help_text
    )


class CrossingQuotaSerializer(serializers.Serializer):
    """What was agreed for one day, crossing and direction. Out (`exit`): `agreed_patients`
    and `agreed_companions`, both required. Back in (`return`): `agreed_returnees` only; a
    return quota has no companions, and a return quota given `agreed_companions` or
    `agreed_patients` is refused naming the field. An answer carries the numbers of its
    direction only.

    POST sets a day's quota, or changes its numbers: a change needs `source` (who agreed the
    new numbers), and both the first numbers and every change are audit events (subject type
    `quota`, with the old and new numbers)."""

    id = serializers.IntegerField(read_only=True)
    crossing = crossing_field()
    date = serializers.DateField()
    direction = serializers.ChoiceField(choices=Direction.choices)
    agreed_patients = _agreed("exit only: patients allowed out")
    agreed_companions = _agreed("exit only: companions allowed out with them")
    agreed_returnees = _agreed("return only: people allowed back")
    source = serializers.ChoiceField(
        choices=InformationSource.choices,
        required=False,
        write_only=True,
        help_text="who agreed these numbers; required to change a day's numbers",
    )
    note = TextField(
        max_length=2000,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="what was agreed and how, for the audit log",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.is_exit:
            unsaid = ("agreed_returnees",)
        else:
            unsaid = ("agreed_patients", "agreed_companions")
        for name in unsaid:
            data.pop(name, None)
        return data


# --- The batch builder's proposal (batches/proposal.py) -----------------------------------


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
