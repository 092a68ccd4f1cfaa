"""Input limits: every text field has a maximum length, and every write path enforces it before
anything is written: the API answers 400 naming the field, the services raise a ValidationError
naming it, and the database refuses what slipped past both."""

import datetime as dt

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, models, transaction
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from rest_framework import serializers

from batches import services as batch_services
from batches.api.serializers import CancelSerializer, ClearanceSerializer
from batches.models import Batch, BatchMember, CrossingQuota
from casetracker.accounts.models import User
from casetracker.accounts.passwords import PASSWORD_MAX_LENGTH
from casetracker.accounts.roles import Role
from casetracker.accounts.services import user_create
from casetracker.api.views import TokenView
from casetracker.audit.models import Event
from casetracker.notifications import channels, tasks
from casetracker.notifications.models import Notification
from patients.api.serializers import (
    CompanionSerializer,
    CompanionUpdateSerializer,
    PatientSerializer,
    PatientStatusSerializer,
    ReadinessSerializer,
    ReasonSerializer,
    ReferralSerializer,
    ReturneeSerializer,
)
from tests import factories
from tests.api_helpers import patient_body
from tests.service_helpers import advance, notify_event, refused, world

PROJECT_APPS = ("accounts", "audit", "notifications", "patients", "batches")


def _text_fields():
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.get_fields():
                if isinstance(field, models.CharField | models.TextField):
                    yield f"{model._meta.label}.{field.name}", model, field


TEXT_FIELDS = sorted(_text_fields(), key=lambda item: item[0])


@pytest.mark.parametrize(
    ("model", "field"),
    [(model, field) for _, model, field in TEXT_FIELDS],
    ids=[name for name, _, _ in TEXT_FIELDS],
)
def test_models_every_text_field_has_a_max_length(model, field):
    assert field.max_length, f"{model._meta.label}.{field.name} has no max_length"


def _has_length_check(model, field) -> bool:
    for constraint in model._meta.constraints:
        condition = getattr(constraint, "condition", None)
        if (
            isinstance(condition, LessThanOrEqual)
            and isinstance(condition.lhs, Length)
            and condition.lhs.source_expressions[0].name == field.name
            and condition.rhs == field.max_length
        ):
            return True
    return False


TEXT_COLUMNS = [item for item in TEXT_FIELDS if isinstance(item[2], models.TextField)]


@pytest.mark.parametrize(
    ("model", "field"),
    [(model, field) for _, model, field in TEXT_COLUMNS],
    ids=[name for name, _, _ in TEXT_COLUMNS],
)
def test_models_every_text_column_has_a_database_length_check(model, field):
    # A CharField is a varchar(n) on PostgreSQL; a TextField is `text`, unlimited.
    assert _has_length_check(model, field), f"{model._meta.label}.{field.name}: no length check"


# --- The database refuses -------------------------------------------------------------------


def _cancelled_batch():
    batch = factories.BatchFactory()
    Batch.objects.filter(pk=batch.pk).update(
        status="cancelled",
        cancel_reason_code="security",
        cancel_reason_text="closed",
        cancel_source="who",
        cancelled_at=timezone.now(),
    )
    return Batch, batch.pk, "cancel_reason_text"


def _failed_notification():
    [row] = notify_event([factories.UserFactory(email="")])
    return Notification, row.pk, "last_error"


@pytest.mark.parametrize("make", [_cancelled_batch, _failed_notification])
def test_database_refuses_over_long_text_that_skipped_validation(db, make):
    model, pk, name = make()
    limit = model._meta.get_field(name).max_length
    model.objects.filter(pk=pk).update(**{name: "x" * limit})  # the limit itself is fine
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=pk).update(**{name: "x" * (limit + 1)})
    assert len(getattr(model.objects.get(pk=pk), name)) == limit


@pytest.mark.postgres
def test_postgres_raises_data_error_for_an_over_long_varchar(require_postgres):
    """Why the services check first: PostgreSQL's own refusal names no field (a 500)."""
    with pytest.raises(DataError), transaction.atomic():
        factories.FacilityFactory(code="x" * 33)


# --- Services -------------------------------------------------------------------------------


@pytest.fixture
def exit_batch(facility, coordinator, ready_patient, quota):
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch


def _message_dict(info) -> dict:
    return info.value.message_dict


def test_batch_cancel_over_long_reason_text_is_refused_naming_it(exit_batch, coordinator):
    with refused(ValidationError) as info:
        batch_services.batch_cancel(
            batch=exit_batch,
            actor=coordinator,
            reason_code="other",
            reason_text="x" * 2001,
            source="who",
        )
    assert "2000" in _message_dict(info)["reason_text"][0]


def test_batch_cancel_reason_text_at_the_limit_is_kept(exit_batch, coordinator):
    batch = batch_services.batch_cancel(
        batch=exit_batch,
        actor=coordinator,
        reason_code="other",
        reason_text="x" * 2000,
        source="who",
    )
    batch.refresh_from_db()
    assert len(batch.cancel_reason_text) == 2000
    assert len(Event.objects.get(subject_ref=batch.code, action="cancel").reason_text) == 2000


def test_batch_record_clearance_over_long_note_is_refused_naming_it(exit_batch, coordinator):
    batch = advance(exit_batch, "submitted", coordinator)
    line = batch.members.get(patient__isnull=False)
    with refused(ValidationError) as info:
        batch_services.batch_record_clearance(
            batch=batch, member=line, clearance="approved", actor=coordinator, note="x" * 501
        )
    assert "500" in _message_dict(info)["note"][0]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("crossing", {"crossing": "x" * 50}), ("direction", {"direction": "x" * 50})],
)
def test_quota_set_unknown_crossing_or_direction_is_refused_naming_it(db, field, kwargs):
    values = {
        "actor": None,
        "crossing": "rafah",
        "day": dt.date(2026, 2, 4),
        "direction": "exit",
        "agreed_patients": 50,
        "agreed_companions": 100,
        **kwargs,
    }
    with pytest.raises(ValidationError) as info:
        batch_services.quota_set(**values)
    assert field in _message_dict(info)
    assert not CrossingQuota.objects.exists()


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("username", {"username": "u" * 151}),
        ("email", {"email": "a" * 250 + "@example.org"}),
        ("password", {"password": "p" * (PASSWORD_MAX_LENGTH + 1)}),
    ],
)
def test_user_create_over_long_input_is_refused_naming_it(db, field, overrides):
    values = {"username": "nurse-2", "password": "a long and unusual passphrase", **overrides}
    with pytest.raises(ValidationError) as info:
        user_create(role=Role.COORDINATOR, **values)
    assert field in _message_dict(info)
    assert not User.objects.exists()


def test_user_create_password_at_the_limit_is_accepted(db):
    user = user_create(
        username="nurse-2", password="Zq9!" * (PASSWORD_MAX_LENGTH // 4), role=Role.COORDINATOR
    )
    assert user.check_password("Zq9!" * (PASSWORD_MAX_LENGTH // 4))


def test_deliver_notification_keeps_an_over_long_error_within_the_limit(db, monkeypatch):
    [row] = notify_event([factories.UserFactory(email="")])

    def fail(notification):
        raise channels.PermanentDeliveryError("provider said " + "x" * 5000)

    monkeypatch.setitem(channels.CHANNELS, "inbox", fail)
    tasks.deliver_notification.apply(args=[row.pk])
    row.refresh_from_db()
    assert row.status == "failed"
    assert len(row.last_error) == 2000
    assert row.last_error.startswith("PermanentDeliveryError: provider said x")


def test_deliver_notification_cuts_an_over_long_provider_id(db, monkeypatch):
    [row] = notify_event([factories.UserFactory(email="")])
    monkeypatch.setitem(channels.CHANNELS, "inbox", lambda notification: "id-" + "9" * 500)
    tasks.deliver_notification.apply(args=[row.pk])
    row.refresh_from_db()
    assert (row.status, len(row.provider_message_id)) == ("sent", 200)


# --- The API --------------------------------------------------------------------------------
# Every write endpoint that takes text: each text field of its input, one character too long,
# answers 400 naming that field, and nothing at all is written (no row, no event).


def _person_body():
    return {
        "name_latin": "Omar Haddad",
        "name_arabic": "عمر حداد",
        "national_id": "801234567",
        "date_of_birth": "1980-01-01",
        "sex": "male",
    }


def _patient_create(ctx):
    return "post", "/api/v1/patients/", patient_body()


def _patient_update(ctx):
    return "patch", f"/api/v1/patients/{ctx['patient'].case_reference}/", {}


def _patient_status(ctx):
    ref = ctx["patient"].case_reference
    return "post", f"/api/v1/patients/{ref}/status/", {"status": "withdrawn"}


def _readiness(ctx):
    ref = ctx["patient"].case_reference
    return "post", f"/api/v1/patients/{ref}/readiness/", {"fit_to_travel": True}


def _companion_create(ctx):
    body = {**_person_body(), "patient": ctx["patient"].case_reference, "relationship": "son"}
    return "post", "/api/v1/companions/", body


def _companion_update(ctx):
    return "patch", f"/api/v1/companions/{ctx['companion'].pk}/", {}


def _referral_create(ctx):
    body = {
        "patient": ctx["patient"].case_reference,
        "number": "REF-LIMIT-1",
        "specialty": "oncology",
        "referring_facility": "al-amal",
        "destination_country": "Egypt",
        "destination_hospital": "Al-Arish General",
        "issued_on": "2026-01-10",
        "expires_on": "2026-12-31",
    }
    return "post", "/api/v1/referrals/", body


def _returnee_create(ctx):
    return "post", "/api/v1/returnees/", {**_person_body(), "left_on": "2024-05-01"}


def _returnee_withdraw(ctx):
    return "post", f"/api/v1/returnees/{ctx['returnee'].reference}/withdraw/", {}


def _batch_cancel(ctx):
    body = {"reason_code": "other", "source": "who", "reason_text": "closed"}
    return "post", f"/api/v1/batches/{ctx['batch'].code}/cancel/", body


def _batch_clearance(ctx):
    batch, line = ctx["submitted"]
    url = f"/api/v1/batches/{batch.code}/members/{line.pk}/clearance/"
    return "post", url, {"clearance": "approved"}


def _token(ctx):
    return "post", "/api/v1/auth/token/", {"username": "coordinator", "password": "wrong"}


ENDPOINTS = [
    ("patient-create", _patient_create, PatientSerializer),
    ("patient-update", _patient_update, PatientSerializer),
    ("patient-status", _patient_status, PatientStatusSerializer),
    ("patient-readiness", _readiness, ReadinessSerializer),
    ("companion-create", _companion_create, CompanionSerializer),
    ("companion-update", _companion_update, CompanionUpdateSerializer),
    ("referral-create", _referral_create, ReferralSerializer),
    ("returnee-create", _returnee_create, ReturneeSerializer),
    ("returnee-withdraw", _returnee_withdraw, ReasonSerializer),
    ("batch-cancel", _batch_cancel, CancelSerializer),
    ("batch-clearance", _batch_clearance, ClearanceSerializer),
    ("auth-token", _token, TokenView.serializer_class),
]


def _writable_text_fields(serializer_class):
    for name, field in serializer_class().fields.items():
        if isinstance(field, serializers.CharField) and not field.read_only:
            yield name, field


API_CASES = [
    pytest.param(make, name, field.max_length, id=f"{endpoint}-{name}")
    for endpoint, make, serializer_class in ENDPOINTS
    for name, field in _writable_text_fields(serializer_class)
]


@pytest.fixture
def ctx(facility, coordinator, ready_patient, quota):
    patient = ready_patient()
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    submitted = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_add_patient(batch=submitted, patient=ready_patient(), actor=coordinator)
    submitted = batch_services.batch_prepare(batch=submitted, actor=coordinator)
    submitted = batch_services.batch_submit(batch=submitted, actor=coordinator)
    return {
        "patient": patient,
        "companion": factories.CompanionFactory(patient=patient),
        "returnee": factories.ReturneeFactory(),
        "batch": batch,
        "submitted": (submitted, BatchMember.objects.get(batch=submitted)),
    }


@pytest.mark.parametrize(("make", "field", "limit"), API_CASES)
def test_api_over_long_text_is_400_naming_the_field(api, coordinator, ctx, make, field, limit):
    assert limit, f"{field} accepts text of any length"
    method, url, body = make(ctx)
    before = world()
    events = Event.objects.count()

    response = getattr(api(coordinator), method)(url, {**body, field: "7" * (limit + 1)}, "json")

    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert any(str(limit) in message for message in errors[field]), errors[field]
    assert world() == before
    assert Event.objects.count() == events


# References to other rows (slugs, case references): an unknown or over-long one is "does not
# exist", a 400, and is never stored.
REFERENCE_FIELDS = {
    "patient",
    "returnee",
    "facility",
    "staging_facility",
    "referring_facility",
    "crossing",
}


def _unbounded_strings(schema: dict, node: dict, path: str):
    components = schema["components"]["schemas"]
    while "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[1]]
    for sub in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
        yield from _unbounded_strings(schema, sub, path)
    if node.get("type") == "object":
        for name, prop in node.get("properties", {}).items():
            yield from _unbounded_strings(schema, prop, f"{path}.{name}")
    elif node.get("type") == "array":
        yield from _unbounded_strings(schema, node.get("items", {}), f"{path}[]")
    elif (
        node.get("type") == "string"
        and not {"enum", "format", "maxLength"} & set(node)
        and path.rsplit(".", 1)[-1] not in REFERENCE_FIELDS
    ):
        yield path


def test_api_schema_every_text_input_has_a_max_length(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = [
        f"{method.upper()} {url} {path}"
        for url, operations in schema["paths"].items()
        for method, operation in operations.items()
        for content in operation.get("requestBody", {}).get("content", {}).values()
        for path in _unbounded_strings(schema, content["schema"], "body")
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (_patient_create, "facility"),
        (_referral_create, "referring_facility"),
        (_referral_create, "patient"),
    ],
)
def test_api_over_long_reference_is_400_naming_the_field(api, coordinator, ctx, make, field):
    _, url, body = make(ctx)
    before = world()

    response = api(coordinator).post(url, {**body, field: "x" * 5000}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert world() == before


def test_api_text_limit_counts_the_spaces_that_are_trimmed(api, coordinator):
    returnee = factories.ReturneeFactory()
    body = {"reason_text": " " + "x" * 2000}
    response = api(coordinator).post(
        f"/api/v1/returnees/{returnee.reference}/withdraw/", body, format="json"
    )
    assert response.status_code == 400
    assert "reason_text" in response.json()
    returnee.refresh_from_db()
    assert returnee.status != "withdrawn"
