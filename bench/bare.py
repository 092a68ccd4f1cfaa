"""The baseline every endpoint is measured against: plain DRF views over the same tables, with
plain ModelSerializers of the same model fields (those of the application's serializers that
are columns), paginated the same way, and nothing else: no scoping by role, no access log, no
computed field. Mounted under `/bench/bare/` only when `BENCH_BARE_VIEWS` is on (the benchmark
sets it; production refuses it)."""

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Prefetch
from django.utils import timezone
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import IsAuthenticated

from batches.api.serializers import BatchSerializer, MemberSerializer
from batches.models import Batch, BatchMember, BatchStatus
from casetracker.api.serializers import EventSerializer, NotificationSerializer
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from patients.api.serializers import PatientSerializer
from patients.models import Companion, Patient, PatientStatus, Readiness, Referral


def plain(model, like: type[serializers.ModelSerializer] | None = None, fields=None):
    """A ModelSerializer of `model` with `fields`, or the model fields of the serializer
    `like` (its computed fields left out)."""
    columns = {f.name for f in model._meta.get_fields() if f.concrete}
    meta = type(
        "Meta",
        (),
        {"model": model, "fields": fields or [n for n in like.Meta.fields if n in columns]},
    )
    return type(f"Bare{model.__name__}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class Bare:
    permission_classes = [IsAuthenticated]
    pagination_class = Pages


def _list(model, serializer, queryset=None, pagination=Pages, **attrs):
    bases = (Bare, generics.ListAPIView)
    body = {"queryset": queryset if queryset is not None else model.objects.all()}
    body |= {"serializer_class": serializer, "pagination_class": pagination, **attrs}
    return type(f"Bare{model.__name__}List", bases, body).as_view()


def _detail(model, serializer, lookup: str, queryset=None):
    body = {"queryset": queryset if queryset is not None else model.objects.all()}
    body |= {"serializer_class": serializer, "lookup_field": lookup}
    return type(f"Bare{model.__name__}Detail", (Bare, generics.RetrieveAPIView), body).as_view()


PatientRow = plain(Patient, PatientSerializer)
BatchRow = plain(Batch, BatchSerializer)
LineRow = plain(BatchMember, MemberSerializer)
EventRow = plain(Event, EventSerializer)
NotificationRow = plain(Notification, NotificationSerializer)

patients = _list(Patient, PatientRow)
patient = _detail(Patient, PatientRow, "case_reference")
# A crossing is named by its code, which a row of its own holds (as the real serializer reads it).
BATCHES = Batch.objects.select_related("crossing")
batches = _list(Batch, BatchRow, BATCHES)
batch = _detail(Batch, BatchRow, "code", BATCHES)
events = _list(Event, EventRow, pagination=NewestFirst)
event = _detail(Event, EventRow, "pk")
notifications = _list(Notification, NotificationRow)
notification = _detail(Notification, NotificationRow, "pk")


class Manifest(Bare, generics.ListAPIView):
    """A batch's lines (the manifest), in line order."""

    serializer_class = LineRow

    def get_queryset(self):
        return BatchMember.objects.filter(batch__code=self.kwargs["code"]).order_by("id")


# --- the same tables as the field pages and the cancellation history ------------------------

CompanionRow = plain(Companion, fields=["id", "name_latin", "name_arabic", "relationship"])
ReadinessRow = plain(Readiness, fields=["fit_to_travel", "documents_ready", "companions_present"])
ReferralRow = plain(Referral, fields=["number", "status", "issued_on", "expires_on"])


class QueueRow(PatientRow):
    companions = CompanionRow(many=True, read_only=True)
    readiness = ReadinessRow(read_only=True)
    referrals = ReferralRow(many=True, read_only=True)

    class Meta(PatientRow.Meta):
        fields = [*PatientRow.Meta.fields, "companions", "readiness", "referrals"]


class Queue(Bare, generics.ListAPIView):
    """The waiting patients with what the queue page shows of them, 50 a page."""

    serializer_class = QueueRow
    queryset = (
        Patient.objects.filter(status=PatientStatus.WAITING)
        .select_related("readiness", "facility")
        .prefetch_related("companions", "referrals")
    )


class PersonLineRow(LineRow):
    patient = PatientRow(read_only=True)
    companion = CompanionRow(read_only=True)

    class Meta(LineRow.Meta):
        fields = LineRow.Meta.fields


class BatchPageRow(BatchRow):
    members = PersonLineRow(many=True, read_only=True)

    class Meta(BatchRow.Meta):
        fields = [*BatchRow.Meta.fields, "members"]


class BatchPage(Bare, generics.RetrieveAPIView):
    """A batch with every line and the person on it, as the batch page lists them."""

    serializer_class = BatchPageRow
    lookup_field = "code"
    lines = BatchMember.objects.select_related("patient", "companion", "returnee").order_by("id")
    queryset = BATCHES.prefetch_related(Prefetch("members", queryset=lines))


class TodayRow(BatchRow):
    people = serializers.IntegerField(read_only=True)

    class Meta(BatchRow.Meta):
        fields = [*BatchRow.Meta.fields, "people"]


class Today(Bare, generics.ListAPIView):
    """The batches of today and the next six days, with how many people each carries."""

    serializer_class = TodayRow
    pagination_class = None

    def get_queryset(self):
        today = timezone.localdate()
        days = (today, today + timedelta(days=6))
        return BATCHES.filter(planned_date__range=days).annotate(people=Count("members"))


class CancelledRow(BatchRow):
    members = LineRow(many=True, read_only=True)

    class Meta(BatchRow.Meta):
        fields = [*BatchRow.Meta.fields, "members"]


class Cancellations(Bare, generics.ListAPIView):
    """The batches cancelled from `date_from` to `date_to`, each with its lines."""

    serializer_class = CancelledRow
    pagination_class = None

    def get_queryset(self):
        params = self.request.query_params
        end = date.fromisoformat(params.get("date_to", timezone.localdate().isoformat()))
        start = date.fromisoformat(params.get("date_from", (end - timedelta(days=27)).isoformat()))
        end = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
        start = timezone.make_aware(datetime.combine(start, time.min))
        return (
            BATCHES.filter(status=BatchStatus.CANCELLED)
            .filter(cancelled_at__gte=start, cancelled_at__lt=end)
            .prefetch_related("members")
            .order_by("-cancelled_at")
        )
