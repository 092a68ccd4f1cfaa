"""Writes on accounts: creating a user with a role, their language."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Facility, User
from .passwords import PASSWORD_MAX_LENGTH
from .roles import GROUP_ROLES, Role


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    facility: Facility | None = None,
    email: str = "",
    preferred_language: str = "en",
    validate: bool = True,
) -> User:
    """Create an active staff account in one role. Hospital staff must have a facility."""
    # Checked first, and even without the other validators (the demo's accounts).
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(
            {"password": f"at most {PASSWORD_MAX_LENGTH} characters, not {len(password)}"}
        )
    if role not in GROUP_ROLES:
        raise ValidationError({"role": f"unknown role {role!r}; use one of {list(GROUP_ROLES)}"})
    if role == Role.HOSPITAL_STAFF and facility is None:
        raise ValidationError({"facility": "hospital staff need a facility"})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"a user named {username!r} already exists"})
    user = User(
        username=username,
        email=email,
        facility=facility if role == Role.HOSPITAL_STAFF else None,
        preferred_language=preferred_language,
        # Staff status opens the admin; what each role may do there is decided by role.
        is_staff=True,
    )
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    return user


def user_set_language(*, user: User, language: str) -> User:
    """The language the user's pages, emails and inbox are in."""
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ValidationError({"language": f"unknown language {language!r}"})
    if user.preferred_language != language:
        user.preferred_language = language
        user.save(update_fields=["preferred_language"])
    return user
