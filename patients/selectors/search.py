"""Finding a patient or a returnee: by national ID, reference or part of a name, from one
search box."""

import re

from django.db.models import Q

from casetracker import crypto

from ..fields import normalise_national_id
from ..models import Patient, PatientQuerySet, Returnee, ReturneeQuerySet
from ..names import normalise_name
from .queue import with_registration_recorded


def patient_search(
    user, *, national_id: str = "", name: str = "", reference: str = ""
) -> PatientQuerySet:
    """Cases the user may see whose national ID is exactly this one (in any digit form, through
    the keyed hash), whose case reference is this one, and/or whose name, Latin or Arabic,
    contains this text; in queue order."""
    patients = Patient.objects.visible_to(user).select_related("facility")
    if national_id:
        hashes = crypto.lookup_hashes(normalise_national_id(national_id))
        patients = patients.filter(national_id_hash__in=hashes)
    if reference:
        patients = patients.filter(case_reference=normalise_reference(reference, "EV"))
    if name:
        name = normalise_name(name)
        patients = patients.filter(Q(name_latin__icontains=name) | Q(name_arabic__icontains=name))
    return patients.queue_order()


def returnee_search(
    user, *, national_id: str = "", name: str = "", reference: str = ""
) -> ReturneeQuerySet:
    """Returnees the user may see, found like `patient_search`; in registration order."""
    returnees = with_registration_recorded(Returnee.objects.visible_to(user))
    if national_id:
        hashes = crypto.lookup_hashes(normalise_national_id(national_id))
        returnees = returnees.filter(national_id_hash__in=hashes)
    if reference:
        returnees = returnees.filter(reference=normalise_reference(reference, "RT"))
    if name:
        name = normalise_name(name)
        returnees = returnees.filter(Q(name_latin__icontains=name) | Q(name_arabic__icontains=name))
    return returnees.order_by("registered_at", "id")


def search_kind(*, national_id: str = "", name: str = "", reference: str = "") -> str:
    """What the access log records about a search: which fields were used, never their values."""
    used = (("national_id", national_id), ("reference", reference), ("name", name))
    return ",".join(key for key, value in used if value)


def normalise_reference(text: str, prefix: str) -> str:
    """ "ev 7k3q9m", "EV7K3Q9M" and "EV-7K3Q9M" are the same case reference."""
    compact = re.sub(r"[\s\-]", "", text).upper()
    if compact.startswith(prefix):
        compact = compact[len(prefix) :]
    return f"{prefix}-{compact}"


def classify_search(text: str, prefix: str) -> dict[str, str]:
    """One search box for a person: a reference (`EV-…`/`RT-…`), a national ID (digits, in any
    script, spaces and dashes ignored) or else part of a name. Returns the keyword arguments of
    `patient_search` / `returnee_search`."""
    text = text.strip()
    if re.fullmatch(rf"(?i){prefix}[\s\-]?[0-9A-Z]{{6}}", text):
        return {"reference": text}
    digits = normalise_national_id(text)
    if digits and digits.isascii() and digits.isdigit():
        return {"national_id": text}
    return {"name": text}
