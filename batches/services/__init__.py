"""Every write on batches goes through these functions (DESIGN section 5, convention 1)."""

from .lifecycle import (
    batch_cancel,
    batch_clear,
    batch_create,
    batch_cross,
    batch_depart,
    batch_prepare,
    batch_reopen,
    batch_reschedule,
    batch_submit,
)
from .members import (
    batch_add_companion,
    batch_add_patient,
    batch_add_returnee,
    batch_create_draft,
    batch_record_clearance,
    batch_remove_member,
)
from .quotas import quota_set
from .statements import statement_add
from .vehicles import vehicle_add, vehicle_assign, vehicle_remove

__all__ = [
    "batch_add_companion",
    "batch_add_patient",
    "batch_add_returnee",
    "batch_cancel",
    "batch_clear",
    "batch_create",
    "batch_create_draft",
    "batch_cross",
    "batch_depart",
    "batch_prepare",
    "batch_record_clearance",
    "batch_remove_member",
    "batch_reopen",
    "batch_reschedule",
    "batch_submit",
    "quota_set",
    "statement_add",
    "vehicle_add",
    "vehicle_assign",
    "vehicle_remove",
]
