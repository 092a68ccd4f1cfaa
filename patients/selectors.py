"""Reads that several screens share: finding a patient by national ID or by name."""

from django.db.models import Q

from casetracker import crypto

from .fields import normalise_national_id
from .models import Patient, PatientQuerySet
from .names import normalise_name


def patient_search(user, *, national_id: str = "", name: str = "") -> PatientQuerySet:
    """Cases the user may see whose national ID is exactly this one (in any digit form, through
    the keyed hash) and/or whose name, Latin or Arabic, contains this text; in queue order."""
    patients = Patient.objects.visible_to(user).select_related("facility")
    if national_id:
        hashes = crypto.lookup_hashes(normalise_national_id(national_id))
        patients = patients.filter(national_id_hash__in=hashes)
    if name:
        name = normalise_name(name)
        patients = patients.filter(Q(name_latin__icontains=name) | Q(name_arabic__icontains=name))
    return patients.queue_order()


def search_kind(*, national_id: str = "", name: str = "") -> str:
    """What the access log records about a search: which fields were used, never their values."""
    return ",".join(key for key, value in (("national_id", national_id), ("name", name)) if value)
