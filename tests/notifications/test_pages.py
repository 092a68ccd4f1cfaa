"""Pages: the signed-in user's inbox at /inbox/, its badge, and the undelivered alert."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from casetracker.accounts.roles import user_role
from casetracker.notifications.context_processors import notifications
from casetracker.notifications.models import Notification, NotificationChannel
from tests.service_helpers import inbox_row, notify_event

pytestmark = pytest.mark.django_db

INBOX = reverse("notifications:inbox")
READ_ALL = reverse("notifications:mark-all-read")
FAILED_LIST = reverse("admin:notifications_notification_changelist") + "?status__exact=failed"


def _read_url(row):
    return reverse("notifications:mark-read", args=[row.pk])


def _inbox_rows(user, count, action="cancel"):
    """`count` inbox rows of `user`, each for a batch of its own: RAF-2026-02-01-1, -2..."""
    return [
        inbox_row(user, notify_event([user], action=action, batch_ref=f"RAF-2026-02-01-{i}"))
        for i in range(1, count + 1)
    ]


def _fail(row, error="DeliveryError: boom"):
    # Setup: a row the worker gave up on.
    Notification.objects.filter(pk=row.pk).update(
        status="failed", attempts=6, attempt_limit=6, last_error=error
    )


def _page(client, user, url=INBOX, **extra):
    client.force_login(user)
    response = client.get(url, **extra)
    assert response.status_code == 200
    return response.content.decode()


def _in_english(user) -> None:
    """The pages follow the user's own language: these checks read the English texts."""
    user.preferred_language = "en"
    user.save()


def _entry_ids(html: str) -> list[int]:
    """The notification ids listed on an inbox page, in page order."""
    return [int(pk) for pk in re.findall(r'<li class="(?:un)?read" id="n(\d+)"', html)]


def _badge(html: str) -> str | None:
    found = re.search(r'<span class="badge"[^>]*>\s*(\d+)\s*</span>', html)
    return found.group(1) if found else None


# --- Who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize("method, url", [("get", INBOX), ("post", READ_ALL)])
def test_inbox_anonymous_is_sent_to_login(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


def test_inbox_lists_only_the_users_own_inbox_rows(client, nurse, other_nurse):
    rows = notify_event([nurse, other_nurse])
    rows += notify_event([nurse], action="prepare", batch_ref="RAF-2026-02-05-1")
    mine = {n.pk for n in rows if n.recipient_id == nurse.pk and n.channel == "inbox"}
    # The email rows of the nurse exist but are not inbox entries.
    assert any(n.recipient_id == nurse.pk and n.channel == "email" for n in rows)
    html = _page(client, nurse)
    assert set(_entry_ids(html)) == mine
    assert len(mine) == 2


def test_inbox_lists_newest_first(client, nurse):
    first, second, third = _inbox_rows(nurse, 3)
    # Setup: the oldest row by id was written last, so the order cannot come from the ids.
    Notification.objects.filter(pk=first.pk).update(
        created_at=timezone.now() + dt.timedelta(minutes=5)
    )
    assert _entry_ids(_page(client, nurse)) == [first.pk, third.pk, second.pk]


def test_inbox_subject_in_the_users_language_not_the_browsers(client, coordinator, nurse):
    # The nurse prefers Arabic, the coordinator English: each page follows its reader, whatever
    # the browser asks for or another user of the same browser chose.
    notify_event([coordinator, nurse])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    html = _page(client, coordinator, HTTP_ACCEPT_LANGUAGE="ar")
    assert '<html lang="en" dir="ltr">' in html
    assert 'Batch <bdi class="code">RAF-2026-02-04-3</bdi>: cancelled' in html
    assert "الدفعة" not in html
    html = _page(client, nurse, HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="ar" dir="rtl">' in html
    assert "الدفعة" in html


@pytest.mark.parametrize("how", ["preference", "switch"])
def test_inbox_subject_in_arabic_when_the_page_is_arabic(client, coordinator, how):
    notify_event([coordinator])
    if how == "preference":
        coordinator.preferred_language = "ar"
        coordinator.save()
    else:
        # The language switch in the header changes the user's own language.
        client.force_login(coordinator)
        client.post(reverse("set_language"), {"language": "ar", "next": INBOX})
        coordinator.refresh_from_db()
        assert coordinator.preferred_language == "ar"
    html = _page(client, coordinator)
    assert '<html lang="ar" dir="rtl">' in html
    # The code isolated in the Arabic sentence, or its last part would be drawn first:
    # "3-RAF-2026-02-04".
    assert 'الدفعة <bdi class="code">RAF-2026-02-04-3</bdi>:' in html
    assert "Batch" not in html


def test_inbox_badge_counts_unread_inbox_rows(client, nurse, other_nurse):
    rows = _inbox_rows(nurse, 3)
    _inbox_rows(other_nurse, 4)
    Notification.objects.filter(pk=rows[0].pk).update(read_at=timezone.now())
    # The badge is in the header of every page, the home page included.
    assert _badge(_page(client, nurse, reverse("home"))) == "2"
    assert _badge(_page(client, nurse)) == "2"


def test_inbox_badge_hidden_when_nothing_is_unread(client, nurse):
    rows = _inbox_rows(nurse, 1)
    Notification.objects.filter(pk=rows[0].pk).update(read_at=timezone.now())
    assert _badge(_page(client, nurse)) is None


def test_inbox_unread_filter(client, nurse):
    read, unread = _inbox_rows(nurse, 2)
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    assert set(_entry_ids(_page(client, nurse))) == {read.pk, unread.pk}
    html = _page(client, nurse, INBOX + "?unread=1")
    assert _entry_ids(html) == [unread.pk]
    assert f'href="{INBOX}"' in html  # "Show all"


def test_inbox_paginates_by_25(client, nurse):
    _in_english(nurse)
    rows = _inbox_rows(nurse, 30)
    newest_first = [n.pk for n in reversed(rows)]
    first = _page(client, nurse)
    assert _entry_ids(first) == newest_first[:25]
    assert "Page 1 of 2" in first
    assert 'href="?page=2"' in first
    second = _page(client, nurse, INBOX + "?page=2")
    assert _entry_ids(second) == newest_first[25:]
    assert "Page 2 of 2" in second
    assert 'href="?page=1"' in second


def test_inbox_pagination_keeps_the_unread_filter(client, nurse):
    rows = _inbox_rows(nurse, 27)
    Notification.objects.filter(pk__in=[rows[0].pk]).update(read_at=timezone.now())
    html = _page(client, nurse, INBOX + "?unread=1")
    assert len(_entry_ids(html)) == 25
    assert 'href="?page=2&amp;unread=1"' in html
    assert _entry_ids(_page(client, nurse, INBOX + "?unread=1&page=2")) == [rows[1].pk]


# --- Marking read ---------------------------------------------------------------------------


def test_inbox_mark_read_marks_the_row_and_goes_back(client, nurse):
    row, other = _inbox_rows(nurse, 2)
    client.force_login(nurse)
    back = f"{INBOX}?unread=1#n{row.pk}"
    response = client.post(_read_url(row), {"next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    row.refresh_from_db()
    other.refresh_from_db()
    assert row.read_at is not None
    assert other.read_at is None


def test_inbox_mark_read_of_someone_elses_row_is_404(client, nurse, other_nurse):
    theirs = inbox_row(other_nurse, notify_event([other_nurse]))
    client.force_login(nurse)
    assert client.post(_read_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_inbox_mark_read_of_an_email_row_is_404(client, nurse):
    email = next(n for n in notify_event([nurse]) if n.channel == "email")
    client.force_login(nurse)
    assert client.post(_read_url(email)).status_code == 404
    email.refresh_from_db()
    assert email.read_at is None


def test_inbox_mark_read_refuses_get(client, nurse):
    row = _inbox_rows(nurse, 1)[0]
    client.force_login(nurse)
    assert client.get(_read_url(row)).status_code == 405
    assert client.get(READ_ALL).status_code == 405
    row.refresh_from_db()
    assert row.read_at is None


def test_inbox_read_all_marks_only_own_unread_inbox_rows(client, nurse, other_nurse):
    _in_english(nurse)
    rows = notify_event([nurse, other_nurse])
    rows += notify_event([nurse], action="prepare", batch_ref="RAF-2026-02-05-1")
    client.force_login(nurse)
    response = client.post(READ_ALL, {"next": INBOX}, follow=True)
    assert response.redirect_chain == [(INBOX, 302)]
    assert "2 notifications marked read." in response.content.decode()
    read = {
        (n.recipient_id, n.channel)
        for n in Notification.objects.filter(pk__in=[n.pk for n in rows], read_at__isnull=False)
    }
    assert read == {(nurse.pk, "inbox")}
    assert Notification.objects.filter(recipient=nurse, channel="inbox", read_at=None).count() == 0
    assert Notification.objects.filter(recipient=nurse, channel="email", read_at=None).count() == 2
    assert Notification.objects.filter(recipient=other_nurse, read_at=None).count() == 2


def test_inbox_read_all_with_nothing_new(client, nurse):
    _in_english(nurse)
    client.force_login(nurse)
    response = client.post(READ_ALL, follow=True)
    assert "Nothing new." in response.content.decode()


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/inbox/", "http://testserver.evil/"]
)
def test_inbox_next_to_another_host_is_ignored(client, nurse, target):
    row = _inbox_rows(nurse, 1)[0]
    client.force_login(nurse)
    for url in (_read_url(row), READ_ALL):
        response = client.post(url, {"next": target})
        assert response.status_code == 302
        assert response["Location"] == INBOX, url


def test_inbox_posts_need_the_csrf_token(nurse):
    row = _inbox_rows(nurse, 1)[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    for url in (_read_url(row), READ_ALL):
        assert client.post(url).status_code == 403, url
    row.refresh_from_db()
    assert row.read_at is None
    # The page's own forms carry the token.
    html = client.get(INBOX).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert client.post(_read_url(row), {"csrfmiddlewaretoken": token}).status_code == 302
    row.refresh_from_db()
    assert row.read_at is not None


# --- Undelivered notifications --------------------------------------------------------------


@pytest.mark.parametrize("who", ["coordinator", "admin_user"])
def test_inbox_undelivered_alert_shown_to_coordinators_and_admins(
    client, request, nurse, auditor, who
):
    rows = notify_event([nurse, auditor])
    _fail(inbox_row(nurse, rows))
    _fail(inbox_row(auditor, rows))
    html = _page(client, request.getfixturevalue(who), reverse("home"))
    assert 'role="alert"' in html
    assert "2 notifications could not be delivered." in html
    assert f'href="{FAILED_LIST}"' in html


def test_inbox_undelivered_alert_counts_one_in_the_singular(client, coordinator, nurse):
    _fail(inbox_row(nurse, notify_event([nurse])))
    assert "1 notification could not be delivered." in _page(client, coordinator)


def test_inbox_undelivered_alert_absent_without_failures(client, coordinator, nurse):
    notify_event([nurse])
    html = _page(client, coordinator)
    assert 'role="alert"' not in html
    assert FAILED_LIST not in html
    assert "Undelivered notifications" not in html


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_inbox_undelivered_alert_hidden_from_other_roles(client, request, who):
    user = request.getfixturevalue(who)
    # Even a failure of their own row is not theirs to retry.
    _fail(inbox_row(user, notify_event([user])))
    for url in (INBOX, reverse("home")):
        html = _page(client, user, url)
        assert 'role="alert"' not in html, url
        assert "could not be delivered" not in html, url
        assert FAILED_LIST not in html, url
        assert "Undelivered notifications" not in html, url


def test_inbox_undelivered_table_for_coordinators(client, coordinator, nurse):
    rows = notify_event([nurse], batch_ref="RAF-2026-02-09-2")
    _fail(next(n for n in rows if n.channel == "email"), error="DeliveryError: mailbox full")
    html = _page(client, coordinator)
    table = html[html.index("Undelivered notifications") : html.index("</table>")]
    assert '<bdi class="code">RAF-2026-02-09-2</bdi>' in table
    assert "<bdi>nurse</bdi>" in table
    assert "DeliveryError: mailbox full" in table
    assert "email" in table.lower()


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["nurse", "coordinator"])
def test_inbox_page_queries_do_not_grow_with_rows(client, request, nurse, who):
    user = request.getfixturevalue(who)
    client.force_login(user)

    def add(start, count):
        for i in range(start, start + count):
            rows = notify_event({user, nurse}, batch_ref=f"RAF-2026-03-01-{i}")
            # Failed rows of another recipient fill the coordinator's undelivered table.
            _fail(next(n for n in rows if n.recipient_id == nurse.pk and n.channel == "email"))

    add(1, 5)
    _count_queries(client, INBOX)  # warm up
    five = _count_queries(client, INBOX)
    add(6, 20)
    html = client.get(INBOX).content.decode()
    assert len(_entry_ids(html)) == 25
    assert _count_queries(client, INBOX) == five


@pytest.mark.parametrize("failures", [3, 11, 100])
def test_inbox_undelivered_alert_in_arabic_for_many_failures(client, coordinator, nurse, failures):
    # Arabic has six plural forms, chosen by arithmetic on the count.
    for row in _inbox_rows(nurse, failures):
        _fail(row)
    coordinator.preferred_language = "ar"
    coordinator.save()
    for url in (INBOX, reverse("admin:index")):
        html = _page(client, coordinator, url)
        assert f"إشعارات تعذّر تسليمها: {failures}" in html, url


def test_inbox_undelivered_alert_leaves_out_old_failures(client, coordinator, nurse, settings):
    settings.NOTIFICATION_ALERT_DAYS = 7
    old, recent = _inbox_rows(nurse, 2)
    _fail(old)
    _fail(recent)
    Notification.objects.filter(pk=old.pk).update(  # setup: it failed three weeks ago
        created_at=timezone.now() - dt.timedelta(days=21)
    )
    assert "1 notification could not be delivered." in _page(client, coordinator)


def test_inbox_entry_links_the_batch_of_its_event(client, coordinator, nurse):
    _in_english(nurse)
    (first,) = _inbox_rows(nurse, 1)
    _fail(inbox_row(coordinator, notify_event([coordinator], batch_ref="RAF-2026-02-01-9")))
    batch_page = reverse("batches:detail", args=["RAF-2026-02-01-1"])

    html = _page(client, nurse)
    entry = html[html.index(f'id="n{first.pk}"') :]
    assert f'<a class="batch-link" href="{batch_page}">Open batch' in entry

    # The coordinators' list of undelivered notifications links each batch too.
    _in_english(coordinator)
    html = _page(client, coordinator)
    failed_page = reverse("batches:detail", args=["RAF-2026-02-01-9"])
    assert f'<a href="{failed_page}"><bdi class="code">RAF-2026-02-01-9</bdi></a>' in html


def test_inbox_page_renders_only_each_entrys_details(client, nurse):
    """Per entry the page renders the details table, nothing else: the subject is made without
    a template, and the email's texts are not made at all."""
    _inbox_rows(nurse, 6)
    client.force_login(nurse)
    response = client.get(INBOX)
    assert response.status_code == 200
    names = [t.name for t in response.templates]
    assert names.count("notifications/event_details.html") == 6
    assert not {n for n in names if n.startswith("notifications/event_")} - {
        "notifications/event_details.html"
    }
    assert response.content.decode().count('>الدفعة <bdi class="code">RAF-2026-02-01-') == 6


def test_inbox_unread_count_is_queried_only_when_a_page_shows_it(rf, nurse):
    """The header's count is a callable the template calls: a page without the header (a
    fragment, a PDF) never counts; one that shows it counts once."""
    request = rf.get("/")
    request.user = nurse
    user_role(nurse)  # read once per request, by the permission check
    with CaptureQueriesContext(connection) as queries:
        context = notifications(request)
    assert len(queries) == 0
    _inbox_rows(nurse, 2)
    with CaptureQueriesContext(connection) as queries:
        assert context["inbox_unread"]() == 2
        assert context["inbox_unread"]() == 2
    assert len(queries) == 1


def test_inbox_unread_count_is_read_from_its_index(require_postgres, nurse, other_nurse):
    """PostgreSQL counts a user's unread inbox rows from the partial index of unread inbox
    rows, without reading the table (the header shows the count on every page)."""
    _inbox_rows(nurse, 3)
    _inbox_rows(other_nurse, 2)
    unread = Notification.objects.filter(
        recipient=nurse, channel=NotificationChannel.INBOX, read_at__isnull=True
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows: make the planner show whether the index can serve the count.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # The rows the count counts, as the count reads them.
        plan = unread.order_by().values("pk").explain()
    assert "notification_unread_inbox" in plan
    assert unread.count() == 3


def test_inbox_page_is_read_from_the_inbox_index(require_postgres, nurse, other_nurse):
    """A page of the inbox is read newest first from the inbox index, not sorted."""
    _inbox_rows(nurse, 3)
    _inbox_rows(other_nurse, 2)
    page = Notification.objects.filter(recipient=nurse, channel=NotificationChannel.INBOX).order_by(
        "-created_at", "-id"
    )[:25]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = page.explain()
    assert "notification_inbox" in plan
    assert "Sort" not in plan
