"""Admin access follows the route policy table (`policy.ADMIN_MODELS`) instead of per-model
Django permissions, and the same `visible_to` scoping as the API."""

from django.contrib.admin import SimpleListFilter
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404

from . import policy
from .roles import Role, user_role

# What the admin's list filters add to a field path in the URL: `status__exact`,
# `batch__id__exact`, `date__year`, `sent_at__gte`, `patient__isnull`.
# `code`: a foreign key to a row's code (a batch's crossing: `crossing__code__exact`).
FILTER_LOOKUPS = frozenset(
    {"exact", "isnull", "in", "gte", "gt", "lte", "lt", "year", "month", "day", "id", "pk", "code"}
)


class RoleAdminMixin:
    def _role(self, request) -> Role:
        return user_role(request.user)

    def _allows(self, request, permission: str) -> bool:
        return policy.admin_allows(self.opts.label_lower, permission, self._role(request))

    def has_module_permission(self, request) -> bool:
        return self._allows(request, "view")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allows(request, "view")

    def may_write(self, request) -> bool:
        return self._allows(request, "change")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._allows(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allows(request, "change")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allows(request, "delete")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        visible_to = getattr(qs, "visible_to", None)
        if visible_to is not None:
            return visible_to(request.user)
        # A model without scoping is for admins only: never every facility's rows to others.
        return qs if self._role(request) is Role.ADMIN else qs.none()

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        """Only the filters the list offers. Django also accepts any lookup on the model's own
        fields from the URL (`?diagnosis__icontains=...`), which would let a role filter on
        what it may not see, and put names and numbers in URLs and logs."""
        for offered in self._offered_filters():
            if lookup == offered or lookup.startswith(offered + LOOKUP_SEP):
                rest = lookup[len(offered) :].split(LOOKUP_SEP)[1:]
                return all(part in FILTER_LOOKUPS for part in rest)
        return False

    def _offered_filters(self) -> set[str]:
        offered = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                offered.add(item.parameter_name)
            else:
                offered.add(item[0] if isinstance(item, list | tuple) else item)
        return offered

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django sends a missing object to the admin index with a message naming the id. A row
        # of another facility must look exactly like one that does not exist: a plain 404.
        raise Http404

    def require_write(self, request) -> None:
        if not self.may_write(request):
            raise PermissionDenied


class ServiceAdminMixin(RoleAdminMixin):
    """Admin add and change forms save through the app's services, never `obj.save()`.

    `create_service(actor=..., **fields)` and `update_service(actor=..., <instance_kwarg>=obj,
    **changed fields)`; `parent_fields` are passed as keywords to the create service too (the
    patient a companion belongs to, say). Model validation (`clean`) already ran in the form."""

    create_service = None
    update_service = None
    instance_kwarg = "instance"

    def save_model(self, request, obj, form, change):
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            if not data:
                return
            if not type(self).update_service:
                raise PermissionDenied
            saved = type(self).update_service(
                actor=request.user, **{self.instance_kwarg: obj}, **data
            )
        else:
            data = {name: form.cleaned_data[name] for name in form.cleaned_data}
            saved = type(self).create_service(actor=request.user, **data)
        # The admin goes on with `obj` (messages, history, redirect): give it the saved state.
        obj.__dict__.update(saved.__dict__)
