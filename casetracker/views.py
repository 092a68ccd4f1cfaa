from django.shortcuts import render

from casetracker.accounts.roles import Role, user_role


def home(request):
    # The audit pages belong to `batches`; this app only knows which roles read them.
    can_audit = user_role(request.user) in (Role.AUDITOR, Role.ADMIN)
    return render(request, "home.html", {"can_audit": can_audit})
