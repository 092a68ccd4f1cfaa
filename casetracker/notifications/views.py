"""The inbox page: a user's notifications, newest first, in the language of the page."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from casetracker.accounts.roles import Role, user_role

from .context_processors import recent_failures
from .messages import event_subject, render_inbox_details
from .models import Notification, NotificationChannel
from .services import notification_mark_read, notifications_mark_all_read

PAGE_SIZE = 25


def inbox(request):
    rows = (
        Notification.objects.filter(recipient=request.user, channel=NotificationChannel.INBOX)
        # Each message shows its event's text, or who redacted it: read with the event.
        .select_related("event__text_row__redacted_by")
        .order_by("-created_at", "-id")
    )
    if request.GET.get("unread") == "1":
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    language = translation.get_language()
    entries = [
        (n, event_subject(n.event, language, page=True), render_inbox_details(n.event, language))
        for n in page
    ]
    undelivered = []
    if user_role(request.user) in (Role.COORDINATOR, Role.ADMIN):
        undelivered = list(
            recent_failures()
            .select_related("event", "recipient", "subscription")
            .order_by("-created_at")[:10]
        )
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "entries": entries,
            "only_unread": request.GET.get("unread") == "1",
            "undelivered": undelivered,
        },
    )


@require_POST
def mark_read(request, pk: int):
    notification = get_object_or_404(
        Notification, pk=pk, recipient=request.user, channel=NotificationChannel.INBOX
    )
    notification_mark_read(notification=notification, user=request.user)
    return redirect(_back(request))


@require_POST
def mark_all_read(request):
    count = notifications_mark_all_read(user=request.user)
    if count:
        text = ngettext(
            "%(count)d notification marked read.", "%(count)d notifications marked read.", count
        ) % {"count": count}
    else:
        text = _("Nothing new.")
    messages.success(request, text)
    return redirect(_back(request))


def _back(request) -> str:
    # Back to the page the user was on, never to another site.
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("notifications:inbox")
