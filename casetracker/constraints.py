"""Database constraints shared by the apps' models."""

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual


def max_length_check(field: str, limit: int, *, name: str) -> models.CheckConstraint:
    """The database refuses text longer than `limit`, for a TextField whose max_length neither
    Model.save() nor a PostgreSQL `text` column enforces: a write that skipped validation
    fails loudly instead of storing an unbounded value."""
    return models.CheckConstraint(
        condition=LessThanOrEqual(Length(field), limit),
        name=name,
        violation_error_message=f"{field}: at most {limit} characters",
    )
