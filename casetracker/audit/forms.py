"""The "When it happened" field of the pages that record a fact (a cancellation, a crossing, a
death or a withdrawal): blank means now."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .occurred import checked_occurred_at


def _help_text() -> str:
    return gettext("Leave it empty if it happened just now. Day and time in %(zone)s.") % {
        "zone": settings.TIME_ZONE
    }


class OccurredAtField(forms.DateTimeField):
    """A `datetime-local` input, read in the deployment's time zone (`TIME_ZONE`, the current
    time zone of every request). A time in the future is refused here already, as the service
    would; what the fact must follow (the batch's latest event, the registration) only the
    service knows, and its error comes back beside this field."""

    widget = forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"})

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("When it happened"))
        kwargs.setdefault("help_text", lazy(_help_text, str)())
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            checked_occurred_at(value)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["occurred_at"]) from exc
        return value
