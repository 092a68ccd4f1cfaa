"""The admin site, refusing a session that has not passed the second factor.

The middleware already sends such a session to the verify page; the site checks again on its
own, so a route the middleware lets through by mistake still does not open the back office."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


def is_verified(user) -> bool:
    # `is_verified` is installed by django-otp's middleware; without it nobody is verified.
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def passed_sign_in(user) -> bool:
    """Signed in completely: with the second factor too, while it is required."""
    return not settings.TWO_FACTOR_REQUIRED or is_verified(user)


class TwoFactorAdminSite(admin.AdminSite):
    # The product's name, in the user's language, where Django says "Django administration".
    site_header = _("Evacuation case tracker")
    site_title = _("Evacuation case tracker")
    index_title = _("Back office")

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and passed_sign_in(request.user)


class TwoFactorAdminConfig(AdminConfig):
    """`django.contrib.admin` with `TwoFactorAdminSite` as `admin.site`."""

    default_site = "casetracker.accounts.twofactor.admin_site.TwoFactorAdminSite"
