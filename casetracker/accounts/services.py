"""Writes on accounts: creating a user with a role, their language; facilities."""

import unicodedata

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event
from casetracker.codes import is_code
from casetracker.updates import apply_update

from .models import Facility, FacilityKind, Governorate, User
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
    """Create an active staff account in one role. Hospital staff must have a facility. An
    admin is a superuser (every page and model of the back office) and belongs to no group."""
    # Checked first, and even without the other validators (the demo's accounts).
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(
            {"password": f"at most {PASSWORD_MAX_LENGTH} characters, not {len(password)}"}
        )
    if role not in (*GROUP_ROLES, Role.ADMIN):
        roles = [r.value for r in (*GROUP_ROLES, Role.ADMIN)]
        raise ValidationError({"role": f"unknown role {role!r}; use one of {roles}"})
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
        is_superuser=role == Role.ADMIN,
    )
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    if role != Role.ADMIN:
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


# --- Facilities ---------------------------------------------------------------------------

# Arabic and Persian names use the zero-width non-joiner and joiner; no other format character.
JOINERS = "\u200c\u200d"
# What `facility_update` may change. The code never changes: accounts, scripts and the API
# name a facility by it.
FACILITY_DETAILS = ("name_en", "name_ar", "kind", "governorate", "is_active")


def _name(errors: dict, field: str, value) -> str:
    """A name in Unicode NFC with single spaces; required, within the column."""
    if not isinstance(value, str):
        errors[field] = _("must be text")
        return ""
    value = " ".join(unicodedata.normalize("NFC", value).split())
    limit = Facility._meta.get_field(field).max_length
    if not value:
        errors[field] = _("this field is required")
    elif len(value) > limit:
        errors[field] = _("at most %(limit)d characters, not %(length)d") % {
            "limit": limit,
            "length": len(value),
        }
    elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value if ch not in JOINERS):
        errors[field] = _("must not contain control or formatting characters")
    return value


def _choice(errors: dict, field: str, value, choices) -> None:
    if value not in choices.values:
        errors[field] = _("must be one of %(values)s") % {"values": choices.values}


def facility_problems(**fields) -> dict[str, str]:
    """What `facility_create` or `facility_update` would refuse in these fields, by field (the
    admin's form shows them beside each field before anything is saved)."""
    errors: dict = {}
    if "code" in fields:
        code = fields["code"].strip() if isinstance(fields["code"], str) else ""
        limit = Facility._meta.get_field("code").max_length
        if not is_code(code, limit=limit):
            errors["code"] = _(
                "lower-case letters, digits and dashes, at most %(limit)d (e.g. al-amal)"
            ) % {"limit": limit}
        elif Facility.objects.filter(code=code).exists():
            errors["code"] = _("a facility with the code %(code)s already exists") % {"code": code}
    for field in ("name_en", "name_ar"):
        if field in fields:
            _name(errors, field, fields[field])
    if "kind" in fields:
        _choice(errors, "kind", fields["kind"], FacilityKind)
    if "governorate" in fields:
        _choice(errors, "governorate", fields["governorate"], Governorate)
    if "is_active" in fields and not isinstance(fields["is_active"], bool):
        errors["is_active"] = _("must be true or false")
    return errors


def _facility_details(facility: Facility) -> dict:
    return {"kind": facility.kind, "governorate": facility.governorate}


@transaction.atomic
def facility_create(
    *,
    actor,
    code: str,
    name_en: str,
    name_ar: str,
    kind: str,
    governorate: str,
    is_active: bool = True,
) -> Facility:
    """A hospital, field hospital or staging point, named in English and Arabic. Its code
    (lower-case letters, digits and dashes) names it in the API, in `adduser --facility` and
    in batch pages; it never changes. Writes a `facility` / `create` event."""
    errors = facility_problems(
        code=code,
        name_en=name_en,
        name_ar=name_ar,
        kind=kind,
        governorate=governorate,
        is_active=is_active,
    )
    if errors:
        raise ValidationError(errors)
    facility = Facility.objects.create(
        code=code.strip(),
        name_en=_name({}, "name_en", name_en),
        name_ar=_name({}, "name_ar", name_ar),
        kind=kind,
        governorate=governorate,
        is_active=is_active,
    )
    record_event(
        subject_type=SubjectType.FACILITY,
        subject_ref=facility.code,
        action=Action.CREATE,
        actor=actor,
        subject_facility_id=facility.pk,
        details=_facility_details(facility),
    )
    return facility


@transaction.atomic
def facility_update(*, facility: Facility, actor, **changes) -> Facility:
    """Change a facility's names, kind, governorate or whether it is in use (an inactive
    facility is no longer offered for new batches; its records stay). The event names the
    fields that changed, not their values."""
    unknown = sorted(set(changes) - set(FACILITY_DETAILS))
    if unknown:
        raise ValidationError({name: _("cannot be changed") for name in unknown})
    errors = facility_problems(**changes)
    if errors:
        raise ValidationError(errors)
    for field in ("name_en", "name_ar"):
        if field in changes:
            changes[field] = _name({}, field, changes[field])
    facility = Facility.objects.select_for_update().get(pk=facility.pk)
    apply_update(
        facility,
        changes,
        actor=actor,
        subject_type=SubjectType.FACILITY,
        details=_facility_details,
        subject_facility_id=facility.pk,
    )
    return facility
