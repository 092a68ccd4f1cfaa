"""What was agreed for one day, one crossing and one direction."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role

from .choices import Direction
from .crossings import Crossing


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
