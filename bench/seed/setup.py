"""What the history happens in: facilities, crossings and staff accounts of every role, made
through the services (a few rows, each with its event, chained as the application chains it).

The accounts that `make weight` signs in with (casetracker/weight.py) have their demo names and
passwords, so the page weights are measured on the seeded database too."""

from dataclasses import dataclass, field
from datetime import time

from django.contrib.auth.models import Group

from batches.demo import ACCOUNTS as DEMO_ACCOUNTS
from batches.demo import ADMIN as DEMO_ADMIN
from batches.demo import FACILITIES as DEMO_FACILITIES
from batches.models import DEFAULT_CROSSING, Crossing
from batches.services.crossings import crossing_create
from casetracker.accounts.models import Facility, User
from casetracker.accounts.roles import Role
from casetracker.accounts.services import facility_create, user_create

# A second staging point, and hospitals enough that a facility's page is not the whole queue.
MORE_FACILITIES = [
    (
        "red-crescent-rafah",
        "Red Crescent Rafah Staging Point",
        "نقطة تجمع الهلال الأحمر في رفح",
        "staging",
        "rafah",
    ),
    (
        "al-shifa-field",
        "Al-Shifa Field Hospital",
        "مستشفى الشفاء الميداني",
        "field_hospital",
        "gaza",
    ),
    ("kamal-adwan", "Kamal Adwan Hospital", "مستشفى كمال عدوان", "hospital", "north_gaza"),
    ("al-ahli", "Al-Ahli Arab Hospital", "المستشفى الأهلي العربي", "hospital", "gaza"),
    ("al-awda", "Al-Awda Hospital", "مستشفى العودة", "hospital", "north_gaza"),
    ("kuwaiti", "Kuwaiti Hospital", "المستشفى الكويتي", "hospital", "rafah"),
    ("al-helal", "Al-Helal Al-Emirati Hospital", "مستشفى الهلال الإماراتي", "hospital", "rafah"),
    (
        "jordanian-field",
        "Jordanian Field Hospital",
        "المستشفى الميداني الأردني",
        "field_hospital",
        "khan_younis",
    ),
]
# username, role, facility, language, email: beside the demo accounts.
MORE_ACCOUNTS = [
    ("nurse.rafah", Role.HOSPITAL_STAFF, "red-crescent-rafah", "ar", False),
    ("auditor.2", Role.AUDITOR, None, "ar", True),
]
BENCH_PASSWORD = "bench-only-password-2026"  # noqa: S105 (a scratch database's accounts)
STAGING = ("al-amal", "red-crescent-rafah")


@dataclass
class Setting:
    facilities: dict[str, Facility]
    crossings: dict[str, Crossing]
    admin: User
    coordinators: list[User]
    auditors: list[User]
    nurses: list[User]
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def staging(self) -> list[Facility]:
        return [self.facilities[code] for code in STAGING]

    @property
    def hospitals(self) -> list[Facility]:
        return [f for f in self.facilities.values() if f.code != "red-crescent-rafah"]

    def staff_of(self, facility_id: int) -> list[User]:
        return [nurse for nurse in self.nurses if nurse.facility_id == facility_id]


def build_setting() -> Setting:
    for role in (Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.AUDITOR):
        Group.objects.get_or_create(name=role.value)
    facilities = {}
    for code, name_en, name_ar, kind, governorate in [*DEMO_FACILITIES, *MORE_FACILITIES]:
        facilities[code] = facility_create(
            actor=None,
            code=code,
            name_en=name_en,
            name_ar=name_ar,
            kind=kind,
            governorate=governorate,
        )
    passwords = {}
    users: dict[Role, list[User]] = {role: [] for role in Role}
    accounts = [(u, r, f, lang, True, pw) for u, r, f, lang, pw in DEMO_ACCOUNTS]
    accounts += [(u, r, f, lang, mail, BENCH_PASSWORD) for u, r, f, lang, mail in MORE_ACCOUNTS]
    accounts.append((DEMO_ADMIN[0], Role.ADMIN, None, "en", True, DEMO_ADMIN[1]))
    for username, role, facility, language, has_email, password in accounts:
        users[role].append(
            user_create(
                username=username,
                password=password,
                role=role,
                facility=facilities.get(facility),
                email=f"{username}@bench.invalid" if has_email else "",
                preferred_language=language,
                validate=False,
            )
        )
        passwords[username] = password
    admin = users[Role.ADMIN][0]
    crossings = {DEFAULT_CROSSING: Crossing.objects.get(code=DEFAULT_CROSSING)}
    crossings["kerem-shalom"] = crossing_create(
        actor=admin,
        code="kerem-shalom",
        prefix="KSH",
        name_en="Kerem Shalom",
        name_ar="كرم أبو سالم",
        opens_at=time(8, 0),
        closes_at=time(15, 0),
        note="Medical evacuations by road to an airport, then by air.",
    )
    return Setting(
        facilities=facilities,
        crossings=crossings,
        admin=admin,
        coordinators=users[Role.COORDINATOR],
        auditors=users[Role.AUDITOR],
        nurses=users[Role.HOSPITAL_STAFF],
        passwords=passwords,
    )
