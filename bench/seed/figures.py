"""How much to seed: the figures of the issue (ten times the real backlog where it matters)
times a scale, and the shape of the history they make."""

from dataclasses import dataclass

# At scale 1.0.
FULL = {
    "patients": 100_000,
    "companions": 152_000,
    "referrals": 100_000,
    "returnees": 80_000,
    "batches": 10_000,
    "lines": 151_000,
    "events": 1_000_000,
    "notifications": 200_000,
}
# Days of history at scale 1.0 (about ten batches a day), and never fewer than this.
FULL_DAYS = 1_000
MIN_DAYS = 21
# Open batches are planned for today and the six days after (the coordinators' "Today" page).
OPEN_DAYS = 7
# Share of the batches that go out (patients and companions); the others bring returnees home.
EXIT_SHARE = 0.6
# Share of the past batches cancelled (the others crossed), and of those rescheduled.
CANCELLED_SHARE = 0.15
RESCHEDULED_SHARE = 0.4
# Deaths and withdrawals while waiting, per patient.
DEATH_SHARE = 0.01
WITHDRAWN_SHARE = 0.005


@dataclass(frozen=True)
class Figures:
    scale: float
    patients: int
    companions: int
    referrals: int
    returnees: int
    batches: int
    lines: int
    events: int
    notifications: int
    days: int

    @classmethod
    def at(cls, scale: float) -> "Figures":
        if not 0 < scale <= 10:
            raise ValueError(f"the scale must be above 0 and at most 10, not {scale}")
        # A handful of each at the smallest scales, so every page and report has rows.
        floors = {"patients": 60, "companions": 80, "referrals": 60, "returnees": 40}
        floors |= {"batches": 12, "lines": 120, "events": 2_000, "notifications": 200}
        counts = {name: max(floors[name], round(full * scale)) for name, full in FULL.items()}
        # One referral per case: the figures of the issue have as many of each.
        counts["referrals"] = counts["patients"]
        return cls(scale=scale, days=max(MIN_DAYS, round(FULL_DAYS * scale)), **counts)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
