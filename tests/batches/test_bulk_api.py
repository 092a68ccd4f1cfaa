"""Bulk work through the API: the clearance of many lines in one call
(`POST batches/{code}/clearance/`), crossing outcomes by person reference as well as line id
(`POST batches/{code}/cross/`), and the members endpoint documented as it answers.

Every call is all or nothing: a refusal names every item at fault and records nothing (no line
changed, no event, no notification)."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from batches import services
from batches.services.clearance import batch_record_clearances
from batches.services.lines import LineKey
from casetracker.errors import TransitionRefused
from tests import factories
from tests.service_helpers import (
    advance,
    assert_notified,
    events_since,
    mark,
    notifications_since,
    refused,
    the_event_since,
    world,
)

pytestmark = pytest.mark.django_db

BATCHES = "/api/v1/batches/"


def _url(batch, action: str) -> str:
    return f"{BATCHES}{batch.code}/{action}/"


@pytest.fixture
def exit_batch(coordinator, facility, quota, ready_patient):
    """A draft exit batch: patient `first` with two companions, patient `second` alone."""
    batch = factories.BatchFactory(staging_facility=facility)
    first, second = ready_patient(), ready_patient()
    companions = factories.CompanionFactory.create_batch(2, patient=first)
    services.batch_add_patient(batch=batch, patient=first, companions=companions, actor=coordinator)
    services.batch_add_patient(batch=batch, patient=second, actor=coordinator)
    batch.first, batch.second, batch.companions = first, second, companions
    return batch


def _line(batch, **person):
    return batch.members.get(**person)


def _moved(batch, to: str, coordinator):
    """`advance`, keeping the people the fixtures noted on the batch."""
    moved = advance(batch, to, coordinator)
    for name in ("first", "second", "companions", "returnees"):
        if hasattr(batch, name):
            setattr(moved, name, getattr(batch, name))
    return moved


def _submitted(batch, coordinator):
    return _moved(batch, "submitted", coordinator)


@pytest.fixture
def return_batch(coordinator, facility, quota):
    factories.QuotaFactory(direction="return")
    batch = factories.BatchFactory(staging_facility=facility, direction="return")
    batch.returnees = factories.ReturneeFactory.create_batch(3)
    for returnee in batch.returnees:
        services.batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)
    return batch


def _clearances(batch) -> dict:
    return dict(batch.members.values_list("pk", "clearance"))


# --- POST batches/{code}/clearance/ ---------------------------------------------------------


def test_bulk_clearance_records_every_decision_by_line_person_or_companion(
    api, coordinator, exit_batch
):
    batch = _submitted(exit_batch, coordinator)
    brother, sister = batch.companions
    first = _line(batch, patient=batch.first)
    since = mark()

    response = api(coordinator).post(
        _url(batch, "clearance"),
        {
            "decisions": [
                {"person": batch.second.case_reference, "clearance": "approved"},
                {"companion": sister.pk, "clearance": "rejected", "note": "not on the list"},
                {"member": first.pk, "clearance": "approved", "note": ""},
                {"companion": brother.pk, "clearance": "approved"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body, list)  # every line decided, not a page of them
    by_line = {row["id"]: row for row in body}
    lines = {line.pk: line for line in batch.members.all()}
    assert [row["id"] for row in body] == sorted(lines)  # manifest order
    sister_line = _line(batch, companion=sister)
    assert by_line[sister_line.pk]["clearance"] == "rejected"
    assert by_line[sister_line.pk]["clearance_note"] == "not on the list"
    assert {row["clearance"] for pk, row in by_line.items() if pk != sister_line.pk} == {"approved"}
    assert _clearances(batch) == {pk: by_line[pk]["clearance"] for pk in lines}
    # One clearance event per line, in line order, as when recorded one by one; no message.
    events = events_since(since)
    assert [(e.action, e.subject_ref, e.from_state, e.to_state, e.channel) for e in events] == [
        ("clearance", f"{batch.code}#{pk}", "pending", by_line[pk]["clearance"], "api")
        for pk in sorted(lines)
    ]
    assert [e.details["person"] for e in events] == [
        lines[pk].person_reference for pk in sorted(lines)
    ]
    assert notifications_since(since) == []


def test_bulk_clearance_of_a_return_batch_by_returnee_reference(api, coordinator, return_batch):
    batch = _submitted(return_batch, coordinator)
    one, two, three = batch.returnees
    since = mark()

    response = api(coordinator).post(
        _url(batch, "clearance"),
        {
            "decisions": [
                # Typed from a printed list: the case of a reference does not matter.
                {"person": one.reference.lower(), "clearance": "approved"},
                {"person": f" {two.reference} ", "clearance": "rejected", "note": "screening"},
                {"person": three.reference, "clearance": "approved"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert [row["returnee"] for row in response.json()] == [r.reference for r in batch.returnees]
    assert sorted(_clearances(batch).values()) == ["approved", "approved", "rejected"]
    assert [e.action for e in events_since(since)] == ["clearance"] * 3
    assert notifications_since(since) == []
    # The batch then clears with the refused returnee left behind.
    cleared = services.batch_clear(batch=batch, actor=coordinator)
    assert cleared.status == "cleared"
    assert not _line(batch, returnee=two).is_open


def test_bulk_clearance_corrects_an_earlier_decision(api, coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    line = _line(batch, patient=batch.second)
    services.batch_record_clearance(
        batch=batch, member=line, clearance="approved", actor=coordinator
    )
    since = mark()

    response = api(coordinator).post(
        _url(batch, "clearance"),
        {"decisions": [{"member": line.pk, "clearance": "rejected", "note": "list corrected"}]},
        format="json",
    )

    assert response.status_code == 200
    event = the_event_since(since)
    assert (event.action, event.from_state, event.to_state) == ("clearance", "approved", "rejected")


def test_bulk_clearance_records_when_the_list_was_decided(api, coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    decided = timezone.now()
    everyone = [{"member": pk, "clearance": "approved"} for pk in _clearances(batch)]
    before = world()

    too_early = decided - dt.timedelta(days=1)  # before the list was submitted
    response = api(coordinator).post(
        _url(batch, "clearance"),
        {"decisions": everyone, "occurred_at": too_early.isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"occurred_at"}
    assert world() == before

    since = mark()
    response = api(coordinator).post(
        _url(batch, "clearance"),
        {"decisions": everyone, "occurred_at": decided.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert {e.occurred_at for e in events_since(since)} == {decided}


def test_bulk_clearance_names_every_unknown_line_and_records_nothing(
    api, coordinator, exit_batch, ready_patient
):
    batch = _submitted(exit_batch, coordinator)
    stranger = ready_patient()
    other_companion = factories.CompanionFactory(patient=stranger)
    before = world()

    response = api(coordinator).post(
        _url(batch, "clearance"),
        {
            "decisions": [
                {"person": batch.second.case_reference, "clearance": "approved"},
                {"person": stranger.case_reference, "clearance": "approved"},
                {"person": "EV-NOSUCH", "clearance": "approved"},
                {"companion": other_companion.pk, "clearance": "rejected"},
                {"member": 999999, "clearance": "approved"},
            ]
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    problems = response.json()["decisions"]
    assert problems == [
        f"{stranger.case_reference} is not on batch {batch.code}",
        f"EV-NOSUCH is not on batch {batch.code}",
        f"companion #{other_companion.pk} is not on batch {batch.code}",
        f"line 999999 is not on batch {batch.code}",
    ]
    assert world() == before


def test_bulk_clearance_refuses_a_line_named_twice(api, coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    line = _line(batch, patient=batch.second)
    before = world()

    both_ways = api(coordinator).post(
        _url(batch, "clearance"),
        {
            "decisions": [
                {"member": line.pk, "clearance": "approved"},
                {"person": batch.second.case_reference, "clearance": "rejected"},
            ]
        },
        format="json",
    )
    assert both_ways.status_code == 400
    (problem,) = both_ways.json()["decisions"]
    assert batch.second.case_reference in problem
    assert "listed twice" in problem

    same_way = api(coordinator).post(
        _url(batch, "clearance"),
        {
            "decisions": [
                {"person": batch.second.case_reference, "clearance": "approved"},
                {"person": batch.second.case_reference.lower(), "clearance": "rejected"},
            ]
        },
        format="json",
    )
    assert same_way.status_code == 400
    assert "listed twice" in json.dumps(same_way.json()["decisions"])
    assert world() == before


@pytest.mark.parametrize(
    "decisions",
    [
        [],
        [{"clearance": "approved"}],  # names no line
        [{"member": 1, "person": "EV-AAAAAA", "clearance": "approved"}],  # two names
        [{"person": "EV-AAAAAA", "clearance": "pending"}],
        [{"person": "EV-AAAAAA"}],
        [{"person": "EV-AAAAAA", "clearance": "approved", "note": "x" * 501}],
        [{"person": "EV-AAAAAA", "clearance": "approved", "note": 5}],
        [{"member": "twelve", "clearance": "approved"}],
        [{"person": 12, "clearance": "approved"}],  # a reference is a string
        "approve them all",
    ],
)
def test_bulk_clearance_invalid_body_is_400_naming_decisions(
    api, coordinator, exit_batch, decisions
):
    batch = _submitted(exit_batch, coordinator)
    before = world()
    response = api(coordinator).post(
        _url(batch, "clearance"), {"decisions": decisions}, format="json"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"decisions"}
    assert world() == before


def test_bulk_clearance_without_decisions_is_400(api, coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    response = api(coordinator).post(_url(batch, "clearance"), {}, format="json")
    assert response.status_code == 400
    assert "decisions" in response.json()


@pytest.mark.parametrize("status", ["draft", "prepared", "cleared", "cancelled"])
def test_bulk_clearance_refused_unless_submitted(api, coordinator, exit_batch, status):
    batch = _moved(exit_batch, status, coordinator)
    before = world()
    response = api(coordinator).post(
        _url(batch, "clearance"),
        {"decisions": [{"person": batch.first.case_reference, "clearance": "approved"}]},
        format="json",
    )
    assert response.status_code == 409, response.content
    assert response.json()["problems"] == [
        f"batch {batch.code} is {status}: clearance is recorded only once it is submitted"
    ]
    assert world() == before


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_bulk_clearance_refused_to_readers(api, request, coordinator, exit_batch, who):
    batch = _submitted(exit_batch, coordinator)
    before = world()
    response = api(request.getfixturevalue(who)).post(
        _url(batch, "clearance"),
        {"decisions": [{"person": batch.first.case_reference, "clearance": "approved"}]},
        format="json",
    )
    assert response.status_code == 403
    assert world() == before


def test_bulk_clearance_anonymous_is_401_and_unknown_batch_404(api, coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    response = api(None).post(_url(batch, "clearance"), {}, format="json")
    assert response.status_code == 401
    response = api(coordinator).post(
        f"{BATCHES}RAF-NOSUCH/clearance/",
        {"decisions": [{"member": 1, "clearance": "approved"}]},
        format="json",
    )
    assert response.status_code == 404


# --- The service ----------------------------------------------------------------------------


def test_batch_record_clearances_takes_line_ids_and_line_keys(coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    brother, sister = batch.companions
    first = _line(batch, patient=batch.first)
    since = mark()

    recorded = batch_record_clearances(
        batch=batch,
        actor=coordinator,
        decisions={
            first.pk: ("approved", ""),
            LineKey("companion", brother.pk): ("approved", ""),
            LineKey("companion", sister.pk): ("rejected", "refused"),
            LineKey("person", batch.second.case_reference): ("rejected", ""),
        },
    )

    assert [line.pk for line in recorded] == sorted(batch.members.values_list("pk", flat=True))
    assert [e.to_state for e in events_since(since)] == [
        "approved",
        "approved",
        "rejected",
        "rejected",
    ]
    assert notifications_since(since) == []


def test_batch_record_clearances_names_every_bad_decision(coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    first = _line(batch, patient=batch.first)
    with refused(ValidationError) as info:
        batch_record_clearances(
            batch=batch,
            actor=coordinator,
            decisions={
                first.pk: ("maybe", ""),
                LineKey("person", batch.second.case_reference): ("approved", "x" * 501),
                LineKey("person", "RT-NOSUCH"): ("approved", ""),
            },
        )
    problems = info.value.message_dict["decisions"]
    assert problems == [
        f"RT-NOSUCH is not on batch {batch.code}",
        f"line {first.pk}: the decision must be approved or rejected",
        f"{batch.second.case_reference}: note: at most 500 characters, not 501",
    ]


def test_batch_record_clearances_refuses_an_empty_list(coordinator, exit_batch):
    batch = _submitted(exit_batch, coordinator)
    with refused(ValidationError, match="no decision to record"):
        batch_record_clearances(batch=batch, actor=coordinator, decisions={})


def test_batch_record_clearances_refused_on_a_draft(coordinator, exit_batch):
    first = _line(exit_batch, patient=exit_batch.first)
    with refused(TransitionRefused, match="only once it is submitted"):
        batch_record_clearances(
            batch=exit_batch, actor=coordinator, decisions={first.pk: ("approved", "")}
        )


# --- POST batches/{code}/cross/ by person reference -----------------------------------------


def test_cross_by_person_reference_companion_and_line(api, coordinator, nurse, exit_batch):
    batch = _moved(exit_batch, "in_transit", coordinator)
    brother, sister = batch.companions
    since = mark()

    response = api(coordinator).post(
        _url(batch, "cross"),
        {
            "outcomes": [
                {"person": batch.first.case_reference, "outcome": "crossed"},
                {"companion": brother.pk, "outcome": "crossed"},
                {"member": _line(batch, companion=sister).pk, "outcome": "held"},
                {"person": batch.second.case_reference.lower(), "outcome": "turned_back"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "crossed"
    outcomes = {line.person_reference: line.outcome for line in batch.members.all()}
    assert outcomes == {
        batch.first.case_reference: "crossed",
        f"companion #{brother.pk} of {batch.first.case_reference}": "crossed",
        f"companion #{sister.pk} of {batch.first.case_reference}": "held",
        batch.second.case_reference: "turned_back",
    }
    batch.first.refresh_from_db()
    batch.second.refresh_from_db()
    assert (batch.first.status, batch.second.status) == ("evacuated", "waiting")
    event = the_event_since(since)
    assert (event.action, event.from_state, event.to_state) == ("cross", "in_transit", "crossed")
    assert event.details["outcomes"] == {"crossed": 2, "turned_back": 1, "held": 1, "no_show": 0}
    # The coordinators and the staff of the staging facility, as for every crossing.
    assert_notified(event, [coordinator, nurse], since)


def test_cross_of_a_return_batch_by_returnee_reference(api, coordinator, return_batch):
    batch = _moved(return_batch, "in_transit", coordinator)
    one, two, three = batch.returnees
    response = api(coordinator).post(
        _url(batch, "cross"),
        {
            "outcomes": [
                {"person": one.reference, "outcome": "crossed"},
                {"person": two.reference, "outcome": "held"},
                {"person": three.reference, "outcome": "no_show"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    statuses = [r.status for r in type(one).objects.filter(pk__in=[one.pk, two.pk, three.pk])]
    assert sorted(statuses) == ["returned", "waiting", "waiting"]


def test_cross_by_reference_names_every_unknown_person(api, coordinator, exit_batch, ready_patient):
    batch = _moved(exit_batch, "in_transit", coordinator)
    stranger = ready_patient()
    everyone = [{"member": line.pk, "outcome": "crossed"} for line in batch.members.all()]
    before = world()

    response = api(coordinator).post(
        _url(batch, "cross"),
        {
            "outcomes": [
                *everyone,
                {"person": stranger.case_reference, "outcome": "crossed"},
                {"person": "RT-NOSUCH", "outcome": "crossed"},
                {"companion": 999999, "outcome": "crossed"},
            ]
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["outcomes"] == [
        f"{stranger.case_reference} is not on board batch {batch.code}",
        f"RT-NOSUCH is not on board batch {batch.code}",
        f"companion #999999 is not on board batch {batch.code}",
    ]
    assert world() == before


def test_cross_by_reference_refuses_a_person_refused_at_vetting(
    api, coordinator, facility, quota, exit_batch
):
    batch = _moved(exit_batch, "submitted", coordinator)
    second = _line(batch, patient=batch.second)
    services.batch_record_clearance(
        batch=batch, member=second, clearance="rejected", actor=coordinator
    )
    batch = _moved(batch, "in_transit", coordinator)
    on_board = [
        {"member": line.pk, "outcome": "crossed"} for line in batch.members.filter(is_open=True)
    ]
    before = world()

    response = api(coordinator).post(
        _url(batch, "cross"),
        {"outcomes": [*on_board, {"person": batch.second.case_reference, "outcome": "crossed"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["outcomes"] == [
        f"{batch.second.case_reference} is not on board batch {batch.code}"
    ]
    assert world() == before


def test_cross_refuses_a_line_named_by_person_and_by_id(api, coordinator, exit_batch):
    batch = _moved(exit_batch, "in_transit", coordinator)
    everyone = [{"member": line.pk, "outcome": "crossed"} for line in batch.members.all()]
    before = world()
    response = api(coordinator).post(
        _url(batch, "cross"),
        {"outcomes": [*everyone, {"person": batch.first.case_reference, "outcome": "held"}]},
        format="json",
    )
    assert response.status_code == 400
    (problem,) = response.json()["outcomes"]
    assert f"{batch.first.case_reference} is listed twice" in problem
    assert world() == before


@pytest.mark.parametrize(
    "item",
    [
        {"outcome": "crossed"},
        {"member": 1, "companion": 2, "outcome": "crossed"},
        {"person": "EV-AAAAAA", "outcome": "vanished"},
        {"person": "EV-" + "A" * 30, "outcome": "crossed"},
    ],
)
def test_cross_invalid_item_is_400(api, coordinator, exit_batch, item):
    batch = _moved(exit_batch, "in_transit", coordinator)
    before = world()
    response = api(coordinator).post(_url(batch, "cross"), {"outcomes": [item]}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"outcomes"}
    assert world() == before


def test_batch_cross_service_takes_line_keys(coordinator, exit_batch):
    batch = _moved(exit_batch, "in_transit", coordinator)
    brother, sister = batch.companions
    crossed = services.batch_cross(
        batch=batch,
        actor=coordinator,
        outcomes={
            LineKey("person", batch.first.case_reference): "crossed",
            LineKey("companion", brother.pk): "crossed",
            LineKey("companion", sister.pk): "crossed",
            _line(batch, patient=batch.second).pk: "no_show",
        },
    )
    assert crossed.status == "crossed"
    assert sorted(batch.members.values_list("outcome", flat=True)) == [
        "crossed",
        "crossed",
        "crossed",
        "no_show",
    ]


# --- GET/POST batches/{code}/members/ as documented -----------------------------------------


def _operation(api, admin_user, path: str, method: str) -> dict:
    schema = api(admin_user).get("/api/schema/", {"format": "json"}).json()
    return schema["paths"][path][method]


def test_members_schema_documents_no_batch_filters_and_a_plain_list_for_post(api, admin_user):
    path = "/api/v1/batches/{code}/members/"
    get = _operation(api, admin_user, path, "get")
    post = _operation(api, admin_user, path, "post")
    assert [p["name"] for p in get["parameters"]] == ["code", "page", "page_size"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedMemberList"
    }
    assert [p["name"] for p in post["parameters"]] == ["code"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Member"},
    }
    bulk = _operation(api, admin_user, "/api/v1/batches/{code}/clearance/", "post")
    assert [p["name"] for p in bulk["parameters"]] == ["code"]
    assert bulk["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_members_post_answers_the_lines_written_as_a_list(
    api, coordinator, facility, ready_patient
):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = ready_patient()
    companion = factories.CompanionFactory(patient=patient)
    response = api(coordinator).post(
        _url(batch, "members"),
        {"patient": patient.case_reference, "companions": [companion.pk]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert [(row["kind"], row["patient"], row["companion"]) for row in body] == [
        ("patient", patient.case_reference, None),
        ("companion", None, companion.pk),
    ]


def test_members_get_ignores_the_batch_list_filters(api, coordinator, exit_batch):
    everything = api(coordinator).get(_url(exit_batch, "members")).json()
    filtered = api(coordinator).get(
        _url(exit_batch, "members"), {"status": "crossed", "direction": "return"}
    )
    assert filtered.status_code == 200
    assert filtered.json() == everything
    assert everything["count"] == 4
