from django.db import models
from rest_framework import serializers


class ScopedQuerysetMixin:
    """A reference to a row the requesting user may see; any other value reads as not found."""

    def get_queryset(self):
        request = self.context.get("request")
        return super().get_queryset().visible_to(request.user if request else None)


class ScopedSlugRelatedField(ScopedQuerysetMixin, serializers.SlugRelatedField):
    pass


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
