"""The filter backend of every list: django-filter, refusing a yes/no filter it cannot read.

django-filter reads a boolean filter such as `?is_guardian=maybe` as "not given" and returns
the whole list: a client that mistyped the filter believes it got the filtered rows. Here such a
value is a 400 naming the parameter. An empty value (`?is_guardian=`) still means "not given",
as in an HTML form, and the schema says so (casetracker/schema.py)."""

from django.utils.translation import gettext as _
from django_filters import BooleanFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# What django-filter's BooleanWidget reads, compared in lower case.
BOOLEAN_SPELLINGS = frozenset({"true", "false", "1", "0"})


class FilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            errors = {
                name: [_("must be true or false")]
                for name, declared in filterset.filters.items()
                if isinstance(declared, BooleanFilter)
                and request.query_params.get(name, "").lower() not in {"", *BOOLEAN_SPELLINGS}
            }
            if errors:
                raise ValidationError(errors)
        return filterset
