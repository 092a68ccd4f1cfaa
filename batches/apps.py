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
            models.Direction,
            models.EndReason,
        ):
            register_states(vocabulary.choices)
        # The kinds of people on a manifest line, as the audit pages name them.
        register_states(
            [
                ("patient", _("patient")),
                ("companion", _("companion")),
                ("returnee", _("returnee")),
                ("open", _("on the manifest")),
            ]
        )
