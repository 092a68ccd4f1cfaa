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
    def filter_queryset(self, request, queryset, view):
        # Every filter reads parameters that start with its name (`date_from`, `date_to`,
        # `price_min`); with none of those in the query each filter would leave the rows as
        # they are, and the filter set (a deep copy of every filter, a form to validate) is
        # not built: every detail request, and every list page asked for without a filter.
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not _reads_any(filterset_class, request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)

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


def _reads_any(filterset_class, params) -> bool:
    names = tuple(filterset_class.base_filters)
    return any(param.startswith(names) for param in params)
