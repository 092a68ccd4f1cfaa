from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from casetracker.accounts.admin_base import RoleAdminMixin

from .audiences import EVENT_TYPES
from .models import Notification, NotificationStatus, WebhookSubscription, http_url
from .services import notification_retry


@admin.register(Notification)
class NotificationAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Delivery log of the outbox: read-only, but failed deliveries can be queued again."""

    list_display = (
        "id",
        "created_at",
        "channel",
        "recipient",
        "batch",
        "status",
        "attempts",
        "sent_at",
        "provider_message_id",
        "short_error",
    )
    list_filter = ("status", "channel", "language")
    list_select_related = ("recipient", "event")
    search_fields = ("recipient__username", "idempotency_key", "event__batch_ref")
    actions = ["retry_delivery"]

    # A webhook's address is its URL, which may hold a partner's token: show whom, not where.
    exclude = ("address",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Notification._meta.fields if f.name != "address"] + ["to"]

    @admin.display(description=_("to"))
    def to(self, obj: Notification) -> str:
        if obj.subscription_id:
            return str(obj.subscription)
        return obj.address or str(obj.recipient or "")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return self._allows(request, "actions")

    @admin.display(description=_("batch"), ordering="event__batch_ref")
    def batch(self, obj: Notification) -> str:
        return obj.event.batch_ref

    @admin.display(description=_("last error"))
    def short_error(self, obj: Notification) -> str:
        return obj.last_error[:80]

    @admin.action(
        description=_("Retry delivery of the selected failed notifications"), permissions=["retry"]
    )
    def retry_delivery(self, request, queryset):
        retried = skipped = 0
        for notification in queryset.order_by("pk"):
            if notification.status != NotificationStatus.FAILED:
                skipped += 1
                continue
            try:
                notification_retry(notification=notification, actor=request.user)
            except ValidationError:  # it changed meanwhile (another coordinator retried it)
                skipped += 1
            else:
                retried += 1
        if retried:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification queued again.",
                    "%(count)d notifications queued again.",
                    retried,
                )
                % {"count": retried},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification was not failed and was left alone.",
                    "%(count)d notifications were not failed and were left alone.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500, assume_scheme="https", validators=[http_url], label=_("URL")
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("event types"),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "event_types", "is_active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Partner systems and the events they receive. Admins only: the secret signs requests."""

    form = WebhookSubscriptionForm
    list_display = ("name", "url", "event_type_list", "is_active", "created_at")
    list_filter = ("is_active",)

    @admin.display(description=_("event types"))
    def event_type_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types)
