"""Form fields shared by the pages."""

from django import forms

from .models import Facility


class FacilityChoiceField(forms.ModelChoiceField):
    """Facilities by their name in the reader's language."""

    def label_from_instance(self, obj: Facility) -> str:
        return obj.name
