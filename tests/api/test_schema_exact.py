"""The OpenAPI schema says exactly what the API answers: every operation is called successfully,
with real arguments on the seeded world (conftest.py), and its answer is validated against the
schema made strict.

Strict: an object whose schema lists its properties may hold nothing else
(`additionalProperties: false` wherever the schema says nothing of other properties). So an
answer fails when it carries a field the schema does not document, lacks a required one, has a
value of another type or format, another status code or another content type than documented.
(The fuzzing in test_schemathesis.py sends every kind of request, but most of them are refused:
only a successful call shows the answer a client builds on.)

SAMPLES holds one successful call per operation, keyed "METHOD /path" as the schema names it,
made by a role the policy allows, with the status it must answer; some operations have a second
call for another kind of answer (a file download). A new operation without a sample fails
`test_every_operation_has_a_successful_sample`, naming it: add its call here.

Each call runs in a transaction rolled back after it, so each starts from the same world and
several samples may use the same rows."""

import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from schemathesis import checks
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

from batches import services as batch_services
from batches.models import Batch
from casetracker.accounts.models import User
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from patients.models import Companion, Patient, Referral, Returnee
from tests import factories
from tests.api_helpers import patient_body

from .conftest import World

PASSWORD = "correct-horse-battery-staple"  # tests/factories.py
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


# --- The schema, strict ---------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """Every object schema that lists properties and says nothing of others refuses others.
    Schemas combined with `allOf` are left open (each part would refuse the other's fields)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    strict = {key: (value if key == "allOf" else _strict(value)) for key, value in node.items()}
    if "properties" in strict and "additionalProperties" not in strict:
        strict["additionalProperties"] = False
    return strict


@functools.cache
def _document() -> dict:
    """The document `/api/schema/` serves (as `manage.py spectacular` builds it)."""
    rendered = OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    return json.loads(rendered)


@functools.cache
def _schema():
    document = _document()
    strict = {**document, "paths": _strict(document["paths"])}
    strict["components"] = {
        **document["components"],
        "schemas": _strict(document["components"]["schemas"]),
    }
    loaded = schemathesis.openapi.from_dict(strict)
    loaded.app = get_wsgi_application()
    return loaded


def _labels() -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in _document()["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


# --- The calls ------------------------------------------------------------------------------


@dataclass
class Call:
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = NOT_SET


@dataclass(frozen=True)
class Sample:
    role: str
    status: int
    call: Callable[[World], Call] = lambda world: Call()
    note: str = ""  # why a second sample of the same operation


def _today(days: int = 0) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def _batch(status: str, direction: str = "exit", facility: str = "al-amal") -> Batch:
    """A batch of the world in that state (the world has one of each at al-amal)."""
    return Batch.objects.filter(
        status=status, direction=direction, staging_facility__code=facility
    ).earliest("pk")


def _code(status: str, direction: str = "exit") -> dict:
    return {"code": _batch(status, direction).code}


def _line(status: str, **person) -> dict:
    batch = _batch(status)
    line = batch.members.filter(**person).earliest("pk")
    return {"code": batch.code, "member_id": line.pk}


def _waiting_patient() -> Patient:
    """A waiting patient at al-amal on no batch, with an approved referral."""
    return (
        Patient.objects.filter(
            status="waiting", facility__code="al-amal", referrals__status="approved"
        )
        .distinct()
        .earliest("pk")
    )


def _by_person(batch: Batch, field: str, value) -> list[dict]:
    """Every open line of `batch`, named by person (patients, returnees) or companion id."""
    items = []
    for line in batch.members.filter(is_open=True).select_related("patient", "returnee"):
        if line.companion_id:
            items.append({"companion": line.companion_id, field: value})
        elif line.patient_id:
            items.append({"person": line.patient.case_reference, field: value})
        else:
            items.append({"person": line.returnee.reference, field: value})
    return items


def _cross(world: World) -> Call:
    batch = _batch("in_transit")
    return Call(_code("in_transit"), body={"outcomes": _by_person(batch, "outcome", "crossed")})


def _clear(world: World) -> Call:
    batch = _batch("submitted")
    coordinator = User.objects.get(username="coordinator")
    for line in batch.members.filter(is_open=True):
        batch_services.batch_record_clearance(
            batch=batch, member=line, clearance="approved", actor=coordinator
        )
    return Call(_code("submitted"))


def _bulk_clearance(world: World) -> Call:
    batch = _batch("submitted")
    decisions = _by_person(batch, "clearance", "approved")
    decisions[-1].update(clearance="rejected", note="not on the cleared list")
    return Call(_code("submitted"), body={"decisions": decisions})


def _members_add(world: World) -> Call:
    patient = _waiting_patient()
    body = {"patient": patient.case_reference, "companions": [patient.companions.first().pk]}
    return Call(_code("draft"), body=body)


def _reschedule(world: World) -> Call:
    return Call(_code("cancelled"), body={"planned_date": _today(3)})


def _decision(world: World) -> Call:
    pending = factories.ReferralFactory(patient=_waiting_patient(), status="pending")
    return Call({"id": pending.pk}, body={"status": "approved"})


def _search(world: World) -> Call:
    return Call(body={"national_id": _waiting_patient().national_id})


def _patient_status(world: World) -> Call:
    return Call(
        {"case_reference": _waiting_patient().case_reference},
        body={"status": "deceased", "reason_text": "died at the facility"},
    )


STATEMENT = {
    "source": "border_authority",
    "relayed_by": "who",
    "text": "coordination details were missing",
    "about_cancellation": True,
}


def _statements(world: World) -> Call:
    """The statements of the cancelled batch, one of them already recorded."""
    batch = _batch("cancelled")
    batch_services.statement_add(
        batch=batch, actor=User.objects.get(username="coordinator"), **STATEMENT
    )
    return Call(_code("cancelled"))


def _redact(world: World) -> Call:
    """The cancel text of the cancelled batch (kept beside its event, so redactable)."""
    event = Event.objects.filter(action="cancel", subject_ref=_batch("cancelled").code).get()
    return Call({"id": event.pk}, body={"reason": "names a patient"})


def _notification(recipient: str, status: str = "") -> Callable[[World], Call]:
    def call(world: World) -> Call:
        rows = Notification.objects.filter(recipient__username=recipient, channel="inbox")
        if status:
            rows = Notification.objects.filter(recipient__username=recipient, status=status)
        return Call({"id": rows.earliest("pk").pk})

    return call


def _first(model, name: str, lookup: str = "pk", **filters) -> Callable[[World], Call]:
    def call(world: World) -> Call:
        row = model.objects.filter(**filters).earliest("pk")
        return Call({name: getattr(row, lookup)})

    return call


CANCEL = {"reason_code": "no_reason_given", "reason_text": "called off", "source": "who"}
PERIOD = {"date_from": _today(-7), "date_to": _today(7)}


def _report(name: str) -> dict[str, tuple[Sample, ...]]:
    label = f"GET /api/v1/reports/{name}/"
    json_rows = Sample("auditor", 200, lambda world: Call(query=dict(PERIOD)))
    if name != "daily":
        return {label: (json_rows,)}
    download = Sample(
        "auditor",
        200,
        lambda world: Call(query={**PERIOD, "download": "csv"}),
        note="the CSV file",
    )
    return {label: (json_rows, download)}


SAMPLES: dict[str, tuple[Sample, ...]] = {
    label: samples if isinstance(samples, tuple) else (samples,)
    for label, samples in {
        "POST /api/v1/auth/token/": Sample(
            "anonymous",
            200,
            lambda world: Call(body={"username": "coordinator", "password": PASSWORD}),
        ),
        # Batches
        "GET /api/v1/batches/": Sample(
            "coordinator", 200, lambda w: Call(query={"status": "draft"})
        ),
        "POST /api/v1/batches/": Sample(
            "coordinator",
            201,
            lambda w: Call(
                body={
                    "direction": "exit",
                    "planned_date": _today(1),
                    "staging_facility": "al-amal",
                }
            ),
        ),
        "GET /api/v1/batches/{code}/": Sample(
            "hospital_staff", 200, lambda w: Call(_code("crossed"))
        ),
        "GET /api/v1/batches/proposal/": Sample(
            "coordinator", 200, lambda w: Call(query={"direction": "exit", "date": _today()})
        ),
        "POST /api/v1/batches/{code}/prepare/": Sample(
            "coordinator", 200, lambda w: Call(_code("draft"))
        ),
        "POST /api/v1/batches/{code}/reopen/": Sample(
            "coordinator", 200, lambda w: Call(_code("prepared"))
        ),
        "POST /api/v1/batches/{code}/submit/": Sample(
            "coordinator", 200, lambda w: Call(_code("prepared"))
        ),
        "POST /api/v1/batches/{code}/clear/": Sample("coordinator", 200, _clear),
        "POST /api/v1/batches/{code}/depart/": Sample(
            "coordinator", 200, lambda w: Call(_code("cleared"))
        ),
        "POST /api/v1/batches/{code}/cross/": Sample("coordinator", 200, _cross),
        "POST /api/v1/batches/{code}/cancel/": Sample(
            "coordinator", 200, lambda w: Call(_code("submitted"), body=dict(CANCEL))
        ),
        "POST /api/v1/batches/{code}/reschedule/": Sample("coordinator", 201, _reschedule),
        "GET /api/v1/batches/{code}/members/": Sample(
            "auditor", 200, lambda w: Call(_code("crossed"))
        ),
        "POST /api/v1/batches/{code}/members/": Sample("coordinator", 201, _members_add),
        "GET /api/v1/batches/{code}/manifest-export/": (
            Sample(
                "hospital_staff",
                200,
                lambda w: Call(_code("cleared"), {"download": "csv"}),
                note="the CSV file",
            ),
            Sample(
                "coordinator",
                200,
                lambda w: Call(_code("cleared"), {"download": "xlsx"}),
                note="the XLSX file",
            ),
        ),
        "GET /api/v1/batches/{code}/members/{member_id}/": Sample(
            "hospital_staff", 200, lambda w: Call(_line("submitted", companion__isnull=False))
        ),
        "DELETE /api/v1/batches/{code}/members/{member_id}/": Sample(
            "coordinator", 204, lambda w: Call(_line("draft", patient__isnull=False))
        ),
        "POST /api/v1/batches/{code}/members/{member_id}/clearance/": Sample(
            "coordinator",
            200,
            lambda w: Call(
                _line("submitted", patient__isnull=False),
                body={"clearance": "rejected", "note": "refused"},
            ),
        ),
        "POST /api/v1/batches/{code}/clearance/": Sample("coordinator", 200, _bulk_clearance),
        "GET /api/v1/batches/{code}/statements/": Sample("hospital_staff", 200, _statements),
        "POST /api/v1/batches/{code}/statements/": Sample(
            "coordinator", 201, lambda w: Call(_code("cancelled"), body=dict(STATEMENT))
        ),
        "GET /api/v1/quotas/": Sample("auditor", 200),
        "POST /api/v1/quotas/": Sample(
            "admin",
            201,
            lambda w: Call(
                body={
                    "date": _today(20),
                    "direction": "exit",
                    "agreed_patients": 40,
                    "agreed_companions": 80,
                }
            ),
        ),
        # Patients and the people around them
        "GET /api/v1/patients/": Sample("hospital_staff", 200),
        "POST /api/v1/patients/": Sample(
            "coordinator", 201, lambda w: Call(body=patient_body(national_id="401999888"))
        ),
        "GET /api/v1/patients/{case_reference}/": Sample(
            "coordinator", 200, _first(Patient, "case_reference", "case_reference")
        ),
        "PATCH /api/v1/patients/{case_reference}/": Sample(
            "coordinator",
            200,
            lambda w: Call(
                {"case_reference": _waiting_patient().case_reference},
                body={"priority": "critical"},
            ),
        ),
        "GET /api/v1/patients/{case_reference}/readiness/": Sample(
            "hospital_staff",
            200,
            _first(Patient, "case_reference", "case_reference", facility__code="al-amal"),
        ),
        "POST /api/v1/patients/{case_reference}/readiness/": Sample(
            "hospital_staff",
            201,
            lambda w: Call(
                {"case_reference": _waiting_patient().case_reference},
                body={"documents_ready": False, "note": "passport missing"},
            ),
        ),
        "POST /api/v1/patients/{case_reference}/status/": Sample(
            "coordinator", 200, _patient_status
        ),
        "POST /api/v1/patients/search/": Sample("coordinator", 200, _search),
        "GET /api/v1/patients/queue-export/": (
            Sample("auditor", 200, lambda w: Call(query={"download": "csv"}), note="the CSV file"),
            Sample(
                "hospital_staff",
                200,
                lambda w: Call(query={"download": "xlsx"}),
                note="the XLSX file",
            ),
        ),
        "GET /api/v1/companions/": Sample("coordinator", 200),
        "POST /api/v1/companions/": Sample(
            "coordinator",
            201,
            lambda w: Call(
                body={
                    "patient": _waiting_patient().case_reference,
                    "name_latin": "Omar Haddad",
                    "name_arabic": "عمر حداد",
                    "national_id": "802345678",
                    "date_of_birth": "1970-01-01",
                    "sex": "male",
                    "relationship": "husband",
                    "is_guardian": False,
                }
            ),
        ),
        "GET /api/v1/companions/{id}/": Sample("hospital_staff", 200, _first(Companion, "id")),
        "PATCH /api/v1/companions/{id}/": Sample(
            "coordinator",
            200,
            lambda w: Call(_first(Companion, "id")(w).path, body={"relationship": "cousin"}),
        ),
        "GET /api/v1/referrals/": Sample("auditor", 200),
        "POST /api/v1/referrals/": Sample(
            "coordinator",
            201,
            lambda w: Call(
                body={
                    "patient": _waiting_patient().case_reference,
                    "number": "MOH-2026-9999",
                    "specialty": "oncology",
                    "referring_facility": "al-amal",
                    "destination_country": "Egypt",
                    "destination_hospital": "Al-Arish General",
                    "issued_on": _today(-10),
                    "expires_on": _today(80),
                }
            ),
        ),
        "GET /api/v1/referrals/{id}/": Sample("coordinator", 200, _first(Referral, "id")),
        "POST /api/v1/referrals/{id}/decision/": Sample("coordinator", 200, _decision),
        "GET /api/v1/returnees/": Sample("auditor", 200),
        "POST /api/v1/returnees/": Sample(
            "coordinator",
            201,
            lambda w: Call(
                body={
                    "name_latin": "Sami Nasser",
                    "name_arabic": "سامي ناصر",
                    "national_id": "901234567",
                    "date_of_birth": "1990-03-03",
                    "sex": "male",
                    "phone": "+201000000000",
                    "left_on": "2024-05-01",
                }
            ),
        ),
        "GET /api/v1/returnees/{reference}/": Sample(
            "coordinator", 200, _first(Returnee, "reference", "reference")
        ),
        "POST /api/v1/returnees/{reference}/withdraw/": Sample(
            "coordinator",
            200,
            lambda w: Call(
                _first(Returnee, "reference", "reference", status="waiting")(w).path,
                body={"reason_text": "stays with family abroad"},
            ),
        ),
        # Facilities, the audit log, notifications
        "GET /api/v1/facilities/": Sample("hospital_staff", 200),
        "GET /api/v1/facilities/{code}/": Sample(
            "hospital_staff", 200, lambda w: Call({"code": "al-amal"})
        ),
        "POST /api/v1/facilities/": Sample(
            "admin",
            201,
            lambda w: Call(
                body={
                    "code": "kuwaiti-field",
                    "name_en": "Kuwaiti Field Hospital",
                    "name_ar": "المستشفى الميداني الكويتي",
                    "kind": "field_hospital",
                    "governorate": "rafah",
                }
            ),
        ),
        "PATCH /api/v1/facilities/{code}/": Sample(
            "admin", 200, lambda w: Call({"code": "european-gaza"}, body={"is_active": False})
        ),
        "GET /api/v1/events/": Sample("auditor", 200, lambda w: Call(query={"action": "cancel"})),
        "GET /api/v1/events/{id}/": Sample("auditor", 200, _first(Event, "id")),
        "POST /api/v1/events/{id}/redact/": Sample("admin", 200, _redact),
        "GET /api/v1/notifications/": Sample("coordinator", 200),
        "GET /api/v1/notifications/{id}/": Sample("hospital_staff", 200, _notification("nurse")),
        "POST /api/v1/notifications/{id}/read/": Sample(
            "hospital_staff", 200, _notification("nurse")
        ),
        "POST /api/v1/notifications/{id}/retry/": Sample(
            "coordinator", 200, _notification("nurse", status="failed")
        ),
        "POST /api/v1/notifications/read-all/": Sample("auditor", 200),
        "GET /api/v1/notifications/unread-count/": Sample("hospital_staff", 200),
        # The auditors' reports
        "GET /api/v1/reports/batches/{code}/timeline/": Sample(
            "auditor", 200, lambda w: Call(_code("crossed"))
        ),
        "GET /api/v1/reports/patients/{case_reference}/journey/": Sample(
            "auditor",
            200,
            lambda w: Call(
                {
                    "case_reference": _batch("crossed")
                    .members.get(patient__isnull=False)
                    .patient.case_reference
                }
            ),
        ),
        **{
            label: samples
            for name in (
                "bumped",
                "cancellation-rate",
                "cancellation-reasons",
                "cancellations",
                "daily",
                "deaths",
                "referral-to-crossing",
            )
            for label, samples in _report(name).items()
        },
    }.items()
}


def test_every_operation_has_a_successful_sample():
    missing = sorted(_labels() - set(SAMPLES))
    assert not missing, (
        f"operations without a successful sample in SAMPLES ({__name__}): {missing}; "
        "add a call that succeeds for each, so its answer is checked against the schema"
    )
    gone = sorted(set(SAMPLES) - _labels())
    assert not gone, f"SAMPLES names operations the schema no longer has: {gone}"


def _cases() -> list:
    return [
        pytest.param(label, index, id=f"{label}{'#' + sample.note if sample.note else ''}")
        for label in sorted(SAMPLES)
        for index, sample in enumerate(SAMPLES[label])
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "index"), _cases())
def test_successful_answer_matches_the_schema(label, index, world, wsgi_in_test_transaction):
    sample = SAMPLES[label][index]
    operation = _schema().find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the schema"
    token = world.tokens.get(sample.role)
    headers = {"Authorization": f"Token {token}"} if token else {}
    headers["Accept-Encoding"] = "identity"  # the schema describes the JSON, not its transport
    with transaction.atomic():
        call = sample.call(world)
        case = operation.Case(
            path_parameters=call.path,
            query=call.query,
            body=call.body,
            media_type="application/json" if call.body is not NOT_SET else None,
        )
        response = case.call(headers=headers)
        try:
            assert response.status_code == sample.status, (
                f"{label} as {sample.role} answered {response.status_code}, not "
                f"{sample.status}: {response.content[:500]!r}"
            )
            case.validate_response(response, checks=CHECKS, headers=headers)
        finally:
            transaction.set_rollback(True)


@pytest.mark.django_db
def test_strict_schema_refuses_an_undocumented_field(world, wsgi_in_test_transaction):
    """The check above would catch a field the schema does not name (a name, say)."""
    label = "GET /api/v1/batches/{code}/members/{member_id}/"
    operation = _schema().find_operation_by_label(label)
    token = world.tokens["coordinator"]
    headers = {"Authorization": f"Token {token}", "Accept-Encoding": "identity"}
    with transaction.atomic():
        case = operation.Case(path_parameters=_line("submitted", patient__isnull=False))
        response = case.call(headers=headers)
        transaction.set_rollback(True)
    case.validate_response(response, checks=CHECKS, headers=headers)
    named = {**json.loads(response.content), "name_latin": "Amal Haddad"}
    altered = Response(
        status_code=response.status_code,
        headers=response.headers,
        content=json.dumps(named).encode(),
        request=response.request,
        elapsed=response.elapsed,
        verify=response.verify,
    )
    with pytest.raises(FailureGroup) as info:
        case.validate_response(altered, checks=CHECKS, headers=headers)
    assert info.group_contains(Failure, match="'name_latin' was unexpected")
