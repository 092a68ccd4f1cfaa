"""The "known numbers" scenario: the first four days of the reopened crossing (DESIGN section 1),
built through the services so that every report can be checked against exact numbers.

Dates are relative to today: D1 = today - 10 days, D2 = D1 + 1, D3 = D1 + 2, D4 = D1 + 3. Every
service call happens now, so the events, `cancelled_at` and the recorded death carry today's
date, while the batches carry their planned (past) dates.

- Quota, every day D1..D4: exit 50 patients / 100 companions; return 50 people.
- D1 exit: patients A1..A5 (2 companions each) and B (2 companions). B is rejected at vetting
  (bump 1) and stays with their companions; 5 patients + 10 companions cross.
- D1 return: returnees R1..R50; 12 cross, 38 are held.
- D2 exit: 40 patients without companions cross. D2 return: the 38 held on D1 and 2 more
  (R51, R52): 40 cross.
- D3 exit: B, C1, C2, W, X, Y (6 patients; B, C1, C2 with 2 companions each, W and Y with 1, X
  with none: 8 companions; W's companion joins through `batch_add_companion`). Cleared, then
  cancelled by the coordinator: `no_reason_given`, source `who`, "relayed by WHO; teams stood
  ready" (bump 2 for B). Nobody crosses on D3.
  The batch is NOT rescheduled (`rescheduled_as` stays empty), as on the real day 3: D4's
  batch is a new batch to which B, C1 and C2 are added again.
- D4 exit: B, C1, C2 and N1..N4, 2 companions each: 7 patients + 14 companions cross.
- After the cancellation X is recorded deceased (registered 40 days and an hour ago: 40 days
  waited) and Y withdrawn; W is still waiting.
  So the D3 cancellation: crossed later 3 (last on D4), still waiting 1.
- Days from the approved referral to the crossing: N1..N4, C1, C2, B: 10..16; the D2 patients:
  20..59; A1..A5: 100..104. 52 patients, median 38.5, shortest 10, longest 104. B also holds an
  older rejected referral (issued D1 - 200 days), which must be ignored.
- B: registered at noon 30 days before today: 23 days from registration to the D4 crossing.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from batches.models import Batch, BatchMember, Direction
from batches.services import (
    batch_add_companion,
    batch_add_patient,
    batch_add_returnee,
    batch_cancel,
    batch_clear,
    batch_create,
    batch_cross,
    batch_depart,
    batch_prepare,
    batch_record_clearance,
    batch_submit,
    quota_set,
)
from patients.models import Companion, Patient, Returnee
from patients.services import patient_set_status
from tests import factories

CANCEL_TEXT = "relayed by WHO; teams stood ready"


@dataclass
class Scenario:
    today: dt.date
    d1: dt.date
    d2: dt.date
    d3: dt.date
    d4: dt.date
    coordinator: object
    facility: object
    # Recorded the morning after (`build_scenario(recorded_late=True)`): every fact states when
    # it happened on its day (`at`); otherwise every fact happens when it is recorded, now.
    recorded_late: bool = False
    batches: dict[str, Batch] = field(default_factory=dict)
    patients: dict[str, Patient] = field(default_factory=dict)
    companions: dict[str, list[Companion]] = field(default_factory=dict)
    returnees: list[Returnee] = field(default_factory=list)
    # The numbers the reports must show (see the module docstring for where they come from).
    expected: dict = field(default_factory=dict)

    @property
    def days(self) -> list[dt.date]:
        return [self.d1, self.d2, self.d3, self.d4]

    def batch(self, name: str) -> Batch:
        """The named batch, re-read (services return fresh copies; ours may be stale)."""
        return Batch.objects.get(pk=self.batches[name].pk)

    def patient(self, name: str) -> Patient:
        return Patient.objects.get(pk=self.patients[name].pk)

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime | None:
        """When a fact of `day` happened, as the coordinator states it when the four days are
        recorded late: that time of the day. None (now) when they are recorded live."""
        if not self.recorded_late:
            return None
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _patient(s: Scenario, name: str, *, companions: int, wait: int, crossing_on: dt.date):
    """A fit patient at the staging facility whose approved referral was issued `wait` days
    before `crossing_on` (the day they are meant to cross). Recorded late, they registered that
    day (a death or a withdrawal cannot precede the registration); live, they register now."""
    referred = crossing_on - dt.timedelta(days=wait)
    registered = s.at(referred, 9)
    patient = factories.PatientFactory(
        facility=s.facility, **({"registered_at": registered} if registered else {})
    )
    factories.ReferralFactory(
        patient=patient,
        issued_on=referred,
        expires_on=s.today + dt.timedelta(days=90),
        status="approved",
    )
    s.patients[name] = patient
    s.companions[name] = [factories.CompanionFactory(patient=patient) for _ in range(companions)]
    return patient


def _exit_batch(s: Scenario, day: dt.date, names: Iterable[str]) -> Batch:
    batch = batch_create(
        actor=s.coordinator,
        direction=Direction.EXIT,
        planned_date=day,
        staging_facility=s.facility,
        occurred_at=s.at(day, 6),
    )
    for name in names:
        batch_add_patient(
            batch=batch,
            patient=s.patients[name],
            companions=s.companions[name],
            actor=s.coordinator,
        )
    return batch


def _vet(s: Scenario, batch: Batch, *, rejected: Iterable[Patient] = ()) -> Batch:
    """Prepare, submit, record every clearance (approved unless the patient is in `rejected`)
    and clear."""
    refused = {p.pk for p in rejected}
    day = batch.planned_date
    batch = batch_prepare(batch=batch, actor=s.coordinator, occurred_at=s.at(day, 7))
    batch = batch_submit(batch=batch, actor=s.coordinator, occurred_at=s.at(day, 8))
    for line in batch.members.filter(is_open=True).order_by("id"):
        clearance = "rejected" if line.patient_id in refused else "approved"
        batch_record_clearance(
            batch=batch,
            member=line,
            clearance=clearance,
            actor=s.coordinator,
            occurred_at=s.at(day, 10),
        )
    return batch_clear(batch=batch, actor=s.coordinator, occurred_at=s.at(day, 10))


def _cross(
    s: Scenario, batch: Batch, outcome_of: Callable[[BatchMember], str] | None = None
) -> Batch:
    day = batch.planned_date
    batch = batch_depart(batch=batch, actor=s.coordinator, occurred_at=s.at(day, 12))
    lines = batch.members.filter(is_open=True).order_by("id")
    outcomes = {line.pk: outcome_of(line) if outcome_of else "crossed" for line in lines}
    return batch_cross(
        batch=batch, actor=s.coordinator, outcomes=outcomes, occurred_at=s.at(day, 14)
    )


def _return_batch(s: Scenario, day: dt.date, returnees: list[Returnee]) -> Batch:
    batch = batch_create(
        actor=s.coordinator,
        direction=Direction.RETURN,
        planned_date=day,
        staging_facility=s.facility,
        occurred_at=s.at(day, 6),
    )
    for returnee in returnees:
        batch_add_returnee(batch=batch, returnee=returnee, actor=s.coordinator)
    return _vet(s, batch)


def build_scenario(
    *, coordinator, facility, today: dt.date | None = None, recorded_late: bool = False
) -> Scenario:
    """Build the four days; returns the batches, the people and the expected numbers. With
    `recorded_late`, every fact is recorded now but states when it happened on its day
    (`Scenario.at`), as a coordinator types in days lived without a connection."""
    today = today or timezone.localdate()
    d1 = today - dt.timedelta(days=10)
    d2, d3, d4 = (d1 + dt.timedelta(days=n) for n in (1, 2, 3))
    s = Scenario(
        today=today,
        d1=d1,
        d2=d2,
        d3=d3,
        d4=d4,
        coordinator=coordinator,
        facility=facility,
        recorded_late=recorded_late,
    )

    for day in s.days:
        quota_set(
            actor=coordinator,
            crossing="rafah",
            day=day,
            direction="exit",
            agreed_patients=50,
            agreed_companions=100,
        )
        quota_set(
            actor=coordinator, crossing="rafah", day=day, direction="return", agreed_returnees=50
        )

    # --- People ----------------------------------------------------------------------------
    for n in range(5):
        _patient(s, f"A{n + 1}", companions=2, wait=100 + n, crossing_on=d1)
    for n in range(40):
        _patient(s, f"D2-{n + 1}", companions=0, wait=20 + n, crossing_on=d2)
    for n in range(4):
        _patient(s, f"N{n + 1}", companions=2, wait=10 + n, crossing_on=d4)
    _patient(s, "C1", companions=2, wait=14, crossing_on=d4)
    _patient(s, "C2", companions=2, wait=15, crossing_on=d4)
    bumped = _patient(s, "B", companions=2, wait=16, crossing_on=d4)
    bumped.registered_at = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=30), dt.time(12, 0))
    )
    bumped.save(update_fields=["registered_at"])
    factories.ReferralFactory(
        patient=bumped,
        issued_on=d1 - dt.timedelta(days=200),
        expires_on=d1 - dt.timedelta(days=100),
        status="rejected",
    )
    _patient(s, "W", companions=1, wait=30, crossing_on=d3)
    deceased = _patient(s, "X", companions=0, wait=30, crossing_on=d3)
    deceased.registered_at = timezone.now() - dt.timedelta(days=40, hours=1)
    deceased.save(update_fields=["registered_at"])
    _patient(s, "Y", companions=1, wait=30, crossing_on=d3)
    s.returnees = [factories.ReturneeFactory() for _ in range(52)]

    # --- D1: 5 + 10 out, B refused at vetting; 12 back, 38 held ------------------------------
    d1_exit = _exit_batch(s, d1, ["A1", "A2", "A3", "A4", "A5", "B"])
    d1_exit = _vet(s, d1_exit, rejected=[s.patients["B"]])
    s.batches["d1_exit"] = _cross(s, d1_exit)

    d1_return = _return_batch(s, d1, s.returnees[:50])
    first_twelve = set(d1_return.members.order_by("id").values_list("pk", flat=True)[:12])
    s.batches["d1_return"] = _cross(
        s, d1_return, lambda line: "crossed" if line.pk in first_twelve else "held"
    )

    # --- D2: 40 out (no companions), 40 in (the 38 held and two more) ------------------------
    d2_exit = _vet(s, _exit_batch(s, d2, [f"D2-{n + 1}" for n in range(40)]))
    s.batches["d2_exit"] = _cross(s, d2_exit)
    held = [line.returnee for line in s.batches["d1_return"].members.filter(outcome="held")]
    held += s.returnees[50:]
    s.batches["d2_return"] = _cross(s, _return_batch(s, d2, held))

    # --- D3: cleared, then cancelled at the last minute --------------------------------------
    d3_exit = _exit_batch(s, d3, ["B", "C1", "C2"])
    batch_add_patient(batch=d3_exit, patient=s.patients["W"], actor=coordinator)
    batch_add_companion(batch=d3_exit, companion=s.companions["W"][0], actor=coordinator)
    for name in ("X", "Y"):
        batch_add_patient(
            batch=d3_exit,
            patient=s.patients[name],
            companions=s.companions[name],
            actor=coordinator,
        )
    d3_exit = _vet(s, d3_exit)
    s.batches["d3_exit"] = batch_cancel(
        batch=d3_exit,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text=CANCEL_TEXT,
        source="who",
        occurred_at=s.at(d3, 11, 40),  # recorded late: the last minute before departure
    )

    # --- D4: 7 + 14 out, three of them bumped from D3 ----------------------------------------
    d4_exit = _vet(s, _exit_batch(s, d4, ["N1", "N2", "N3", "N4", "C1", "C2", "B"]))
    s.batches["d4_exit"] = _cross(s, d4_exit)

    # --- While waiting: X dies, Y withdraws, W still waits -----------------------------------
    patient_set_status(
        patient=s.patients["X"],
        status="deceased",
        actor=coordinator,
        reason_text="died waiting",
        occurred_at=s.at(d4, 22),
    )
    patient_set_status(
        patient=s.patients["Y"],
        status="withdrawn",
        actor=coordinator,
        reason_text="withdrew",
        occurred_at=s.at(d4, 23),
    )

    s.expected = {
        # (day, direction): (patients, companions, returnees crossed, held)
        "crossed": {
            (d1, "exit"): (5, 10, 0, 0),
            (d1, "return"): (0, 0, 12, 38),
            (d2, "exit"): (40, 0, 0, 0),
            (d2, "return"): (0, 0, 40, 0),
            (d3, "exit"): (0, 0, 0, 0),
            (d3, "return"): (0, 0, 0, 0),
            (d4, "exit"): (7, 14, 0, 0),
            (d4, "return"): (0, 0, 0, 0),
        },
        "decided_batches": 6,
        "cancelled_batches": 1,
        "reasons": {"no_reason_given": 1},
        "referral_to_crossing": {"patients": 52, "median": 38.5, "shortest": 10, "longest": 104},
        "d3_cancellation": {
            "patients": 6,
            "companions": 8,
            "crossed_later": 3,
            "last_crossed_on": d4,
            "still_waiting": 1,
        },
        "bumped": {"B": 2},
        "deaths": {"X": 40},
    }
    return s
