"""Every URL pattern of the project with real arguments, for the tests that walk them all: the
route policy test and the facility scoping test.

`RouteWorld` seeds two facilities ("home" and "away") with one row of every kind each, users of
every role (hospital staff work at "home"), and turns each URL pattern into a concrete URL that
points at the rows of one side."""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.authtoken.models import Token

from batches.models import Batch, BatchMember, Crossing, CrossingQuota, Vehicle
from casetracker.accounts.models import Facility
from casetracker.accounts.roles import Role
from casetracker.audit.models import Action, Event, SubjectType
from casetracker.audit.services import record_event
from casetracker.notifications.models import Notification, WebhookSubscription
from patients.models import Companion, Patient, Readiness, Referral, Returnee
from tests import factories
from tests.service_helpers import inbox_row, notify_event

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DIAGNOSIS_SENTINEL = "SENTINEL-DIAGNOSIS-TEXT"


@dataclass(frozen=True)
class Route:
    pattern: str  # the whole pattern, prefixes included
    params: tuple[str, ...]


def _params(pattern: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", pattern)


def all_routes() -> list[Route]:
    """Every URL pattern, resolvers flattened."""
    routes = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            text = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, text)
            elif isinstance(entry, URLPattern):
                names = tuple(a or b for a, b in _params(text))
                routes.append(Route(text, names))

    walk(get_resolver().url_patterns, "")
    return routes


def fill(pattern: str, values: dict[str, str]) -> str:
    """The concrete path of a pattern (path converters or regex groups) with these values."""

    def value(match: re.Match) -> str:
        return str(values[match.group(1) or match.group(2)])

    path = re.sub(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", value, pattern)
    return "/" + path.replace("^", "").replace("$", "")


@dataclass
class Side:
    """One facility and a row of every kind that belongs to it."""

    facility: Facility
    patient: Patient
    companion: Companion
    referral: Referral
    batch: Batch
    member: BatchMember
    event: Event
    notification: Notification
    returnee: Returnee

    def references(self) -> set[str]:
        """Strings that identify this side's rows in any answer."""
        return {
            self.patient.case_reference,
            self.patient.name_latin,
            self.companion.name_latin,
            self.batch.code,
            self.returnee.reference,
        }


def make_side(facility: Facility, staff) -> Side:
    patient = factories.PatientFactory(
        facility=facility, diagnosis=f"{DIAGNOSIS_SENTINEL} {facility.code}"
    )
    companion = factories.CompanionFactory(patient=patient)
    referral = factories.ReferralFactory(patient=patient)
    batch = factories.BatchFactory(staging_facility=facility)
    vehicle = Vehicle.objects.create(batch=batch, number=1, kind="ambulance", seats=2, stretchers=1)
    member = BatchMember.objects.create(batch=batch, patient=patient, vehicle=vehicle)
    with transaction.atomic():
        event = record_event(
            subject_type=SubjectType.PATIENT,
            subject_ref=patient.case_reference,
            action=Action.UPDATE,
            actor=None,
            subject_facility_id=facility.pk,
        )
    notification = inbox_row(staff, notify_event([staff], batch_ref=batch.code))
    return Side(
        facility=facility,
        patient=patient,
        companion=companion,
        referral=referral,
        batch=batch,
        member=member,
        event=event,
        notification=notification,
        returnee=factories.ReturneeFactory(),
    )


@dataclass
class RouteWorld:
    users: dict[Role, object]
    home: Side
    away: Side
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(cls) -> "RouteWorld":
        home_facility = factories.FacilityFactory(code="home-hospital", kind="staging")
        away_facility = factories.FacilityFactory(code="away-hospital", kind="staging")
        users = {
            Role.ANONYMOUS: None,
            Role.COORDINATOR: factories.UserFactory(username="coord", role="coordinator"),
            Role.HOSPITAL_STAFF: factories.UserFactory(
                username="home-nurse", role="hospital_staff", facility=home_facility
            ),
            Role.AUDITOR: factories.UserFactory(username="auditor", role="auditor"),
            Role.ADMIN: factories.UserFactory(username="admin", is_superuser=True),
        }
        away_nurse = factories.UserFactory(
            username="away-nurse", role="hospital_staff", facility=away_facility
        )
        factories.QuotaFactory(date=dt.date(2026, 2, 4))
        world = cls(
            users=users,
            home=make_side(home_facility, users[Role.HOSPITAL_STAFF]),
            away=make_side(away_facility, away_nurse),
        )
        world.extra = {
            "auth.group": Group.objects.get(name="coordinator"),
            "authtoken.tokenproxy": Token.objects.create(user=away_nurse),
            "notifications.webhooksubscription": WebhookSubscription.objects.create(
                name="partner", url="https://partner.example.org/hook", secret="s" * 32
            ),
            "batches.crossingquota": CrossingQuota.objects.get(),
            "batches.crossing": Crossing.objects.get(code="rafah"),
        }
        return world

    def admin_object(self, label: str, side: Side):
        by_label = {
            "accounts.facility": side.facility,
            "accounts.user": self.users[Role.COORDINATOR],
            "audit.event": side.event,
            "notifications.notification": side.notification,
            "patients.patient": side.patient,
            "patients.companion": side.companion,
            "patients.referral": side.referral,
            "patients.readiness": Readiness.objects.get(patient=side.patient),
            "patients.returnee": side.returnee,
            "batches.batch": side.batch,
            "batches.batchmember": side.member,
            **self.extra,
        }
        return by_label.get(label)

    def url(self, route: Route, side: Side) -> str:
        """The route's URL pointing at one side's rows."""
        values = {}
        if route.params:
            values = self._values(route, side)
        url = fill(route.pattern, values)
        if url == "/admin/autocomplete/":
            # The admin refuses an autocomplete request that names no source field.
            url += "?app_label=batches&model_name=batchmember&field_name=patient&term="
        return url

    def _values(self, route: Route, side: Side) -> dict[str, str]:
        p = route.pattern
        admin_model = re.match(r"admin/(\w+)/(\w+)/", p)
        label = f"{admin_model[1]}.{admin_model[2]}" if admin_model else ""
        obj = self.admin_object(label, side) if label else None
        values = {
            "object_id": obj.pk if obj is not None else 0,
            "content_type_id": ContentType.objects.get_for_model(Patient).pk,
            "app_label": "patients",
            "url": "no-such-page/",
            "id": self.users[Role.COORDINATOR].pk,
            "case_reference": side.patient.case_reference,
            "reference": side.returnee.reference,
            "member_id": side.member.pk,
            "code": side.facility.code if "facilities" in p else side.batch.code,
            "name": "prepare" if "transition" in p or "/step/" in p else "daily",
            "referral_id": side.referral.pk,
            "number": 1,
            # A pending upload nobody made: its pages answer 404 to whoever may use them.
            "pending": "00000000-0000-4000-8000-000000000000",
        }
        if "view_on_site" in p or p.startswith("admin/r/"):
            values["object_id"] = side.patient.pk
        for prefix, row in (
            ("events", side.event),
            ("notifications", side.notification),
            ("inbox", side.notification),
            ("companions", side.companion),
            ("referrals", side.referral),
        ):
            if prefix in p:
                values["pk"] = row.pk
        missing = set(route.params) - set(values)
        assert not missing, f"no sample value for {missing} in {p}: add one to tests/routes.py"
        return values


def view_name(url: str) -> str:
    return resolve(url.split("?")[0]).view_name
