"""Password rules beyond Django's validators (ASVS 2.1.1 and 2.1.2): at least 12 characters
(MinimumLengthValidator in settings), at most 128, every form and service alike."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Long pass phrases are welcome; an unbounded one is unbounded work for the password hasher.
PASSWORD_MAX_LENGTH = 128


class MaximumLengthValidator:
    def validate(self, password: str, user=None) -> None:
        if len(password) > PASSWORD_MAX_LENGTH:
            raise ValidationError(
                _("at most %(limit)d characters, not %(length)d")
                % {"limit": PASSWORD_MAX_LENGTH, "length": len(password)},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("At most %(limit)d characters.") % {"limit": PASSWORD_MAX_LENGTH}
