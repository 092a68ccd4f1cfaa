from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BatchesConfig(AppConfig):
    name = "batches"
    verbose_name = _("Batches and crossings")

    def ready(self) -> None:
        from casetracker.audit.vocabulary import register_states

        from . import models

        for vocabulary in (
            models.BatchStatus,
            models.Clearance,
            models.Outcome,
            models.CancelReason,
            models.InformationSource,
        ):
            register_states(vocabulary.choices)
