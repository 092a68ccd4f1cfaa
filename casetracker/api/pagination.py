"""Pagination that refuses a page or page size it cannot read. DRF quietly falls back to the
first page or the default size for `?page_size=ten`; a client that sent one should hear so."""

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


def _number_problem(raw: str | None, *, maximum: int | None = None) -> str | None:
    """Why `raw` is not a whole number from 1 (to `maximum`); None if it is, or is absent."""
    if raw is None:
        return None
    # ASCII digits only (no sign, space, decimal point or other script's digits), not all
    # zeros; the length is compared first, as int() refuses thousands of digits.
    number = raw.lstrip("0") if raw.isascii() and raw.isdigit() else ""
    if number and (
        maximum is None or (len(number) <= len(str(maximum)) and int(number) <= maximum)
    ):
        return None
    if maximum is None:
        return _("must be a whole number from 1")
    return _("must be a whole number from 1 to %(maximum)d") % {"maximum": maximum}


class StrictPaginationMixin:
    """`page_size` within 1..max_page_size, and the page number (where there is one) a whole
    number, or a 400 naming each parameter at fault; the schema states the bounds."""

    def check_query(self, request) -> None:
        params = request.query_params
        problems = {}
        page_param = getattr(self, "page_query_param", None)
        if page_param and params.get(page_param) not in self.last_page_strings:
            problems[page_param] = _number_problem(params.get(page_param))
        problems[self.page_size_query_param] = _number_problem(
            params.get(self.page_size_query_param), maximum=self.max_page_size
        )
        errors = {name: [problem] for name, problem in problems.items() if problem}
        if errors:
            raise ValidationError(errors)

    def paginate_queryset(self, queryset, request, view=None):
        self.check_query(request)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            elif parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"].update(minimum=1)
        return parameters


class PagePagination(StrictPaginationMixin, PageNumberPagination):
    """A page past the end stays a 404, as in DRF."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NewestFirstCursorPagination(StrictPaginationMixin, CursorPagination):
    """For append-only logs: stable while new rows arrive."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
