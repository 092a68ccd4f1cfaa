"""Statements made after the fact (`statement_add`), and a cancellation's deciding and relaying
parties (`batch_cancel(source=, relayed_by=)`): the service with its event and notifications,
each refusal, the API, the batch page (its form submitted as rendered), the timeline, the
cancellation history and the back office."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import formats, timezone

from batches.models import Statement
from batches.reports.selectors import Period, batch_timeline, cancellations
from batches.services import (
    batch_add_patient,
    batch_cancel,
    batch_create,
    batch_prepare,
    statement_add,
)
from casetracker.audit.models import Event
from casetracker.errors import TransitionRefused
from casetracker.notifications.messages import webhook_payload
from casetracker.notifications.models import WebhookSubscription
from tests import factories
from tests.html_forms import read_form
from tests.service_helpers import (
    advance,
    assert_event,
    assert_notified,
    mark,
    notifications_since,
    refused,
    the_event_since,
)

pytestmark = pytest.mark.django_db

SAID = "Coordination details were missing."


def ago(hours: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


def shown(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


@pytest.fixture
def opened(coordinator, facility, quota, ready_patient):
    """A draft for today opened 30 hours ago (recorded now), with a patient and a companion."""
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
        occurred_at=ago(30),
    )
    patient = ready_patient(phone="+970599000111", sms_consent=True)
    companion = factories.CompanionFactory(patient=patient)
    batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=[companion])
    return batch


@pytest.fixture
def cancelled(opened, coordinator):
    """Cancelled 26 hours ago (recorded now): decided by the border authority, relayed by WHO."""
    return batch_cancel(
        batch=opened,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text="Cancelled at the last minute, no reason given.",
        source="border_authority",
        relayed_by="who",
        occurred_at=ago(26),
    )


def _said(batch, actor, **overrides) -> Statement:
    fields = {
        "source": "border_authority",
        "relayed_by": "who",
        "text": SAID,
        "said_at": ago(2),
        "about_cancellation": True,
        **overrides,
    }
    return statement_add(batch=batch, actor=actor, **fields)


# --- Who decided a cancellation, who relayed it ----------------------------------------------


def test_batch_cancel_keeps_who_decided_and_who_relayed_it(cancelled):
    event = Event.objects.get(subject_ref=cancelled.code, action="cancel")
    assert (cancelled.cancel_source, cancelled.cancel_relayed_by) == ("border_authority", "who")
    # Both in the chained row: `source` and the details.
    assert (event.source, event.details["relayed_by"]) == ("border_authority", "who")


def test_batch_cancel_without_a_relay_was_heard_directly(opened, coordinator):
    batch = batch_cancel(
        batch=opened,
        actor=coordinator,
        reason_code="weather",
        reason_text="storm",
        source="who",
    )
    assert batch.cancel_relayed_by == ""
    assert Event.objects.get(subject_ref=batch.code, action="cancel").details["relayed_by"] == ""


@pytest.mark.parametrize(
    ("source", "relayed_by", "message"),
    [
        ("border_authority", "pigeon", "must be empty"),
        ("who", "who", "the same party"),
    ],
)
def test_batch_cancel_refuses_a_bad_relay(opened, coordinator, source, relayed_by, message):
    with refused(ValidationError, match=message) as info:
        batch_cancel(
            batch=opened,
            actor=coordinator,
            reason_code="weather",
            reason_text="storm",
            source=source,
            relayed_by=relayed_by,
        )
    assert set(info.value.message_dict) == {"relayed_by"}


def test_batch_cancel_webhook_names_who_relayed_it(opened, coordinator):
    WebhookSubscription.objects.create(
        name="partner", url="https://partner.example.org/hook", event_types=["batch.cancel"]
    )
    since = mark()
    batch_cancel(
        batch=opened,
        actor=coordinator,
        reason_code="security",
        reason_text="gate shut",
        source="border_authority",
        relayed_by="who",
    )
    [hook] = [n for n in notifications_since(since) if n.channel == "webhook"]
    payload = webhook_payload(hook)
    assert (payload["source"], payload["relayed_by"]) == ("border_authority", "who")
    assert "gate shut" not in json.dumps(payload)


# --- statement_add ----------------------------------------------------------------------------


def test_statement_add_records_the_statement_and_its_event(cancelled, coordinator, auditor):
    said_at = ago(2)
    since = mark()

    statement = _said(cancelled, coordinator, said_at=said_at)

    assert (
        statement.batch,
        statement.source,
        statement.relayed_by,
        statement.said_at,
        statement.text,
        statement.about_cancellation,
        statement.recorded_by,
    ) == (cancelled, "border_authority", "who", said_at, SAID, True, coordinator)
    event = the_event_since(since)
    assert_event(
        event,
        subject_type="batch",
        subject_ref=cancelled.code,
        batch_ref=cancelled.code,
        action="statement",
        from_state="",
        to_state="",
        source="border_authority",
        occurred_at=said_at,
        reason_text=SAID,
        details={"relayed_by": "who", "about_cancellation": True},
        actor=coordinator,
    )
    # The text is kept beside the event, which chains only its keyed hash.
    assert (event.chained_text, event.text_row.text, len(event.text_digest)) == ("", SAID, 64)
    assert statement.event == event
    assert statement.recorded_at == event.created_at
    # The batch is unchanged: a statement is no step.
    cancelled.refresh_from_db()
    assert cancelled.status == "cancelled"
    # The coordinators and the auditors hear of it (inbox and email), nobody else.
    assert_notified(event, [coordinator, auditor], since)


def test_statement_add_sends_no_sms_and_a_webhook_without_the_text(
    cancelled, coordinator, settings
):
    settings.SMS_PROVIDER_URL = "https://sms.example.org/send"
    WebhookSubscription.objects.create(
        name="partner", url="https://partner.example.org/hook", event_types=["batch.statement"]
    )
    since = mark()
    statement = _said(cancelled, coordinator)
    rows = notifications_since(since)
    assert "sms" not in {row.channel for row in rows}
    [hook] = [row for row in rows if row.channel == "webhook"]
    payload = webhook_payload(hook)
    patient = cancelled.members.get(patient__isnull=False).patient
    assert payload | {"id": "", "recorded_at": ""} == {
        "id": "",
        "type": "batch.statement",
        "occurred_at": statement.said_at.isoformat(),
        "recorded_at": "",
        "batch": cancelled.code,
        "from": "",
        "to": "",
        "reason_code": "",
        "source": "border_authority",
        "relayed_by": "who",
        "about_cancellation": True,
        "rescheduled_from": "",
        # The people the cancellation took off the batch (companions go with their patient).
        "cases": [patient.case_reference],
    }
    assert SAID not in json.dumps(payload)


@pytest.mark.parametrize("state", ["draft", "submitted", "crossed"])
def test_statement_add_at_any_state(opened, coordinator, state):
    batch = advance(opened, state, coordinator)
    statement = _said(batch, coordinator, about_cancellation=False, said_at=None)
    assert statement.said_at <= timezone.now()
    batch.refresh_from_db()
    assert batch.status == state


def test_statement_about_the_cancellation_needs_a_cancelled_batch(opened, coordinator):
    with refused(TransitionRefused, match="only a cancelled batch has a cancellation"):
        _said(opened, coordinator, about_cancellation=True)
    assert not Statement.objects.exists()


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (lambda: ago(-1), "in the future"),
        (lambda: ago(31), "before the creation of batch"),
    ],
)
def test_statement_said_at_is_checked(opened, coordinator, when, message):
    with refused(ValidationError, match=message) as info:
        _said(opened, coordinator, about_cancellation=False, said_at=when())
    assert set(info.value.message_dict) == {"said_at"}
    assert not Statement.objects.exists()


def test_statement_about_the_cancellation_not_before_it(cancelled, coordinator):
    with refused(ValidationError, match="before the cancellation of batch") as info:
        _said(cancelled, coordinator, said_at=ago(27))
    assert set(info.value.message_dict) == {"said_at"}
    # About the batch, the same time is fine: it was open then.
    assert _said(cancelled, coordinator, said_at=ago(27), about_cancellation=False)


def test_statement_said_at_without_a_time_zone_is_refused(opened, coordinator):
    with refused(ValidationError, match="time zone"):
        _said(opened, coordinator, about_cancellation=False, said_at=dt.datetime(2026, 2, 7, 10))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source": ""}, "source"),
        ({"source": "rumour"}, "source"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"relayed_by": "pigeon"}, "relayed_by"),
        ({"relayed_by": "border_authority"}, "relayed_by"),
    ],
)
def test_statement_add_refuses_bad_input_naming_the_field(cancelled, coordinator, fields, field):
    with refused(ValidationError) as info:
        _said(cancelled, coordinator, **fields)
    assert field in info.value.message_dict
    assert not Statement.objects.exists()


def test_statement_another_party_relayed_by_another_party(cancelled, coordinator):
    statement = _said(cancelled, coordinator, source="other", relayed_by="other")
    assert (statement.source, statement.relayed_by) == ("other", "other")


def test_statement_does_not_hold_back_a_fact_recorded_later(opened, coordinator):
    """A statement is said at its own time: a step recorded after it may have occurred
    before it."""
    _said(opened, coordinator, about_cancellation=False, said_at=ago(1))
    batch = batch_prepare(batch=opened, actor=coordinator, occurred_at=ago(3))
    assert batch.status == "prepared"


# --- The API ----------------------------------------------------------------------------------


def _url(batch) -> str:
    return f"/api/v1/batches/{batch.code}/statements/"


def test_statements_api_records_one(api, cancelled, coordinator):
    said_at = ago(3).replace(microsecond=0)
    since = mark()
    response = api(coordinator).post(
        _url(cancelled),
        {
            "source": "border_authority",
            "relayed_by": "who",
            "text": SAID,
            "said_at": said_at.isoformat(),
            "about_cancellation": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    event = the_event_since(since)
    assert body == {
        "id": body["id"],
        "batch": cancelled.code,
        "about_cancellation": True,
        "source": "border_authority",
        "relayed_by": "who",
        "said_at": body["said_at"],
        "text": SAID,
        "redaction": None,
        "recorded_by": "coordinator",
        "recorded_at": body["recorded_at"],
        "event": event.pk,
    }
    assert dt.datetime.fromisoformat(body["said_at"]) == said_at
    assert event.channel == "api"


def test_statements_api_leaves_out_relayed_by_and_said_at(api, cancelled, coordinator):
    response = api(coordinator).post(
        _url(cancelled), {"source": "who", "text": "We will try again."}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["relayed_by"], response.json()["about_cancellation"]) == ("", False)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"text": SAID}, 400, "source"),
        ({"source": "who"}, 400, "text"),
        ({"source": "who", "text": SAID, "about_cancellation": "yes"}, 400, "about_cancellation"),
        ({"source": "who", "text": SAID, "relayed_by": "who"}, 400, "relayed_by"),
        ({"source": "who", "text": SAID, "said_at": "2999-01-01T00:00:00+00:00"}, 400, "said_at"),
    ],
)
def test_statements_api_refuses_bad_input(api, cancelled, coordinator, body, status, field):
    response = api(coordinator).post(_url(cancelled), body, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()
    assert not Statement.objects.exists()


def test_statements_api_about_the_cancellation_of_an_open_batch_is_a_conflict(
    api, opened, coordinator
):
    body = {"source": "who", "text": SAID, "about_cancellation": True}
    response = api(coordinator).post(_url(opened), body, format="json")
    assert response.status_code == 409
    assert not Statement.objects.exists()


def test_statements_api_reads_as_the_batch(
    api, cancelled, coordinator, nurse, other_nurse, auditor
):
    _said(cancelled, coordinator)
    for reader in (nurse, auditor, coordinator):
        response = api(reader).get(_url(cancelled))
        assert response.status_code == 200
        assert [s["text"] for s in response.json()["results"]] == [SAID]
    assert api(other_nurse).get(_url(cancelled)).status_code == 404


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_statements_api_writes_for_coordinators_and_admins_only(api, cancelled, who, request):
    body = {"source": "who", "text": SAID}
    response = api(request.getfixturevalue(who)).post(_url(cancelled), body, format="json")
    assert response.status_code == 403
    assert not Statement.objects.exists()


def test_cancel_api_takes_who_relayed_it(api, opened, coordinator):
    body = {
        "reason_code": "no_reason_given",
        "reason_text": "called off",
        "source": "border_authority",
        "relayed_by": "who",
    }
    response = api(coordinator).post(f"/api/v1/batches/{opened.code}/cancel/", body, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["cancel_source"], response.json()["cancel_relayed_by"]) == (
        "border_authority",
        "who",
    )


# --- The pages --------------------------------------------------------------------------------


def _page(client, user, batch):
    client.force_login(user)
    response = client.get(reverse("batches:detail", args=[batch.code]))
    assert response.status_code == 200
    return response


def test_batch_page_offers_the_statement_form_to_coordinators_only(
    client, cancelled, coordinator, nurse
):
    assert 'id="statement"' in _page(client, coordinator, cancelled).content.decode()
    assert 'id="statement"' not in _page(client, nurse, cancelled).content.decode()


def test_statement_form_as_rendered_records_it(client, cancelled, coordinator):
    form = read_form(_page(client, coordinator, cancelled), "#statement")
    # Nothing stated is preselected: who said it, who relayed it, about what.
    assert (form.value("source"), form.value("relayed_by"), form.value("about_cancellation")) == (
        "",
        "",
        [],
    )
    when = ago(5).replace(second=0, microsecond=0)
    form.fill(
        source="border_authority",
        relayed_by="who",
        text=SAID,
        said_at=timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"),
        about_cancellation=True,
    )
    since = mark()
    response = form.submit(client)
    assert response.status_code == 302
    assert response["Location"].endswith("#statements")
    statement = Statement.objects.get()
    assert (statement.source, statement.relayed_by, statement.said_at, statement.text) == (
        "border_authority",
        "who",
        when,
        SAID,
    )
    assert statement.about_cancellation
    assert the_event_since(since).channel == "web"
    page = _page(client, coordinator, cancelled).content.decode()
    assert SAID in page and "relayed by WHO" in page


def test_statement_form_left_empty_relay_is_heard_directly(client, opened, coordinator):
    form = read_form(_page(client, coordinator, opened), "#statement")
    assert "about_cancellation" not in form.controls  # no cancellation to speak of
    form.fill(source="ministry_of_health", text="The list was approved.")
    assert form.submit(client).status_code == 302
    statement = Statement.objects.get()
    assert (statement.relayed_by, statement.about_cancellation) == ("", False)


def test_statement_form_shows_the_refusal_beside_the_field(client, cancelled, coordinator):
    form = read_form(_page(client, coordinator, cancelled), "#statement")
    form.fill(
        source="border_authority",
        text=SAID,
        said_at=timezone.localtime(ago(40)).strftime("%Y-%m-%dT%H:%M"),
        about_cancellation=True,
    )
    response = form.submit(client)
    assert response.status_code == 400
    html = response.content.decode()
    assert "errorlist" in html and "before the cancellation of batch" in html
    assert not Statement.objects.exists()
    # The page that answers has the same form, filled in as sent.
    again = read_form(response, "#statement")
    assert again.value("text") == SAID


def test_statement_page_is_for_coordinators(client, cancelled, nurse, auditor):
    url = reverse("batches:statement", args=[cancelled.code])
    for user in (nurse, auditor):
        client.force_login(user)
        assert client.post(url, {"source": "who", "text": SAID}).status_code == 403
    assert not Statement.objects.exists()


def test_batch_page_says_who_decided_and_who_relayed(client, cancelled, auditor):
    html = _page(client, auditor, cancelled).content.decode()
    assert "decided by border authority" in html
    assert "relayed by WHO" in html


def test_timeline_places_a_statement_where_it_was_said(opened, coordinator, auditor):
    """Said before the cancellation, recorded after it: the timeline shows it before."""
    batch = batch_cancel(
        batch=opened,
        actor=coordinator,
        reason_code="security",
        reason_text="gate shut",
        source="border_authority",
        occurred_at=ago(10),
    )
    _said(batch, coordinator, said_at=ago(20), about_cancellation=False)
    actions = [e.action for e in batch_timeline(auditor, batch)]
    assert actions[-2:] == ["statement", "cancel"]
    assert actions[0] == "create"
    occurred = [e.occurred for e in batch_timeline(auditor, batch) if e.action != "add_member"]
    assert occurred == sorted(occurred)


def test_timeline_page_shows_the_statement(client, cancelled, coordinator, auditor):
    statement = _said(cancelled, coordinator)
    client.force_login(auditor)
    html = client.get(reverse("reports:batch", args=[cancelled.code])).content.decode()
    assert "said by border authority · relayed by WHO · about the cancellation" in html
    assert SAID in html
    assert shown(statement.said_at) in html


def test_cancellation_history_lists_relay_and_statements(client, cancelled, coordinator, auditor):
    statement = _said(cancelled, coordinator)
    _said(cancelled, coordinator, about_cancellation=False, text="Not about the cancellation.")
    yesterday = timezone.localdate(cancelled.cancelled_at)
    [row] = cancellations(auditor, period=Period(yesterday, yesterday))
    line = f"{shown(statement.said_at)} · border authority (relayed by WHO): {SAID}"
    assert (row.source, row.relayed_by, row.statements) == ("border_authority", "who", [line])

    client.force_login(auditor)
    query = {"date_from": yesterday.isoformat(), "date_to": yesterday.isoformat()}
    page = client.get(reverse("reports:cancellations"), query).content.decode()
    assert line in page
    download = client.get(reverse("reports:cancellations"), {**query, "download": "csv"})
    text = download.content.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert "relayed by (empty: directly)" in header
    assert "said later about the cancellation" in header
    assert line in text


def test_admin_batch_page_lists_statements_read_only(client, cancelled, coordinator):
    _said(cancelled, coordinator)
    client.force_login(coordinator)
    response = client.get(reverse("admin:batches_batch_change", args=[cancelled.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert SAID in html and "relayed by" in html
    # Read-only: none of a statement's fields is an input.
    for field in ("source", "relayed_by", "said_at", "text", "about_cancellation"):
        assert f'name="statements-0-{field}"' not in html
