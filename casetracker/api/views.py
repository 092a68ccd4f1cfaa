import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from casetracker.accounts.models import Facility
from casetracker.accounts.permissions import RolePermission
from casetracker.accounts.sessions import issue_api_token
from casetracker.audit.models import Action, Event, SubjectType
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
    FacilitySerializer,
    NotificationSerializer,
)


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; while two-factor sign-in is on
    (always in production) `otp_token` too. Repeated failures, wrong codes included, lock the
    username out from this address for a while (HTTP 429)."""

    serializer_class = ApiTokenSerializer
    # DRF's ObtainAuthToken opts out of permissions; the policy table lets anyone post here.
    permission_classes = [RolePermission]

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


class FacilityViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = FacilitySerializer
    lookup_field = "code"
    filterset_fields = ["kind", "governorate", "is_active"]

    def get_queryset(self):
        return Facility.objects.visible_to(self.request.user)


class EventFilter(django_filters.FilterSet):
    subject_type = django_filters.ChoiceFilter(choices=SubjectType.choices)
    subject = django_filters.CharFilter(field_name="subject_ref")
    batch = django_filters.CharFilter(field_name="batch_ref")
    action = django_filters.ChoiceFilter(choices=Action.choices)
    reason = django_filters.CharFilter(field_name="reason_code")
    source = django_filters.CharFilter(field_name="source")
    date_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = Event
        fields = ["subject_type", "subject", "batch", "action", "reason", "source"]


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log: every state change, newest first."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return Event.objects.visible_to(self.request.user).select_related("actor", "actor_facility")


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
        qs = Notification.objects.visible_to(self.request.user).select_related("event", "recipient")
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
