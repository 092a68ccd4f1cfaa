"""The border crossings batches and quotas go through, and the one meant where none is given."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role
from casetracker.choices import ChoiceLabels

from .choices import CrossingState, InformationSource

# The crossing meant where none is given (the API, the services): the only one there was before
# crossings became data. Always present: the migration creates it and `apps.py` recreates it
# after a database flush.
DEFAULT_CROSSING = "rafah"
RAFAH = {"prefix": "RAF", "name_en": "Rafah", "name_ar": "رفح"}


class CrossingQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CrossingQuerySet":
        # A crossing's name and state are no one's personal data: every signed-in role reads them.
        return self.none() if user_role(user) is Role.ANONYMOUS else self


class Crossing(ChoiceLabels, models.Model):
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
