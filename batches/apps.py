from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_default_crossing(sender, *, apps=global_apps, using=DEFAULT_DB_ALIAS, **kwargs):
    """Rafah, the crossing meant where none is given, exists after every `migrate` and every
    `flush` (a transactional test empties the tables; migration 0004 created it only once)."""
    try:
        crossing = apps.get_model("batches", "Crossing")
    except LookupError:  # migrated back to before crossings were data
        return
    from .models import DEFAULT_CROSSING, RAFAH

    crossing.objects.using(using).get_or_create(code=DEFAULT_CROSSING, defaults=RAFAH)


class BatchesConfig(AppConfig):
    name = "batches"
    verbose_name = _("Batches and crossings")

    def ready(self) -> None:
        from casetracker.audit.vocabulary import register_states

        post_migrate.connect(ensure_default_crossing, sender=self)

        from casetracker.audit.redaction import text_redacted

        from .services.texts import blank_copies

        # A redacted text of the audit log is blanked in the batches' copies too.
        text_redacted.connect(blank_copies, dispatch_uid="batches.blank_copies")

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
