"""The manifest lines of a batch: each one patient, companion or returnee, with their
clearance, outcome and vehicle."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role
from casetracker.choices import ChoiceLabels

from .batches import Batch
from .choices import Clearance, EndReason, Outcome
from .vehicles import Vehicle


class BatchMemberQuerySet(models.QuerySet):
    def visible_to(self, user) -> "BatchMemberQuerySet":
        batches = Batch.objects.visible_to(user)
        # A role that sees every batch sees every line: no subquery over all the batches, which
        # PostgreSQL would join to each line read (thousands in a year's reports).
        lines = self.filter(batch__in=batches) if batches.query.has_filters() else self.all()
        # Returnees belong to no facility: the staff of a staging facility see patients' lines.
        if user_role(user) is Role.HOSPITAL_STAFF:
            lines = lines.filter(returnee__isnull=True)
        return lines


class BatchMember(ChoiceLabels, models.Model):
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
