"""What parties said about a batch, or about its cancellation, after the fact."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casetracker.choices import ChoiceLabels
from casetracker.constraints import max_length_check

from .batches import Batch
from .choices import InformationSource

STATEMENT_MAX_LENGTH = 2000


class StatementQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StatementQuerySet":
        return self.filter(batch__in=Batch.objects.visible_to(user))


class Statement(ChoiceLabels, models.Model):
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
