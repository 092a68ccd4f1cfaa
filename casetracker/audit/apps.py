from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "casetracker.audit"
    label = "audit"
    verbose_name = "Audit log"
