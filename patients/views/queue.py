"""The waiting queues: patients in the order the next batch takes them, and returnees.

Filters are GET parameters (priorities, categories, a facility code: never a name or an ID);
a search for a person is a POST form, so what was typed never reaches a URL, and is written to
the access log as a search (which kind, never the value). Every list page is logged too."""

from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from casetracker.accounts.fields import FacilityChoiceField
from casetracker.accounts.models import Facility
from casetracker.accounts.roles import sees_all_facilities
from casetracker.exports import FORMATS

from .. import selectors
from ..access import Category, log_access
from ..imports.queue_export import queue_export_response
from ..models import (
    MOBILITY_NEEDS,
    ClinicalCategory,
    Patient,
    Priority,
    Returnee,
    ReturneeStatus,
)
from ..selectors import QueueFilters, ReadinessFilter, ReferralFilter, queue_places, queue_rows

PAGE_SIZE = 50
ALL = ("", _("All"))


class QueueFilterForm(forms.Form):
    priority = forms.ChoiceField(
        label=_("Priority"), choices=[ALL, *Priority.choices], required=False
    )
    clinical_category = forms.ChoiceField(
        label=_("Category"), choices=[ALL, *ClinicalCategory.choices], required=False
    )
    facility = FacilityChoiceField(
        label=_("Facility"),
        queryset=Facility.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("All"),
    )
    readiness = forms.ChoiceField(
        label=_("Readiness"),
        choices=[
            ALL,
            (ReadinessFilter.READY, _("ready")),
            (ReadinessFilter.NOT_READY, _("not ready")),
        ],
        required=False,
    )
    referral = forms.ChoiceField(
        label=_("Referral"),
        choices=[
            ALL,
            (ReferralFilter.VALID, _("valid")),
            (ReferralFilter.PENDING, _("pending")),
            (ReferralFilter.NONE, _("none, expired or rejected")),
        ],
        required=False,
    )
    mobility = forms.ChoiceField(
        label=_("Transport needs"),
        choices=[
            ALL,
            ("any", _("any need")),
            *((name, Patient._meta.get_field(name).verbose_name) for name in MOBILITY_NEEDS),
        ],
        required=False,
    )
    child = forms.BooleanField(label=_("Children only"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if sees_all_facilities(user):
            self.fields["facility"].queryset = Facility.objects.visible_to(user).only(
                "code", "name_en", "name_ar"
            )
        else:
            # Hospital staff see their own facility only: nothing to choose.
            del self.fields["facility"]

    def filters(self) -> QueueFilters:
        """The valid filters; a value not offered is dropped (its error shows beside it)."""
        if not self.is_bound:
            return QueueFilters()
        self.is_valid()
        data = self.cleaned_data
        facility = data.get("facility")
        return QueueFilters(
            priority=data.get("priority", ""),
            clinical_category=data.get("clinical_category", ""),
            facility_id=facility.pk if facility else None,
            readiness=data.get("readiness", ""),
            referral=data.get("referral", ""),
            child=bool(data.get("child")),
            mobility=data.get("mobility", ""),
        )

    def query(self) -> str:
        """The filters as a query string, for the page links."""
        if not self.is_bound:
            return ""
        kept = {}
        for name, value in self.cleaned_data.items():
            if name == "facility" and value:
                kept[name] = value.code
            elif value is True:
                kept[name] = "on"
            elif value:
                kept[name] = value
        return urlencode(kept)


class PersonSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find a person"),
        help_text=_("Name, reference or national ID"),
        max_length=200,
        strip=True,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


def _filter_form(request) -> QueueFilterForm:
    # Only the known filter names count: anything else in the URL (a name...) is ignored.
    names = set(QueueFilterForm.base_fields)
    data = {k: v for k, v in request.GET.items() if k in names}
    return QueueFilterForm(data or None, user=request.user)


def patient_queue(request):
    """Waiting patients in the order the next batch takes them."""
    today = timezone.localdate()
    filter_form = _filter_form(request)
    filters = filter_form.filters()
    search_form = PersonSearchForm(request.POST if request.method == "POST" else None)
    searched = None
    if search_form.is_bound and search_form.is_valid():
        # A search: one answer of at most a page, in the same table, logged as a search.
        query = selectors.classify_search(search_form.cleaned_data["q"], "EV")
        found = list(
            selectors.with_queue_columns(selectors.patient_search(request.user, **query))[
                :PAGE_SIZE
            ]
        )
        log_access(
            actor=request.user,
            category=Category.IDENTITY,
            results=found,
            search_by=selectors.search_kind(**query),
        )
        rows = queue_rows(found, on=today, places=queue_places(request.user, found))
        page = None
        searched = len(found)
    else:
        page = Paginator(
            selectors.patient_queue(request.user, filters=filters, on=today), PAGE_SIZE
        ).get_page(request.GET.get("page"))
        patients = list(page.object_list)
        if filters.any():
            places = queue_places(request.user, patients)
        else:  # the whole queue: the place is the position
            places = {p.pk: page.start_index() + i for i, p in enumerate(patients)}
        log_access(actor=request.user, category=Category.IDENTITY, results=patients)
        rows = queue_rows(patients, on=today, places=places)
    for row in rows:
        row.facility_name = row.patient.facility.name
    return render(
        request,
        "patients/queue.html",
        {
            "rows": rows,
            "page": page,
            "filter_form": filter_form,
            "filters_on": filters.any(),
            "page_query": filter_form.query(),
            "search_form": search_form,
            "searched": searched,
            "page_size": PAGE_SIZE,
            "all_facilities": sees_all_facilities(request.user),
            "today": today,
        },
    )


@require_safe
def patient_queue_export(request):
    """The whole waiting queue the user may see (filters aside) as a file: `?download=csv` or
    `xlsx`, the links of the queue page."""
    fmt = request.GET.get("download", "")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(_("download: choose csv or xlsx."))
    return queue_export_response(user=request.user, fmt=fmt)


def returnee_queue(request):
    """Waiting returnees, first registered first."""
    today = timezone.localdate()
    search_form = PersonSearchForm(request.POST if request.method == "POST" else None)
    searched = None
    if search_form.is_bound and search_form.is_valid():
        query = selectors.classify_search(search_form.cleaned_data["q"], "RT")
        found = list(
            selectors.returnee_search(request.user, **query).defer(
                "national_id", "national_id_hash", "phone"
            )[:PAGE_SIZE]
        )
        log_access(
            actor=request.user,
            category=Category.IDENTITY,
            results=found,
            model=Returnee,
            search_by=selectors.search_kind(**query),
        )
        returnees, page, searched = found, None, len(found)
    else:
        page = Paginator(selectors.returnee_queue(request.user), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        returnees = list(page.object_list)
        log_access(
            actor=request.user, category=Category.IDENTITY, results=returnees, model=Returnee
        )
    start = page.start_index() if page is not None else None
    rows = [
        {
            "returnee": r,
            "place": (start + i)
            if start is not None and r.status == ReturneeStatus.WAITING
            else None,
            "age": r.age_on(today),
            "waiting_days": (today - timezone.localdate(r.registered_at)).days,
            "registered_late": selectors.registered_late(r),
        }
        for i, r in enumerate(returnees)
    ]
    return render(
        request,
        "patients/returnees.html",
        {
            "rows": rows,
            "page": page,
            "search_form": search_form,
            "searched": searched,
            "page_size": PAGE_SIZE,
        },
    )
