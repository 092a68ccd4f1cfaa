"""Facilities and admins (issue 11): `facility_create` and `facility_update` with their events,
`manage.py addfacility`, the admin-only facilities API, the back office's facility form, and
`adduser --role admin`."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from casetracker.accounts.models import Facility, User
from casetracker.accounts.roles import Role, user_role
from casetracker.accounts.services import facility_create, facility_update
from casetracker.audit.models import Event
from tests.html_forms import read_form
from tests.service_helpers import assert_event, events_since, mark, the_event_since

pytestmark = pytest.mark.django_db

FACILITIES = "/api/v1/facilities/"
EUROPEAN = {
    "code": "european-gaza",
    "name_en": "European Gaza Hospital",
    "name_ar": "المستشفى الأوروبي",
    "kind": "hospital",
    "governorate": "khan_younis",
}


# --- The services ------------------------------------------------------------------------------


def test_facility_create_writes_a_create_event(admin_user):
    since = mark()
    facility = facility_create(actor=admin_user, **{**EUROPEAN, "name_en": " European  Gaza "})
    assert (facility.code, facility.name_en, facility.is_active) == (
        "european-gaza",
        "European Gaza",
        True,
    )
    assert_event(
        the_event_since(since),
        subject_type="facility",
        subject_ref="european-gaza",
        action="create",
        actor=admin_user,
        subject_facility_id=facility.pk,
        details={"kind": "hospital", "governorate": "khan_younis"},
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "European Gaza"),
        ("code", "x" * 33),
        ("name_en", "  "),
        ("name_ar", "مستشفى\u202e"),  # a direction override
        ("kind", "clinic"),
        ("governorate", "sinai"),
    ],
)
def test_facility_create_refuses_naming_the_field(admin_user, field, value):
    with pytest.raises(ValidationError) as info:
        facility_create(actor=admin_user, **{**EUROPEAN, field: value})
    assert field in info.value.message_dict
    assert not Facility.objects.exists()
    assert not Event.objects.exists()


def test_facility_create_refuses_a_code_in_use(admin_user, facility):
    with pytest.raises(ValidationError) as info:
        facility_create(actor=admin_user, **{**EUROPEAN, "code": facility.code})
    assert "already exists" in info.value.message_dict["code"][0]


def test_facility_update_records_the_fields_that_changed(admin_user, facility):
    since = mark()
    facility_update(facility=facility, actor=admin_user, name_en="Al-Amal", is_active=False)
    event = the_event_since(since)
    assert (event.action, event.details["fields"]) == ("update", ["is_active", "name_en"])
    facility.refresh_from_db()
    assert (facility.name_en, facility.is_active) == ("Al-Amal", False)
    since = mark()
    facility_update(facility=facility, actor=admin_user, name_en="Al-Amal")
    assert events_since(since) == []
    with pytest.raises(ValidationError) as info:
        facility_update(facility=facility, actor=admin_user, code="elsewhere")
    assert set(info.value.message_dict) == {"code"}


# --- manage.py addfacility ---------------------------------------------------------------------


def test_addfacility_creates_the_facility_with_an_event():
    out = io.StringIO()
    call_command(
        "addfacility",
        "european-gaza",
        "--name-en",
        "European Gaza Hospital",
        "--name-ar",
        "المستشفى الأوروبي",
        "--kind",
        "hospital",
        "--governorate",
        "khan_younis",
        stdout=out,
    )
    facility = Facility.objects.get(code="european-gaza")
    assert facility.name_ar == "المستشفى الأوروبي"
    assert "Created facility european-gaza" in out.getvalue()
    event = Event.objects.get(subject_type="facility")
    assert (event.action, event.channel, event.actor, event.actor_role) == (
        "create",
        "command",
        None,
        "system",
    )


def test_addfacility_refuses_naming_the_field(facility):
    arguments = ["--name-en", "X", "--name-ar", "س", "--kind", "hospital"]
    with pytest.raises(CommandError, match=r"^code: a facility with the code al-amal"):
        call_command("addfacility", "al-amal", *arguments, "--governorate", "gaza")
    with pytest.raises(CommandError, match=r"^code: lower-case letters"):
        call_command("addfacility", "Al Amal", *arguments, "--governorate", "gaza")
    with pytest.raises(CommandError, match="governorate"):
        call_command("addfacility", "new-one", *arguments, "--governorate", "sinai")
    assert list(Facility.objects.values_list("code", flat=True)) == ["al-amal"]


# --- The API -----------------------------------------------------------------------------------


def test_facilities_api_admin_adds_a_facility(api, admin_user):
    response = api(admin_user).post(FACILITIES, EUROPEAN, format="json")
    assert response.status_code == 201
    assert response.json() == {**EUROPEAN, "is_active": True}
    event = Event.objects.get(subject_type="facility")
    assert (event.action, event.channel, event.actor) == ("create", "api", admin_user)


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor"])
def test_facilities_api_writes_are_refused_to_everyone_else(api, request, who, facility):
    client = api(request.getfixturevalue(who))
    assert client.post(FACILITIES, EUROPEAN, format="json").status_code == 403
    url = f"{FACILITIES}{facility.code}/"
    assert client.patch(url, {"name_en": "Elsewhere"}, format="json").status_code == 403
    assert client.get(url).status_code == 200
    facility.refresh_from_db()
    assert facility.name_en != "Elsewhere"
    assert not Event.objects.exists()


def test_facilities_api_admin_changes_a_facility_but_not_its_code(api, admin_user, facility):
    url = f"{FACILITIES}{facility.code}/"
    response = api(admin_user).patch(
        url, {"name_en": "Al-Amal Hospital", "code": "moved", "is_active": False}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["code"], response.json()["name_en"]) == ("al-amal", "Al-Amal Hospital")
    facility.refresh_from_db()
    assert (facility.code, facility.is_active) == ("al-amal", False)
    event = Event.objects.get(subject_type="facility")
    assert (event.action, event.details["fields"]) == ("update", ["is_active", "name_en"])
    assert api(admin_user).put(url, EUROPEAN, format="json").status_code == 405
    assert api(admin_user).delete(url).status_code == 405


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "Not A Slug"),
        ("kind", "clinic"),
        ("governorate", "sinai"),
        ("name_en", ""),
        ("name_ar", 5),
        ("is_active", "yes"),
    ],
)
def test_facilities_api_invalid_field_is_400(api, admin_user, field, value):
    response = api(admin_user).post(FACILITIES, {**EUROPEAN, field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Facility.objects.exists()


def test_facilities_api_code_in_use_is_400(api, admin_user, facility):
    response = api(admin_user).post(FACILITIES, {**EUROPEAN, "code": "al-amal"}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()


# --- The back office ---------------------------------------------------------------------------


def test_admin_facility_form_names_what_the_service_refuses(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:accounts_facility_add"))
    form = read_form(page, "#facility_form")
    form.fill(**{**EUROPEAN, "code": "European_Gaza"})
    response = form.submit(client, button="_save")
    assert response.status_code == 200  # a form error, not a server error
    assert "lower-case letters, digits and dashes" in response.content.decode()
    assert not Facility.objects.exists()


def test_admin_facility_change_goes_through_the_service(client, admin_user, facility):
    client.force_login(admin_user)
    url = reverse("admin:accounts_facility_change", args=[facility.pk])
    form = read_form(client.get(url), "#facility_form")
    assert "code" not in form.controls  # never changes
    form.fill(name_en="Al-Amal Hospital")
    assert form.submit(client, button="_save").status_code == 302
    event = Event.objects.get(subject_type="facility")
    assert (event.action, event.channel, event.details["fields"]) == (
        "update",
        "admin",
        ["name_en"],
    )


# --- adduser --role admin ----------------------------------------------------------------------


def test_adduser_role_admin_creates_a_superuser(monkeypatch, client):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-unusual-passphrase-41\n"))
    out = io.StringIO()
    call_command("adduser", "layla", "--role", "admin", "--password-stdin", stdout=out)
    assert "Created layla (admin)" in out.getvalue()
    user = User.objects.get(username="layla")
    assert user.is_superuser and user.is_staff and user.is_active
    assert not user.groups.exists() and user.facility is None
    assert user_role(user) is Role.ADMIN
    assert user.check_password("a-long-unusual-passphrase-41")
    # An admin may add facilities.
    client.force_login(user)
    assert client.get(reverse("admin:accounts_facility_add")).status_code == 200


def test_adduser_role_admin_refuses_a_weak_password(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("password\n"))
    with pytest.raises(CommandError, match="password"):
        call_command("adduser", "weak-admin", "--role", "admin", "--password-stdin")
    assert not User.objects.filter(username="weak-admin").exists()
