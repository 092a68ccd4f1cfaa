"""Status transitions of patients and returnees, declared once."""

from .models import PatientStatus as P
from .models import ReturneeStatus as R

PATIENT_TRANSITIONS: dict[str, set[str]] = {
    P.WAITING: {P.SCHEDULED, P.DECEASED, P.WITHDRAWN},
    # Back to waiting keeps `registered_at`: a cancelled or refused patient keeps their place.
    P.SCHEDULED: {P.WAITING, P.EVACUATED},
    P.EVACUATED: set(),
    P.DECEASED: set(),
    P.WITHDRAWN: set(),
}

RETURNEE_TRANSITIONS: dict[str, set[str]] = {
    R.WAITING: {R.SCHEDULED, R.WITHDRAWN},
    R.SCHEDULED: {R.WAITING, R.RETURNED},
    R.RETURNED: set(),
    R.WITHDRAWN: set(),
}
