"""The back office in the user's language: its title names the product, a switch in its header
changes the user's language, and what it writes for people (actions, history, facility names)
is translated, with times in the deployment's time zone."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.contrib import admin
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.text import capfirst

from casetracker.accounts.models import Facility
from patients import services
from patients.models import Readiness, ReadinessChange
from tests import factories
from tests.html_forms import read_form

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def _soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def test_admin_title_names_the_product(client, coordinator):
    client.force_login(coordinator)
    page = _soup(client.get(INDEX))
    assert page.select_one("#site-name").get_text(strip=True) == "Evacuation case tracker"
    assert page.title.get_text(strip=True) == "Back office | Evacuation case tracker"
    assert "Django" not in page.select_one("#header").get_text()


def test_admin_in_the_users_language_with_its_title(client, nurse):
    client.force_login(nurse)  # preferred_language="ar"
    page = _soup(client.get(INDEX))
    assert (page.html["lang"], page.html["dir"]) == ("ar", "rtl")
    with translation.override("ar"):
        title = translation.gettext("Evacuation case tracker")
    assert title != "Evacuation case tracker"
    assert page.select_one("#site-name").get_text(strip=True) == title


def test_admin_language_switch_changes_the_users_language(client, nurse):
    client.force_login(nurse)
    url = reverse("admin:patients_patient_changelist")
    page = client.get(url)
    switch = read_form(page, "#header form.lang")
    assert switch.action.endswith(reverse("set_language"))
    assert switch.value("next") == url
    # The current language is shown, not offered.
    assert [value for _name, value, _tag in switch.buttons] == ["en"]

    response = switch.submit(client, button="en")

    assert (response.status_code, response["Location"]) == (302, url)
    nurse.refresh_from_db()
    assert nurse.preferred_language == "en"
    assert _soup(client.get(url)).html["lang"] == "en"


def test_admin_language_switch_on_the_sign_in_page(client):
    page = client.get(reverse("admin:login"))
    switch = read_form(page, "#header form.lang")
    assert {value for _name, value, _tag in switch.buttons} == {"ar"}
    response = switch.submit(client, button="ar")
    assert response.status_code == 302
    assert _soup(client.get(reverse("admin:login"))).html["lang"] == "ar"


def test_admin_pages_have_no_inline_style(client, nurse):
    client.force_login(nurse)
    html = client.get(INDEX).content.decode()
    assert "<style" not in html
    assert "casetracker/admin." in html  # the stylesheet, on every page


def test_admin_readiness_history_in_the_readers_language_and_time(client, nurse, facility):
    patient = factories.PatientFactory(facility=facility, readiness__documents_ready=False)
    services.readiness_update(
        patient=patient, actor=nurse, documents_ready=True, note="passport copied"
    )
    # Setup: the change happened at a known moment, 06:30 UTC (08:30 in Gaza in February).
    moment = dt.datetime(2026, 2, 4, 6, 30, tzinfo=dt.UTC)
    ReadinessChange.objects.filter(patient=patient).update(changed_at=moment)
    client.force_login(nurse)  # Arabic

    page = client.get(reverse("admin:patients_readiness_change", args=[patient.readiness.pk]))

    history = _soup(page).select_one(".field-history .readonly").get_text(" ", strip=True)
    with translation.override("ar"):
        local = formats.localize(timezone.localtime(moment))
        as_utc = formats.localize(timezone.localtime(moment, dt.UTC))
        item = Readiness.label("documents_ready")
        change = translation.gettext("%(item)s: %(new)s (was %(old)s)") % {
            "item": capfirst(item),
            "new": translation.gettext("yes"),
            "old": translation.gettext("no"),
        }
        label = translation.gettext("History (newest first)")
    assert local != as_utc
    assert local in history
    assert as_utc not in history
    assert item != "documents ready"  # the Arabic label, not the English one
    assert change in history
    assert "documents_ready" not in history
    assert "True" not in history and "False" not in history
    assert "passport" not in history  # the note's text stays out (auditors see this page)
    assert label in page.content.decode()


def test_admin_actions_are_described_in_the_users_language():
    """Every action's description is translated when shown, not fixed at import in English."""
    untranslated = []
    for model, model_admin in admin.site._registry.items():
        if not type(model_admin).__module__.startswith(("casetracker", "patients", "batches")):
            continue
        for action in model_admin.actions or ():
            function = getattr(model_admin, action) if isinstance(action, str) else action
            description = getattr(function, "short_description", None)
            if not isinstance(description, Promise):
                untranslated.append(f"{model._meta.label}.{action}: {description!r}")
    assert not untranslated


def test_facility_name_follows_the_language():
    facility = Facility(code="al-amal", name_en="Al-Amal Hospital", name_ar="مستشفى الأمل")
    with translation.override("en"):
        assert (facility.name, str(facility)) == ("Al-Amal Hospital", "al-amal - Al-Amal Hospital")
    with translation.override("ar"):
        assert (facility.name, str(facility)) == ("مستشفى الأمل", "al-amal - مستشفى الأمل")


def test_admin_shows_facility_names_in_arabic(client, nurse, facility):
    client.force_login(nurse)
    factories.PatientFactory(facility=facility)
    patients = client.get(reverse("admin:patients_patient_changelist")).content.decode()
    assert f"{facility.code} - {facility.name_ar}" in patients
