"""Session and API token limits, and the end of a user's access.

Idle timeout: a request pushes the session's expiry `SESSION_COOKIE_AGE` ahead, at most once
every `SESSION_REFRESH_SECONDS` (saving the session is three round trips to the database, on
every page otherwise): a session ends between `SESSION_COOKIE_AGE - SESSION_REFRESH_SECONDS`
and `SESSION_COOKIE_AGE` after its last request. Absolute lifetime: a session older than
`SESSION_ABSOLUTE_SECONDS` since sign-in ends, however busy it was; an API token as well, from
when it was issued. Deactivation and a password change delete the API tokens (sessions stop by
themselves: the backends refuse inactive users, and Django's session hash follows the password);
a two-factor reset ends the sessions and deletes the tokens."""

import functools
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from .roles import remember_role, role_group

SIGNED_IN_AT = "signed_in_at"
REFRESHED_AT = "refreshed_at"


@receiver(user_logged_in)
def _remember_sign_in(sender, request, user, **kwargs) -> None:
    request.session[SIGNED_IN_AT] = int(time.time())


class SessionLifetimeMiddleware:
    """Ends a session past its absolute lifetime, and pushes its idle expiry ahead when it was
    last pushed `SESSION_REFRESH_SECONDS` ago (after AuthenticationMiddleware)."""

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
        response = self.get_response(request)
        _refresh(request)
        return response


def _refresh(request) -> None:
    """Marks a signed-in session modified once it is due, so that SessionMiddleware saves it
    with a new expiry and cookie; a session saved anyway (a form, a message) is refreshed too."""
    session = getattr(request, "session", None)
    if session is None or not request.user.is_authenticated or not session.session_key:
        return
    now = int(time.time())
    if session.modified or now - session.get(REFRESHED_AT, 0) >= settings.SESSION_REFRESH_SECONDS:
        session[REFRESHED_AT] = now


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _end_api_access(sender, instance, **kwargs) -> None:
    """Deactivation or a new password deletes the account's API tokens."""
    if instance.pk is None:
        return
    before = sender.objects.filter(pk=instance.pk).values("is_active", "password").first()
    if before is None:
        return
    deactivated = before["is_active"] and not instance.is_active
    if deactivated or before["password"] != instance.password:
        delete_api_tokens(instance)


def delete_api_tokens(user) -> int:
    """API tokens outlive sessions: every way of cutting someone's access deletes them."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted


def end_sessions(user) -> int:
    """Sign the user out everywhere. Sessions are looked at one by one (they are signed blobs);
    a deployment has a few hundred at most."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended


def token_lifetime() -> timedelta:
    return timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)


def issue_api_token(user) -> Token:
    """The user's token, a new one if theirs is past its lifetime."""
    Token.objects.filter(user=user, created__lt=timezone.now() - token_lifetime()).delete()
    token, _ = Token.objects.get_or_create(user=user)
    return token


@functools.cache
def _tokens():
    """DRF's lookup of a token and its user, with the user's role read in the same query:
    every API request needs the role (the route policy, the scoping), and it would otherwise
    cost a query of its own. Made once: building the subquery costs more than the query."""
    return Token.objects.select_related("user").annotate(role_group=role_group("user_id"))


class ExpiringTokenAuthentication(TokenAuthentication):
    """A token lives as long as a session may (`SESSION_ABSOLUTE_SECONDS`): one issued before
    two-factor sign-in was turned on, or copied from a lost phone, does not last for ever."""

    def authenticate_credentials(self, key):
        try:
            token = _tokens().get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        user = token.user
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        remember_role(user, token.role_group)
        if token.created < timezone.now() - token_lifetime():
            raise AuthenticationFailed("Token expired: ask for a new one at /api/v1/auth/token/.")
        return user, token
