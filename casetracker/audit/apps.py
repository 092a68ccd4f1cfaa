from django.apps import AppConfig
from django.db.models.signals import pre_migrate
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "casetracker.audit"
    label = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from casetracker.migration_ops import check_reversal_plan

        # Once per `migrate` (sent for each app: this one is enough): a plan that reverses a
        # migration the newer code has written past is refused before anything is undone.
        pre_migrate.connect(
            check_reversal_plan, sender=self, dispatch_uid="audit.check_reversal_plan"
        )
