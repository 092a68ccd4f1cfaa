"""Referrals: the approval a patient needs to be evacuated, and the days it is valid."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.choices import ChoiceLabels

from .people import Patient, _facility_scoped


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    EXPIRED = "expired", _("expired")


class ReferralQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ReferralQuerySet":
        return _facility_scoped(self, user, "patient__facility_id")

    def valid_on(self, on: date) -> "ReferralQuerySet":
        """Approved referrals valid on that date: issued on or before it and not expired
        (`Referral.is_valid_on` says the same of one referral in memory)."""
        return self.filter(status=ReferralStatus.APPROVED, issued_on__lte=on).filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=on)
        )


class Referral(ChoiceLabels, models.Model):
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("patient")
    )
    number = models.CharField(max_length=40, unique=True, verbose_name=_("number"))
    specialty = models.CharField(max_length=100, verbose_name=_("specialty"))
    referring_facility = models.ForeignKey(
        "accounts.Facility",
        on_delete=models.PROTECT,
        related_name="referrals_issued",
        verbose_name=_("referring facility"),
    )
    destination_country = models.CharField(max_length=100, verbose_name=_("destination country"))
    destination_hospital = models.CharField(
        max_length=200, blank=True, verbose_name=_("destination hospital")
    )
    issued_on = models.DateField(verbose_name=_("issued on"))
    expires_on = models.DateField(null=True, blank=True, verbose_name=_("expires on"))
    status = models.CharField(
        max_length=10,
        choices=ReferralStatus.choices,
        default=ReferralStatus.PENDING,
        verbose_name=_("status"),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    objects = ReferralQuerySet.as_manager()

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReferralStatus.values), name="referral_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("issued_on")),
                name="referral_expires_after_issue",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def clean(self) -> None:
        super().clean()
        if self.expires_on and self.issued_on and self.expires_on < self.issued_on:
            raise ValidationError({"expires_on": gettext("expiry date is before the issue date")})

    def is_valid_on(self, on: date) -> bool:
        """Approved, issued on or before `on` and not expired on it: `ReferralQuerySet.valid_on`
        for a referral already read (prefetched), so pages and checks agree with the query."""
        return (
            self.status == ReferralStatus.APPROVED
            and self.issued_on <= on
            and (self.expires_on is None or self.expires_on >= on)
        )
