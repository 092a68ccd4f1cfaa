"""Every form of every page, submitted exactly as its HTML renders it (DESIGN section 5,
convention 8): whatever a user can send from a page, unchanged, is answered without a server
error. A form with a required field still empty is what the browser refuses to send: that is
checked instead (the user has to state it). The screens' own tests fill the forms in; this walk
makes sure no form anywhere answers 500 to what it shows."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from tests import factories
from tests.e2e import pages
from tests.html_forms import all_forms, read_form
from tests.imports.files import case_row, csv_bytes

# Forms that end the session or change who is signed in: submitting them would end the walk.
SESSION_ACTIONS = ("/logout/", "/account/sign-out/", "/i18n/setlang/")


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        facility = factories.FacilityFactory(code="forms-staging", kind="staging")
        coordinator = factories.UserFactory(username="forms-coordinator", role="coordinator")
        nurse = factories.UserFactory(
            username="forms-nurse", role="hospital_staff", facility=facility
        )
        admin = factories.UserFactory(username="forms-admin", is_superuser=True)
        scenario = pages.build_site(coordinator=coordinator, facility=facility)
        yield scenario, {"coordinator": coordinator, "nurse": nurse, "admin": admin}
        transaction.set_rollback(True)


def _visits(scenario, who: str):
    if who == "admin":
        return pages.admin_pages(scenario)
    if who == "nurse":
        return pages.nurse_pages(scenario)
    return pages.coordinator_pages(scenario)


@pytest.mark.parametrize("who", ["coordinator", "nurse", "admin"])
def test_every_form_submitted_as_rendered_answers_without_error(client, db, site, who):
    scenario, users = site
    client.force_login(users[who])
    submitted = 0
    for visit in _visits(scenario, who):
        page = client.get(visit.url)
        if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
            continue
        for form in all_forms(page):
            if any(form.action.split("?")[0].endswith(a) for a in SESSION_ACTIONS):
                continue
            if form.missing_required():
                continue  # the browser would not send it: the user must state something
            for name, value, _tag in form.buttons or [("", "", None)]:
                # Each button of the form, pressed alone; every write rolled back.
                with transaction.atomic():
                    response = form.submit(client, button=value or name or None)
                    transaction.set_rollback(True)
                submitted += 1
                assert response.status_code < 500, (
                    f"{visit.url}: form to {form.action} pressed {name}={value!r} "
                    f"answered {response.status_code}"
                )
    assert submitted > 0, "no form was sent: the walk saw no page"


def test_import_preview_forms_submitted_as_rendered_answer_without_error(client, coordinator):
    """The import screens' forms beyond the upload (whose file the walk above cannot choose):
    a list uploaded as the page renders it, then every form of its preview, each button."""
    factories.FacilityFactory(code="al-amal", kind="staging")
    client.force_login(coordinator)
    upload = read_form(client.get(reverse("patients:import-cases")), "#upload")
    data = csv_bytes([case_row(1), case_row(2, sex="")])
    answer = upload.attach("file", SimpleUploadedFile("list.csv", data)).submit(client)
    assert answer.status_code == 302
    preview = client.get(answer["Location"])
    submitted = 0
    for form in all_forms(preview):
        if form.missing_required() or form.action.endswith("/i18n/setlang/"):
            continue
        for name, value, _tag in form.buttons:
            with transaction.atomic():
                response = form.submit(client, button=value or name or None)
                transaction.set_rollback(True)
            submitted += 1
            assert response.status_code < 500, f"{form.action} answered {response.status_code}"
    # "Check again" and "Discard"; the corrected file's upload needs a file chosen, and there
    # is no confirmation while a row is refused.
    assert submitted == 2
