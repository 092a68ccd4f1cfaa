"""Returnees: people who left and are registered to come back."""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role

from .people import PersonFields, Sex, new_returnee_reference


class ReturneeStatus(models.TextChoices):
    WAITING = "waiting", _("waiting")
    SCHEDULED = "scheduled", _("scheduled")
    RETURNED = "returned", _("returned")
    WITHDRAWN = "withdrawn", _("withdrawn")


class ReturneeQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ReturneeQuerySet":
        # Returnees belong to no facility: hospital staff have no business with them.
        if user_role(user) in (Role.COORDINATOR, Role.AUDITOR, Role.ADMIN):
            return self
        return self.none()


class Returnee(PersonFields):
    reference = models.CharField(
        max_length=12,
        unique=True,
        default=new_returnee_reference,
        editable=False,
        verbose_name=_("reference"),
    )
    phone = models.CharField(max_length=20, blank=True, verbose_name=_("phone"))
    left_on = models.DateField(_("date they left"))
    status = models.CharField(
        max_length=10,
        choices=ReturneeStatus.choices,
        default=ReturneeStatus.WAITING,
        verbose_name=_("status"),
    )
    registered_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("registered at")
    )

    objects = ReturneeQuerySet.as_manager()

    class Meta:
        verbose_name = _("returnee")
        verbose_name_plural = _("returnees")
        ordering = ["registered_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReturneeStatus.values), name="returnee_status_valid"
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="returnee_sex_valid"),
        ]

    def __str__(self) -> str:
        return self.reference

    def clean(self) -> None:
        super().clean()
        if not self.left_on:
            return
        war_start = date.fromisoformat(settings.RETURN_ELIGIBLE_LEFT_AFTER)
        if self.left_on < war_start:
            raise ValidationError(
                {
                    "left_on": gettext("only people who left on or after %(day)s may return")
                    % {"day": war_start.isoformat()}
                }
            )
        if self.left_on > timezone.localdate():
            raise ValidationError({"left_on": gettext("date they left is in the future")})
