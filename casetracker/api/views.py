from datetime import date, datetime, time, timedelta

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from casetracker.accounts.models import Facility
from casetracker.accounts.permissions import RolePermission
from casetracker.accounts.services import facility_create, facility_update
from casetracker.accounts.sessions import issue_api_token
from casetracker.audit.models import ACCESS_ACTIONS, Action, Event, SubjectType, occurred_between
from casetracker.audit.redaction import text_redact
from casetracker.errors import TransitionRefused
from casetracker.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationStatus,
)
from casetracker.notifications.services import (
    notification_mark_read,
    notification_retry,
    notifications_mark_all_read,
)

from .pagination import NewestFirstCursorPagination
from .serializers import (
    ApiTokenSerializer,
    EventSerializer,
    FacilityChangeSerializer,
    FacilitySerializer,
    NotificationSerializer,
    RedactRequestSerializer,
)
from .viewsets import ServiceViewSet


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; while two-factor sign-in is on
    (always in production) `otp_token` too. Repeated failures, wrong codes included, lock the
    username out from this address for a while (HTTP 429)."""

    serializer_class = ApiTokenSerializer
    # DRF's ObtainAuthToken opts out of permissions; the policy table lets anyone post here.
    permission_classes = [RolePermission]
    # ObtainAuthToken names DRF's parsers; the project's JSON parser limits nesting.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    @extend_schema(
        request=ApiTokenSerializer,
        responses={
            200: inline_serializer("ApiToken", {"token": serializers.CharField()}),
            400: OpenApiResponse(
                description="Wrong credentials, or `otp_token` missing or wrong; the body "
                "names the field."
            ),
            429: OpenApiResponse(description="Too many failed sign-ins: locked out for a while."),
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            token = issue_api_token(serializer.validated_data["user"])
            return Response({"token": token.key})
        except ValidationError:
            # The lockout backend flags the request it was given: DRF's, not the HttpRequest
            # the lockout middleware sees, so the answer is made here.
            if getattr(request, "axes_locked_out", False):
                minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
                return Response(
                    {"detail": f"too many failed sign-ins: try again in {minutes} minutes"},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                )
            raise


class FacilityViewSet(ServiceViewSet):
    """Hospitals, field hospitals and staging points, by code. Every signed-in role reads them;
    admins add one (POST) and change its names, kind, governorate or whether it is in use
    (PATCH). The code never changes. Each write is an audit event (subject type `facility`)."""

    model = Facility
    serializer_class = FacilitySerializer
    lookup_field = "code"
    filterset_fields = ["kind", "governorate", "is_active"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    create_service = facility_create
    update_service = facility_update
    instance_kwarg = "facility"

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return FacilityChangeSerializer
        return FacilitySerializer


class EventFilter(django_filters.FilterSet):
    subject_type = django_filters.ChoiceFilter(choices=SubjectType.choices)
    subject = django_filters.CharFilter(field_name="subject_ref")
    batch = django_filters.CharFilter(field_name="batch_ref")
    action = django_filters.ChoiceFilter(choices=Action.choices)
    reason = django_filters.CharFilter(field_name="reason_code")
    source = django_filters.CharFilter(field_name="source")
    # Reads outnumber changes many times over: `access_log=false` leaves them out.
    access_log = django_filters.BooleanFilter(
        method="filter_access_log",
        label="true: only the access log (reads of personal data and its seals); false: "
        "everything else",
    )
    # The days an auditor asks about are the days things happened: `date_from`/`date_to` read
    # when the event occurred, `recorded_from`/`recorded_to` when it was recorded (local days).
    date_from = django_filters.DateFilter(
        method="filter_occurred", label="first day it occurred (local date)"
    )
    date_to = django_filters.DateFilter(
        method="filter_occurred", label="last day it occurred (local date)"
    )
    recorded_from = django_filters.DateFilter(
        method="filter_recorded", label="first day it was recorded (local date)"
    )
    recorded_to = django_filters.DateFilter(
        method="filter_recorded", label="last day it was recorded (local date)"
    )

    class Meta:
        model = Event
        fields = ["subject_type", "subject", "batch", "action", "reason", "source"]

    # A local day is a range of the datetime columns, from its midnight to the next one, which
    # their indexes serve; a `__date` lookup would compare an expression (the column converted
    # to the local time zone, then cast to a date) that no index covers, row by row.
    def filter_occurred(self, queryset, name, value):
        # `occurred_at`, or `created_at` for the events recorded before it existed (NULL).
        if name == "date_from":
            return queryset.filter(occurred_between(start=_midnight(value)))
        return queryset.filter(occurred_between(end=_midnight(value + timedelta(days=1))))

    def filter_access_log(self, queryset, name, value):
        if value is None:
            return queryset
        reads = Q(action__in=ACCESS_ACTIONS)
        return queryset.filter(reads if value else ~reads)

    def filter_recorded(self, queryset, name, value):
        if name == "recorded_from":
            return queryset.filter(created_at__gte=_midnight(value))
        return queryset.filter(created_at__lt=_midnight(value + timedelta(days=1)))


def _midnight(day: date) -> datetime:
    """The start of a local day (`TIME_ZONE`)."""
    return timezone.make_aware(datetime.combine(day, time.min))


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log: every state change, newest first. An event's free text (`reason_text`)
    is kept beside the hash chain, which holds its keyed hash (`text_digest`); an admin may
    redact it (`redact/`), after which `redaction` says who, when and why."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return Event.objects.visible_to(self.request.user).select_related(
            "actor", "actor_facility", "text_row__redacted_by"
        )

    @extend_schema(
        request=RedactRequestSerializer,
        responses={
            200: EventSerializer,
            409: OpenApiResponse(
                description="Nothing to redact: the event has no text, its text is already "
                "redacted, or it was recorded before texts were kept apart from the chain."
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def redact(self, request, pk=None):
        """Blank the event's free text, for admins, with a reason; the chain still verifies
        (its keyed hash stays) and the redaction is an event of its own (action `redact`).
        The copies of the text (a batch's cancel text, a clearance note, a statement) are
        blanked too."""
        event = self.get_object()
        serializer = RedactRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        text_redact(
            text_id=event.pk, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=event.pk)).data)


class NotificationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices)
    channel = django_filters.ChoiceFilter(choices=NotificationChannel.choices)
    batch = django_filters.CharFilter(field_name="event__batch_ref")
    mine = django_filters.BooleanFilter(
        method="filter_mine", label="only the notifications addressed to me"
    )

    class Meta:
        model = Notification
        fields = ["status", "channel", "batch", "mine"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(recipient=self.request.user) if value else queryset


# The columns NotificationSerializer reads: the notification's own (not its address), and of
# its event and recipient what the subject, type, batch, action and username are made of.
NOTIFICATION_ROW = [
    "channel",
    "recipient",
    "payload",
    "status",
    "language",
    "event",
    "attempts",
    "attempt_limit",
    "next_attempt_at",
    "last_error",
    "provider_message_id",
    "created_at",
    "sent_at",
    "read_at",
    "event__subject_type",
    "event__subject_ref",
    "event__batch_ref",
    "event__action",
    "recipient__username",
]


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Notifications and their delivery log: each user sees their own; coordinators and
    admins see every notification (`?mine=true` for their own inbox)."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    # Everyone signed in reads and marks their own inbox, auditors included; retrying a
    # failed delivery is for coordinators and admins.

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Notification.objects.none()
        # Each row names its event's batch, action and type (the subject is made of them).
        qs = Notification.objects.visible_to(self.request.user).select_related("event", "recipient")
        if self.action in ("list", "retrieve"):
            # Of the event and the recipient, only what a row shows: an event row is wide (its
            # hashes, details and text), a user row holds the password hash.
            qs = qs.only(*NOTIFICATION_ROW)
        if self.action in ("read", "read_all", "unread_count"):
            qs = qs.filter(recipient=self.request.user)
        return qs

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = notification_mark_read(notification=self.get_object(), user=request.user)
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("MarkedRead", {"marked": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": notifications_mark_all_read(user=request.user)})

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        try:
            notification = notification_retry(notification=self.get_object(), actor=request.user)
        except DjangoValidationError as exc:
            # A row that has not failed is refused by its state, not by anything the client
            # sent (the request has no body): a 409, as every refused transition.
            raise TransitionRefused(exc.messages) from exc
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})
    )
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        count = (
            self.get_queryset()
            .filter(channel=NotificationChannel.INBOX, read_at__isnull=True)
            .count()
        )
        return Response({"unread": count})
