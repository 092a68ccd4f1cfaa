"""The forms of the import screens: a file to upload, and the fields of cases already held that
a coordinator chooses to update (none chosen unless the coordinator ticks them)."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..models import Patient
from .cases import UPDATABLE

ACCEPT = ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload_limit() -> int:
    """The largest file the screens take: the request's limit and the import's, the smaller."""
    return min(settings.UPLOAD_MAX_BYTES, settings.IMPORT_MAX_BYTES)


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet (CSV or XLSX)"),
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > upload_limit():
            raise forms.ValidationError(
                _("The file is %(size)s bytes; at most %(limit)s are accepted.")
                % {"size": f"{upload.size:,}", "limit": f"{upload_limit():,}"}
            )
        return upload

    def content(self) -> bytes:
        """The uploaded file's bytes (at most `upload_limit()`): every pass over the file (the
        dry run, the names of its rows, the copy kept) reads its own copy."""
        upload = self.cleaned_data["file"]
        upload.seek(0)
        return upload.read()


class UpdateFieldsForm(forms.Form):
    update_fields = forms.MultipleChoiceField(
        label=_("Fields to update on cases already held"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=(),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["update_fields"].choices = [
            (name, Patient._meta.get_field(name).verbose_name) for name in UPDATABLE
        ]
