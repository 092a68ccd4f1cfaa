from django import forms
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    """One code: six digits from the authenticator app, or a backup code."""

    otp_token = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "dir": "ltr",
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "size": 16,
            }
        ),
    )


class BackupCodeForm(CodeForm):
    """The same field, for a backup code: letters too, so no numeric keypad on phones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        attrs = self.fields["otp_token"].widget.attrs
        attrs.update({"inputmode": "text", "autocapitalize": "characters", "autocomplete": "off"})
        attrs.pop("autofocus", None)
        self.fields["otp_token"].label = _("Backup code")
