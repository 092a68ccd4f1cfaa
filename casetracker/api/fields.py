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
