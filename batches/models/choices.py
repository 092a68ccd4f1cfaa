"""The vocabularies of batches: directions, statuses, cancel reasons, who informs us,
clearances, outcomes, why a manifest line ended, and the states of a crossing."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    EXIT = "exit", _("exit (patients and companions)")
    RETURN = "return", _("return (returnees)")


class BatchStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    PREPARED = "prepared", _("prepared")
    SUBMITTED = "submitted", _("submitted for vetting")
    CLEARED = "cleared", _("cleared")
    IN_TRANSIT = "in_transit", _("in transit")
    CROSSED = "crossed", _("crossed")
    CANCELLED = "cancelled", _("cancelled")


TERMINAL_STATUSES = frozenset({BatchStatus.CROSSED, BatchStatus.CANCELLED})


class CancelReason(models.TextChoices):
    NO_REASON_GIVEN = "no_reason_given", _("no reason given")
    COORDINATION_INCOMPLETE = "coordination_incomplete", _("coordination incomplete")
    SECURITY = "security", _("security")
    WEATHER = "weather", _("weather")
    LOGISTICS = "logistics", _("logistics")
    MEDICAL = "medical", _("medical")
    OTHER = "other", _("other")


class InformationSource(models.TextChoices):
    """Who told us: a cancellation relayed by WHO is not the same fact as one we decided."""

    WHO = "who", _("WHO")
    BORDER_AUTHORITY = "border_authority", _("border authority")
    MINISTRY_OF_HEALTH = "ministry_of_health", _("ministry of health")
    RED_CRESCENT = "red_crescent", _("Red Crescent")
    INTERNAL = "internal", _("internal decision")
    OTHER = "other", _("other")


class Clearance(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class Outcome(models.TextChoices):
    CROSSED = "crossed", _("crossed")
    TURNED_BACK = "turned_back", _("turned back")
    HELD = "held", _("held")
    NO_SHOW = "no_show", _("no show")


class EndReason(models.TextChoices):
    """Why a manifest line stopped being open."""

    REJECTED = "rejected", _("not cleared to travel")
    CANCELLED = "cancelled", _("batch cancelled")
    COMPLETED = "completed", _("crossing outcome recorded")


class CrossingState(models.TextChoices):
    OPEN = "open", _("open")
    RESTRICTED = "restricted", _("restricted")
    CLOSED = "closed", _("closed")
