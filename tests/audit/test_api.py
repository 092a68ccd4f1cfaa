"""API: the audit log at events/ (read-only, newest first, cursor-paginated)."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches import services as batch_services
from casetracker.audit.models import Event
from casetracker.audit.services import record_event
from patients import services as patient_services
from tests import factories

EVENTS = "/api/v1/events/"
CANCEL = {"reason_code": "no_reason_given", "reason_text": "called off", "source": "who"}


def _event(actor, facility=None, **fields):
    """Append one event the way services do (inside a transaction)."""
    fields.setdefault("subject_type", "patient")
    fields.setdefault("subject_ref", "EV-TEST22")
    fields.setdefault("action", "register")
    with transaction.atomic():
        return record_event(
            actor=actor, subject_facility_id=facility.pk if facility else None, **fields
        )


def _ids(response):
    assert response.status_code == 200, response.content
    return [e["id"] for e in response.json()["results"]]


def test_events_list_newest_first_with_every_field(api, auditor, coordinator, facility):
    first = _event(coordinator, facility)
    second = _event(coordinator, facility, action="status_change", to_state="deceased")
    response = api(auditor).get(EVENTS)
    assert _ids(response) == [second.pk, first.pk]
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    row = body["results"][0]
    assert row["action"] == "status_change"
    assert row["to_state"] == "deceased"
    assert row["actor"] == "coordinator"
    assert row["actor_role"] == "coordinator"
    assert row["prev_hash"] == first.hash
    assert row["hash"] == second.hash
    assert {
        "created_at",
        "subject_type",
        "subject_ref",
        "batch_ref",
        "from_state",
        "actor_facility",
        "reason_code",
        "reason_text",
        "source",
        "channel",
        "request_id",
        "details",
    } <= set(row)


def test_events_cursor_pagination_walks_every_row_once(api, coordinator):
    created = [_event(coordinator, subject_ref=f"EV-PAGE{i:02d}") for i in range(5)]
    client = api(coordinator)
    page = client.get(EVENTS, {"page_size": 2}).json()
    seen = [e["id"] for e in page["results"]]
    assert page["previous"] is None
    assert "cursor=" in page["next"]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [e["id"] for e in page["results"]]
    assert seen == [e.pk for e in reversed(created)]


def test_events_cursor_is_stable_while_new_events_arrive(api, coordinator):
    old = [_event(coordinator, subject_ref=f"EV-OLD{i:03d}") for i in range(3)]
    client = api(coordinator)
    page = client.get(EVENTS, {"page_size": 2}).json()
    _event(coordinator, subject_ref="EV-NEW001")
    rest = client.get(page["next"]).json()
    assert [e["id"] for e in rest["results"]] == [old[0].pk]


def test_events_invalid_cursor_is_404(api, coordinator):
    assert api(coordinator).get(EVENTS, {"cursor": "garbage"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"subject_type": "batch"}, ["cancel"]),
        ({"subject": "EV-ONE222"}, ["register"]),
        ({"action": "status_change"}, ["status_change"]),
        ({"reason": "no_reason_given"}, ["cancel"]),
        ({"source": "who"}, ["cancel"]),
        ({"subject_type": "patient", "action": "register"}, ["register"]),
    ],
)
def test_events_filters(api, coordinator, facility, params, expected):
    _event(coordinator, facility, subject_ref="EV-ONE222")
    _event(coordinator, facility, subject_ref="EV-TWO222", action="status_change")
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    response = api(coordinator).get(EVENTS, params)
    assert response.status_code == 200
    assert [e["action"] for e in response.json()["results"]] == expected


def test_events_filter_by_batch(api, coordinator, facility, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    other = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    batch_services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    batch_services.batch_cancel(batch=other, actor=coordinator, **CANCEL)
    response = api(coordinator).get(EVENTS, {"batch": batch.code})
    results = response.json()["results"]
    assert [e["action"] for e in results] == ["cancel", "add_member"]
    assert {e["batch_ref"] for e in results} == {batch.code}
    # The manifest line event names its line, the batch event the batch.
    assert results[1]["subject_type"] == "member"
    assert results[1]["subject_ref"].startswith(f"{batch.code}#")


def test_events_filter_by_date(api, coordinator):
    today = timezone.localdate()
    event = _event(coordinator)
    client = api(coordinator)
    assert _ids(client.get(EVENTS, {"date_from": today.isoformat()})) == [event.pk]
    assert _ids(client.get(EVENTS, {"date_to": today.isoformat()})) == [event.pk]
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert _ids(client.get(EVENTS, {"date_from": tomorrow})) == []
    assert _ids(client.get(EVENTS, {"date_to": yesterday})) == []
    assert _ids(client.get(EVENTS, {"date_from": yesterday, "date_to": tomorrow})) == [event.pk]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject_type", "planet"),
        ("action", "explode"),
        ("date_from", "last week"),
        ("date_to", "2026-02-30"),
    ],
)
def test_events_invalid_filter_names_the_field(api, auditor, field, value):
    response = api(auditor).get(EVENTS, {field: value})
    assert response.status_code == 400
    assert field in response.json()


def test_events_retrieve_one(api, auditor, coordinator):
    event = _event(coordinator, reason_text="why")
    response = api(auditor).get(f"{EVENTS}{event.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == event.pk
    assert response.json()["reason_text"] == "why"


def test_events_unknown_id_is_404(api, auditor):
    assert api(auditor).get(f"{EVENTS}999999/").status_code == 404


def test_events_hospital_staff_see_only_their_facility(
    api, nurse, coordinator, facility, other_facility
):
    mine = _event(coordinator, facility)
    theirs = _event(coordinator, other_facility)
    _event(coordinator, None)  # e.g. a returnee: no facility
    client = api(nurse)
    assert _ids(client.get(EVENTS)) == [mine.pk]
    assert client.get(f"{EVENTS}{mine.pk}/").status_code == 200
    assert client.get(f"{EVENTS}{theirs.pk}/").status_code == 404


def test_events_of_a_patient_registered_through_the_service(api, auditor, coordinator, facility):
    patient = patient_services.patient_register(
        actor=coordinator,
        name_latin="Layla Saleh",
        name_arabic="ليلى صالح",
        national_id="412345678",
        date_of_birth=dt.date(1990, 1, 1),
        sex="female",
        facility=facility,
        priority="critical",
        clinical_category="cardiac",
        diagnosis="secret clinical detail",
    )
    response = api(auditor).get(EVENTS, {"subject": patient.case_reference})
    assert [e["action"] for e in response.json()["results"]] == ["register"]
    # The log holds references, never names, national IDs or diagnoses.
    text = response.content.decode()
    for secret in ("Layla", "412345678", "secret clinical detail"):
        assert secret not in text


def test_events_are_read_only(api, coordinator, auditor, admin_user):
    event = _event(coordinator)
    # No role may write an event: the method itself is refused.
    for user, expected in ((coordinator, 405), (admin_user, 405), (auditor, 405)):
        client = api(user)
        assert client.post(EVENTS, {"action": "cancel"}).status_code == expected
        assert client.patch(f"{EVENTS}{event.pk}/", {"reason_text": "x"}).status_code == expected
        assert client.delete(f"{EVENTS}{event.pk}/").status_code == expected
    assert Event.objects.get().reason_text == ""
    assert Event.objects.count() == 1


def test_events_anonymous_is_401(api, coordinator):
    event = _event(coordinator)
    assert api().get(EVENTS).status_code == 401
    assert api().get(f"{EVENTS}{event.pk}/").status_code == 401


def test_events_list_constant_number_of_queries(api, auditor, coordinator):
    def make(n):
        # Different actors and facilities, so a missing select_related shows per row.
        for _ in range(n):
            facility = factories.FacilityFactory()
            actor = factories.UserFactory(role="hospital_staff", facility=facility)
            _event(actor, facility)

    def count():
        fresh = type(auditor).objects.get(pk=auditor.pk)
        with CaptureQueriesContext(connection) as ctx:
            response = api(fresh).get(EVENTS)
        return len(ctx), _ids(response)

    make(2)
    small, ids = count()
    assert len(ids) == 2
    make(18)
    large, ids = count()
    assert len(ids) == 20
    assert small == large
