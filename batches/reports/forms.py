"""The filters of the auditors' pages and of `/api/v1/reports/`: one form validates both, so a
bad value gets the same message, naming the field, on a page and in the API."""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ..models import DEFAULT_CROSSING, CancelReason, Crossing, InformationSource
from .selectors import CANCELLATION_ORDERS, Period

LONGEST_PERIOD_DAYS = 366
DOWNLOADS = (("", "—"), ("csv", "CSV"), ("xlsx", "XLSX"))


class DownloadForm(forms.Form):
    download = forms.ChoiceField(choices=DOWNLOADS, required=False, label=_("download"))


class PeriodForm(DownloadForm):
    date_from = forms.DateField(required=False, label=_("from"))
    date_to = forms.DateField(required=False, label=_("to"))

    # Without dates: the last `default_days` days, today included.
    default_days = 28

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        end = data.get("date_to") or today
        start = data.get("date_from") or end - timedelta(days=self.default_days - 1)
        if start > end:
            self.add_error("date_to", _("must be on or after the start date"))
        elif (end - start).days >= LONGEST_PERIOD_DAYS:
            self.add_error("date_from", _("a report covers at most 366 days"))
        data["period"] = Period(start, end)
        return data


ORDER_LABELS = {
    "cancelled_at": _("cancelled at"),
    "planned_date": _("planned date"),
    "code": _("batch"),
    "cancelled_from": _("stage"),
    "reason_code": _("reason"),
    "source": _("source"),
    "patients": _("patients"),
    "lead_hours": _("notice"),
}
assert set(ORDER_LABELS) == set(CANCELLATION_ORDERS)


class CrossingChoiceField(forms.ChoiceField):
    """A crossing by its code, chosen among those in the table (read when the form is made, so
    a crossing added later is offered at once). The API documents it as a plain string."""

    def __init__(self, *, everything: bool, **kwargs):
        def choices():
            crossings = [(c.code, c.name) for c in Crossing.objects.order_by("code")]
            return [("", _("all")), *crossings] if everything else crossings

        super().__init__(choices=choices, label=_("crossing"), **kwargs)


class CancellationFilterForm(PeriodForm):
    crossing = CrossingChoiceField(everything=True, required=False)
    reason = forms.ChoiceField(
        choices=[("", _("all")), *CancelReason.choices], required=False, label=_("reason")
    )
    source = forms.ChoiceField(
        choices=[("", _("all")), *InformationSource.choices], required=False, label=_("source")
    )
    order = forms.ChoiceField(
        choices=[
            (f"{sign}{key}", format_lazy("{} {}", label, arrow))
            for key, label in ORDER_LABELS.items()
            for sign, arrow in (("", "↑"), ("-", "↓"))
        ],
        required=False,
        initial="-cancelled_at",
        label=_("order"),
    )

    default_days = 7  # "which batches were cancelled last week?"

    def clean_order(self) -> str:
        return self.cleaned_data.get("order") or self.fields["order"].initial


class DailyFilterForm(PeriodForm):
    """The daily report is one crossing's: its quotas beside its crossings."""

    crossing = CrossingChoiceField(everything=False, initial=DEFAULT_CROSSING, required=False)

    def clean_crossing(self) -> str:
        return self.cleaned_data.get("crossing") or DEFAULT_CROSSING


def filters_of(form: forms.Form) -> dict:
    """The filters as written to the access log of a download: codes and dates only."""
    data = dict(form.cleaned_data)
    data.pop("download", None)
    period = data.pop("period", None)
    if period:
        data.update(date_from=period.start, date_to=period.end)
    return {key: value for key, value in data.items() if value not in ("", None)}
