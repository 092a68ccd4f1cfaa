import logging

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class TwoFactorConfig(AppConfig):
    name = "casetracker.accounts.twofactor"
    label = "twofactor"
    verbose_name = _("Two-factor sign-in")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from casetracker.audit.vocabulary import register_states

        from . import admin  # noqa: F401  (takes django-otp's TOTP admin out of the back office)

        # The state an account's two-factor sign-in is left in, as audit events record it.
        register_states(
            [
                ("enrolled", _("enrolled")),
                ("new_backup_codes", _("new backup codes")),
                ("not_enrolled", _("not enrolled")),
            ]
        )

        if not settings.TWO_FACTOR_REQUIRED:
            logger.warning(
                "TWO_FACTOR_REQUIRED is off: staff sign in with a password alone. "
                "Demonstration only; production always requires two-factor sign-in."
            )
