from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from casetracker.accounts.models import Facility
from casetracker.accounts.passwords import PASSWORD_MAX_LENGTH
from casetracker.accounts.twofactor.services import has_confirmed_totp, two_factor_verify
from casetracker.audit.models import Event, EventText
from casetracker.notifications.audiences import event_type
from casetracker.notifications.messages import event_subject
from casetracker.notifications.models import Notification

from .fields import StrictModelSerializer, TextField


class ApiTokenSerializer(AuthTokenSerializer):
    """Username and password, and while two-factor sign-in is required a second factor: a code
    from the authenticator app or an unused backup code."""

    # Bounded like every input: the lockout stores a failed username in a varchar(255), and
    # PostgreSQL would answer a longer one with a 500.
    username = serializers.CharField(label=_("Username"), write_only=True, max_length=150)
    password = serializers.CharField(
        label=_("Password"),
        style={"input_type": "password"},
        trim_whitespace=False,
        write_only=True,
        max_length=PASSWORD_MAX_LENGTH,
    )
    otp_token = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=32,
        help_text="Six-digit code from the authenticator app, or a backup code; required "
        "when two-factor sign-in is on (always in production).",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not settings.TWO_FACTOR_REQUIRED:
            return attrs
        user, token = attrs["user"], attrs.get("otp_token", "").strip()
        if not has_confirmed_totp(user):
            raise serializers.ValidationError(
                {
                    "otp_token": "two-factor sign-in is not set up for this account: set it up "
                    "on the web pages first"
                }
            )
        if not token:
            raise serializers.ValidationError(
                {"otp_token": "required: a code from the authenticator app or a backup code"}
            )
        if two_factor_verify(user=user, token=token) is None:
            # A wrong second factor is a failed sign-in: the lockout counts it like a wrong
            # password (the request is DRF's, as with the password check).
            user_login_failed.send(
                sender=type(self),
                credentials={"username": attrs["username"]},
                request=self.context.get("request"),
            )
            raise serializers.ValidationError({"otp_token": "wrong or expired code"})
        return attrs


class FacilitySerializer(StrictModelSerializer):
    """A hospital, field hospital or staging point. Admins add one (POST, every field but
    `is_active` required) and change it (PATCH); the code never changes."""

    class Meta:
        model = Facility
        fields = ["code", "name_en", "name_ar", "kind", "governorate", "is_active"]
        # The service says a code is taken, in the same words everywhere.
        extra_kwargs = {"code": {"validators": []}}


class FacilityChangeSerializer(FacilitySerializer):
    """PATCH: the names, kind, governorate and whether it is in use; not the code."""

    class Meta(FacilitySerializer.Meta):
        read_only_fields = ["code"]


class RedactionSerializer(serializers.ModelSerializer):
    """Who blanked an event's text, when and why (the text itself is gone)."""

    redacted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    reason = serializers.CharField(
        source="redaction_reason", read_only=True, help_text="why; empty if that was redacted too"
    )
    event = serializers.PrimaryKeyRelatedField(
        source="redaction_event",
        read_only=True,
        allow_null=True,
        help_text="the event that recorded the redaction (action `redact`)",
    )

    class Meta:
        model = EventText
        fields = ["redacted_at", "redacted_by", "reason", "event"]


class RedactRequestSerializer(serializers.Serializer):
    # A JSON string, as every free text: a number is refused, not recorded as its digits.
    reason = TextField(
        max_length=500,
        help_text="why the text is redacted (e.g. names a patient), without repeating it",
    )


class EventSerializer(serializers.ModelSerializer):
    # When it happened; `created_at` is when it was recorded. Events recorded before the two
    # were kept apart occurred when they were recorded: the same time twice.
    occurred_at = serializers.DateTimeField(
        source="occurred",
        read_only=True,
        help_text="when it happened (as stated by whoever recorded it); created_at is when "
        "it was recorded",
    )
    # Null for the system's own actions, and for actors without a facility.
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    actor_facility = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    reason_text = serializers.CharField(
        read_only=True,
        help_text="the event's free text (why, what was said, a note); empty once redacted, "
        "when `redaction` says who redacted it, when and why",
    )
    redaction = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "occurred_at",
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
            "redaction",
            "text_digest",
            "lane",
            "lane_seq",
            "prev_hash",
            "hash",
        ]

    @extend_schema_field(RedactionSerializer(allow_null=True))
    def get_redaction(self, obj: Event) -> dict | None:
        redaction = obj.redaction
        return RedactionSerializer(redaction).data if redaction is not None else None


class NotificationSerializer(serializers.ModelSerializer):
    """An inbox entry and its delivery log. The address (a phone number, an endpoint) is left
    out: the case reference and the recipient's account say who it was for."""

    subject = serializers.SerializerMethodField()
    # The event it reports (`/api/v1/events/{id}/`), and what it was: references, never names.
    event = serializers.PrimaryKeyRelatedField(read_only=True)
    event_type = serializers.SerializerMethodField()
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
            "event",
            "event_type",
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
        return event_subject(obj.event, obj.language)

    def get_event_type(self, obj: Notification) -> str:
        """As the webhook's `type` and `X-Casetracker-Event` name it, e.g. `batch.cancel`."""
        return event_type(obj.event.subject_type, obj.event.action)
