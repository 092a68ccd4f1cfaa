from django.shortcuts import render

from casetracker.accounts import policy
from casetracker.accounts.roles import user_role


def home(request):
    # The audit pages belong to `batches`; the policy table says who may open them.
    can_audit = policy.allows("reports:cancellations", "GET", user_role(request.user))
    return render(request, "home.html", {"can_audit": can_audit})
