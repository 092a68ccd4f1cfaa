"""Every back-office form, submitted exactly as its rendered HTML holds it: the add form of every
model the admin lets someone add, filled as a user would, and the change form of a row of every
registered model, saved unchanged. A field the page shows that its service refuses (the 500 of
the companion and referral forms) fails here."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from batches.models import Batch, BatchMember, Crossing, CrossingQuota
from casetracker.accounts.models import Facility, User
from casetracker.audit.models import Event
from casetracker.notifications.models import WebhookSubscription
from patients.models import Companion, Patient, Readiness, Referral, Returnee
from tests.html_forms import read_form

from .helpers import events_since, pick_from_autocomplete

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)


def _label(model) -> str:
    return model._meta.label_lower


def _url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def _form(response, model):
    # The model's own form: a batch page also holds its steps' forms, every page the header's.
    return read_form(response, f"#{model._meta.model_name}_form")


# --- Adding -----------------------------------------------------------------------------------


@dataclass
class AddSample:
    """What a user types or chooses on a model's add page."""

    values: Callable  # world -> {field: value} for the visible fields
    picks: Callable = lambda w: {}  # world -> {field: (what the user types, row picked)}
    saved: Callable = lambda w: None  # world -> the row the save made, or None
    event: str | None = None  # the action of the Event its service writes, if any


def _today(days: int = 0) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


PERSON = {
    "name_latin": "Rami Saleh",
    "name_arabic": "رامي صالح",
    "date_of_birth": "1970-06-01",
    "sex": "male",
}

ADD_SAMPLES: dict[str, AddSample] = {
    "auth.group": AddSample(
        values=lambda w: {"name": "night shift"},
        saved=lambda w: Group.objects.get(name="night shift"),
    ),
    "authtoken.tokenproxy": AddSample(
        values=lambda w: {"user": User.objects.get(username="auditor").pk},
        saved=lambda w: Token.objects.get(user__username="auditor"),
    ),
    "accounts.facility": AddSample(
        values=lambda w: {
            "code": "european-gaza",
            "name_en": "European Gaza Hospital",
            "name_ar": "مستشفى غزة الأوروبي",
            "kind": "hospital",
            "governorate": "khan_younis",
        },
        saved=lambda w: Facility.objects.get(code="european-gaza"),
        event="create",
    ),
    "accounts.user": AddSample(
        values=lambda w: {
            "username": "new-nurse",
            "password1": "Lantern-Orchard-Basalt-2026",
            "password2": "Lantern-Orchard-Basalt-2026",
        },
        saved=lambda w: User.objects.get(username="new-nurse"),
    ),
    "notifications.webhooksubscription": AddSample(
        values=lambda w: {
            "name": "Red Crescent dispatch",
            "url": "https://dispatch.example/hooks",
            "event_types": ["batch.cancel"],
        },
        saved=lambda w: WebhookSubscription.objects.get(name="Red Crescent dispatch"),
    ),
    "patients.patient": AddSample(
        values=lambda w: {
            **PERSON,
            "national_id": "401111222",
            "facility": w.facility.pk,
            "priority": "critical",
            "clinical_category": "cardiac",
        },
        saved=lambda w: Patient.objects.get(name_latin="Rami Saleh"),
        event="register",
    ),
    "patients.companion": AddSample(
        values=lambda w: {**PERSON, "national_id": "801111222", "relationship": "father"},
        picks=lambda w: {"patient": (w.patient.case_reference, w.patient)},
        saved=lambda w: Companion.objects.get(patient=w.patient, relationship="father"),
        event="companion_add",
    ),
    "patients.referral": AddSample(
        values=lambda w: {
            "number": "MOH-2026-0042",
            "specialty": "cardiology",
            "destination_country": "Egypt",
            "issued_on": _today(-3),
            "expires_on": _today(60),
        },
        picks=lambda w: {
            "patient": (w.patient.case_reference, w.patient),
            "referring_facility": (w.facility.code, w.facility),
        },
        saved=lambda w: Referral.objects.get(number="MOH-2026-0042"),
        event="create",
    ),
    "patients.returnee": AddSample(
        values=lambda w: {**PERSON, "national_id": "901111222", "left_on": "2024-03-01"},
        saved=lambda w: Returnee.objects.get(name_latin="Rami Saleh"),
        event="register",
    ),
    "batches.batch": AddSample(
        values=lambda w: {
            "direction": "exit",
            "planned_date": _today(2),
            "staging_facility": w.facility.pk,
        },
        saved=lambda w: Batch.objects.get(planned_date=timezone.localdate() + timedelta(2)),
        event="create",
    ),
    "batches.batchmember": AddSample(
        values=lambda w: {},
        picks=lambda w: {
            "batch": (w.batch.code, w.batch),
            "patient": (w.patient.case_reference, w.patient),
        },
        saved=lambda w: BatchMember.objects.get(batch=w.batch, patient=w.patient),
        event="add_member",
    ),
    "batches.crossingquota": AddSample(
        # The add page is an exit quota's (a link leads to a return quota's, see
        # tests/batches/test_crossings.py).
        values=lambda w: {
            "date": _today(3),
            "agreed_patients": 20,
            "agreed_companions": 40,
        },
        saved=lambda w: CrossingQuota.objects.get(date=timezone.localdate() + timedelta(3)),
        event="create",
    ),
    "batches.crossing": AddSample(
        values=lambda w: {
            "code": "kerem-shalom",
            "prefix": "KSH",
            "name_en": "Kerem Shalom",
            "name_ar": "كرم أبو سالم",
        },
        saved=lambda w: Crossing.objects.get(code="kerem-shalom"),
        event="create",
    ),
}


@pytest.mark.parametrize("model", REGISTERED, ids=_label)
def test_admin_add_form_as_rendered_saves(client, admin_user, world, model):
    client.force_login(admin_user)
    page = client.get(_url(model, "add"))
    if page.status_code == 403:
        assert _label(model) not in ADD_SAMPLES, f"{_label(model)}: its add page is refused"
        pytest.skip("nobody may add these here")
    assert page.status_code == 200
    sample = ADD_SAMPLES.get(_label(model))
    if sample is None:
        pytest.fail(
            f"The back office lets an admin add {_label(model)}: add what a user types on its "
            f"add page to ADD_SAMPLES in {__name__}."
        )
    form = _form(page, model)
    for name, (term, row) in sample.picks(world).items():
        pick_from_autocomplete(client, form, name, term=term, row=row)
    form.fill(**sample.values(world))
    before = Event.objects.count()

    response = form.submit(client, button="_save")

    assert response.status_code == 302, _errors(response)
    row = sample.saved(world)
    assert row is not None
    if sample.event:
        events = [e for e in events_since(before) if e.action == sample.event]
        assert len(events) == 1, events_since(before)
        assert (events[0].channel, events[0].actor) == ("admin", admin_user)


def _errors(response) -> str:
    """What the page says is wrong, to read in a failure."""
    context = response.context or {}
    form = context.get("adminform")
    if form is not None:
        return f"{response.status_code}: {form.form.errors.as_text()}"
    return f"{response.status_code}: {response.content[:2000]!r}"


# --- Changing ---------------------------------------------------------------------------------


# The row of each model whose change page is opened; its id in the admin's URL.
ROWS: dict[str, Callable] = {
    "auth.group": lambda w: Group.objects.get(name="coordinator").pk,
    # The token admin finds a token by its user's id.
    "authtoken.tokenproxy": lambda w: w.token.user_id,
    "axes.accessattempt": lambda w: w.attempt.pk,
    "axes.accesslog": lambda w: w.access_log.pk,
    "axes.accessfailurelog": lambda w: w.failure_log.pk,
    "accounts.facility": lambda w: w.facility.pk,
    "accounts.user": lambda w: User.objects.get(username="nurse").pk,
    "audit.event": lambda w: Event.objects.order_by("pk").first().pk,
    "notifications.notification": lambda w: w.notification.pk,
    "notifications.webhooksubscription": lambda w: w.webhook.pk,
    "patients.patient": lambda w: w.on_batch.pk,
    "patients.companion": lambda w: w.companion.pk,
    "patients.referral": lambda w: w.referral.pk,
    "patients.readiness": lambda w: w.on_batch.readiness.pk,
    "patients.returnee": lambda w: w.returnee.pk,
    "batches.batch": lambda w: w.batch.pk,
    "batches.batchmember": lambda w: w.line.pk,
    "batches.crossingquota": lambda w: w.quota.pk,
    "batches.crossing": lambda w: Crossing.objects.get(code="rafah").pk,
}

# Only what a user can change has a save button: these pages show none.
READ_ONLY = {
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "audit.event",
    "notifications.notification",
    "patients.referral",  # a document once issued; its decision is an action of the list
    "patients.returnee",
    "batches.batch",  # changes by its steps only
    "batches.batchmember",
}


@pytest.mark.parametrize("model", REGISTERED, ids=_label)
def test_admin_change_form_saved_unchanged_changes_nothing(client, admin_user, world, model):
    if _label(model) not in ROWS:
        pytest.fail(
            f"{_label(model)} is in the back office: add the row whose change page to open to "
            f"ROWS in {__name__}."
        )
    client.force_login(admin_user)
    url = _url(model, "change", ROWS[_label(model)](world))
    page = client.get(url)
    assert page.status_code == 200
    form = _form(page, model)
    save_buttons = [name for name, _value, _tag in form.buttons if name.startswith("_save")]
    before = Event.objects.count()

    if _label(model) in READ_ONLY:
        assert save_buttons == [], f"{url} offers {save_buttons} with nothing to change"
        # Even posted by hand, the page changes nothing and is no error.
        response = client.post(url, form.data())
        assert response.status_code in (302, 403)
    else:
        assert "_save" in save_buttons
        response = form.submit(client, button="_save")
        assert response.status_code == 302, _errors(response)

    assert events_since(before) == []


def test_admin_batch_page_keeps_its_steps_without_a_save_button(client, coordinator, world):
    client.force_login(coordinator)
    url = _url(Batch, "change", world.batch.pk)
    page = client.get(url)
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert reverse("admin:batches_batch_transition", args=[world.batch.pk, "prepare"]) in html

    response = client.post(url, _form(page, Batch).data(), follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Nothing on this page can be changed here."]
    assert "changed successfully" not in response.content.decode()


def test_admin_companion_add_names_the_patient_and_keeps_the_creation_time(
    client, coordinator, world
):
    """The form that answered 500: `created_at` is no longer on it, the service sets it."""
    client.force_login(coordinator)
    page = client.get(_url(Companion, "add"))
    form = _form(page, Companion)
    assert "created_at" not in form.names()
    pick_from_autocomplete(
        client, form, "patient", term=world.patient.case_reference, row=world.patient
    )
    form.fill(**PERSON, national_id="801111333", relationship="mother", is_guardian=True)
    response = form.submit(client, button="_save")
    assert response.status_code == 302
    companion = Companion.objects.get(patient=world.patient)
    assert companion.is_guardian
    assert timezone.now() - companion.created_at < timedelta(minutes=1)


def test_admin_referral_add_page_has_no_creation_time(client, coordinator):
    client.force_login(coordinator)
    form = _form(client.get(_url(Referral, "add")), Referral)
    assert "created_at" not in form.names()
    assert "status" not in form.names()


def test_admin_readiness_change_saved_writes_history(client, nurse, world):
    """A real change on a form saved as rendered: the service records it, once."""
    patient = world.on_batch
    client.force_login(nurse)
    page = client.get(_url(Readiness, "change", patient.readiness.pk))
    form = _form(page, Readiness)
    form.fill(documents_ready=False)
    before = Event.objects.count()
    response = form.submit(client, button="_save")
    assert response.status_code == 302
    assert [e.action for e in events_since(before)] == ["readiness_update"]
    assert patient.readiness_history.get().new["documents_ready"] is False


def test_admin_auditor_opens_every_change_page_read_only(client, auditor, world):
    client.force_login(auditor)
    for model in REGISTERED:
        url = _url(model, "change", ROWS[_label(model)](world))
        page = client.get(url)
        if page.status_code in (403, 404):
            continue
        assert page.status_code == 200, url
        assert 'name="_save"' not in page.content.decode(), url
