"""Reads that several screens share: finding a case, the waiting queues and the ward.

Nothing here imports `batches` (DESIGN section 5): batch data is reached through the ORM
relation `Patient.lines`, and the states of an open batch are named by their stored values."""

from .queue import (
    REGISTERED_LATE_AFTER,
    QueueFilters,
    ReadinessFilter,
    ReferralFilter,
    patient_queue,
    queue_places,
    registered_late,
    returnee_queue,
    with_queue_columns,
    with_registration_recorded,
)
from .rows import QueueRow, ReferralState, queue_row, queue_rows, readiness_of, referral_state
from .search import (
    classify_search,
    normalise_reference,
    patient_search,
    returnee_search,
    search_kind,
)
from .ward import OPEN_BATCH_STATES, ward_card, ward_scheduled, ward_waiting

__all__ = [
    "OPEN_BATCH_STATES",
    "REGISTERED_LATE_AFTER",
    "QueueFilters",
    "QueueRow",
    "ReadinessFilter",
    "ReferralFilter",
    "ReferralState",
    "classify_search",
    "normalise_reference",
    "patient_queue",
    "patient_search",
    "queue_places",
    "queue_row",
    "queue_rows",
    "readiness_of",
    "referral_state",
    "registered_late",
    "returnee_queue",
    "returnee_search",
    "search_kind",
    "ward_card",
    "ward_scheduled",
    "ward_waiting",
    "with_queue_columns",
    "with_registration_recorded",
]
