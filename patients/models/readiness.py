"""A patient's readiness to travel, as their facility reports it, and its history."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .people import Patient, _facility_scoped

READINESS_FLAGS = ("fit_to_travel", "documents_ready", "companions_present", "transport_confirmed")


class ReadinessQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ReadinessQuerySet":
        return _facility_scoped(self, user, "patient__facility_id")


class Readiness(models.Model):
    """Current readiness of a patient, as reported by the staff of their facility."""

    patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, related_name="readiness", verbose_name=_("patient")
    )
    fit_to_travel = models.BooleanField(default=False, verbose_name=_("fit to travel"))
    documents_ready = models.BooleanField(default=False, verbose_name=_("documents ready"))
    companions_present = models.BooleanField(default=False, verbose_name=_("companions present"))
    transport_confirmed = models.BooleanField(
        _("transport needs confirmed"),
        default=False,
        help_text=_("stretcher, oxygen, wheelchair and escort arranged as needed"),
    )
    note = models.CharField(max_length=500, blank=True, verbose_name=_("note"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    objects = ReadinessQuerySet.as_manager()

    class Meta:
        verbose_name = _("readiness")
        verbose_name_plural = _("readiness")

    def __str__(self) -> str:
        return f"readiness of {self.patient.case_reference}"

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in (*READINESS_FLAGS, "note")}

    def missing(self, *, with_companions: bool = True) -> list[str]:
        """The readiness items not yet reported, by flag name. Companions need to be present
        only when some travel with the patient."""
        return [
            name
            for name in READINESS_FLAGS
            if not getattr(self, name) and (with_companions or name != "companions_present")
        ]

    @classmethod
    def label(cls, flag: str) -> str:
        return str(cls._meta.get_field(flag).verbose_name)


class ReadinessChange(models.Model):
    """History: one row per update, with the values before and after."""

    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        related_name="readiness_history",
        verbose_name=_("patient"),
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(default=timezone.now, verbose_name=_("changed at"))
    old = models.JSONField(default=dict, verbose_name=_("old"))
    new = models.JSONField(default=dict, verbose_name=_("new"))

    objects = ReadinessQuerySet.as_manager()

    class Meta:
        verbose_name = _("readiness change")
        verbose_name_plural = _("readiness changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"readiness change of {self.patient_id} at {self.changed_at:%Y-%m-%d %H:%M}"

    def in_words(self, *, show_note: bool) -> list[str]:
        """The change in the reader's language ("Fit to travel: yes (was no)"); the note's
        text only for a reader who may see it (never auditors: it may hold clinical detail)."""
        words = []
        for name in READINESS_FLAGS:
            old, new = self.old.get(name), self.new.get(name)
            if old != new:
                words.append(
                    gettext("%(item)s: %(new)s (was %(old)s)")
                    % {
                        "item": capfirst(Readiness.label(name)),
                        "new": yes_no(new),
                        "old": yes_no(old),
                    }
                )
        old_note, new_note = self.old.get("note") or "", self.new.get("note") or ""
        if old_note != new_note:
            if not show_note:
                words.append(gettext("note changed"))
            elif new_note:
                words.append(gettext("note: %(text)s") % {"text": new_note})
            else:
                words.append(gettext("note removed"))
        return words


def yes_no(value) -> str:
    return gettext("yes") if value else gettext("no")
