"""What the batches API reads and writes: batches and their steps, manifest lines, statements,
quotas and the builder's proposal."""

from .batches import (
    BatchSerializer,
    CancelSerializer,
    OccurredSerializer,
    RescheduleSerializer,
    cancel_text_redactions,
)
from .common import AFTER_BATCH_EVENT, crossing_field, occurred_at_field, relayed_by_field
from .members import (
    CLEARANCE_DECISIONS,
    MAX_LINES,
    BulkClearanceSerializer,
    ClearanceDecisionSerializer,
    ClearanceSerializer,
    CrossSerializer,
    LineRefSerializer,
    MemberAddSerializer,
    MemberSerializer,
    OutcomeSerializer,
    clearance_note_redactions,
)
from .proposal import (
    PlacesSerializer,
    ProposalCompanionSerializer,
    ProposalPatientSerializer,
    ProposalQuerySerializer,
    ProposalReasonSerializer,
    ProposalReturneeSerializer,
    ProposalSerializer,
    ProposalSkippedSerializer,
)
from .quotas import CrossingQuotaSerializer
from .statements import StatementAddSerializer, StatementSerializer

__all__ = [
    "AFTER_BATCH_EVENT",
    "CLEARANCE_DECISIONS",
    "MAX_LINES",
    "BatchSerializer",
    "BulkClearanceSerializer",
    "CancelSerializer",
    "ClearanceDecisionSerializer",
    "ClearanceSerializer",
    "CrossSerializer",
    "CrossingQuotaSerializer",
    "LineRefSerializer",
    "MemberAddSerializer",
    "MemberSerializer",
    "OccurredSerializer",
    "OutcomeSerializer",
    "PlacesSerializer",
    "ProposalCompanionSerializer",
    "ProposalPatientSerializer",
    "ProposalQuerySerializer",
    "ProposalReasonSerializer",
    "ProposalReturneeSerializer",
    "ProposalSerializer",
    "ProposalSkippedSerializer",
    "RescheduleSerializer",
    "StatementAddSerializer",
    "StatementSerializer",
    "cancel_text_redactions",
    "clearance_note_redactions",
    "crossing_field",
    "occurred_at_field",
    "relayed_by_field",
]
