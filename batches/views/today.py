"""The coordinator's day: the batches of today and the next days per crossing (with its state)
and direction, the places left in each day's quota, and what needs attention before the
ambulances leave."""

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone

from casetracker.notifications.context_processors import recent_failures_count
from patients.access import log_people_shown

from ..selectors import not_ready_on, plans_by_crossing, referrals_lapsing

DAYS_AHEAD = 7


def today(request):
    first = timezone.localdate()
    tomorrow = first + timedelta(days=1)
    not_ready = not_ready_on(request.user, tomorrow)
    lapsing = referrals_lapsing(
        request.user, first=first, last=first + timedelta(days=DAYS_AHEAD - 1)
    )
    # The alerts name patients: the access log records whose.
    log_people_shown(actor=request.user, people=[r.patient for r in (*not_ready, *lapsing)])
    return render(
        request,
        "batches/today.html",
        {
            # Per crossing, with its state: a closed one says since when and why.
            "crossings": plans_by_crossing(request.user, first=first, days=DAYS_AHEAD),
            "today": first,
            "tomorrow": tomorrow,
            "not_ready": not_ready,
            "lapsing": lapsing,
            "failed": recent_failures_count(request),
        },
    )
