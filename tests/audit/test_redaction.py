"""Free text kept beside the hash chain (the chain holds its keyed hash), and its redaction:
`record_event`, `text_redact` (allowed and refused, its event, the copies it blanks),
`verify_audit_log` (redacted texts verify, altered ones do not), the database trigger, the API,
the back office, and where the redaction shows."""

import datetime as dt
import io
import json

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from batches.models import Statement
from batches.services import (
    batch_add_patient,
    batch_cancel,
    batch_create,
    batch_prepare,
    batch_record_clearance,
    batch_submit,
    statement_add,
)
from batches.services.crossings import crossing_set_state
from casetracker import crypto
from casetracker.audit.models import ChainHead, Event, EventText
from casetracker.audit.redaction import text_redact
from casetracker.audit.services import event_hash, record_event
from casetracker.errors import TransitionRefused
from casetracker.notifications.messages import render_event_message
from casetracker.notifications.models import Notification
from patients.services import patient_set_status
from tests import factories
from tests.service_helpers import mark, notifications_since, the_event_since

pytestmark = pytest.mark.django_db

NAMED = "Refused: Ahmad Haddad, the patient's uncle, has no papers."
WHY = "names a patient"


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def _raw(sql: str, params: list) -> None:
    """Behind the application's back (on PostgreSQL with the triggers off, rolled back with
    the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
            cursor.execute(
                "ALTER TABLE audit_eventtext DISABLE TRIGGER audit_eventtext_redact_only"
            )
        cursor.execute(sql, params)


def _shown_day(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


@pytest.fixture
def submitted(coordinator, facility, quota, ready_patient):
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
    )
    patient = ready_patient()
    companion = factories.CompanionFactory(patient=patient)
    batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=[companion])
    batch_prepare(batch=batch, actor=coordinator)
    return batch_submit(batch=batch, actor=coordinator)


@pytest.fixture
def noted(submitted, coordinator):
    """A clearance decision whose note names a person, and its event."""
    line = submitted.members.get(companion__isnull=False)
    since = mark()
    batch_record_clearance(
        batch=submitted, member=line, clearance="rejected", actor=coordinator, note=NAMED
    )
    return the_event_since(since)


@pytest.fixture
def cancel_event(submitted, coordinator):
    batch_cancel(
        batch=submitted,
        actor=coordinator,
        reason_code="security",
        reason_text=f"Cancelled: {NAMED}",
        source="border_authority",
        relayed_by="who",
    )
    return Event.objects.get(subject_ref=submitted.code, action="cancel")


def _legacy_event(text: str) -> Event:
    """An event as the log held it before texts were kept apart: its text in the chained row."""
    with transaction.atomic():
        head, _created = ChainHead.objects.select_for_update().get_or_create(pk=1)
        event = Event(
            subject_type="patient",
            subject_ref="EV-OLD001",
            action="status_change",
            from_state="waiting",
            to_state="deceased",
            chained_text=text,
            actor_role="system",
            channel="command",
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event)
        event.save()
        head.last_hash = event.hash
        head.save(update_fields=["last_hash"])
    return event


# --- Where the text is kept ---------------------------------------------------------------------


def test_record_event_keeps_the_text_beside_the_chain(coordinator):
    with transaction.atomic():
        event = record_event(
            subject_type="patient",
            subject_ref="EV-TEST01",
            action="status_change",
            actor=coordinator,
            reason_text=NAMED,
        )
    event = Event.objects.get(pk=event.pk)
    assert event.chained_text == ""
    assert event.text_row.text == NAMED
    assert event.reason_text == NAMED
    assert event.text_digest == crypto.audit_text_digest(NAMED, salt=event.prev_hash)
    assert event.redaction is None
    assert "Audit log intact: 1 events." in _verify()


def test_record_event_without_text_keeps_nothing_beside(coordinator):
    with transaction.atomic():
        event = record_event(
            subject_type="patient", subject_ref="EV-TEST01", action="register", actor=coordinator
        )
    assert (event.text_digest, EventText.objects.count(), event.reason_text) == ("", 0, "")


def test_same_text_twice_has_two_digests(coordinator):
    """Salted with the link to the previous event: a redacted text cannot be found again by
    comparing its digest with another event's."""
    with transaction.atomic():
        first = record_event(
            subject_type="patient",
            subject_ref="A",
            action="update",
            actor=coordinator,
            reason_text=NAMED,
        )
        second = record_event(
            subject_type="patient",
            subject_ref="B",
            action="update",
            actor=coordinator,
            reason_text=NAMED,
        )
    assert first.text_digest != second.text_digest


def test_digest_depends_on_the_key(settings):
    digest = crypto.audit_text_digest(NAMED, salt="0" * 64)
    settings.AUDIT_TEXT_KEY = "Vb3d1Xk9Qw2Ea7Rt5Yu8Io0Pa4Sd6Fg8Hj1Kl3Zx5Cv="
    assert crypto.audit_text_digest(NAMED, salt="0" * 64) != digest


@pytest.mark.parametrize(
    ("key", "previous", "production", "message"),
    [
        ("not base64 !", [], False, "AUDIT_TEXT_KEY is not URL-safe base64"),
        ("c2hvcnQ=", [], False, "AUDIT_TEXT_KEY is too short"),
        (crypto.INSECURE_DEFAULT_HASH_KEY, [], False, "must differ from FIELD_HASH_KEY"),
        (crypto.INSECURE_DEFAULT_AUDIT_TEXT_KEY, [], True, "set AUDIT_TEXT_KEY"),
        ("Vb3d1Xk9Qw2Ea7Rt5Yu8Io0Pa4Sd6Fg8Hj1Kl3Zx5Cv=", ["bad!"], False, "PREVIOUS"),
    ],
)
def test_audit_text_key_is_checked_at_start(key, previous, production, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.check_audit_text_keys(
            key=key,
            previous=previous,
            other_keys=[crypto.INSECURE_DEFAULT_HASH_KEY],
            production=production,
        )


def test_audit_text_key_of_its_own_is_accepted_in_production():
    crypto.check_audit_text_keys(
        key="Vb3d1Xk9Qw2Ea7Rt5Yu8Io0Pa4Sd6Fg8Hj1Kl3Zx5Cv=",
        previous=[crypto.INSECURE_DEFAULT_HASH_KEY],
        other_keys=[],
        production=True,
    )


# --- text_redact ------------------------------------------------------------------------------


def test_text_redact_blanks_a_clearance_note_and_records_who_when_why(noted, admin_user, submitted):
    line = submitted.members.get(companion__isnull=False)
    assert line.clearance_note == NAMED
    since = mark()

    kept = text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)

    redaction = the_event_since(since)
    assert (kept.text, kept.redacted_by, kept.redaction_reason, kept.redaction_event) == (
        "",
        admin_user,
        WHY,
        redaction,
    )
    assert kept.redacted_at == redaction.created_at
    # The redaction is an event about the same subject, naming the event, never the text.
    assert (
        redaction.action,
        redaction.subject_type,
        redaction.subject_ref,
        redaction.batch_ref,
        redaction.subject_facility_id,
        redaction.details,
        redaction.reason_text,
        redaction.actor,
    ) == (
        "redact",
        "member",
        noted.subject_ref,
        submitted.code,
        noted.subject_facility_id,
        {"event": noted.pk, "action": "clearance"},
        WHY,
        admin_user,
    )
    assert NAMED not in json.dumps(redaction.details) + redaction.reason_text
    # The copy on the manifest line is blanked in the same transaction.
    line.refresh_from_db()
    assert line.clearance_note == ""
    # The event reads as redacted; its digest stays, so the chain verifies.
    event = Event.objects.get(pk=noted.pk)
    assert (event.reason_text, event.redaction.pk, len(event.text_digest)) == ("", noted.pk, 64)
    assert event.text_shown == f"[text redacted on {_shown_day(kept.redacted_at)} by admin: {WHY}]"
    assert "Audit log intact" in _verify()
    # Nobody is notified of a redaction.
    assert notifications_since(since) == []


def test_text_redact_blanks_the_cancel_text_of_the_batch(cancel_event, admin_user, submitted):
    text_redact(text_id=cancel_event.pk, actor=admin_user, reason=WHY)
    submitted.refresh_from_db()
    assert (submitted.status, submitted.cancel_reason_text) == ("cancelled", "")
    assert submitted.cancel_relayed_by == "who"  # only the text goes
    assert "Audit log intact" in _verify()


def test_text_redact_blanks_the_statement(submitted, coordinator, admin_user):
    statement = statement_add(
        batch=submitted, actor=coordinator, source="border_authority", text=NAMED
    )
    text_redact(text_id=statement.event_id, actor=admin_user, reason=WHY)
    statement.refresh_from_db()
    assert statement.text == ""
    assert Statement.objects.get().event.redaction.redaction_reason == WHY


def test_text_redact_blanks_the_reason_of_a_crossing_state(admin_user):
    crossing = factories.rafah()
    crossing = crossing_set_state(
        crossing=crossing, state="closed", actor=admin_user, reason_text=NAMED, source="who"
    )
    event = Event.objects.get(subject_type="crossing", action="crossing_state")
    text_redact(text_id=event.pk, actor=admin_user, reason=WHY)
    crossing.refresh_from_db()
    assert (crossing.state, crossing.state_reason) == ("closed", "")


def test_text_redact_of_a_death_reason(coordinator, admin_user, ready_patient):
    patient = ready_patient()
    since = mark()
    patient_set_status(patient=patient, status="deceased", actor=coordinator, reason_text=NAMED)
    event = the_event_since(since)
    text_redact(text_id=event.pk, actor=admin_user, reason=WHY)
    assert Event.objects.get(pk=event.pk).reason_text == ""
    assert "Audit log intact" in _verify()


def test_text_redact_of_a_redaction_reason_blanks_its_copy(noted, admin_user):
    first = text_redact(text_id=noted.pk, actor=admin_user, reason=f"names {NAMED}")
    text_redact(text_id=first.redaction_event_id, actor=admin_user, reason="names someone")
    first.refresh_from_db()
    assert (first.text, first.redaction_reason) == ("", "")
    assert first.sentence() == f"[text redacted on {_shown_day(first.redacted_at)} by admin]"
    assert "Audit log intact" in _verify()


def _nothing_changed(before: tuple) -> None:
    assert (Event.objects.count(), list(EventText.objects.values_list("pk", "text"))) == before


def _state() -> tuple:
    return Event.objects.count(), list(EventText.objects.values_list("pk", "text"))


@pytest.mark.parametrize("who", ["coordinator", "auditor", "nurse"])
def test_text_redact_is_for_admins_only(noted, who, request):
    before = _state()
    with pytest.raises(PermissionDenied):
        text_redact(text_id=noted.pk, actor=request.getfixturevalue(who), reason=WHY)
    _nothing_changed(before)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_text_redact_needs_a_reason(noted, admin_user, reason):
    before = _state()
    with pytest.raises(ValidationError) as info:
        text_redact(text_id=noted.pk, actor=admin_user, reason=reason)
    assert set(info.value.message_dict) == {"reason"}
    _nothing_changed(before)


def test_text_redact_refuses_an_event_without_text(submitted, admin_user):
    event = Event.objects.get(subject_ref=submitted.code, action="submit")
    before = _state()
    with pytest.raises(TransitionRefused, match="has no text to redact"):
        text_redact(text_id=event.pk, actor=admin_user, reason=WHY)
    _nothing_changed(before)


def test_text_redact_refuses_twice(noted, admin_user):
    text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)
    before = _state()
    with pytest.raises(TransitionRefused, match="already redacted"):
        text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)
    _nothing_changed(before)


def test_text_redact_refuses_a_text_inside_the_chain(admin_user):
    """Recorded before texts were kept apart: redacting it would break the chain."""
    old = _legacy_event(NAMED)
    before = _state()
    with pytest.raises(TransitionRefused, match="cannot be redacted without breaking the chain"):
        text_redact(text_id=old.pk, actor=admin_user, reason=WHY)
    _nothing_changed(before)
    assert Event.objects.get(pk=old.pk).reason_text == NAMED
    assert "Audit log intact: 1 events." in _verify()


def test_text_redact_refuses_an_unknown_event(admin_user):
    with pytest.raises(ValidationError, match="there is no event #999"):
        text_redact(text_id=999, actor=admin_user, reason=WHY)


# --- verify_audit_log ------------------------------------------------------------------------


def test_verify_finds_an_altered_text(noted):
    _raw("UPDATE audit_eventtext SET text = %s WHERE event_id = %s", ["edited", noted.pk])
    with pytest.raises(CommandError, match=f"event {noted.pk}: its text differs from the digest"):
        _verify()


def test_verify_finds_a_removed_text(noted):
    _raw("DELETE FROM audit_eventtext WHERE event_id = %s", [noted.pk])
    with pytest.raises(CommandError, match="its text is missing"):
        _verify()


def test_verify_finds_a_text_added_to_an_event_without_one(submitted):
    event = Event.objects.get(subject_ref=submitted.code, action="submit")
    _raw("INSERT INTO audit_eventtext (event_id, text, redaction_reason) VALUES (%s, %s, '')",
         [event.pk, "added later"])  # fmt: skip
    with pytest.raises(CommandError, match="a text was added"):
        _verify()


def test_verify_finds_a_changed_digest(noted):
    _raw("UPDATE audit_event SET text_digest = %s WHERE id = %s", ["0" * 64, noted.pk])
    with pytest.raises(CommandError, match="content differs from its hash"):
        _verify()


def _raw_unchecked(sql: str, params: list) -> None:
    """As `_raw`, with the check constraints of the kept texts off too (PostgreSQL: dropped,
    rolled back with the test; SQLite: ignored for this statement)."""
    if connection.vendor == "postgresql":
        _raw("ALTER TABLE audit_eventtext DROP CONSTRAINT eventtext_redacted_is_blank", [])
        _raw(sql, params)
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


def test_verify_finds_a_text_blanked_in_the_database(noted):
    """Blanked with a date, as a redaction looks, but no redaction event records it."""
    _raw_unchecked(
        "UPDATE audit_eventtext SET text = '', redacted_at = CURRENT_TIMESTAMP WHERE event_id = %s",
        [noted.pk],
    )
    with pytest.raises(CommandError, match=f"event {noted.pk}: its text was blanked without"):
        _verify()


def test_verify_finds_a_redaction_naming_an_event_that_did_not_redact_it(
    noted, submitted, admin_user
):
    other = Event.objects.get(subject_ref=submitted.code, action="submit")
    _raw(
        "UPDATE audit_eventtext SET text = '', redacted_at = %s, redacted_by_id = %s, "
        "redaction_event_id = %s WHERE event_id = %s",
        [other.created_at, admin_user.pk, other.pk, noted.pk],
    )
    with pytest.raises(CommandError, match=f"names event {other.pk} as its redaction, which did"):
        _verify()


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("redacted_at", dt.datetime(2026, 2, 8, tzinfo=dt.UTC), "time or author differ"),
        ("redacted_by_id", "coordinator", "time or author differ"),
        ("redaction_reason", "a reason typed in later", "reason differs from the text"),
    ],
)
def test_verify_finds_a_redaction_altered_after_the_fact(
    noted, admin_user, coordinator, column, value, problem
):
    kept = text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)
    value = coordinator.pk if value == "coordinator" else value
    sql = f"UPDATE audit_eventtext SET {column} = %s WHERE event_id = %s"  # noqa: S608
    _raw(sql, [value, noted.pk])
    with pytest.raises(
        CommandError, match=f"event {noted.pk}: its redaction's .*event {kept.redaction_event_id}"
    ) as info:
        _verify()
    assert problem in str(info.value)


def test_verify_finds_a_redacted_text_put_back(noted, admin_user):
    kept = text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)
    _raw(
        "UPDATE audit_eventtext SET text = %s, redacted_at = NULL, redacted_by_id = NULL, "
        "redaction_event_id = NULL, redaction_reason = '' WHERE event_id = %s",
        [NAMED, noted.pk],
    )
    with pytest.raises(
        CommandError,
        match=f"event {kept.redaction_event_id}: it records redacting the text of event "
        f"{noted.pk}, which is not redacted by it",
    ):
        _verify()


def test_database_requires_the_redaction_event_with_a_redaction(noted, admin_user):
    """The check constraint, on SQLite too: who, when and the redaction event, or none."""
    with pytest.raises(DatabaseError), transaction.atomic():
        EventText.objects.filter(pk=noted.pk).update(
            text="", redacted_at=timezone.now(), redacted_by=admin_user
        )
    assert EventText.objects.get(pk=noted.pk).text == NAMED


def test_verify_with_another_key_finds_every_text_altered(noted, settings):
    settings.AUDIT_TEXT_KEY = "Vb3d1Xk9Qw2Ea7Rt5Yu8Io0Pa4Sd6Fg8Hj1Kl3Zx5Cv="
    with pytest.raises(CommandError, match="its text differs from the digest"):
        _verify()
    # A key replaced after a leak stays listed as a previous one: the old digests verify.
    settings.AUDIT_TEXT_KEYS_PREVIOUS = [crypto.INSECURE_DEFAULT_AUDIT_TEXT_KEY]
    assert "Audit log intact" in _verify()


# --- PostgreSQL keeps the texts --------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_eventtext SET text = 'edited later' WHERE event_id = %s",
        "DELETE FROM audit_eventtext WHERE event_id = %s",
        "UPDATE audit_eventtext SET text = '' WHERE event_id = %s",  # blank, but who? when?
    ],
)
def test_database_refuses_to_change_a_text_but_to_redact_it(require_postgres, noted, sql):
    with (
        pytest.raises(DatabaseError, match="audit texts"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [noted.pk])
    assert EventText.objects.get(pk=noted.pk).text == NAMED


@pytest.mark.parametrize("with_event", [False, True])
def test_database_refuses_a_text_blanked_without_its_redaction_event(
    require_postgres, noted, submitted, admin_user, with_event
):
    """Blanked with who and when, but no `redact` event naming it (none, or another event):
    the trigger refuses it, where the check constraint alone would let the second through."""
    other = Event.objects.get(subject_ref=submitted.code, action="submit")
    sql = "UPDATE audit_eventtext SET text = '', redacted_at = %s, redacted_by_id = %s"
    params = [other.created_at, admin_user.pk]
    if with_event:
        sql += ", redaction_event_id = %s"
        params.append(other.pk)
    with (
        pytest.raises(DatabaseError, match="with the redact event that records it"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"{sql} WHERE event_id = %s", [*params, noted.pk])
    assert EventText.objects.get(pk=noted.pk).text == NAMED


def test_database_lets_a_redaction_through(require_postgres, noted, admin_user):
    text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)
    assert EventText.objects.get(pk=noted.pk).text == ""
    with (
        pytest.raises(DatabaseError, match="audit texts"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE audit_eventtext SET redacted_at = now() WHERE event_id = %s", [noted.pk]
        )


# --- The API ----------------------------------------------------------------------------------


def test_redact_api_for_admins(api, noted, admin_user):
    response = api(admin_user).post(
        f"/api/v1/events/{noted.pk}/redact/", {"reason": WHY}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    kept = EventText.objects.get(pk=noted.pk)
    assert (body["id"], body["reason_text"], body["text_digest"]) == (
        noted.pk,
        "",
        noted.text_digest,
    )
    assert body["redaction"] == {
        "redacted_at": body["redaction"]["redacted_at"],
        "redacted_by": "admin",
        "reason": WHY,
        "event": kept.redaction_event_id,
    }
    assert Event.objects.get(pk=kept.redaction_event_id).channel == "api"


@pytest.mark.parametrize("who", ["coordinator", "auditor", "nurse"])
def test_redact_api_refuses_other_roles(api, noted, who, request):
    response = api(request.getfixturevalue(who)).post(
        f"/api/v1/events/{noted.pk}/redact/", {"reason": WHY}, format="json"
    )
    assert response.status_code == 403
    assert EventText.objects.get(pk=noted.pk).text == NAMED


def test_redact_api_answers_400_and_409(api, noted, admin_user):
    client = api(admin_user)
    assert client.post(f"/api/v1/events/{noted.pk}/redact/", {}, format="json").status_code == 400
    old = _legacy_event(NAMED)
    response = client.post(f"/api/v1/events/{old.pk}/redact/", {"reason": WHY}, format="json")
    assert response.status_code == 409
    assert "breaking the chain" in response.json()["problems"][0]


def test_events_api_shows_the_text_until_it_is_redacted(api, noted, admin_user, auditor):
    url = f"/api/v1/events/{noted.pk}/"
    body = api(auditor).get(url).json()
    assert (body["reason_text"], body["redaction"]) == (NAMED, None)
    text_redact(text_id=noted.pk, actor=admin_user, reason=WHY)
    body = api(auditor).get(url).json()
    assert (body["reason_text"], body["redaction"]["reason"]) == ("", WHY)


# --- The back office --------------------------------------------------------------------------


def test_admin_redacts_on_its_own_page(client, noted, admin_user):
    client.force_login(admin_user)
    change = client.get(reverse("admin:audit_event_change", args=[noted.pk]))
    url = reverse("admin:audit_event_redact", args=[noted.pk])
    assert url in change.content.decode()
    page = client.get(url)
    assert page.status_code == 200 and "Ahmad Haddad" in page.content.decode()
    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 200 and "This field is required" in empty.content.decode()
    done = client.post(url, {"reason": WHY})
    assert done.status_code == 302
    kept = EventText.objects.get(pk=noted.pk)
    assert (kept.text, kept.redaction_reason) == ("", WHY)
    assert Event.objects.get(pk=kept.redaction_event_id).channel == "admin"
    page = client.get(reverse("admin:audit_event_change", args=[noted.pk])).content.decode()
    assert "[text redacted on" in page and NAMED not in page


def test_admin_redaction_page_is_for_admins_only(client, noted, coordinator, auditor):
    url = reverse("admin:audit_event_redact", args=[noted.pk])
    for user in (coordinator, auditor):
        client.force_login(user)
        assert client.post(url, {"reason": WHY}).status_code == 403
        change = client.get(reverse("admin:audit_event_change", args=[noted.pk]))
        assert url not in change.content.decode()
    assert EventText.objects.get(pk=noted.pk).text == NAMED


def test_admin_redaction_page_explains_an_old_text(client, admin_user):
    old = _legacy_event(NAMED)
    client.force_login(admin_user)
    page = client.get(reverse("admin:audit_event_redact", args=[old.pk])).content.decode()
    assert "cannot be redacted without breaking the chain" in page
    assert 'name="reason"' not in page


# --- Where the redaction shows ---------------------------------------------------------------


def test_batch_page_and_timeline_show_the_redaction(
    client, noted, cancel_event, admin_user, auditor
):
    submitted = cancel_event.subject_ref
    for event in (cancel_event, noted):
        text_redact(text_id=event.pk, actor=admin_user, reason=WHY)
    kept = EventText.objects.get(pk=noted.pk)
    sentence = f"[text redacted on {_shown_day(kept.redacted_at)} by admin: {WHY}]"
    client.force_login(auditor)
    for url in (
        reverse("batches:detail", args=[submitted]),
        reverse("reports:batch", args=[submitted]),
    ):
        html = client.get(url).content.decode()
        assert "Ahmad" not in html, url
        assert html.count(sentence) >= 2, url  # the cancel text and the note
        assert "text redacted" in html


def test_cancellation_history_shows_the_redaction(client, cancel_event, admin_user, auditor):
    text_redact(text_id=cancel_event.pk, actor=admin_user, reason=WHY)
    client.force_login(auditor)
    page = client.get(reverse("reports:cancellations")).content.decode()
    assert "Ahmad" not in page and "[text redacted on" in page
    download = client.get(reverse("reports:cancellations"), {"download": "csv"})
    text = download.content.decode("utf-8-sig")
    assert "Ahmad" not in text and f"by admin: {WHY}]" in text


def test_staff_email_delivered_after_a_redaction_shows_the_redaction(
    cancel_event, admin_user, coordinator
):
    text_redact(text_id=cancel_event.pk, actor=admin_user, reason=WHY)
    row = Notification.objects.filter(event=cancel_event, channel="email").first()
    message = render_event_message(row.event, "en")
    assert "Ahmad" not in message.body and "[text redacted on" in message.body


def test_batch_and_member_api_say_who_redacted_a_blank_text(
    api, noted, cancel_event, submitted, admin_user, auditor
):
    """A blank with an explanation, as the events API gives it: `cancel_reason_redaction` and
    `clearance_note_redaction` (null where nothing was redacted)."""
    client = api(auditor)
    batch = client.get(f"/api/v1/batches/{submitted.code}/").json()
    assert (batch["cancel_reason_text"], batch["cancel_reason_redaction"]) == (
        f"Cancelled: {NAMED}",
        None,
    )
    text_redact(text_id=cancel_event.pk, actor=admin_user, reason=WHY)
    text_redact(text_id=noted.pk, actor=admin_user, reason="names the uncle")
    note = EventText.objects.get(pk=noted.pk)
    cancel = EventText.objects.get(pk=cancel_event.pk)

    def redaction(kept: EventText, reason: str) -> dict:
        return {
            "redacted_at": kept.redacted_at,
            "redacted_by": "admin",
            "reason": reason,
            "event": kept.redaction_event_id,
        }

    def read(body: dict | None) -> dict | None:
        if body is None:
            return None
        return {**body, "redacted_at": dt.datetime.fromisoformat(body["redacted_at"])}

    for body in (
        client.get(f"/api/v1/batches/{submitted.code}/").json(),
        *client.get("/api/v1/batches/", {"status": "cancelled"}).json()["results"],
    ):
        assert body["cancel_reason_text"] == ""
        assert read(body["cancel_reason_redaction"]) == redaction(cancel, WHY)
    lines = client.get(f"/api/v1/batches/{submitted.code}/members/").json()["results"]
    by_kind = {line["kind"]: line for line in lines}
    assert by_kind["companion"]["clearance_note"] == ""
    assert read(by_kind["companion"]["clearance_note_redaction"]) == redaction(
        note, "names the uncle"
    )
    assert by_kind["patient"]["clearance_note_redaction"] is None
    line = by_kind["companion"]["id"]
    one = client.get(f"/api/v1/batches/{submitted.code}/members/{line}/").json()
    assert read(one["clearance_note_redaction"]) == redaction(note, "names the uncle")


@pytest.mark.parametrize("reason", [123, ["names a patient"], {"why": "x"}, True])
def test_redact_api_takes_the_reason_as_a_string_only(api, noted, admin_user, reason):
    response = api(admin_user).post(
        f"/api/v1/events/{noted.pk}/redact/", {"reason": reason}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"reason"}
    assert EventText.objects.get(pk=noted.pk).text == NAMED


def test_notifications_api_and_inbox_read_the_texts_with_their_events(
    client, api, submitted, coordinator, admin_user
):
    """One query for the texts of a page, not one per notification (each message shows its
    event's text, or who redacted it)."""

    def cancel_one() -> None:
        batch = batch_create(
            actor=coordinator,
            direction="exit",
            planned_date=timezone.localdate(),
            staging_facility=submitted.staging_facility,
        )
        batch_cancel(batch=batch, actor=coordinator, reason_code="weather", reason_text=NAMED,
                     source="who")  # fmt: skip
        event = Event.objects.get(subject_ref=batch.code, action="cancel")
        text_redact(text_id=event.pk, actor=admin_user, reason=WHY)

    def count() -> tuple[int, int, int]:
        fresh = type(coordinator).objects.get(pk=coordinator.pk)
        with CaptureQueriesContext(connection) as listed:
            rows = api(fresh).get("/api/v1/notifications/", {"mine": "true"}).json()["results"]
        # Counted now: the connection keeps the last 9,000 queries, and the slice a capture
        # reads shifts once that log is full.
        listed_count = len(listed)
        client.force_login(fresh)
        client.get(reverse("notifications:inbox"))  # saves the session (once a minute)
        with CaptureQueriesContext(connection) as inbox:
            page = client.get(reverse("notifications:inbox")).content.decode()
        assert "[text redacted on" in page and "Ahmad" not in page
        return len(rows), listed_count, len(inbox)

    cancel_one()
    rows, listed, inbox = count()
    for _ in range(3):
        cancel_one()
    more_rows, more_listed, more_inbox = count()
    assert more_rows > rows
    assert (more_listed, more_inbox) == (listed, inbox)
