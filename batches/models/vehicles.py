"""The ambulances and buses of a batch, numbered within it."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .batches import Batch
from .choices import BatchStatus


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
