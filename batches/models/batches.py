"""The batch: one day's crossing of people staged at one facility, its status and, once
cancelled, what the cancellation was."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role
from casetracker.choices import ChoiceLabels
from casetracker.constraints import max_length_check

from .choices import TERMINAL_STATUSES, BatchStatus, CancelReason, Direction, InformationSource
from .crossings import Crossing

CANCEL_REASON_MAX_LENGTH = 2000


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


class Batch(ChoiceLabels, models.Model):
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
