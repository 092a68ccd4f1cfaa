from django.apps import AppConfig
from django.apps import apps as global_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


def open_access_lanes(sender, *, apps=global_apps, using=DEFAULT_DB_ALIAS, **kwargs):
    """The access lanes exist after every `migrate` and every `flush` (a transactional test
    empties the tables; migration 0011 opened them only once). A read that found none would
    open them itself, inside its own transaction, where concurrent readers would wait for it."""
    try:
        lane = apps.get_model("audit", "AccessLane")
    except LookupError:  # migrated back to before the lanes
        return
    from .services import add_access_lanes

    add_access_lanes(settings.AUDIT_ACCESS_LANES, model=lane, using=using)


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
        post_migrate.connect(open_access_lanes, sender=self, dispatch_uid="audit.open_lanes")
