from rest_framework import serializers

from casetracker.accounts.models import Facility
from casetracker.audit.models import Event
from casetracker.notifications.messages import render_event_message
from casetracker.notifications.models import Notification


class FacilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Facility
        fields = ["code", "name_en", "name_ar", "kind", "governorate", "is_active"]


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    actor_facility = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "created_at",
            "subject_type",
            "subject_ref",
            "batch_ref",
            "action",
            "from_state",
            "to_state",
            "actor",
            "actor_role",
            "actor_facility",
            "reason_code",
            "reason_text",
            "source",
            "channel",
            "request_id",
            "details",
            "prev_hash",
            "hash",
        ]


class NotificationSerializer(serializers.ModelSerializer):
    """An inbox entry and its delivery log. The address (a phone number, an endpoint) is left
    out: the case reference and the recipient's account say who it was for."""

    subject = serializers.SerializerMethodField()
    batch = serializers.CharField(source="event.batch_ref", read_only=True)
    action = serializers.CharField(source="event.action", read_only=True)
    recipient = serializers.SlugRelatedField(slug_field="username", read_only=True)
    case = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "channel",
            "recipient",
            "case",
            "status",
            "language",
            "subject",
            "batch",
            "action",
            "attempts",
            "attempt_limit",
            "next_attempt_at",
            "last_error",
            "provider_message_id",
            "created_at",
            "sent_at",
            "read_at",
        ]

    def get_case(self, obj: Notification) -> str:
        return obj.payload.get("case", "")

    def get_subject(self, obj: Notification) -> str:
        return render_event_message(obj.event, obj.language).subject
