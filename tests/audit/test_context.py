import pytest

from casetracker.audit.models import Event

pytestmark = pytest.mark.django_db


def _register(api, coordinator, facility, **headers):
    return api(coordinator).post(
        "/api/v1/patients/",
        {
            "name_latin": "Omar Qishta",
            "name_arabic": "عمر قشطة",
            "national_id": "402222222",
            "date_of_birth": "1961-07-09",
            "sex": "male",
            "facility": facility.code,
            "priority": "urgent",
            "clinical_category": "cardiac",
        },
        format="json",
        **headers,
    )


def test_request_id_from_header_is_echoed_and_recorded(api, coordinator, facility):
    response = _register(api, coordinator, facility, HTTP_X_REQUEST_ID="trace-0123456789")
    assert response.status_code == 201
    assert response["X-Request-ID"] == "trace-0123456789"
    event = Event.objects.get(action="register")
    assert (event.request_id, event.channel) == ("trace-0123456789", "api")


def test_malformed_request_id_is_replaced(api, coordinator, facility):
    response = _register(api, coordinator, facility, HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response.status_code == 201
    event = Event.objects.get(action="register")
    assert event.request_id == response["X-Request-ID"]
    assert len(event.request_id) == 32


def test_events_chain_each_to_the_previous_hash(api, coordinator, facility):
    _register(api, coordinator, facility)
    api(coordinator).post(
        "/api/v1/returnees/",
        {
            "name_latin": "Salma Shaath",
            "name_arabic": "سلمى شعث",
            "national_id": "403333333",
            "date_of_birth": "1992-02-02",
            "sex": "female",
            "left_on": "2024-03-01",
        },
        format="json",
    )
    first, second = Event.objects.order_by("id")
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert len({first.hash, second.hash}) == 2
