"""Admin access follows the same roles as the API instead of per-model Django permissions."""

from django.core.exceptions import PermissionDenied

from .permissions import READ_ROLES, WRITE_ROLES
from .roles import Role, user_role


class RoleAdminMixin:
    read_roles = READ_ROLES
    write_roles = WRITE_ROLES

    def _role(self, request) -> Role:
        return user_role(request.user)

    def has_module_permission(self, request) -> bool:
        return self._role(request) in self.read_roles or request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def may_write(self, request) -> bool:
        return request.user.is_superuser or self._role(request) in self.write_roles

    def has_add_permission(self, request, obj=None) -> bool:
        return self.may_write(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.may_write(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # cases, batches and their history are never deleted from the admin

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        visible_to = getattr(qs, "visible_to", None)
        return visible_to(request.user) if visible_to else qs

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
