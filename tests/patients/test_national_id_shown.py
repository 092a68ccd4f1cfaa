"""National ID numbers: whole for coordinators and admins, the last four digits for hospital
staff and auditors, alike on the pages, in the API and in the back office."""

import pytest
from django.urls import reverse

from tests import factories

NUMBER = "400765432"
MASKED = "•••••5432"


@pytest.fixture
def case(facility):
    patient = factories.PatientFactory(facility=facility, national_id=NUMBER)
    companion = factories.CompanionFactory(patient=patient, national_id="800111222")
    returnee = factories.ReturneeFactory(national_id="900111222")
    return patient, companion, returnee


@pytest.mark.parametrize(
    ("who", "full"),
    [("coordinator", True), ("admin_user", True), ("nurse", False), ("auditor", False)],
)
def test_national_id_in_the_api(api, request, case, who, full):
    patient, companion, returnee = case
    client = api(request.getfixturevalue(who))
    body = client.get(reverse("patient-detail", args=[patient.case_reference])).json()
    assert body["national_id"] == (NUMBER if full else MASKED)
    body = client.get(reverse("companion-detail", args=[companion.pk])).json()
    assert body["national_id"] == ("800111222" if full else "•••••1222")
    if who != "nurse":  # returnees belong to no facility: nurses never see them
        body = client.get(reverse("returnee-detail", args=[returnee.reference])).json()
        assert body["national_id"] == ("900111222" if full else "•••••1222")


@pytest.mark.parametrize(
    ("who", "full"),
    [("coordinator", True), ("admin_user", True), ("nurse", False), ("auditor", False)],
)
def test_national_id_in_the_back_office_and_on_the_patient_page(client, request, case, who, full):
    patient, companion, _returnee = case
    client.force_login(request.getfixturevalue(who))
    for url in (
        reverse("admin:patients_patient_change", args=[patient.pk]),
        reverse("admin:patients_companion_change", args=[companion.pk]),
        reverse("patients:detail", args=[patient.case_reference]),
    ):
        html = client.get(url).content.decode()
        assert (NUMBER in html or "800111222" in html) is full, url
        if not full:
            assert "5432" in html or "1222" in html, url
