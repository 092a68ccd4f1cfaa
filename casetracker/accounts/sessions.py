"""Session limits and the end of a deactivated user's access.

Idle timeout: every request pushes the session's expiry `SESSION_COOKIE_AGE` ahead
(`SESSION_SAVE_EVERY_REQUEST`). Absolute lifetime: a session older than
`SESSION_ABSOLUTE_SECONDS` since sign-in ends, however busy it was."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import pre_save
from django.dispatch import receiver

SIGNED_IN_AT = "signed_in_at"


@receiver(user_logged_in)
def _remember_sign_in(sender, request, user, **kwargs) -> None:
    request.session[SIGNED_IN_AT] = int(time.time())


class SessionLifetimeMiddleware:
    """Ends a session past its absolute lifetime (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and hasattr(request, "session"):
            started = request.session.get(SIGNED_IN_AT)
            if started is None:
                # A session from before this rule: its clock starts now.
                request.session[SIGNED_IN_AT] = int(time.time())
            elif time.time() - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
        return self.get_response(request)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _end_access_of_deactivated(sender, instance, **kwargs) -> None:
    """Deactivating an account deletes its API tokens. Its sessions already stop working: the
    authentication backends refuse inactive users on every request."""
    if instance.pk is None or instance.is_active:
        return
    was_active = sender.objects.filter(pk=instance.pk, is_active=True).exists()
    if was_active:
        delete_api_tokens(instance)


def delete_api_tokens(user) -> int:
    """API tokens outlive sessions: every way of cutting someone's access deletes them."""
    from rest_framework.authtoken.models import Token

    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted
