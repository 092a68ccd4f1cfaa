from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class ScopedQuerysetMixin:
    """A reference to a row the requesting user may see; any other value reads as not found."""

    def get_queryset(self):
        request = self.context.get("request")
        return super().get_queryset().visible_to(request.user if request else None)


class ScopedSlugRelatedField(ScopedQuerysetMixin, serializers.SlugRelatedField):
    """A reference by its code. A NUL character is refused here: the lookup would otherwise take
    it to PostgreSQL, which cannot hold one in text and answers with an error (a 500)."""

    default_error_messages = {"null_characters": _("Null characters are not allowed.")}

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)


class ScopedPrimaryKeyRelatedField(ScopedQuerysetMixin, serializers.PrimaryKeyRelatedField):
    pass


class TextField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField quietly turns a number into its digits,
    so `{"reason_text": 0}` would be recorded as the reason "0". Its length is checked before
    trimming."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        # The limit holds for what was sent (the schema's maxLength), not only for what is left
        # once the surrounding spaces are trimmed.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false (and "true"/"false" from a form), nothing else: DRF's BooleanField also
    reads 0, 1, "yes" and "on", so a typo or a wrong type would silently become a decision."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.lower() in ("true", "false"):
            return data.lower() == "true"
        self.fail("invalid", input=data)


class StrictModelSerializer(serializers.ModelSerializer):
    """Model text and yes/no fields take exactly the JSON type the schema documents."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextField,
        models.TextField: TextField,
        models.BooleanField: StrictBooleanField,
    }


class OccurredAtField(serializers.DateTimeField):
    """When a fact happened (`occurred_at`), for the services that record facts: optional, the
    time of the request when left out. The services refuse a time in the future (beyond a few
    minutes of clock difference) and one before what the fact follows
    (`casetracker.audit.occurred`), naming the field."""

    def __init__(self, *, follows: str | None, **kwargs):
        refused = "in the future (beyond 5 minutes of clock difference)"
        if follows:
            refused += f" and before {follows}"
        kwargs.setdefault(
            "help_text",
            "when it happened, if not just now: ISO 8601, such as 2026-02-06T07:40:00+02:00 "
            f"(without an offset: the deployment's time zone). Default: now. Refused {refused}",
        )
        super().__init__(required=False, **kwargs)
