"""Registering a case: the patient, their companions and their referral on one page, saved all
or nothing (`services.patient_register_with_family`)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import Registration


@require_http_methods(["GET", "POST"])
def register(request):
    registration = Registration(
        actor=request.user, data=request.POST if request.method == "POST" else None
    )
    status = 200
    if request.method == "POST":
        if registration.is_valid():
            try:
                patient = services.patient_register_with_family(
                    actor=request.user, **registration.service_kwargs()
                )
            except services.RegistrationRefused as refused:
                registration.add_errors(refused)
            else:
                _tell_what_happened(request, patient, registration)
                return redirect("patients:detail", patient.case_reference)
        status = 400
    return render(
        request,
        "patients/register.html",
        {
            "registration": registration,
            "form": registration.patient,
            "companions": registration.companions,
            "referral": registration.referral,
        },
        status=status,
    )


def _tell_what_happened(request, patient, registration: Registration) -> None:
    reference = patient.case_reference
    messages.success(request, _("Patient %(reference)s registered.") % {"reference": reference})
    # Saved anyway: the guardian may be registered later, and preparing a batch refuses a child
    # without one. Said now, so nobody finds out on the day of the crossing.
    if patient.is_child_on(timezone.localdate()) and not registration.has_guardian():
        messages.warning(
            request,
            _(
                "%(reference)s is under 18 and has no guardian yet: add an adult guardian as a "
                "companion before the patient can be put in a batch."
            )
            % {"reference": reference},
        )
