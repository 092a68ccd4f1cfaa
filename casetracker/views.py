from django.shortcuts import render
from django.views.i18n import set_language as django_set_language

from casetracker.accounts.language import SUPPORTED
from casetracker.accounts.services import user_set_language


def home(request):
    # The links come from the navigation, which the policy table filters per role.
    return render(request, "home.html")


def set_language(request):
    """The language switch: for someone signed in it changes their own language, which their
    pages, emails and inbox then follow on every device; otherwise a cookie remembers it."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.method == "POST" and request.user.is_authenticated and language in SUPPORTED:
        user_set_language(user=request.user, language=language)
    return response
