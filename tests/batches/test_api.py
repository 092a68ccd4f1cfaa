"""API: batches, their manifests and transitions, quotas, and the OpenAPI schema and docs."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from batches import services
from batches.models import Batch, BatchMember, CrossingQuota
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from tests import factories
from tests.api_helpers import assert_constant_queries, decryptions

BATCHES = "/api/v1/batches/"
QUOTAS = "/api/v1/quotas/"
EVENTS = "/api/v1/events/"
TODAY = timezone.localdate


def _url(batch, action=""):
    return f"{BATCHES}{batch.code}/{action + '/' if action else ''}"


def _draft(facility, coordinator, patient=None, companions=0, **fields):
    """A draft exit batch staged at `facility`, with `patient` and that many companions."""
    batch = factories.BatchFactory(staging_facility=facility, **fields)
    if patient is not None:
        theirs = factories.CompanionFactory.create_batch(companions, patient=patient)
        services.batch_add_patient(
            batch=batch, patient=patient, companions=theirs, actor=coordinator
        )
    return batch


def _advance(batch, coordinator, to):
    """Move a batch along the happy path through the services, up to the state `to`."""
    steps = ["prepared", "submitted", "cleared", "in_transit", "crossed"]
    for step in steps[: steps.index(to) + 1]:
        if step == "prepared":
            batch = services.batch_prepare(batch=batch, actor=coordinator)
        elif step == "submitted":
            batch = services.batch_submit(batch=batch, actor=coordinator)
            for line in batch.members.filter(is_open=True):
                services.batch_record_clearance(
                    batch=batch, member=line, clearance="approved", actor=coordinator
                )
        elif step == "cleared":
            batch = services.batch_clear(batch=batch, actor=coordinator)
        elif step == "in_transit":
            batch = services.batch_depart(batch=batch, actor=coordinator)
        else:
            outcomes = {line.pk: "crossed" for line in batch.members.filter(is_open=True)}
            batch = services.batch_cross(batch=batch, actor=coordinator, outcomes=outcomes)
    return batch


def _refused(response, *fragments):
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["detail"]
    assert isinstance(body["problems"], list)
    assert body["problems"]
    for fragment in fragments:
        assert any(fragment in p for p in body["problems"]), (fragment, body["problems"])
    return body


# --- batches/ -------------------------------------------------------------------------------


def test_batches_create_opens_a_draft(api, coordinator, facility):
    day = TODAY() + dt.timedelta(days=2)
    response = api(coordinator).post(
        BATCHES,
        {"direction": "exit", "planned_date": day.isoformat(), "staging_facility": "al-amal"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == f"RAF-{day.isoformat()}-1"
    assert body["status"] == "draft"
    assert body["crossing"] == "rafah"
    assert body["staging_facility"] == "al-amal"
    assert body["allowed_transitions"] == ["prepare", "cancel"]
    assert body["rescheduled_from"] is None
    assert body["rescheduled_as"] is None
    event = Event.objects.get(batch_ref=body["code"])
    assert (event.action, event.to_state, event.channel) == ("create", "draft", "api")

    second = api(coordinator).post(
        BATCHES,
        {"direction": "return", "planned_date": day.isoformat(), "staging_facility": "al-amal"},
        format="json",
    )
    assert second.json()["code"] == f"RAF-{day.isoformat()}-2"


def test_batches_create_ignores_read_only_status(api, coordinator, facility):
    response = api(coordinator).post(
        BATCHES,
        {
            "direction": "exit",
            "planned_date": TODAY().isoformat(),
            "staging_facility": "al-amal",
            "status": "crossed",
            "code": "RAF-MINE",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert response.json()["code"] != "RAF-MINE"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("direction", "sideways"),
        ("planned_date", "tomorrow"),
        ("staging_facility", "nowhere"),
        ("crossing", "erez"),
    ],
)
def test_batches_create_invalid_field_is_400(api, coordinator, facility, field, value):
    body = {"direction": "exit", "planned_date": TODAY().isoformat(), "staging_facility": "al-amal"}
    body[field] = value
    response = api(coordinator).post(BATCHES, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Batch.objects.exists()


def test_batches_create_missing_field_is_400(api, coordinator, facility):
    response = api(coordinator).post(BATCHES, {"direction": "exit"}, format="json")
    assert response.status_code == 400
    assert {"planned_date", "staging_facility"} <= set(response.json())


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_batches_create_refused_to_readers(api, request, facility, who):
    body = {"direction": "exit", "planned_date": TODAY().isoformat(), "staging_facility": "al-amal"}
    response = api(request.getfixturevalue(who)).post(BATCHES, body, format="json")
    assert response.status_code == 403
    assert not Batch.objects.exists()
    assert not Event.objects.exists()


def test_batches_anonymous_is_401(api, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    assert api().get(BATCHES).status_code == 401
    assert api().get(_url(batch)).status_code == 401
    assert api().get(_url(batch, "members")).status_code == 401
    assert api().post(_url(batch, "cancel")).status_code == 401
    batch.refresh_from_db()
    assert batch.status == "draft"


def test_batches_list_with_filters(api, coordinator, facility, other_facility):
    today = TODAY()
    exit_today = factories.BatchFactory(staging_facility=facility, planned_date=today)
    return_later = factories.BatchFactory(
        staging_facility=other_facility,
        direction="return",
        planned_date=today + dt.timedelta(days=3),
    )
    cancelled = factories.BatchFactory(
        staging_facility=facility, planned_date=today - dt.timedelta(days=3)
    )
    services.batch_cancel(
        batch=cancelled,
        actor=coordinator,
        reason_code="weather",
        reason_text="storm",
        source="internal",
    )
    client = api(coordinator)

    def codes(params=None):
        response = client.get(BATCHES, params or {})
        assert response.status_code == 200
        return [b["code"] for b in response.json()["results"]]

    # Newest planned date first.
    assert codes() == [return_later.code, exit_today.code, cancelled.code]
    assert codes({"status": "cancelled"}) == [cancelled.code]
    assert codes({"direction": "return"}) == [return_later.code]
    assert codes({"staging_facility": "al-amal"}) == [exit_today.code, cancelled.code]
    assert codes({"planned_date": today.isoformat()}) == [exit_today.code]
    assert codes({"date_from": today.isoformat()}) == [return_later.code, exit_today.code]
    assert codes({"date_to": today.isoformat()}) == [exit_today.code, cancelled.code]
    assert codes({"crossing": "rafah", "status": "draft"}) == [return_later.code, exit_today.code]


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "lost"), ("direction", "up"), ("date_from", "soon"), ("planned_date", "x")],
)
def test_batches_list_invalid_filter_names_the_field(api, coordinator, field, value):
    response = api(coordinator).get(BATCHES, {field: value})
    assert response.status_code == 400
    assert field in response.json()


def test_batches_hospital_staff_see_only_batches_staged_at_their_facility(
    api, nurse, facility, other_facility
):
    mine = factories.BatchFactory(staging_facility=facility)
    theirs = factories.BatchFactory(staging_facility=other_facility)
    client = api(nurse)
    assert [b["code"] for b in client.get(BATCHES).json()["results"]] == [mine.code]
    assert client.get(_url(mine)).status_code == 200
    assert client.get(_url(theirs)).status_code == 404
    assert client.get(_url(theirs, "members")).status_code == 404


def test_batches_retrieve_by_code(api, auditor, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    response = api(auditor).get(_url(batch))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == batch.code
    assert body["direction"] == "exit"
    assert body["allowed_transitions"] == ["prepare", "cancel"]
    assert "id" not in body


def test_batches_unknown_code_is_404(api, coordinator):
    assert api(coordinator).get(f"{BATCHES}RAF-NOPE/").status_code == 404
    assert api(coordinator).post(f"{BATCHES}RAF-NOPE/prepare/").status_code == 404
    assert api(coordinator).get(f"{BATCHES}RAF-NOPE/members/").status_code == 404


def test_batches_are_not_edited_in_place(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    assert api(coordinator).patch(_url(batch), {"status": "crossed"}).status_code == 405
    assert api(coordinator).delete(_url(batch)).status_code == 405
    batch.refresh_from_db()
    assert batch.status == "draft"


def test_batches_list_constant_number_of_queries(api, coordinator, facility):
    def make(n):
        # Each batch at its own facility and some rescheduled: every relation is exercised.
        for _ in range(n // 2):
            old = factories.BatchFactory()
            services.batch_cancel(
                batch=old, actor=coordinator, reason_code="other", reason_text="t", source="who"
            )
            services.batch_reschedule(batch=old, actor=coordinator, planned_date=TODAY())

    assert_constant_queries(api, coordinator, BATCHES, make)


# --- batches/{code}/members/ ----------------------------------------------------------------


def test_members_add_patient_with_companions(api, coordinator, facility, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = ready_patient()
    first, second = factories.CompanionFactory.create_batch(2, patient=patient)
    response = api(coordinator).post(
        _url(batch, "members"),
        {"patient": patient.case_reference, "companions": [first.pk, second.pk]},
        format="json",
    )
    assert response.status_code == 201
    lines = response.json()
    assert [line["kind"] for line in lines] == ["patient", "companion", "companion"]
    assert lines[0]["patient"] == patient.case_reference
    assert [line["companion"] for line in lines[1:]] == [first.pk, second.pk]
    assert {line["companion_of"] for line in lines[1:]} == {patient.case_reference}
    assert all(line["clearance"] == "pending" and line["is_open"] for line in lines)
    patient.refresh_from_db()
    assert patient.status == "scheduled"
    event = Event.objects.get(action="add_member")
    assert event.batch_ref == batch.code
    assert event.details["companions"] == [lines[1]["id"], lines[2]["id"]]
    # No names in the manifest: people appear by reference only.
    assert patient.name_latin not in response.content.decode()


def test_members_list(api, nurse, coordinator, facility, ready_patient):
    patient = ready_patient()
    batch = _draft(facility, coordinator, patient, companions=1)
    response = api(nurse).get(_url(batch, "members"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [line["kind"] for line in body["results"]] == ["patient", "companion"]
    assert body["results"][0]["patient"] == patient.case_reference


def test_members_add_companion_of_patient_on_board(api, coordinator, facility, ready_patient):
    patient = ready_patient()
    batch = _draft(facility, coordinator, patient)
    companion = factories.CompanionFactory(patient=patient)
    response = api(coordinator).post(
        _url(batch, "members"), {"companion": companion.pk}, format="json"
    )
    assert response.status_code == 201
    assert [line["companion"] for line in response.json()] == [companion.pk]
    assert batch.members.count() == 2


def test_members_add_companion_without_patient_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    companion = factories.CompanionFactory(patient__facility=facility)
    response = api(coordinator).post(
        _url(batch, "members"), {"companion": companion.pk}, format="json"
    )
    _refused(response, "add the patient first")
    assert not batch.members.exists()


def test_members_add_returnee_to_return_batch(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility, direction="return")
    returnee = factories.ReturneeFactory()
    response = api(coordinator).post(
        _url(batch, "members"), {"returnee": returnee.reference}, format="json"
    )
    assert response.status_code == 201
    assert response.json()[0]["returnee"] == returnee.reference
    assert response.json()[0]["kind"] == "returnee"
    returnee.refresh_from_db()
    assert returnee.status == "scheduled"


def test_members_add_returnee_to_exit_batch_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    returnee = factories.ReturneeFactory()
    response = api(coordinator).post(
        _url(batch, "members"), {"returnee": returnee.reference}, format="json"
    )
    _refused(response, "exit batch")
    returnee.refresh_from_db()
    assert returnee.status == "waiting"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"patient": "EV-ZZZZZZ"}, "patient"),
        ({"companion": 999999}, "companion"),
        ({"returnee": "RT-ZZZZZZ"}, "returnee"),
        ({"companions": [1]}, "companions"),
        ({"companions": "x", "patient": "EV-ZZZZZZ"}, "companions"),
    ],
)
def test_members_add_invalid_input_is_400(api, coordinator, facility, body, field):
    batch = factories.BatchFactory(staging_facility=facility)
    response = api(coordinator).post(_url(batch, "members"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not BatchMember.objects.exists()


def test_members_add_both_patient_and_returnee_is_400(api, coordinator, facility, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    body = {
        "patient": ready_patient().case_reference,
        "returnee": factories.ReturneeFactory().reference,
    }
    response = api(coordinator).post(_url(batch, "members"), body, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not BatchMember.objects.exists()


def test_members_add_companion_of_someone_else_is_400(api, coordinator, facility, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = ready_patient()
    stranger = factories.CompanionFactory(patient=ready_patient())
    response = api(coordinator).post(
        _url(batch, "members"),
        {"patient": patient.case_reference, "companions": [stranger.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "companions" in response.json()
    assert not BatchMember.objects.exists()
    patient.refresh_from_db()
    assert patient.status == "waiting"


def test_members_add_too_many_companions_is_400(api, coordinator, facility, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = ready_patient()
    three = factories.CompanionFactory.create_batch(3, patient=patient)
    response = api(coordinator).post(
        _url(batch, "members"),
        {"patient": patient.case_reference, "companions": [c.pk for c in three]},
        format="json",
    )
    assert response.status_code == 400
    assert "companions" in response.json()
    assert not BatchMember.objects.exists()


def test_members_add_patient_without_approved_referral_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = factories.PatientFactory(facility=facility)
    factories.ReferralFactory(patient=patient, status="pending")
    response = api(coordinator).post(
        _url(batch, "members"), {"patient": patient.case_reference}, format="json"
    )
    _refused(response, "no approved referral")
    patient.refresh_from_db()
    assert patient.status == "waiting"
    assert not BatchMember.objects.exists()


def test_members_add_patient_already_in_open_batch_is_409(
    api, coordinator, facility, ready_patient
):
    patient = ready_patient()
    first = _draft(facility, coordinator, patient)
    second = factories.BatchFactory(staging_facility=facility)
    response = api(coordinator).post(
        _url(second, "members"), {"patient": patient.case_reference}, format="json"
    )
    _refused(response, first.code)
    assert not second.members.exists()


def test_members_add_to_prepared_batch_is_409(api, coordinator, facility, quota, ready_patient):
    batch = _advance(_draft(facility, coordinator, ready_patient()), coordinator, "prepared")
    other = ready_patient()
    response = api(coordinator).post(
        _url(batch, "members"), {"patient": other.case_reference}, format="json"
    )
    _refused(response, "only in a draft")
    other.refresh_from_db()
    assert other.status == "waiting"


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_members_add_refused_to_readers(api, request, facility, ready_patient, who):
    batch = factories.BatchFactory(staging_facility=facility)
    patient = ready_patient()
    response = api(request.getfixturevalue(who)).post(
        _url(batch, "members"), {"patient": patient.case_reference}, format="json"
    )
    assert response.status_code == 403
    assert not BatchMember.objects.exists()
    patient.refresh_from_db()
    assert patient.status == "waiting"
    assert not Event.objects.exists()


def test_member_retrieve(api, coordinator, facility, ready_patient):
    patient = ready_patient()
    batch = _draft(facility, coordinator, patient)
    line = batch.members.get()
    response = api(coordinator).get(f"{_url(batch, 'members')}{line.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == line.pk
    assert response.json()["patient"] == patient.case_reference


def test_member_of_another_batch_is_404(api, coordinator, facility, ready_patient):
    batch = _draft(facility, coordinator, ready_patient())
    line = batch.members.get()
    elsewhere = factories.BatchFactory(staging_facility=facility)
    client = api(coordinator)
    assert client.get(f"{_url(elsewhere, 'members')}{line.pk}/").status_code == 404
    assert client.delete(f"{_url(elsewhere, 'members')}{line.pk}/").status_code == 404
    assert client.get(f"{_url(batch, 'members')}999999/").status_code == 404
    assert BatchMember.objects.filter(pk=line.pk).exists()


def test_member_other_facility_is_404_for_hospital_staff(api, nurse, coordinator, other_facility):
    patient = factories.PatientFactory(facility=other_facility)
    factories.ReferralFactory(patient=patient)
    batch = _draft(other_facility, coordinator, patient)
    line = batch.members.get()
    assert api(nurse).get(f"{_url(batch, 'members')}{line.pk}/").status_code == 404


def test_member_remove_from_draft(api, coordinator, facility, ready_patient):
    patient = ready_patient()
    batch = _draft(facility, coordinator, patient, companions=2)
    line = batch.members.get(patient=patient)
    response = api(coordinator).delete(f"{_url(batch, 'members')}{line.pk}/")
    assert response.status_code == 204
    # The patient leaves with their companions and goes back to the queue.
    assert not batch.members.exists()
    patient.refresh_from_db()
    assert patient.status == "waiting"
    event = Event.objects.get(action="remove_member")
    assert event.subject_ref == f"{batch.code}#{line.pk}"
    assert len(event.details["companions"]) == 2


def test_member_remove_from_prepared_batch_is_409(api, coordinator, facility, quota, ready_patient):
    batch = _advance(_draft(facility, coordinator, ready_patient()), coordinator, "prepared")
    line = batch.members.get()
    response = api(coordinator).delete(f"{_url(batch, 'members')}{line.pk}/")
    _refused(response, "only in a draft")
    assert BatchMember.objects.filter(pk=line.pk).exists()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_member_remove_refused_to_readers(api, request, coordinator, facility, ready_patient, who):
    patient = ready_patient()
    batch = _draft(facility, coordinator, patient)
    line = batch.members.get()
    response = api(request.getfixturevalue(who)).delete(f"{_url(batch, 'members')}{line.pk}/")
    assert response.status_code == 403
    assert BatchMember.objects.filter(pk=line.pk).exists()
    patient.refresh_from_db()
    assert patient.status == "scheduled"


def test_members_list_constant_number_of_queries(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)

    def make(n):
        # Half patients, half companions each of their own patient, both kinds resolved per line.
        for _ in range(n // 2):
            patient = factories.PatientFactory()
            factories.ReferralFactory(patient=patient)
            companion = factories.CompanionFactory(patient=patient)
            services.batch_add_patient(
                batch=batch, patient=patient, companions=[companion], actor=coordinator
            )

    assert_constant_queries(api, coordinator, _url(batch, "members"), make)


def test_members_list_of_return_batch_constant_number_of_queries(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility, direction="return")

    def make(n):
        for returnee in factories.ReturneeFactory.create_batch(n):
            services.batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)

    assert_constant_queries(api, coordinator, _url(batch, "members"), make)


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor"])
def test_members_list_decrypts_no_national_id(api, request, coordinator, facility, who):
    """A manifest line names its person by reference: no ID number is loaded, so none is
    decrypted, whoever reads it (each would cost a decryption per row)."""
    batch = factories.BatchFactory(staging_facility=facility)
    for _ in range(3):
        patient = factories.PatientFactory(facility=facility)
        factories.ReferralFactory(patient=patient)
        companion = factories.CompanionFactory(patient=patient)
        services.batch_add_patient(
            batch=batch, patient=patient, companions=[companion], actor=coordinator
        )
    with decryptions() as decrypted:
        response = api(request.getfixturevalue(who)).get(_url(batch, "members"))
        line = response.json()["results"][1]
        one = api(request.getfixturevalue(who)).get(_url(batch, f"members/{line['id']}"))
    assert response.status_code == one.status_code == 200
    assert len(response.json()["results"]) == 6
    assert (line["kind"], line["companion_of"]) == ("companion", one.json()["companion_of"])
    assert decrypted == []


def test_lines_visible_to_every_batch_reader_need_no_subquery(
    coordinator, auditor, admin_user, nurse, other_nurse, facility, other_facility
):
    """Coordinators, auditors and admins see every line: their reads carry no condition on
    the batches (a subquery over every batch, joined to each line a report reads); hospital
    staff still see the lines of their facility's batches only, never a returnee's."""
    here = factories.BatchFactory(staging_facility=facility)
    there = factories.BatchFactory(staging_facility=other_facility)
    for batch in (here, there):
        patient = factories.PatientFactory()
        factories.ReferralFactory(patient=patient)
        services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    homecoming = factories.BatchFactory(staging_facility=facility, direction="return")
    services.batch_add_returnee(
        batch=homecoming, returnee=factories.ReturneeFactory(), actor=coordinator
    )
    for user in (coordinator, auditor, admin_user):
        lines = BatchMember.objects.visible_to(user)
        assert '"batches_batch"' not in str(lines.query), user
        assert lines.count() == 3, user
    assert set(BatchMember.objects.visible_to(nurse).values_list("batch", flat=True)) == {here.pk}
    assert set(BatchMember.objects.visible_to(other_nurse).values_list("batch", flat=True)) == {
        there.pk
    }


def test_members_list_of_return_batch_decrypts_no_national_id(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility, direction="return")
    for returnee in factories.ReturneeFactory.create_batch(3):
        services.batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)
    with decryptions() as decrypted:
        response = api(coordinator).get(_url(batch, "members"))
    assert [line["kind"] for line in response.json()["results"]] == ["returnee"] * 3
    assert decrypted == []


# --- batches/{code}/members/{id}/clearance/ -------------------------------------------------


def test_clearance_recorded_on_submitted_batch(api, coordinator, facility, quota, ready_patient):
    batch = _draft(facility, coordinator, ready_patient(), companions=1)
    batch = services.batch_prepare(batch=batch, actor=coordinator)
    batch = services.batch_submit(batch=batch, actor=coordinator)
    line = batch.members.get(companion__isnull=False)
    response = api(coordinator).post(
        f"{_url(batch, 'members')}{line.pk}/clearance/",
        {"clearance": "rejected", "note": "security refusal"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == line.pk
    assert body["clearance"] == "rejected"
    assert body["clearance_note"] == "security refusal"
    assert body["clearance_recorded_at"]
    event = Event.objects.get(action="clearance")
    assert (event.from_state, event.to_state) == ("pending", "rejected")


def test_clearance_on_draft_is_409(api, coordinator, facility, ready_patient):
    batch = _draft(facility, coordinator, ready_patient())
    line = batch.members.get()
    response = api(coordinator).post(
        f"{_url(batch, 'members')}{line.pk}/clearance/", {"clearance": "approved"}, format="json"
    )
    _refused(response, "only once it is submitted")
    line.refresh_from_db()
    assert line.clearance == "pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clearance": "pending"}, "clearance"),
        ({}, "clearance"),
        ({"clearance": "approved", "note": "x" * 501}, "note"),
    ],
)
def test_clearance_invalid_input_is_400(
    api, coordinator, facility, quota, ready_patient, body, field
):
    batch = _draft(facility, coordinator, ready_patient())
    batch = services.batch_submit(
        batch=services.batch_prepare(batch=batch, actor=coordinator), actor=coordinator
    )
    line = batch.members.get()
    response = api(coordinator).post(
        f"{_url(batch, 'members')}{line.pk}/clearance/", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    line.refresh_from_db()
    assert line.clearance == "pending"


def test_clearance_unknown_member_is_404(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    response = api(coordinator).post(
        f"{_url(batch, 'members')}999999/clearance/", {"clearance": "approved"}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_clearance_refused_to_readers(
    api, request, coordinator, facility, quota, ready_patient, who
):
    batch = _draft(facility, coordinator, ready_patient())
    batch = services.batch_submit(
        batch=services.batch_prepare(batch=batch, actor=coordinator), actor=coordinator
    )
    line = batch.members.get()
    response = api(request.getfixturevalue(who)).post(
        f"{_url(batch, 'members')}{line.pk}/clearance/", {"clearance": "approved"}, format="json"
    )
    assert response.status_code == 403
    line.refresh_from_db()
    assert line.clearance == "pending"


# --- transitions ----------------------------------------------------------------------------


def test_prepare_moves_draft_to_prepared(api, coordinator, facility, quota, ready_patient):
    batch = _draft(facility, coordinator, ready_patient(), companions=2)
    response = api(coordinator).post(_url(batch, "prepare"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "prepared"
    assert body["allowed_transitions"] == ["reopen", "submit", "cancel"]
    event = Event.objects.get(action="prepare")
    assert event.details == {"patients": 1, "companions": 2, "returnees": 0}


def test_prepare_patient_not_fit_is_409(api, coordinator, facility, quota, ready_patient):
    patient = ready_patient()
    patient.readiness.fit_to_travel = False
    patient.readiness.save()
    batch = _draft(facility, coordinator, patient)
    response = api(coordinator).post(_url(batch, "prepare"))
    _refused(response, f"patient {patient.case_reference} is not fit to travel")
    batch.refresh_from_db()
    assert batch.status == "draft"
    assert not Event.objects.filter(action="prepare").exists()


def test_prepare_lists_every_problem(api, coordinator, facility, quota, ready_patient):
    child = ready_patient(date_of_birth=TODAY() - dt.timedelta(days=8 * 365))
    child.readiness.documents_ready = False
    child.readiness.save()
    batch = _draft(facility, coordinator, child, companions=1)
    response = api(coordinator).post(_url(batch, "prepare"))
    body = _refused(response, "travel documents are not ready", "no guardian")
    assert len(body["problems"]) == 2


def test_prepare_empty_batch_is_409(api, coordinator, facility, quota):
    batch = factories.BatchFactory(staging_facility=facility)
    _refused(api(coordinator).post(_url(batch, "prepare")), "has no patient")


def test_prepare_without_quota_is_409(api, coordinator, facility, ready_patient):
    batch = _draft(facility, coordinator, ready_patient())
    _refused(api(coordinator).post(_url(batch, "prepare")), "no quota agreed")


def test_prepare_quota_exceeded_is_409(api, coordinator, facility, ready_patient):
    factories.QuotaFactory(agreed_patients=1, agreed_companions=0)
    first = _draft(facility, coordinator, ready_patient())
    assert api(coordinator).post(_url(first, "prepare")).status_code == 200
    second = _draft(facility, coordinator, ready_patient())
    response = api(coordinator).post(_url(second, "prepare"))
    _refused(response, f"0 places left in the quota for {TODAY().isoformat()}")
    second.refresh_from_db()
    assert second.status == "draft"


def test_reopen_moves_prepared_back_to_draft(api, coordinator, facility, quota, ready_patient):
    batch = _advance(_draft(facility, coordinator, ready_patient()), coordinator, "prepared")
    response = api(coordinator).post(_url(batch, "reopen"))
    assert response.status_code == 200
    assert response.json()["status"] == "draft"


def test_reopen_draft_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    _refused(api(coordinator).post(_url(batch, "reopen")), "cannot reopen")


def test_submit_draft_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    _refused(api(coordinator).post(_url(batch, "submit")), "cannot submit")
    batch.refresh_from_db()
    assert batch.status == "draft"


def test_clear_with_pending_clearance_is_409(api, coordinator, facility, quota, ready_patient):
    batch = _draft(facility, coordinator, ready_patient(), companions=1)
    batch = services.batch_submit(
        batch=services.batch_prepare(batch=batch, actor=coordinator), actor=coordinator
    )
    _refused(api(coordinator).post(_url(batch, "clear")), "still await a clearance decision")
    batch.refresh_from_db()
    assert batch.status == "submitted"


def test_depart_before_clear_is_409(api, coordinator, facility, quota, ready_patient):
    batch = _advance(_draft(facility, coordinator, ready_patient()), coordinator, "submitted")
    _refused(api(coordinator).post(_url(batch, "depart")), "cannot depart")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "outcomes"),
        ({"outcomes": []}, "outcomes"),
        ({"outcomes": [{"member": 1, "outcome": "vanished"}]}, "outcomes"),
        ({"outcomes": [{"outcome": "crossed"}]}, "outcomes"),
    ],
)
def test_cross_invalid_body_is_400(api, coordinator, facility, quota, ready_patient, body, field):
    batch = _advance(_draft(facility, coordinator, ready_patient()), coordinator, "in_transit")
    response = api(coordinator).post(_url(batch, "cross"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    batch.refresh_from_db()
    assert batch.status == "in_transit"


def test_cross_missing_or_foreign_line_is_400(api, coordinator, facility, quota, ready_patient):
    batch = _advance(
        _draft(facility, coordinator, ready_patient(), companions=1), coordinator, "in_transit"
    )
    patient_line, companion_line = batch.members.order_by("id")
    missing = {"outcomes": [{"member": patient_line.pk, "outcome": "crossed"}]}
    response = api(coordinator).post(_url(batch, "cross"), missing, format="json")
    assert response.status_code == 400
    assert "outcomes" in response.json()
    twice = {
        "outcomes": [
            {"member": patient_line.pk, "outcome": "crossed"},
            {"member": patient_line.pk, "outcome": "held"},
        ]
    }
    response = api(coordinator).post(_url(batch, "cross"), twice, format="json")
    assert response.status_code == 400
    assert "outcomes" in response.json()
    foreign = {
        "outcomes": [
            {"member": patient_line.pk, "outcome": "crossed"},
            {"member": companion_line.pk, "outcome": "crossed"},
            {"member": 999999, "outcome": "crossed"},
        ]
    }
    response = api(coordinator).post(_url(batch, "cross"), foreign, format="json")
    assert response.status_code == 400
    assert "outcomes" in response.json()
    batch.refresh_from_db()
    assert batch.status == "in_transit"


def test_cross_turned_back_patient_returns_to_queue(
    api, coordinator, facility, quota, ready_patient
):
    patient = ready_patient()
    batch = _advance(_draft(facility, coordinator, patient), coordinator, "in_transit")
    line = batch.members.get()
    response = api(coordinator).post(
        _url(batch, "cross"),
        {"outcomes": [{"member": line.pk, "outcome": "turned_back"}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "crossed"
    patient.refresh_from_db()
    assert patient.status == "waiting"


def test_cross_draft_is_409(api, coordinator, facility, ready_patient):
    batch = _draft(facility, coordinator, ready_patient())
    line = batch.members.get()
    response = api(coordinator).post(
        _url(batch, "cross"),
        {"outcomes": [{"member": line.pk, "outcome": "crossed"}]},
        format="json",
    )
    _refused(response, "cannot cross")


CANCEL = {"reason_code": "no_reason_given", "reason_text": "called off at 6am", "source": "who"}


def test_cancel_with_reason(api, coordinator, nurse, auditor, facility, quota, ready_patient):
    patient = ready_patient()
    batch = _advance(_draft(facility, coordinator, patient), coordinator, "submitted")
    response = api(coordinator).post(_url(batch, "cancel"), CANCEL, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancel_reason_code"] == "no_reason_given"
    assert body["cancel_reason_text"] == "called off at 6am"
    assert body["cancel_source"] == "who"
    assert body["cancelled_from"] == "submitted"
    assert body["cancelled_at"]
    assert body["allowed_transitions"] == []
    patient.refresh_from_db()
    assert patient.status == "waiting"
    event = Event.objects.get(action="cancel")
    assert (event.reason_code, event.reason_text, event.source) == (
        "no_reason_given",
        "called off at 6am",
        "who",
    )
    notified = set(
        Notification.objects.filter(event=event, channel="inbox").values_list(
            "recipient__username", flat=True
        )
    )
    assert notified == {"coordinator", "nurse", "auditor"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"reason_code", "reason_text", "source"}),
        ({**CANCEL, "reason_code": "bored"}, {"reason_code"}),
        ({**CANCEL, "reason_text": ""}, {"reason_text"}),
        ({**CANCEL, "reason_text": "   "}, {"reason_text"}),
        ({**CANCEL, "source": "rumour"}, {"source"}),
    ],
)
def test_cancel_invalid_body_is_400(api, coordinator, facility, body, fields):
    batch = factories.BatchFactory(staging_facility=facility)
    response = api(coordinator).post(_url(batch, "cancel"), body, format="json")
    assert response.status_code == 400
    assert fields <= set(response.json())
    batch.refresh_from_db()
    assert batch.status == "draft"
    assert not Event.objects.exists()


def test_cancel_crossed_batch_is_409(api, coordinator, facility, quota, ready_patient):
    patient = ready_patient()
    batch = _advance(_draft(facility, coordinator, patient), coordinator, "crossed")
    events = Event.objects.count()
    response = api(coordinator).post(_url(batch, "cancel"), CANCEL, format="json")
    _refused(response, "cannot cancel")
    batch.refresh_from_db()
    assert batch.status == "crossed"
    patient.refresh_from_db()
    assert patient.status == "evacuated"
    assert Event.objects.count() == events


def test_cancel_cancelled_batch_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    _refused(api(coordinator).post(_url(batch, "cancel"), CANCEL, format="json"), "cancel")


@pytest.mark.parametrize("who", ["nurse", "auditor"])
@pytest.mark.parametrize(
    "action", ["prepare", "reopen", "submit", "clear", "depart", "cross", "cancel", "reschedule"]
)
def test_transitions_refused_to_readers(api, request, facility, ready_patient, who, action):
    batch = factories.BatchFactory(staging_facility=facility)
    body = {"prepare": {}, "cancel": CANCEL, "reschedule": {"planned_date": TODAY().isoformat()}}
    response = api(request.getfixturevalue(who)).post(
        _url(batch, action), body.get(action, {}), format="json"
    )
    assert response.status_code == 403
    batch.refresh_from_db()
    assert batch.status == "draft"
    assert Batch.objects.count() == 1
    assert not Event.objects.exists()


def test_transitions_refused_to_hospital_staff_whether_or_not_the_batch_exists(
    api, nurse, other_facility
):
    batch = factories.BatchFactory(staging_facility=other_facility)
    client = api(nurse)
    assert client.get(_url(batch)).status_code == 404
    # The role check answers before the lookup: a 403 tells nothing about the batch.
    assert client.post(_url(batch, "prepare")).status_code == 403
    assert client.post(f"{BATCHES}RAF-NOPE/prepare/").status_code == 403


def test_reschedule_creates_a_new_draft_with_the_same_people(
    api, coordinator, facility, other_facility, ready_patient
):
    patient = ready_patient()
    old = _draft(facility, coordinator, patient, companions=1)
    services.batch_cancel(batch=old, actor=coordinator, **CANCEL)
    day = TODAY() + dt.timedelta(days=1)
    response = api(coordinator).post(
        _url(old, "reschedule"),
        {"planned_date": day.isoformat(), "staging_facility": "nasser"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == f"RAF-{day.isoformat()}-1"
    assert body["status"] == "draft"
    assert body["rescheduled_from"] == old.code
    assert body["staging_facility"] == "nasser"
    new = Batch.objects.get(code=body["code"])
    assert sorted(line.kind for line in new.members.all()) == ["companion", "patient"]
    patient.refresh_from_db()
    assert patient.status == "scheduled"
    assert api(coordinator).get(_url(old)).json()["rescheduled_as"] == new.code
    event = Event.objects.get(action="reschedule")
    assert event.details["rescheduled_from"] == old.code


def test_reschedule_keeps_staging_facility_when_not_given(api, coordinator, facility):
    old = factories.BatchFactory(staging_facility=facility)
    services.batch_cancel(batch=old, actor=coordinator, **CANCEL)
    response = api(coordinator).post(
        _url(old, "reschedule"), {"planned_date": TODAY().isoformat()}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["staging_facility"] == "al-amal"


def test_reschedule_twice_is_409(api, coordinator, facility):
    old = factories.BatchFactory(staging_facility=facility)
    services.batch_cancel(batch=old, actor=coordinator, **CANCEL)
    body = {"planned_date": TODAY().isoformat()}
    assert api(coordinator).post(_url(old, "reschedule"), body, format="json").status_code == 201
    _refused(api(coordinator).post(_url(old, "reschedule"), body, format="json"), "already")
    assert Batch.objects.count() == 2


def test_reschedule_open_batch_is_409(api, coordinator, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    response = api(coordinator).post(
        _url(batch, "reschedule"), {"planned_date": TODAY().isoformat()}, format="json"
    )
    _refused(response, "only a cancelled batch")
    assert Batch.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "planned_date"),
        ({"planned_date": "someday"}, "planned_date"),
        ({"planned_date": "2020-01-01"}, "planned_date"),
        ({"planned_date": "2099-01-01", "staging_facility": "nowhere"}, "staging_facility"),
    ],
)
def test_reschedule_invalid_body_is_400(api, coordinator, facility, body, field):
    old = factories.BatchFactory(staging_facility=facility)
    services.batch_cancel(batch=old, actor=coordinator, **CANCEL)
    response = api(coordinator).post(_url(old, "reschedule"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Batch.objects.count() == 1


def test_batch_full_happy_path_through_the_api(
    api, coordinator, nurse, facility, quota, ready_patient
):
    client = api(coordinator)
    created = client.post(
        BATCHES,
        {"direction": "exit", "planned_date": TODAY().isoformat(), "staging_facility": "al-amal"},
        format="json",
    )
    assert created.status_code == 201
    code = created.json()["code"]
    url = f"{BATCHES}{code}/"

    patient = ready_patient()
    companions = factories.CompanionFactory.create_batch(2, patient=patient)
    added = client.post(
        f"{url}members/",
        {"patient": patient.case_reference, "companions": [c.pk for c in companions]},
        format="json",
    )
    assert added.status_code == 201
    line_ids = [line["id"] for line in added.json()]
    assert len(line_ids) == 3

    assert client.post(f"{url}prepare/").json()["status"] == "prepared"
    assert client.post(f"{url}submit/").json()["status"] == "submitted"
    for line_id in line_ids:
        cleared = client.post(
            f"{url}members/{line_id}/clearance/", {"clearance": "approved"}, format="json"
        )
        assert cleared.status_code == 200
        assert cleared.json()["clearance"] == "approved"
    assert client.post(f"{url}clear/").json()["status"] == "cleared"
    assert client.post(f"{url}depart/").json()["status"] == "in_transit"
    crossed = client.post(
        f"{url}cross/",
        {"outcomes": [{"member": i, "outcome": "crossed"} for i in line_ids]},
        format="json",
    )
    assert crossed.status_code == 200
    assert crossed.json()["status"] == "crossed"
    assert crossed.json()["allowed_transitions"] == []

    patient.refresh_from_db()
    assert patient.status == "evacuated"
    manifest = client.get(f"{url}members/").json()["results"]
    assert {(line["outcome"], line["is_open"], line["end_reason"]) for line in manifest} == {
        ("crossed", False, "completed")
    }

    events = client.get(EVENTS, {"batch": code, "page_size": 200}).json()["results"]
    # Newest first; read them in the order they happened.
    events.reverse()
    assert [(e["action"], e["from_state"], e["to_state"]) for e in events] == [
        ("create", "", "draft"),
        ("add_member", "", "open"),
        ("prepare", "draft", "prepared"),
        ("submit", "prepared", "submitted"),
        ("clearance", "pending", "approved"),
        ("clearance", "pending", "approved"),
        ("clearance", "pending", "approved"),
        ("clear", "submitted", "cleared"),
        ("depart", "cleared", "in_transit"),
        ("cross", "in_transit", "crossed"),
    ]
    assert {e["actor"] for e in events} == {"coordinator"}
    assert {e["actor_role"] for e in events} == {"coordinator"}
    assert {e["channel"] for e in events} == {"api"}
    assert all(e["request_id"] for e in events)
    assert events[-1]["details"]["outcomes"]["crossed"] == 3
    # The hash chain is unbroken: each event names the hash of the one before it.
    for before, after in itertools.pairwise(events):
        assert after["prev_hash"] == before["hash"]
    # The staging facility's nurse sees the same history and was told of each step.
    assert len(api(nurse).get(EVENTS, {"batch": code}).json()["results"]) == len(events)
    assert Notification.objects.filter(
        recipient=nurse, channel="inbox", event__action="cross"
    ).exists()


# --- quotas/ --------------------------------------------------------------------------------


def test_quotas_create(api, coordinator):
    body = {
        "crossing": "rafah",
        "date": "2026-02-04",
        "direction": "exit",
        "agreed_patients": 50,
        "agreed_companions": 100,
    }
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 201
    assert response.json() == {**body, "id": CrossingQuota.objects.get().pk}


def test_quotas_post_without_companions_is_400_and_keeps_the_quota(api, coordinator):
    factories.QuotaFactory(date=dt.date(2026, 2, 4), agreed_patients=50, agreed_companions=100)
    body = {"date": "2026-02-04", "direction": "exit", "agreed_patients": 1}
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 400
    assert "agreed_companions" in response.json()
    assert CrossingQuota.objects.get().agreed_companions == 100


def test_quotas_post_replaces_the_days_quota(api, coordinator):
    body = {
        "date": "2026-02-04",
        "direction": "exit",
        "agreed_patients": 50,
        "agreed_companions": 9,
    }
    first = api(coordinator).post(QUOTAS, body, format="json").json()
    second = api(coordinator).post(
        QUOTAS, {**body, "agreed_patients": 7, "source": "who"}, format="json"
    )
    assert second.status_code == 201
    assert second.json()["id"] == first["id"]
    assert second.json()["agreed_patients"] == 7
    assert CrossingQuota.objects.get().agreed_patients == 7


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agreed_patients", -1),
        ("agreed_companions", "many"),
        ("direction", "sideways"),
        ("date", "2026-02-30"),
        ("crossing", "erez"),
    ],
)
def test_quotas_invalid_field_is_400(api, coordinator, field, value):
    body = {
        "date": "2026-02-04",
        "direction": "exit",
        "agreed_patients": 50,
        "agreed_companions": 9,
    }
    body[field] = value
    response = api(coordinator).post(QUOTAS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not CrossingQuota.objects.exists()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_quotas_create_refused_to_readers(api, request, quota, who):
    response = api(request.getfixturevalue(who)).post(
        QUOTAS,
        {"date": quota.date.isoformat(), "direction": "exit", "agreed_patients": 999},
        format="json",
    )
    assert response.status_code == 403
    quota.refresh_from_db()
    assert quota.agreed_patients == 50


def test_quotas_list_and_filter(api, nurse, quota):
    other = factories.QuotaFactory(direction="return", agreed_patients=40)
    client = api(nurse)
    body = client.get(QUOTAS).json()
    assert {q["id"] for q in body["results"]} == {quota.pk, other.pk}
    returns = client.get(QUOTAS, {"direction": "return"}).json()["results"]
    assert [q["agreed_returnees"] for q in returns] == [40]
    assert "agreed_companions" not in returns[0] and "agreed_patients" not in returns[0]


def test_quotas_invalid_filter_names_the_field(api, coordinator):
    response = api(coordinator).get(QUOTAS, {"direction": "sideways"})
    assert response.status_code == 400
    assert "direction" in response.json()


def test_quotas_anonymous_is_401(api, quota):
    assert api().get(QUOTAS).status_code == 401
    assert api().post(QUOTAS, {}).status_code == 401


def test_quotas_list_constant_number_of_queries(api, coordinator):
    def make(n):
        start = CrossingQuota.objects.count()
        for i in range(start, start + n):
            factories.QuotaFactory(date=TODAY() + dt.timedelta(days=i))

    assert_constant_queries(api, coordinator, QUOTAS, make)


# --- schema and docs ------------------------------------------------------------------------


def _schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_lists_the_batch_transitions(client, coordinator):
    client.force_login(coordinator)  # the schema and docs are for signed-in users
    paths = _schema(client)["paths"]
    for name in ("prepare", "reopen", "submit", "clear", "depart", "cross", "cancel"):
        path = f"/api/v1/batches/{{code}}/{name}/"
        assert path in paths, name
        # The refusals every operation may give are documented too (casetracker/schema.py).
        responses = set(paths[path]["post"]["responses"])
        assert {"200", "409"} <= responses <= {"200", "400", "401", "403", "404", "409"}, name
    reschedule = paths["/api/v1/batches/{code}/reschedule/"]["post"]
    assert {"201", "409"} <= set(reschedule["responses"])
    assert "/api/v1/batches/{code}/members/" in paths
    assert "/api/v1/batches/{code}/members/{member_id}/" in paths
    assert "/api/v1/batches/{code}/members/{member_id}/clearance/" in paths
    assert "/api/v1/events/" in paths
    assert "/api/v1/notifications/unread-count/" in paths


def test_schema_documents_transition_request_bodies(client, coordinator):
    client.force_login(coordinator)  # the schema and docs are for signed-in users
    schema = _schema(client)
    paths, components = schema["paths"], schema["components"]["schemas"]

    def body_fields(name):
        post = paths[f"/api/v1/batches/{{code}}/{name}/"]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return set(components[ref.rsplit("/", 1)[1]]["properties"])

    # Every step also says when it happened, if not just now (`occurred_at`, optional).
    assert body_fields("cancel") == {
        "reason_code",
        "reason_text",
        "source",
        "relayed_by",
        "occurred_at",
    }
    assert body_fields("cross") == {"outcomes", "occurred_at"}
    assert body_fields("reschedule") == {"planned_date", "staging_facility", "occurred_at"}
    assert body_fields("prepare") == {"occurred_at"}
    assert not paths["/api/v1/batches/{code}/prepare/"]["post"]["requestBody"].get("required")


EXTERNAL = ("cdn", "unpkg", "jsdelivr")


def test_docs_page_uses_no_external_host(client, coordinator):
    client.force_login(coordinator)  # the schema and docs are for signed-in users
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode().lower()
    assert "swagger" in html
    assert "/static/drf_spectacular_sidecar/" in html
    for host in (*EXTERNAL, "https://", "http://"):
        assert host not in html, host


def test_redoc_page_uses_no_cdn(client, coordinator):
    client.force_login(coordinator)  # the schema and docs are for signed-in users
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    html = response.content.decode().lower()
    assert "/static/drf_spectacular_sidecar/" in html
    for host in EXTERNAL:
        assert host not in html, host


def test_redoc_page_loads_nothing_from_another_host(client, coordinator):
    client.force_login(coordinator)  # the schema and docs are for signed-in users
    html = client.get("/api/redoc/").content.decode().lower()
    assert "https://" not in html


def test_members_of_a_return_batch_are_hidden_from_hospital_staff(
    api, coordinator, nurse, facility
):
    from batches.services import batch_add_returnee, batch_create

    batch = batch_create(
        actor=coordinator,
        direction="return",
        planned_date=dt.date(2026, 2, 4),
        staging_facility=facility,
    )
    returnee = factories.ReturneeFactory()
    batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)
    url = f"/api/v1/batches/{batch.code}/members/"
    assert api(coordinator).get(url).json()["count"] == 1
    body = api(nurse).get(url).json()
    assert body["count"] == 0
    events = api(nurse).get("/api/v1/events/", {"batch": batch.code}).content.decode()
    assert returnee.reference not in events
