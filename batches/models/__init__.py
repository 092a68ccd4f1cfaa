"""The models of batches: crossings, batches, statements, vehicles, manifest lines and quotas,
with their vocabularies (`choices.py`).

Django finds the models through this package; every name is re-exported here, so code imports
them from `batches.models` whichever module holds them."""

from .batches import CANCEL_REASON_MAX_LENGTH, Batch, BatchQuerySet
from .choices import (
    TERMINAL_STATUSES,
    BatchStatus,
    CancelReason,
    Clearance,
    CrossingState,
    Direction,
    EndReason,
    InformationSource,
    Outcome,
)
from .crossings import DEFAULT_CROSSING, RAFAH, Crossing, CrossingQuerySet
from .members import BatchMember, BatchMemberQuerySet
from .quotas import CrossingQuota, CrossingQuotaQuerySet
from .statements import STATEMENT_MAX_LENGTH, Statement, StatementQuerySet
from .vehicles import VEHICLE_STATUSES, Vehicle, VehicleKind, vehicle_name

__all__ = [
    "CANCEL_REASON_MAX_LENGTH",
    "DEFAULT_CROSSING",
    "RAFAH",
    "STATEMENT_MAX_LENGTH",
    "TERMINAL_STATUSES",
    "VEHICLE_STATUSES",
    "Batch",
    "BatchMember",
    "BatchMemberQuerySet",
    "BatchQuerySet",
    "BatchStatus",
    "CancelReason",
    "Clearance",
    "Crossing",
    "CrossingQuerySet",
    "CrossingQuota",
    "CrossingQuotaQuerySet",
    "CrossingState",
    "Direction",
    "EndReason",
    "InformationSource",
    "Outcome",
    "Statement",
    "StatementQuerySet",
    "Vehicle",
    "VehicleKind",
    "vehicle_name",
]
