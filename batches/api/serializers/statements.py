"""Statements: what a party said about a batch, as it is added and as its audit event
records it."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casetracker.api.fields import OccurredAtField, StrictBooleanField, TextField
from casetracker.api.serializers import RedactionSerializer

from ...models import STATEMENT_MAX_LENGTH, InformationSource, Statement
from .common import _redaction, relayed_by_field


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
