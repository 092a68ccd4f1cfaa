"""What auditors read: cancellations, timelines, journeys and the numbers that matter.

Every function reads through the models' `visible_to(user)` and returns plain rows (dataclasses)
that the pages, the API and the exports share. Rows carry references (case references, batch
codes), never names, ID numbers or diagnoses."""

from .cancellations import (
    CANCELLATION_ORDERS,
    QUEUED,
    CancellationRow,
    cancellation_of,
    cancellations,
    statement_line,
)
from .figures import (
    DayRow,
    DeathRow,
    WaitSummary,
    WeekRow,
    cancellation_rate,
    deaths_while_waiting,
    quota_vs_crossed,
    referral_to_crossing,
)
from .journeys import (
    REMOVED,
    SENT_BACK,
    WAS_APPROVED,
    BumpedRow,
    Journey,
    JourneyStep,
    batch_events,
    batch_manifest,
    batch_timeline,
    bumped_patients,
    first_approved_referral,
    patient_journey,
)
from .periods import Period

__all__ = [
    "CANCELLATION_ORDERS",
    "QUEUED",
    "REMOVED",
    "SENT_BACK",
    "WAS_APPROVED",
    "BumpedRow",
    "CancellationRow",
    "DayRow",
    "DeathRow",
    "Journey",
    "JourneyStep",
    "Period",
    "WaitSummary",
    "WeekRow",
    "batch_events",
    "batch_manifest",
    "batch_timeline",
    "bumped_patients",
    "cancellation_of",
    "cancellation_rate",
    "cancellations",
    "deaths_while_waiting",
    "first_approved_referral",
    "patient_journey",
    "quota_vs_crossed",
    "referral_to_crossing",
    "statement_line",
]
