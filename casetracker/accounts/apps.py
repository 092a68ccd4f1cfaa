from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "casetracker.accounts"
    label = "accounts"
    verbose_name = _("Accounts and facilities")

    def ready(self) -> None:
        from casetracker.audit.vocabulary import register_states

        from . import sessions  # noqa: F401  (connects the sign-in and deactivation signals)

        # Events record the actor's role by its code; the audit pages show it in words.
        register_states(
            [
                ("coordinator", _("coordinator")),
                ("hospital_staff", _("hospital staff")),
                ("auditor", _("auditor")),
                ("admin", _("admin")),
            ]
        )
