"""The pieces facilities and crossings share (one code for both callers each time): the code
pattern, the update that records what changed, and the commands' way of running a service."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError

from batches.models import Crossing
from batches.services.crossings import code_problem
from casetracker.accounts.models import Facility
from casetracker.accounts.services import facility_problems
from casetracker.audit.context import Channel, current
from casetracker.audit.models import SubjectType
from casetracker.codes import is_code
from casetracker.commands import command_error, run_service
from casetracker.updates import apply_update
from tests import factories
from tests.service_helpers import assert_event, events_since, mark

pytestmark = pytest.mark.django_db

CODES = {
    "al-amal": True,
    "kerem-shalom": True,
    "ksh2": True,
    "Al-Amal": False,
    "al amal": False,
    "al--amal": False,
    "-amal": False,
    "amal-": False,
    "": False,
    "a" * 33: False,  # longer than either column
}


@pytest.mark.parametrize(("code", "good"), CODES.items())
def test_is_code_is_the_one_rule_of_facility_and_crossing_codes(code, good):
    assert is_code(code, limit=32) is good
    # Both callers answer as the one rule does.
    assert (code_problem(code) is None) is good
    assert ("code" not in facility_problems(code=code)) is good


def test_is_code_refuses_what_is_not_text_or_too_long():
    assert not is_code(None, limit=20)
    assert not is_code(12, limit=20)
    assert is_code("a" * 20, limit=20) and not is_code("a" * 21, limit=20)


def test_apply_update_saves_and_records_only_what_differs(coordinator):
    crossing = factories.CrossingFactory()
    since = mark()
    changed = apply_update(
        crossing,
        {"name_en": "Kerem Shalom crossing", "note": crossing.note},
        actor=coordinator,
        subject_type=SubjectType.CROSSING,
        details=lambda c: {"prefix": c.prefix},
    )
    assert changed == ["name_en"]
    assert Crossing.objects.get(pk=crossing.pk).name_en == "Kerem Shalom crossing"
    [event] = events_since(since)
    assert_event(
        event,
        subject_type="crossing",
        subject_ref=crossing.code,
        action="update",
        actor=coordinator,
        details={"fields": ["name_en"], "prefix": crossing.prefix},
    )
    again = mark()
    assert (
        apply_update(
            crossing,
            {"name_en": "Kerem Shalom crossing"},
            actor=coordinator,
            subject_type=SubjectType.CROSSING,
            details=lambda c: {},
        )
        == []
    )
    assert events_since(again) == []


def test_facility_and_crossing_updates_record_the_same_event(admin_user, facility):
    from batches.services.crossings import crossing_update
    from casetracker.accounts.services import facility_update

    crossing = factories.CrossingFactory()
    since = mark()
    facility_update(facility=facility, actor=admin_user, name_en="Al-Amal Hospital (staging)")
    crossing_update(crossing=crossing, actor=admin_user, note="Buses onward to El Arish")
    facility_event, crossing_event = events_since(since)
    assert (facility_event.action, facility_event.details["fields"]) == ("update", ["name_en"])
    assert facility_event.subject_facility_id == facility.pk
    assert (crossing_event.action, crossing_event.details["fields"]) == ("update", ["note"])
    assert Facility.objects.get(pk=facility.pk).name_en == "Al-Amal Hospital (staging)"


def test_command_error_names_each_field_or_gives_the_plain_messages():
    error = command_error(ValidationError({"code": ["bad"], "name_en": ["required", "short"]}))
    assert str(error) == "code: bad; name_en: required short"
    assert str(command_error(ValidationError(["one", "two"]))) == "one; two"


def test_run_service_acts_as_the_system_through_the_command_channel():
    seen = []

    def service(*, actor, code):
        seen.append((actor, current().channel))
        if not is_code(code, limit=20):
            raise ValidationError({"code": "not a code"})
        return code

    with pytest.raises(CommandError, match=r"^code: not a code$"):
        run_service(service, code="Not A Code")
    assert run_service(service, code="test-crossing") == "test-crossing"
    assert seen == [(None, Channel.COMMAND)] * 2


def test_addcrossing_and_addfacility_report_a_plain_refusal(monkeypatch):
    """A refusal without fields (a plain ValidationError) is said as it is, by both commands."""
    from django.core.management import call_command

    def refuse(**kwargs):
        raise ValidationError("the database is read-only")

    monkeypatch.setattr("batches.management.commands.addcrossing.crossing_create", refuse)
    monkeypatch.setattr(
        "casetracker.accounts.management.commands.addfacility.facility_create", refuse
    )
    with pytest.raises(CommandError, match=r"^the database is read-only$"):
        call_command(
            "addcrossing", "new-one", "--prefix", "NEW", "--name-en", "New", "--name-ar", "جديد"
        )
    with pytest.raises(CommandError, match=r"^the database is read-only$"):
        call_command(
            "addfacility",
            "new-one",
            "--name-en",
            "New",
            "--name-ar",
            "جديد",
            "--kind",
            "hospital",
            "--governorate",
            "gaza",
        )
