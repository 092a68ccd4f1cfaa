"""The nurse's phone screen: the patients of the facility on the next batches, each a card with
the readiness items as one-tap toggles, and below them the patients still waiting.

A toggle is a plain form (one POST, then back to the card on the page); with htmx the card
alone is posted and swapped, so the whole round for one patient is the one page load."""

from itertools import groupby

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casetracker.accounts.fields import FacilityChoiceField
from casetracker.accounts.models import Facility
from casetracker.accounts.roles import sees_all_facilities

from .. import selectors
from ..access import Category, log_access
from ..models import READINESS_FLAGS, Patient, Readiness
from ..services import readiness_update

# Cards weigh more than table rows: 20 a page keeps the page under 10 KB compressed.
PAGE_SIZE = 20
NOTE_MAX_LENGTH = Readiness._meta.get_field("note").max_length
# What a readiness POST may carry besides the CSRF token and the way back.
ACCEPTED = (*READINESS_FLAGS, "note")
IGNORED = ("csrfmiddlewaretoken", "next")
SAVED_TAG = "saved-"


class WardFacilityForm(forms.Form):
    facility = FacilityChoiceField(
        label=gettext_lazy("Facility"),
        queryset=Facility.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=gettext_lazy("All facilities"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = Facility.objects.visible_to(user).only(
            "code", "name_en", "name_ar"
        )

    def chosen(self) -> Facility | None:
        if self.is_bound and self.is_valid():
            return self.cleaned_data["facility"]
        return None


def _card(patient: Patient, *, today, user, saved: dict | None = None) -> dict:
    """What one card shows: the queue's columns plus the batch and the readiness toggles."""
    row = selectors.queue_row(patient, on=today)
    row.facility_name = patient.facility.name
    items = [
        {
            "flag": flag,
            "label": Readiness.label(flag),
            "on": getattr(row.readiness, flag),
        }
        for flag in READINESS_FLAGS
        if flag != "companions_present" or row.companions
    ]
    return {
        "row": row,
        "patient": patient,
        "items": items,
        "batch_code": getattr(patient, "batch_code", None),
        "planned_date": getattr(patient, "planned_date", None),
        "note_max_length": NOTE_MAX_LENGTH,
        "show_facility": sees_all_facilities(user),
        # "Saved" shown in the card itself: after a plain post the page opens at the card.
        "saved": (saved or {}).get(patient.case_reference, ""),
    }


def ward(request):
    """My patients in the next batches, by date and batch; then those still waiting here."""
    today = timezone.localdate()
    saved = {
        message.extra_tags.removeprefix(SAVED_TAG): str(message)
        for message in messages.get_messages(request)
        if (message.extra_tags or "").startswith(SAVED_TAG)
    }
    facility = None
    facility_form = None
    if sees_all_facilities(request.user):
        facility_form = WardFacilityForm(
            request.GET if "facility" in request.GET else None, user=request.user
        )
        facility = facility_form.chosen()
    facility_id = facility.pk if facility else None
    scheduled = list(selectors.ward_scheduled(request.user, facility_id=facility_id, on=today))
    groups = [
        {
            "planned_date": planned_date,
            "batch_code": batch_code,
            "cards": [_card(p, today=today, user=request.user, saved=saved) for p in patients],
        }
        for (planned_date, batch_code), patients in groupby(
            scheduled, key=lambda p: (p.planned_date, p.batch_code)
        )
    ]
    page = Paginator(
        selectors.ward_waiting(request.user, facility_id=facility_id), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    waiting = list(page.object_list)
    shown = scheduled + waiting
    if shown:
        log_access(actor=request.user, category=Category.READINESS, results=shown)
    return render(
        request,
        "patients/ward.html",
        {
            "groups": groups,
            "scheduled_count": len(scheduled),
            "waiting": [_card(p, today=today, user=request.user, saved=saved) for p in waiting],
            "page": page,
            "page_query": f"facility={facility.code}" if facility else "",
            "facility": facility,
            "facility_name": getattr(facility or request.user.facility, "name", ""),
            "facility_form": facility_form,
        },
    )


def _parse(post) -> dict:
    """The readiness changes in a POST: the four flags as "0"/"1" and the note, nothing else.
    Raises ValidationError, with a message a person can read, on anything else."""
    changes: dict = {}
    for name in post:
        if name in IGNORED:
            continue
        if name not in ACCEPTED:
            raise ValidationError(_("“%(name)s” is not a readiness item.") % {"name": name})
        values = post.getlist(name)
        if len(values) != 1:
            raise ValidationError(_("“%(name)s” was sent more than once.") % {"name": name})
        value = values[0]
        if name == "note":
            if len(value) > NOTE_MAX_LENGTH:
                raise ValidationError(
                    _("The note is too long: at most %(max)d characters.")
                    % {"max": NOTE_MAX_LENGTH}
                )
            changes[name] = value.strip()
        elif value in ("0", "1"):
            changes[name] = value == "1"
        else:
            raise ValidationError(
                _("“%(label)s” must be 0 (no) or 1 (yes).") % {"label": Readiness.label(name)}
            )
    if not changes:
        raise ValidationError(_("Nothing to save: tap an item or write a note."))
    return changes


def _back(request, patient: Patient) -> str:
    """Where the form came from: the ward page (same filters and page) at the patient's card,
    or the patient's own page at its readiness section."""
    target = request.POST.get("next", "")
    ward_url = reverse("patients:ward")
    own_page = reverse("patients:detail", args=[patient.case_reference])
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    if safe and target.split("#")[0] == own_page:
        return f"{own_page}#readiness"
    if not (safe and target.startswith(ward_url)):
        target = ward_url
    return f"{target.split('#')[0]}#card-{patient.case_reference}"


def readiness(request, case_reference: str):
    """Record one readiness change (a toggle, or the note) through the service. With htmx the
    answer is the card alone; without, back to the ward page at the card, with a message."""
    patient = get_object_or_404(
        Patient.objects.visible_to(request.user), case_reference=case_reference
    )
    try:
        readiness_update(patient=patient, actor=request.user, **_parse(request.POST))
    except ValidationError as error:
        # Only a hand-made request gets here: the page sends 0/1 and a note within its length.
        return HttpResponseBadRequest(
            "<p>" + escape(" ".join(error.messages)) + "</p>", content_type="text/html"
        )
    saved = _("Readiness saved for %(reference)s.") % {"reference": patient.case_reference}
    if request.htmx:
        today = timezone.localdate()
        fresh = selectors.ward_card(request.user, case_reference, on=today)
        if fresh is None:  # cannot happen: it was visible a moment ago
            raise Http404
        card = _card(fresh, today=today, user=request.user, saved={case_reference: saved})
        return render(request, "patients/_readiness_card.html", {"card": card})
    messages.success(request, saved, extra_tags=SAVED_TAG + patient.case_reference)
    return redirect(_back(request, patient))
