"""The batch builder's proposal: who the next batch of a day should take, and why the others
are left out. The page (`batches/views/builder.py`) and the API (`batches/api/views.py`) both
call `propose`; the eligibility checks are those of `prepare` (`services/rules.py`).

Exit: the waiting patients the user may see, in queue order, each with their registered
companions (guardian first, up to the limit), while patient and companion places are left in the
day's quota. Return: the waiting returnees in registration order, within the returnee places.
Patients and returnees already on an open batch are listed as skipped, naming the batch.

The walk reads the queue in chunks with everything it needs prefetched (a constant number of
queries per chunk, not per person), and stops once the places are full and a few more people
were looked at, or at a hard limit: it never reads the whole queue for one page.

The reasons, in codes and words, are in `reasons.py`; reading the queue and judging one person
in `candidates.py`; the walk and its limits (`CHUNK`, `SCAN_LIMIT`, `LOOK_AFTER_FULL`) in
`walk.py`."""

from .candidates import (
    ProposedCompanion,
    ProposedPatient,
    ProposedReturnee,
    check_patient,
    check_returnee,
    evaluate_patient,
    evaluate_returnee,
    exit_candidates,
    open_batches,
    patient_reasons,
    return_candidates,
)
from .reasons import REASON_CODES, Reason, Why, finding_reason
from .walk import Proposal, Skipped, propose

__all__ = [
    "REASON_CODES",
    "Proposal",
    "ProposedCompanion",
    "ProposedPatient",
    "ProposedReturnee",
    "Reason",
    "Skipped",
    "Why",
    "check_patient",
    "check_returnee",
    "evaluate_patient",
    "evaluate_returnee",
    "exit_candidates",
    "finding_reason",
    "open_batches",
    "patient_reasons",
    "propose",
    "return_candidates",
]
