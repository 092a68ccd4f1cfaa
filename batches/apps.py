from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "batches"
    verbose_name = "Batches and crossings"

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
