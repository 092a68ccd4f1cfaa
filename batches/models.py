from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role
from casetracker.constraints import max_length_check


class Direction(models.TextChoices):
    EXIT = "exit", _("exit (patients and companions)")
    RETURN = "return", _("return (returnees)")


class BatchStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    PREPARED = "prepared", _("prepared")
    SUBMITTED = "submitted", _("submitted for vetting")
    CLEARED = "cleared", _("cleared")
    IN_TRANSIT = "in_transit", _("in transit")
    CROSSED = "crossed", _("crossed")
    CANCELLED = "cancelled", _("cancelled")


CANCEL_REASON_MAX_LENGTH = 2000

TERMINAL_STATUSES = frozenset({BatchStatus.CROSSED, BatchStatus.CANCELLED})


class CancelReason(models.TextChoices):
    NO_REASON_GIVEN = "no_reason_given", _("no reason given")
    COORDINATION_INCOMPLETE = "coordination_incomplete", _("coordination incomplete")
    SECURITY = "security", _("security")
    WEATHER = "weather", _("weather")
    LOGISTICS = "logistics", _("logistics")
    MEDICAL = "medical", _("medical")
    OTHER = "other", _("other")


class InformationSource(models.TextChoices):
    """Who told us: a cancellation relayed by WHO is not the same fact as one we decided."""

    WHO = "who", _("WHO")
    BORDER_AUTHORITY = "border_authority", _("border authority")
    MINISTRY_OF_HEALTH = "ministry_of_health", _("ministry of health")
    RED_CRESCENT = "red_crescent", _("Red Crescent")
    INTERNAL = "internal", _("internal decision")
    OTHER = "other", _("other")


class Clearance(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class Outcome(models.TextChoices):
    CROSSED = "crossed", _("crossed")
    TURNED_BACK = "turned_back", _("turned back")
    HELD = "held", _("held")
    NO_SHOW = "no_show", _("no show")


class EndReason(models.TextChoices):
    """Why a manifest line stopped being open."""

    REJECTED = "rejected", _("not cleared to travel")
    CANCELLED = "cancelled", _("batch cancelled")
    COMPLETED = "completed", _("crossing outcome recorded")


class CrossingState(models.TextChoices):
    OPEN = "open", _("open")
    RESTRICTED = "restricted", _("restricted")
    CLOSED = "closed", _("closed")


# The crossing meant where none is given (the API, the services): the only one there was before
# crossings became data. Always present: the migration creates it and `apps.py` recreates it
# after a database flush.
DEFAULT_CROSSING = "rafah"
RAFAH = {"prefix": "RAF", "name_en": "Rafah", "name_ar": "رفح"}


class CrossingQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CrossingQuerySet":
        # A crossing's name and state are no one's personal data: every signed-in role reads them.
        return self.none() if user_role(user) is Role.ANONYMOUS else self


class Crossing(models.Model):
    """A border crossing the batches go through (Rafah, Kerem Shalom...). Batches and quotas
    point at it by code. Its state changes only through
    `batches.services.crossings.crossing_set_state`, each change an audit event."""

    code = models.SlugField(
        max_length=20,
        unique=True,
        verbose_name=_("code"),
        help_text=_("How the API and the links name it, e.g. kerem-shalom. Never changes."),
    )
    prefix = models.CharField(
        max_length=6,
        unique=True,
        verbose_name=_("batch code prefix"),
        help_text=_("Two to six capital letters starting each batch code, e.g. KSH."),
    )
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_ar = models.CharField(_("name (Arabic)"), max_length=100)
    state = models.CharField(
        max_length=10,
        choices=CrossingState.choices,
        default=CrossingState.OPEN,
        verbose_name=_("state"),
    )
    state_since = models.DateTimeField(default=timezone.now, verbose_name=_("state since"))
    state_reason = models.CharField(
        max_length=500, blank=True, verbose_name=_("why it is in this state")
    )
    state_source = models.CharField(
        max_length=32,
        choices=InformationSource.choices,
        blank=True,
        verbose_name=_("state reported by"),
    )
    opens_at = models.TimeField(null=True, blank=True, verbose_name=_("opens at"))
    closes_at = models.TimeField(null=True, blank=True, verbose_name=_("closes at"))
    note = models.CharField(max_length=500, blank=True, verbose_name=_("note"))

    objects = CrossingQuerySet.as_manager()

    class Meta:
        verbose_name = _("crossing")
        verbose_name_plural = _("crossings")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=CrossingState.values), name="crossing_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(state_source="") | Q(state_source__in=InformationSource.values),
                name="crossing_state_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(opens_at__isnull=True, closes_at__isnull=True)
                | Q(opens_at__isnull=False, closes_at__isnull=False),
                name="crossing_hours_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language (the English one when no Arabic name is stored)."""
        language = (get_language() or "").split("-")[0]
        return self.name_ar if language == "ar" and self.name_ar else self.name_en

    @property
    def is_closed(self) -> bool:
        return self.state == CrossingState.CLOSED

    @property
    def is_restricted(self) -> bool:
        return self.state == CrossingState.RESTRICTED

    def state_sentence(self) -> str:
        """ "Kerem Shalom is closed since 6 Feb 2026, 14:00 (reason)", in the active language;
        empty while the crossing is open."""
        if self.state == CrossingState.OPEN:
            return ""
        names = {
            "crossing": self.name,
            "since": date_format(timezone.localtime(self.state_since), "SHORT_DATETIME_FORMAT"),
            "reason": self.state_reason,
        }
        if self.is_closed:
            if self.state_reason:
                return gettext("%(crossing)s is closed since %(since)s: %(reason)s") % names
            return gettext("%(crossing)s is closed since %(since)s") % names
        if self.state_reason:
            return gettext("%(crossing)s is restricted since %(since)s: %(reason)s") % names
        return gettext("%(crossing)s is restricted since %(since)s") % names

    @property
    def hours(self) -> str:
        """ "07:00-15:00", or empty when no hours are recorded."""
        if self.opens_at is None:
            return ""
        return f"{self.opens_at:%H:%M}\u2013{self.closes_at:%H:%M}"


class BatchQuerySet(models.QuerySet):
    def visible_to(self, user) -> "BatchQuerySet":
        role = user_role(user)
        if role in (Role.COORDINATOR, Role.AUDITOR, Role.ADMIN):
            return self
        if role is Role.HOSPITAL_STAFF and user.facility_id:
            return self.filter(staging_facility_id=user.facility_id)
        return self.none()

    def open(self) -> "BatchQuerySet":
        return self.exclude(status__in=TERMINAL_STATUSES)


class Batch(models.Model):
    code = models.CharField(max_length=32, unique=True, editable=False, verbose_name=_("code"))
    # The column keeps its name and the codes it always held ("rafah").
    crossing = models.ForeignKey(
        Crossing,
        to_field="code",
        db_column="crossing",
        on_delete=models.PROTECT,
        related_name="batches",
        verbose_name=_("crossing"),
    )
    direction = models.CharField(
        max_length=10, choices=Direction.choices, verbose_name=_("direction")
    )
    planned_date = models.DateField(db_index=True, verbose_name=_("planned date"))
    staging_facility = models.ForeignKey(
        "accounts.Facility",
        on_delete=models.PROTECT,
        related_name="staged_batches",
        verbose_name=_("staging facility"),
    )
    status = models.CharField(
        max_length=12,
        choices=BatchStatus.choices,
        default=BatchStatus.DRAFT,
        editable=False,
        verbose_name=_("status"),
    )
    rescheduled_from = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rescheduled_as",
        editable=False,
        verbose_name=_("rescheduled from"),
    )
    cancel_reason_code = models.CharField(
        max_length=32,
        choices=CancelReason.choices,
        blank=True,
        editable=False,
        verbose_name=_("cancel reason code"),
    )
    cancel_reason_text = models.TextField(
        max_length=CANCEL_REASON_MAX_LENGTH,
        blank=True,
        editable=False,
        verbose_name=_("cancel reason text"),
    )
    # Who decided (`cancel_source`, e.g. the border authority) and who relayed the decision to
    # us (e.g. WHO); blank: we heard it from them directly.
    cancel_source = models.CharField(
        max_length=32,
        choices=InformationSource.choices,
        blank=True,
        editable=False,
        verbose_name=_("cancel source"),
    )
    cancel_relayed_by = models.CharField(
        max_length=32,
        choices=InformationSource.choices,
        blank=True,
        editable=False,
        verbose_name=_("cancellation relayed by"),
    )
    cancelled_from = models.CharField(
        max_length=12,
        choices=BatchStatus.choices,
        blank=True,
        editable=False,
        verbose_name=_("cancelled from"),
    )
    cancelled_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("cancelled at")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = BatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        ordering = ["-planned_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="batch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values), name="batch_direction_valid"
            ),
            # The text is required by `batch_cancel`, not here: a redaction blanks it
            # (casetracker/audit/redaction.py).
            models.CheckConstraint(
                condition=~Q(status=BatchStatus.CANCELLED)
                | (
                    Q(cancel_reason_code__in=CancelReason.values)
                    & Q(cancel_source__in=InformationSource.values)
                    & Q(cancelled_at__isnull=False)
                ),
                name="batch_cancel_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(cancel_relayed_by="")
                | Q(cancel_relayed_by__in=InformationSource.values),
                name="batch_cancel_relayed_by_valid",
            ),
            max_length_check(
                "cancel_reason_text",
                CANCEL_REASON_MAX_LENGTH,
                name="batch_cancel_reason_text_length",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


STATEMENT_MAX_LENGTH = 2000


class StatementQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StatementQuerySet":
        return self.filter(batch__in=Batch.objects.visible_to(user))


class Statement(models.Model):
    """What a party said about a batch, or about its cancellation, at any time after the fact
    (e.g. the border authority's claim, a day later, that coordination details were missing):
    who said it (`source`), how we learnt it (`relayed_by`, blank: directly), when it was said
    and what. Recorded by `batches.services.statements.statement_add`, with an event of its
    own; the text is redactable (blanked with the event's text)."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="statements", verbose_name=_("batch")
    )
    about_cancellation = models.BooleanField(
        default=False, editable=False, verbose_name=_("about the cancellation")
    )
    source = models.CharField(
        max_length=32, choices=InformationSource.choices, editable=False, verbose_name=_("said by")
    )
    relayed_by = models.CharField(
        max_length=32,
        choices=InformationSource.choices,
        blank=True,
        editable=False,
        verbose_name=_("relayed by"),
    )
    said_at = models.DateTimeField(editable=False, verbose_name=_("said at"))
    text = models.TextField(
        max_length=STATEMENT_MAX_LENGTH, blank=True, editable=False, verbose_name=_("what was said")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        editable=False,
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("recorded at")
    )
    # Its audit event (action `statement`), whose text this one copies.
    event = models.OneToOneField(
        "audit.Event",
        on_delete=models.PROTECT,
        related_name="statement",
        editable=False,
        verbose_name=_("event"),
    )

    objects = StatementQuerySet.as_manager()

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        ordering = ["said_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=InformationSource.values), name="statement_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(relayed_by="") | Q(relayed_by__in=InformationSource.values),
                name="statement_relayed_by_valid",
            ),
            max_length_check("text", STATEMENT_MAX_LENGTH, name="statement_text_length"),
        ]

    def __str__(self) -> str:
        return f"{self.batch.code}: {self.get_source_display()}"


class VehicleKind(models.TextChoices):
    AMBULANCE = "ambulance", _("ambulance")
    BUS = "bus", _("bus")


# Vehicles change while the people on board may still change; not once the batch is on the road.
VEHICLE_STATUSES = frozenset(
    {BatchStatus.DRAFT, BatchStatus.PREPARED, BatchStatus.SUBMITTED, BatchStatus.CLEARED}
)


class Vehicle(models.Model):
    """An ambulance or a bus carrying people of one batch from the staging facility to the
    crossing. Numbered 1, 2, ... within its batch: the number is what pages, URLs and the
    printed manifest use ("Ambulance 2")."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="vehicles", verbose_name=_("batch")
    )
    number = models.PositiveSmallIntegerField(editable=False, verbose_name=_("number"))
    kind = models.CharField(max_length=10, choices=VehicleKind.choices, verbose_name=_("kind"))
    label = models.CharField(
        max_length=60,
        blank=True,
        verbose_name=_("call sign or plate"),
        help_text=_("How the crew and the border know this vehicle, if known."),
    )
    seats = models.PositiveSmallIntegerField(verbose_name=_("seats"))
    stretchers = models.PositiveSmallIntegerField(default=0, verbose_name=_("stretcher places"))
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        ordering = ["batch", "number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="vehicle_number_per_batch"),
            models.CheckConstraint(
                condition=Q(kind__in=VehicleKind.values), name="vehicle_kind_valid"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="vehicle_number_positive"),
            # seats + stretchers >= 1 (both are non-negative).
            models.CheckConstraint(
                condition=Q(seats__gt=0) | Q(stretchers__gt=0), name="vehicle_carries_someone"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """ "Ambulance 2", in the user's language."""
        return vehicle_name(self.kind, self.number)


def vehicle_name(kind: str, number: int) -> str:
    if kind == VehicleKind.AMBULANCE:
        return _("Ambulance %(number)s") % {"number": number}
    return _("Bus %(number)s") % {"number": number}


class BatchMemberQuerySet(models.QuerySet):
    def visible_to(self, user) -> "BatchMemberQuerySet":
        lines = self.filter(batch__in=Batch.objects.visible_to(user))
        # Returnees belong to no facility: the staff of a staging facility see patients' lines.
        if user_role(user) is Role.HOSPITAL_STAFF:
            lines = lines.filter(returnee__isnull=True)
        return lines


class BatchMember(models.Model):
    """A manifest line: exactly one of patient, companion or returnee."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="members", verbose_name=_("batch")
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
        verbose_name=_("patient"),
    )
    companion = models.ForeignKey(
        "patients.Companion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
        verbose_name=_("companion"),
    )
    returnee = models.ForeignKey(
        "patients.Returnee",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
        verbose_name=_("returnee"),
    )
    # True while the batch may still carry this person; the partial unique constraints below
    # rest on it, so one person can never be on two open manifests.
    is_open = models.BooleanField(default=True, editable=False, verbose_name=_("is open"))
    end_reason = models.CharField(
        max_length=12,
        choices=EndReason.choices,
        blank=True,
        editable=False,
        verbose_name=_("end reason"),
    )
    clearance = models.CharField(
        max_length=10,
        choices=Clearance.choices,
        default=Clearance.PENDING,
        editable=False,
        verbose_name=_("clearance"),
    )
    clearance_note = models.CharField(
        max_length=500, blank=True, editable=False, verbose_name=_("clearance note")
    )
    clearance_recorded_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("clearance recorded at")
    )
    outcome = models.CharField(
        max_length=12,
        choices=Outcome.choices,
        blank=True,
        editable=False,
        verbose_name=_("outcome"),
    )
    added_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("added at")
    )
    # Set through `batches.services.vehicles.vehicle_assign` only. Kept on a closed line: the
    # manifest of a crossed batch still says who travelled in which vehicle.
    vehicle = models.ForeignKey(
        Vehicle,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="passengers",
        editable=False,
        verbose_name=_("vehicle"),
    )

    objects = BatchMemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("manifest line")
        verbose_name_plural = _("manifest lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(patient__isnull=False, companion__isnull=True, returnee__isnull=True)
                    | Q(patient__isnull=True, companion__isnull=False, returnee__isnull=True)
                    | Q(patient__isnull=True, companion__isnull=True, returnee__isnull=False)
                ),
                name="member_exactly_one_person",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(is_open=True, patient__isnull=False),
                name="member_patient_one_open_batch",
                violation_error_message="This patient is already in an open batch.",
            ),
            models.UniqueConstraint(
                fields=["companion"],
                condition=Q(is_open=True, companion__isnull=False),
                name="member_companion_one_open_batch",
                violation_error_message="This companion is already in an open batch.",
            ),
            models.UniqueConstraint(
                fields=["returnee"],
                condition=Q(is_open=True, returnee__isnull=False),
                name="member_returnee_one_open_batch",
                violation_error_message="This returnee is already in an open batch.",
            ),
            models.CheckConstraint(
                condition=Q(clearance__in=Clearance.values), name="member_clearance_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=Outcome.values),
                name="member_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(is_open=True, end_reason="")
                | Q(is_open=False, end_reason__in=EndReason.values),
                name="member_open_or_ended",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def person(self):
        """The patient, companion or returnee on this line."""
        return self.patient or self.companion or self.returnee

    @property
    def kind(self) -> str:
        if self.patient_id:
            return "patient"
        return "companion" if self.companion_id else "returnee"

    @property
    def person_reference(self) -> str:
        """Opaque reference of the person on this line; never a name."""
        if self.patient_id:
            return self.patient.case_reference
        if self.companion_id:
            return f"companion #{self.companion_id} of {self.companion.patient.case_reference}"
        return self.returnee.reference

    @property
    def label(self) -> str:
        """`person_reference` in the reader's language, for messages and forms (the events
        keep the English one)."""
        if self.companion_id:
            return gettext("companion #%(number)s of %(case)s") % {
                "number": self.companion_id,
                "case": self.companion.patient.case_reference,
            }
        return self.person_reference

    @property
    def reference(self) -> str:
        return f"{self.batch.code}#{self.pk}"


class CrossingQuotaQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CrossingQuotaQuerySet":
        # Agreed numbers hold no personal data: every signed-in role may read them.
        return self.none() if user_role(user) is Role.ANONYMOUS else self


class CrossingQuota(models.Model):
    """What was agreed for one day, one crossing, one direction. For return batches,
    `agreed_patients` is the number of people allowed back (`agreed_returnees`, as the API,
    the pages and the admin call it) and there are no companions (`agreed_companions` is 0).
    Set and changed through `batches.services.quotas.quota_set` only, each time an event."""

    crossing = models.ForeignKey(
        Crossing,
        to_field="code",
        db_column="crossing",
        on_delete=models.PROTECT,
        related_name="quotas",
        verbose_name=_("crossing"),
    )
    date = models.DateField(verbose_name=_("date"))
    direction = models.CharField(
        max_length=10, choices=Direction.choices, verbose_name=_("direction")
    )
    agreed_patients = models.PositiveIntegerField(verbose_name=_("agreed patients"))
    agreed_companions = models.PositiveIntegerField(default=0, verbose_name=_("agreed companions"))

    objects = CrossingQuotaQuerySet.as_manager()

    class Meta:
        verbose_name = _("crossing quota")
        verbose_name_plural = _("crossing quotas")
        ordering = ["-date", "direction"]
        constraints = [
            models.UniqueConstraint(
                fields=["crossing", "date", "direction"], name="quota_one_per_day"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values), name="quota_direction_valid"
            ),
            # Companions travel with their patient, out: nobody agrees companions coming back.
            models.CheckConstraint(
                condition=Q(direction=Direction.EXIT) | Q(agreed_companions=0),
                name="quota_return_has_no_companions",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.crossing_id} {self.date} {self.direction}"

    @property
    def is_exit(self) -> bool:
        return self.direction == Direction.EXIT

    @property
    def agreed_returnees(self) -> int | None:
        """People allowed back on a return day; None for an exit day."""
        return None if self.is_exit else self.agreed_patients

    @property
    def reference(self) -> str:
        """How events name this quota: crossing, day and direction."""
        return f"{self.crossing_id}/{self.date.isoformat()}/{self.direction}"
