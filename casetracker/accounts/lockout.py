"""Sign-in lockout (django-axes): repeated failures from one address for one username lock
that pair out for a while; admin login answers with a lockout page, the API token endpoint with
HTTP 429. Axes logs every failure and lockout."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check on every web sign-in. An `authenticate()` without a request is not one (a
    shell, a test client's `login`): axes cannot count it, so it only refuses when locked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
