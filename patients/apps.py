from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = _("Patients and returnees")

    def ready(self) -> None:
        from casetracker.audit.vocabulary import register_states

        from .models import PatientStatus, Priority, ReferralStatus, ReturneeStatus

        for vocabulary in (PatientStatus, ReferralStatus, ReturneeStatus, Priority):
            register_states(vocabulary.choices)
