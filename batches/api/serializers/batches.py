"""A batch as the API answers it, and the bodies of its steps: a step that needs nothing
more, a cancellation and a rescheduling."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.api.fields import OccurredAtField, ScopedSlugRelatedField, TextField
from casetracker.api.serializers import RedactionSerializer
from casetracker.audit.models import Action, Event, EventText, SubjectType

from ...models import Batch, BatchStatus, CancelReason, InformationSource
from ...states import allowed_transitions
from .common import (
    _redaction,
    _serialized_with,
    _until_set,
    crossing_field,
    occurred_at_field,
    relayed_by_field,
)


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


class CancelSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=CancelReason.choices)
    reason_text = TextField(max_length=2000)
    source = serializers.ChoiceField(
        choices=InformationSource.choices, help_text="who decided the cancellation"
    )
    relayed_by = relayed_by_field("the decision")
    occurred_at = occurred_at_field()


class RescheduleSerializer(serializers.Serializer):
    planned_date = serializers.DateField(
        help_text="the new day: the cancelled batch's own day or any later one"
    )
    staging_facility = ScopedSlugRelatedField(
        slug_field="code", queryset=Facility.objects.all(), required=False
    )
    occurred_at = OccurredAtField(follows="the cancelled batch's latest event")
