"""The benchmark's seed (bench/seed/): at a tiny scale, on PostgreSQL (COPY), the rows it
promises, readable by the application, and an audit chain that verifies."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from batches.models import Batch, BatchMember, BatchStatus
from bench.seed import database
from bench.seed.figures import Figures
from casetracker.audit.models import ChainHead, Event, EventText
from casetracker.crypto import lookup_hashes
from casetracker.notifications.models import Notification
from patients.models import Companion, Patient, Readiness, Referral, Returnee
from tests import factories

TINY = 0.0001


@pytest.fixture
def seeded(require_postgres):
    out = io.StringIO()
    call_command("bench_seed", "--scale", str(TINY), stdout=out)
    return Figures.at(TINY), out.getvalue()


def test_bench_seed_writes_the_figures(seeded):
    figures, _out = seeded
    assert Patient.objects.count() == figures.patients
    assert Companion.objects.count() == figures.companions
    assert Referral.objects.count() == figures.referrals
    assert Returnee.objects.count() == figures.returnees
    assert Readiness.objects.count() == figures.patients
    assert Batch.objects.count() == figures.batches
    assert Event.objects.count() == figures.events
    assert Notification.objects.count() == figures.notifications
    lines = BatchMember.objects.count()
    assert abs(lines - figures.lines) <= figures.lines * 0.1, lines


def test_bench_seed_history_reads_as_the_application_writes_it(seeded):
    patient = Patient.objects.order_by("?").first()
    # Decrypted by the field, and found by its keyed hash, as a search finds it.
    assert patient.national_id.isdigit()
    found = Patient.objects.filter(national_id_hash__in=lookup_hashes(patient.national_id))
    assert list(found) == [patient]
    statuses = set(Batch.objects.values_list("status", flat=True))
    assert {BatchStatus.CROSSED, BatchStatus.CANCELLED} <= statuses
    assert Batch.objects.filter(planned_date__gte=timezone.localdate()).exists()
    cancel = Event.objects.filter(action="cancel").first()
    assert cancel.reason_text == Batch.objects.get(code=cancel.subject_ref).cancel_reason_text
    assert EventText.objects.count() == Event.objects.exclude(text_digest="").count()
    # No access events: their storage is the application's own business.
    assert not Event.objects.filter(action__in=("view", "search")).exists()
    assert set(Notification.objects.values_list("event__action", flat=True)) <= {
        "prepare", "submit", "clear", "depart", "cross", "cancel", "reschedule", "statement",
    }  # fmt: skip


def test_bench_seed_chain_verifies(seeded):
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    assert f"Audit log intact: {Event.objects.count()} events." in out.getvalue()
    assert ChainHead.objects.get(pk=1).last_hash == Event.objects.order_by("-pk").first().hash


def test_bench_seed_is_reused_at_the_same_scale_only(seeded):
    figures, _out = seeded
    assert database.is_reusable(TINY, figures.patients)
    assert not database.is_reusable(TINY * 2, figures.patients)
    out = io.StringIO()
    call_command("bench_seed", "--scale", str(TINY), "--reuse", stdout=out)
    assert "Reusing the seed" in out.getvalue()


def test_bench_seed_refuses_a_database_it_did_not_seed(require_postgres):
    factories.UserFactory(username="somebody", role="coordinator")
    with pytest.raises(CommandError, match="did not seed"):
        call_command("bench_seed", "--scale", str(TINY), stdout=io.StringIO())
    assert Patient.objects.count() == 0
