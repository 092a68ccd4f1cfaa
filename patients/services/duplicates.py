"""One national ID, one open patient or returnee: the check every registration and change of
number makes."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from casetracker import crypto

from ..fields import normalise_national_id
from ..models import Patient, PatientStatus, Returnee, ReturneeStatus

OPEN_PATIENT_STATUSES = (PatientStatus.WAITING, PatientStatus.SCHEDULED)
OPEN_RETURNEE_STATUSES = (ReturneeStatus.WAITING, ReturneeStatus.SCHEDULED)


# Advisory locks of national IDs: their own namespace (the first key of the two-key form), and a
# bounded number of them. Each lock held takes a slot of PostgreSQL's shared lock table (about
# 64 per connection) until commit: an import registering 20,000 cases in one transaction ran
# out of shared memory with a lock per number. Folded into buckets, a transaction holds at most
# NATIONAL_ID_LOCK_BUCKETS of them; two numbers of one bucket only wait for each other.
NATIONAL_ID_LOCK_SPACE = 0x4E4944  # "NID"
NATIONAL_ID_LOCK_BUCKETS = 512


def _lock_national_id(number: str) -> None:
    """Serialise registrations of one number until commit, so two at once cannot both pass the
    duplicate check. SQLite needs nothing: its write transactions already run one at a time."""
    _lock_national_ids([number])


def _lock_national_ids(numbers: Iterable[str]) -> None:
    """`_lock_national_id` of several numbers in one statement, their buckets taken in order
    (two imports at once then wait for each other instead of deadlocking)."""
    if connection.vendor != "postgresql":
        return
    buckets = sorted(
        {int(crypto.keyed_hash(n)[:8], 16) % NATIONAL_ID_LOCK_BUCKETS for n in numbers}
    )
    if not buckets:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, bucket) FROM "
            "(SELECT unnest(%s::int[]) AS bucket ORDER BY 1) AS buckets",
            [NATIONAL_ID_LOCK_SPACE, buckets],
        )


def open_holders(
    model: type[Patient] | type[Returnee], numbers: Iterable[str]
) -> dict[str, Patient | Returnee]:
    """The open patient (or returnee) holding each of `numbers` (normalised), in one query:
    the first registered when several do, as `refuse_duplicate_national_id` names."""
    statuses = OPEN_PATIENT_STATUSES if model is Patient else OPEN_RETURNEE_STATUSES
    by_hash = {h: n for n in numbers for h in crypto.lookup_hashes(n)}
    if not by_hash:
        return {}
    found: dict[str, Patient | Returnee] = {}
    others = model.objects.filter(status__in=statuses, national_id_hash__in=by_hash)
    for other in others.order_by("pk"):
        found.setdefault(by_hash[other.national_id_hash], other)
    return found


def refuse_duplicate_national_id(
    model: type[Patient] | type[Returnee], *, national_id: str, actor, exclude_pk: int | None = None
) -> None:
    """Refuse a number already held by an open patient (an evacuated, deceased or withdrawn case
    is closed: the person may be registered again) or an open returnee. The other record's
    reference is named only to someone allowed to see it. The admin form calls it too, to show
    the error beside the field before the service runs."""
    statuses = OPEN_PATIENT_STATUSES if model is Patient else OPEN_RETURNEE_STATUSES
    hashes = crypto.lookup_hashes(normalise_national_id(national_id))
    others = model.objects.filter(status__in=statuses, national_id_hash__in=hashes)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    other = others.order_by("pk").first()
    if other is not None:
        raise duplicate_error(other, actor=actor)


def duplicate_error(other: Patient | Returnee, *, actor) -> ValidationError:
    """The refusal of a number `other`, an open patient or returnee, already holds. The other
    record's reference is named only to someone allowed to see it."""
    model = type(other)
    if model is Patient:
        reference = "case_reference"
        message = _("a patient with this national ID is already registered")
    else:
        reference = "reference"
        message = _("a returnee with this national ID is already registered")
    if model.objects.visible_to(actor).filter(pk=other.pk).exists():
        message = f"{message} ({getattr(other, reference)})"
    return ValidationError({"national_id": message}, code="duplicate")


def _refuse_duplicate(person: Patient | Returnee, *, actor) -> None:
    _lock_national_id(person.national_id)
    refuse_duplicate_national_id(
        type(person), national_id=person.national_id, actor=actor, exclude_pk=person.pk
    )
