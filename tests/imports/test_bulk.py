"""The import registers its rows in chunks (`patients_register_bulk`, `record_events`): the same
rows and events as the one-at-a-time services, a chained log that verifies, refusals across
chunk boundaries, and a number of queries that does not grow with the rows."""

import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from casetracker.audit.models import Action, Event, EventText, SubjectType
from casetracker.audit.services import record_event, record_events
from casetracker.audit.verify import verify_chain
from casetracker.notifications.models import Notification
from patients import services
from patients.imports import cases as imports
from patients.imports.cases import CREATE, REJECT, import_cases
from patients.models import Companion, Patient, Readiness, Referral

from .files import case_row, csv_bytes, database_state

FAMILY = {
    "patient": {
        "name_latin": "Amal Haddad",
        "name_arabic": "أمل حداد",
        "date_of_birth": "1980-05-17",
        "sex": "female",
        "priority": "urgent",
        "clinical_category": "oncology",
        "phone": "+970599000000",
        "sms_consent": True,
    },
    "companions": [
        {
            "name_latin": "Omar Haddad",
            "name_arabic": "عمر حداد",
            "national_id": "800000001",
            "date_of_birth": "1975-01-02",
            "sex": "male",
            "relationship": "husband",
            "is_guardian": True,
        },
        {
            "name_latin": "Huda Haddad",
            "name_arabic": "هدى حداد",
            "national_id": "800000002",
            "date_of_birth": "2001-03-04",
            "sex": "female",
            "relationship": "daughter",
        },
    ],
    "referral": {
        "specialty": "oncology",
        "destination_country": "Egypt",
        "issued_on": "2026-02-01",
    },
}


def family(facility, national_id: str, referral_number: str) -> dict:
    return {
        "patient": {**FAMILY["patient"], "national_id": national_id, "facility": facility},
        "companions": [dict(c) for c in FAMILY["companions"]],
        "referral": {
            **FAMILY["referral"],
            "number": referral_number,
            "referring_facility": facility,
        },
    }


def event_content(patient: Patient) -> list[dict]:
    """The events of a case, without what differs from one registration to the next: ids,
    times, hashes, the case's reference and the ids of its rows."""
    companions = {c.pk: n for n, c in enumerate(patient.companions.order_by("pk"))}
    content = []
    for event in Event.objects.filter(subject_ref=patient.case_reference).order_by("pk"):
        details = dict(event.details)
        if "companion" in details:
            details["companion"] = companions[details["companion"]]
        if "referral_id" in details:
            details["referral_id"] = Referral.objects.get(pk=details["referral_id"]).patient_id
            details["referral_id"] = details["referral_id"] == patient.pk
        occurred = event.occurred_at == (
            patient.registered_at if event.action == Action.REGISTER else event.created_at
        )
        content.append(
            {
                "subject_type": event.subject_type,
                "action": event.action,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "actor": event.actor_id,
                "actor_role": event.actor_role,
                "actor_facility": event.actor_facility_id,
                "subject_facility": event.subject_facility_id,
                "reason_code": event.reason_code,
                "text": (event.chained_text, event.text_digest, event.reason_text),
                "source": event.source,
                "channel": event.channel,
                "request_id": event.request_id,
                "details": details,
                "lane": (event.lane, event.lane_seq),
                "occurred_as_stated": occurred,
            }
        )
    return content


def test_patients_register_bulk_writes_the_rows_and_events_of_the_services(coordinator, facility):
    one = services.patient_register_with_family(
        actor=coordinator, **family(facility, "900000001", "REF-1")
    )
    (bulk,) = services.patients_register_bulk(
        actor=coordinator,
        cases=[services.CaseData(**family(facility, "900000002", "REF-2"))],
    )
    assert bulk.pk is not None
    assert event_content(bulk) == event_content(one)
    assert [e["action"] for e in event_content(bulk)] == [
        Action.REGISTER,
        Action.COMPANION_ADD,
        Action.COMPANION_ADD,
        Action.CREATE,
    ]
    assert Readiness.objects.filter(patient=bulk, updated_by=coordinator).exists()
    fields = ("name_latin", "date_of_birth", "sex", "relationship", "is_guardian")
    assert list(bulk.companions.order_by("pk").values_list(*fields)) == list(
        one.companions.order_by("pk").values_list(*fields)
    )
    assert (bulk.status, bulk.priority, bulk.sms_consent) == (one.status, "urgent", True)
    assert Patient.objects.get(pk=bulk.pk).national_id == "900000002"
    # A registration notifies no one, one at a time or in bulk.
    assert not Notification.objects.exists()
    assert verify_chain().ok


def test_patients_register_bulk_refuses_as_the_services_do(coordinator, facility):
    services.patient_register_with_family(
        actor=coordinator, **family(facility, "900000001", "REF-1")
    )
    before = Patient.objects.count()
    child = family(facility, "900000003", "REF-3")
    child["companions"][1]["is_guardian"] = True  # born 2001: an adult; the first one too
    child["companions"][0]["date_of_birth"] = "2020-01-01"
    given = [
        family(facility, "900000001", "REF-2"),  # held by an open case
        family(facility, "900000002", "REF-1"),  # the referral number is taken
        child,
    ]
    outcomes = []
    for data in given:
        try:
            services.patient_register_with_family(actor=coordinator, **data)
        except services.RegistrationRefused as refused:
            outcomes.append(refused.message_dict)
    bulk = services.patients_register_bulk(
        actor=coordinator, cases=[services.CaseData(**data) for data in given]
    )
    assert [refused.message_dict for refused in bulk] == outcomes
    assert "patient.national_id" in outcomes[0] and "referral.number" in outcomes[1]
    assert outcomes[2] == {"companions.0.is_guardian": ["a guardian must be an adult"]}
    assert Patient.objects.count() == before


def test_record_events_chains_as_record_event_does(coordinator):
    with transaction.atomic():
        first = record_event(
            subject_type=SubjectType.PATIENT,
            subject_ref="EV-AAAAAA",
            action=Action.STATUS_CHANGE,
            actor=coordinator,
            reason_text="died at home",
        )
        events = record_events(
            [
                {
                    "subject_type": SubjectType.PATIENT,
                    "subject_ref": "EV-BBBBBB",
                    "action": Action.STATUS_CHANGE,
                    "actor": coordinator,
                    "reason_text": "died at home",
                },
                {
                    "subject_type": SubjectType.PATIENT,
                    "subject_ref": "EV-CCCCCC",
                    "action": Action.UPDATE,
                    "actor": coordinator,
                    "details": {"fields": ["phone"]},
                },
            ]
        )
    assert events[0].prev_hash == first.hash and events[1].prev_hash == events[0].hash
    stored = list(Event.objects.filter(pk__in=[e.pk for e in events]).order_by("pk"))
    assert [e.hash for e in stored] == [e.hash for e in events]
    # The same text twice, two digests (salted with the chain); each kept beside its event.
    assert stored[0].text_digest and stored[0].text_digest != first.text_digest
    assert stored[0].reason_text == "died at home" and not stored[1].text_digest
    assert EventText.objects.filter(event__in=stored).count() == 1
    assert verify_chain().ok


def test_record_events_refuses_a_long_text_before_writing(coordinator):
    from django.core.exceptions import ValidationError

    before = Event.objects.count()
    with pytest.raises(ValidationError), transaction.atomic():
        record_events(
            [
                {
                    "subject_type": SubjectType.PATIENT,
                    "subject_ref": "EV-AAAAAA",
                    "action": Action.UPDATE,
                    "actor": coordinator,
                },
                {
                    "subject_type": SubjectType.PATIENT,
                    "subject_ref": "EV-AAAAAA",
                    "action": Action.UPDATE,
                    "actor": coordinator,
                    "reason_text": "x" * 5000,
                },
            ]
        )
    assert Event.objects.count() == before


@pytest.fixture
def importing(coordinator, facility, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)

    def run(rows, **kwargs):
        kwargs.setdefault("dry_run", False)
        data = csv_bytes(rows)
        return import_cases(file=io.BytesIO(data), name="list.csv", actor=coordinator, **kwargs)

    return run


def test_import_cases_in_chunks_verifies_and_matches_the_services(importing):
    result = importing([case_row(n) for n in range(1, 6)])
    assert result.applied and result.counts()["create"] == 5
    assert Patient.objects.count() == 5 and Companion.objects.count() == 5
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    assert "Audit log intact" in out.getvalue()
    references = [row.reference for row in result.rows]
    assert sorted(references) == sorted(Patient.objects.values_list("case_reference", flat=True))
    registered = Event.objects.filter(action=Action.REGISTER).order_by("pk")
    assert [e.subject_ref for e in registered] == references  # in the file's order


def test_import_cases_duplicates_across_chunks_name_the_earlier_row(importing):
    before = database_state()
    rows = [case_row(n) for n in range(1, 5)]
    rows.append(case_row(5, national_id="900 000 001"))  # row 2's number, two chunks later
    rows.append(case_row(6, referral_number="REF-IMP-2"))  # row 3's referral, in chunk 1
    rows.append(case_row(7, referral_number="REF-IMP-7"))
    rows.append(case_row(8, referral_number="REF-IMP-7"))  # row 8's, in the same chunk
    result = importing(rows)
    assert [(e.row, e.column, e.message) for e in result.errors()] == [
        (6, "national_id", "the same national ID as row 2"),
        (7, "referral_number", "Referral with this Number already exists."),
        (9, "referral_number", "Referral with this Number already exists."),
    ]
    assert [r.outcome for r in result.rows] == [CREATE] * 4 + [REJECT, REJECT, CREATE, REJECT]
    assert not result.applied and database_state() == before


def test_import_cases_a_refused_row_in_the_last_chunk_leaves_nothing(importing):
    before = database_state()
    rows = [case_row(n) for n in range(1, 6)]
    rows[-1]["companion1_date_of_birth"] = "2999-01-01"
    result = importing(rows)
    assert [r.outcome for r in result.rows] == [CREATE] * 4 + [REJECT]
    assert [(e.row, e.column) for e in result.errors()] == [(6, "companion1_date_of_birth")]
    assert not result.applied and database_state() == before


def test_import_cases_a_refused_row_takes_no_referral_number(importing):
    """A row refused for a cell keeps its referral number free for a later row, as a row
    undone alone in its own savepoint did."""
    rows = [case_row(1, date_of_birth="31/02/1990"), case_row(2, referral_number="REF-IMP-1")]
    result = importing(rows, dry_run=True)
    assert [r.outcome for r in result.rows] == [REJECT, CREATE]


def test_import_cases_queries_do_not_grow_with_the_rows(coordinator, facility):
    def queries(rows: int) -> int:
        names = {"name_latin": "Amal Haddad", "companion1_name_latin": "Omar Haddad"}
        data = csv_bytes([case_row(n, **names) for n in range(1, rows + 1)])
        with CaptureQueriesContext(connection) as captured:
            result = import_cases(
                file=io.BytesIO(data), name="list.csv", actor=coordinator, dry_run=True
            )
        assert result.counts()["create"] == rows
        return len(captured)

    ten, hundred = queries(10), queries(100)
    # One chunk: the same statements for 10 rows or 100 (66 queries a row before the chunks).
    # SQLite caps the parameters of a statement, so an insert holds about 40 rows there: a
    # few more statements, never one a row.
    growth = 2 if connection.vendor == "postgresql" else 12
    assert hundred <= ten + growth, (ten, hundred)
    assert ten < 40


def test_patients_register_bulk_constraints_refuse_as_full_clean_does(coordinator, facility):
    """A rule only a check constraint holds (the diagnosis's length): the database refuses the
    chunk's insert, Django's own check names the case, and the other cases are written."""
    long = family(facility, "900000001", "REF-1")
    long["patient"]["diagnosis"] = "x" * 4001
    with pytest.raises(services.RegistrationRefused) as one:
        services.patient_register_with_family(actor=coordinator, **long)
    refused, written = services.patients_register_bulk(
        actor=coordinator,
        cases=[
            services.CaseData(**long),
            services.CaseData(**family(facility, "900000002", "REF-2")),
        ],
    )
    assert refused.message_dict == one.value.message_dict
    assert list(one.value.message_dict) == ["patient.__all__"]  # a constraint names no field
    assert list(Patient.objects.values_list("pk", flat=True)) == [written.pk]
    assert [e["action"] for e in event_content(written)] == [
        Action.REGISTER,
        Action.COMPANION_ADD,
        Action.COMPANION_ADD,
        Action.CREATE,
    ]
    assert Event.objects.filter(action=Action.REGISTER).count() == 1
    assert verify_chain().ok


def test_a_reference_already_held_is_drawn_again(coordinator, facility, monkeypatch):
    """References are random: one already held (or drawn twice in a chunk) is drawn again, in
    both paths, instead of refusing a case for a value nobody typed."""
    from patients.services import patients as registering

    held = services.patient_register_with_family(
        actor=coordinator, **family(facility, "900000001", "REF-1")
    )
    draws = iter(["EV-AAAAAA", "EV-BBBBBB", "EV-CCCCCC"])
    monkeypatch.setattr(registering, "new_case_reference", lambda: next(draws))
    # Every new case first draws the reference `held` has.
    field = Patient._meta.get_field("case_reference")
    monkeypatch.setattr(field, "_get_default", lambda: held.case_reference, raising=False)
    one = services.patient_register_with_family(
        actor=coordinator, **family(facility, "900000002", "REF-2")
    )
    first, second = services.patients_register_bulk(
        actor=coordinator,
        cases=[
            services.CaseData(**family(facility, "900000003", "REF-3")),
            services.CaseData(**family(facility, "900000004", "REF-4")),
        ],
    )
    assert (one.case_reference, first.case_reference, second.case_reference) == (
        "EV-AAAAAA",
        "EV-BBBBBB",
        "EV-CCCCCC",
    )
    assert Patient.objects.count() == 4


def test_a_constraint_refused_late_in_the_insert_keeps_the_other_cases_whole(
    coordinator, facility, monkeypatch
):
    """The referrals are inserted after the patients and companions: when the database refuses
    one, the chunk is inserted again without its case, and the other cases' companions and
    referrals belong to their own patient."""
    monkeypatch.setattr(Referral, "clean", lambda self: None)  # leave the rule to the database
    backwards = family(facility, "900000001", "REF-1")
    backwards["referral"]["expires_on"] = "2026-01-01"  # before it was issued
    refused, written = services.patients_register_bulk(
        actor=coordinator,
        cases=[
            services.CaseData(**backwards),
            services.CaseData(**family(facility, "900000002", "REF-2")),
        ],
    )
    assert list(refused.message_dict) == ["referral.__all__"]
    written = Patient.objects.get(pk=written.pk)
    assert written.companions.count() == 2 and written.referrals.get().number == "REF-2"
    assert Companion.objects.count() == 2 and Referral.objects.count() == 1
    assert [e["action"] for e in event_content(written)] == [
        Action.REGISTER,
        Action.COMPANION_ADD,
        Action.COMPANION_ADD,
        Action.CREATE,
    ]
    assert Event.objects.exclude(subject_ref=written.case_reference).count() == 0
    assert verify_chain().ok


def test_a_dry_run_writes_no_event_and_locks_no_national_id(coordinator, facility):
    """A list being checked holds neither the audit chain's head nor the national-ID locks while
    its rows are read: the only event it writes is the import's own, at the end."""
    data = csv_bytes([case_row(n) for n in range(1, 6)])
    with CaptureQueriesContext(connection) as captured:
        result = import_cases(file=io.BytesIO(data), name="list.csv", actor=coordinator)
    assert result.counts()["create"] == 5 and not result.applied
    statements = [query["sql"] for query in captured]
    assert not any("pg_advisory_xact_lock" in sql for sql in statements)
    head = [n for n, sql in enumerate(statements) if '"audit_chainhead"' in sql]
    assert head and head[0] > max(
        n for n, sql in enumerate(statements) if '"patients_patient"' in sql
    )
    assert list(Event.objects.values_list("action", flat=True)) == [Action.IMPORT]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's advisory locks")
def test_an_import_is_refused_while_another_runs(coordinator, facility):
    import psycopg

    before = database_state()
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [imports.IMPORT_LOCK])
        data = csv_bytes([case_row(1)])
        result = import_cases(
            file=io.BytesIO(data), name="list.csv", actor=coordinator, dry_run=False
        )
        checked = import_cases(file=io.BytesIO(data), name="list.csv", actor=coordinator)
    finally:
        other.close()
    assert not result.applied and result.refused is not None
    assert "another list of cases is being imported" in result.refused.message
    assert database_state() == before
    assert checked.counts()["create"] == 1  # a dry run is not held back
    after = import_cases(file=io.BytesIO(data), name="list.csv", actor=coordinator, dry_run=False)
    assert after.applied
