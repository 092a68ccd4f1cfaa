from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.choices import ChoiceLabels
from casetracker.constraints import max_length_check

from .context import Channel


class SubjectType(models.TextChoices):
    BATCH = "batch", _("batch")
    MEMBER = "member", _("manifest line")
    PATIENT = "patient", _("patient")
    REFERRAL = "referral", _("referral")
    RETURNEE = "returnee", _("returnee")
    NOTIFICATION = "notification", _("notification")
    REPORT = "report", _("report")
    ACCOUNT = "account", _("staff account")
    CROSSING = "crossing", _("crossing")
    QUOTA = "quota", _("agreed quota")
    FACILITY = "facility", _("facility")
    AUDIT_LOG = "audit_log", _("audit log")
    IMPORT = "import", _("imported list")


class Action(models.TextChoices):
    CREATE = "create", _("created")
    REGISTER = "register", _("registered")
    UPDATE = "update", _("details changed")
    COMPANION_ADD = "companion_add", _("companion registered")
    ADD_MEMBER = "add_member", _("person added")
    REMOVE_MEMBER = "remove_member", _("person removed")
    CLEARANCE = "clearance", _("clearance recorded")
    PREPARE = "prepare", _("prepared")
    REOPEN = "reopen", _("reopened")
    SUBMIT = "submit", _("submitted for security vetting")
    CLEAR = "clear", _("cleared")
    DEPART = "depart", _("departed")
    CROSS = "cross", _("crossed")
    CANCEL = "cancel", _("cancelled")
    RESCHEDULE = "reschedule", _("rescheduled")
    STATUS_CHANGE = "status_change", _("status changed")
    REFERRAL_DECISION = "referral_decision", _("referral decision")
    READINESS_UPDATE = "readiness_update", _("readiness updated")
    RETRY_DELIVERY = "retry_delivery", _("delivery retried")
    EXPORT = "export", _("data exported")
    TWO_FACTOR = "two_factor", _("two-factor sign-in changed")
    VEHICLE_ADD = "vehicle_add", _("vehicle added")
    VEHICLE_REMOVE = "vehicle_remove", _("vehicle removed")
    VEHICLE_ASSIGN = "vehicle_assign", _("seats assigned")
    CROSSING_STATE = "crossing_state", _("crossing opened, restricted or closed")
    QUOTA_CHANGE = "quota_change", _("agreed quota changed")
    STATEMENT = "statement", _("statement recorded")
    REDACT = "redact", _("text redacted")
    VIEW = "view", _("record viewed")
    SEARCH = "search", _("patient search")
    SEAL = "seal", _("access log sealed")
    IMPORT = "import", _("list imported")


# Reads of personal data (the access log) and the seals of its lanes: for auditors and admins
# only. Seeing who looked at whom would tell a coordinator or a nurse more about a person than
# their role needs.
ACCESS_ACTIONS = (Action.VIEW, Action.SEARCH, Action.SEAL)

# Events about the record rather than steps of what they are about: a later statement (said at
# any time after the fact) and a redaction. The order checks of `occurred_at` ignore them.
ASIDE_ACTIONS = (Action.STATEMENT, Action.REDACT)

# Free text kept beside an event (`EventText`) and in the domain rows that copy it.
TEXT_MAX_LENGTH = 2000


class EventQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EventQuerySet":
        # Imported here: roles live beside this app, and the check is the same for every model.
        from casetracker.accounts.roles import Role, user_role

        role = user_role(user)
        if role in (Role.AUDITOR, Role.ADMIN):
            return self
        if role is Role.COORDINATOR:
            return self.exclude(action__in=ACCESS_ACTIONS)
        if role is Role.HOSPITAL_STAFF and user.facility_id:
            return self.filter(subject_facility_id=user.facility_id).exclude(
                action__in=ACCESS_ACTIONS
            )
        return self.none()


def sees_every_change(user) -> bool:
    """`Event.objects.visible_to(user)` keeps every event but, for some, the reads: a page that
    shows the user's events may take the changes it needs from them rather than read again."""
    from casetracker.accounts.roles import Role, user_role

    return user_role(user) in (Role.AUDITOR, Role.ADMIN, Role.COORDINATOR)


class Event(ChoiceLabels, models.Model):
    """Append-only audit record of a state change. Holds references, never names or IDs."""

    # When it was recorded. When it happened is `occurred_at` (see `occurred`).
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
    )
    # Indexed in `Meta.indexes` (built concurrently by audit/0008: see there).
    occurred_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when it happened, as the user stated it (default: when it was recorded); "
        "empty on events recorded before this field existed, which occurred when recorded",
        verbose_name=_("occurred at"),
    )
    subject_type = models.CharField(
        max_length=20, choices=SubjectType.choices, verbose_name=_("subject type")
    )
    subject_ref = models.CharField(
        max_length=64,
        db_index=True,
        help_text="case reference, batch code or line reference",
        verbose_name=_("subject ref"),
    )
    batch_ref = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("batch ref")
    )
    action = models.CharField(
        max_length=32, choices=Action.choices, db_index=True, verbose_name=_("action")
    )
    from_state = models.CharField(max_length=20, blank=True, verbose_name=_("from state"))
    to_state = models.CharField(max_length=20, blank=True, verbose_name=_("to state"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_role = models.CharField(max_length=20, blank=True, verbose_name=_("actor role"))
    actor_facility = models.ForeignKey(
        "accounts.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor facility"),
    )
    subject_facility = models.ForeignKey(
        "accounts.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="facility the subject belongs to (scopes what hospital staff see)",
        verbose_name=_("subject facility"),
    )
    reason_code = models.CharField(
        max_length=32, blank=True, db_index=True, verbose_name=_("reason code")
    )
    # The free text of the events recorded before audit/0010, inside the chained row (the
    # column keeps its name, `reason_text`). Since then a text is kept beside its event
    # (`EventText`, redactable) and the chain holds its keyed hash, `text_digest`. Read
    # `reason_text` (below) for the text of any event.
    chained_text = models.TextField(
        max_length=TEXT_MAX_LENGTH,
        blank=True,
        db_column="reason_text",
        help_text="the text of an event recorded before texts were kept apart (cannot be "
        "redacted without breaking the chain)",
        verbose_name=_("text in the chained row"),
    )
    text_digest = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="HMAC-SHA256 of the text kept beside the event, under AUDIT_TEXT_KEY",
        verbose_name=_("text digest"),
    )
    source = models.CharField(max_length=32, blank=True, verbose_name=_("source"))
    channel = models.CharField(max_length=10, choices=Channel.choices, verbose_name=_("channel"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    # A read of personal data (the access log) is chained in one of the access lanes
    # (`AccessLane`), `lane_seq` its place there; every other event, and every read recorded
    # before the lanes existed, in the main chain (both NULL).
    lane = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("access lane"))
    lane_seq = models.PositiveBigIntegerField(
        null=True, blank=True, verbose_name=_("place in the access lane")
    )
    prev_hash = models.CharField(max_length=64, verbose_name=_("prev hash"))
    hash = models.CharField(max_length=64, unique=True, verbose_name=_("hash"))

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_ref"]),
            models.Index(fields=["occurred_at"], name="audit_event_occurred_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject_type__in=SubjectType.values), name="event_subject_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(action__in=Action.values), name="event_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c for c, _ in Channel.choices]),
                name="event_channel_valid",
            ),
            max_length_check("chained_text", TEXT_MAX_LENGTH, name="event_reason_text_length"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject_ref} {self.action} {self.from_state}->{self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit events are append-only")

    @property
    def reason_text(self) -> str:
        """The event's free text as it stands: the text kept beside the event, blank once
        redacted (see `redaction`), or the text of an older event, inside its chained row."""
        if self.chained_text or not self.text_digest:
            return self.chained_text
        kept = self.kept_text
        return kept.text if kept is not None else ""

    @property
    def kept_text(self) -> "EventText | None":
        """The `EventText` beside this event, if it has one."""
        if not self.text_digest:
            return None
        try:
            return self.text_row
        except EventText.DoesNotExist:
            return None

    @property
    def redaction(self) -> "EventText | None":
        """The redacted text's row (who, when, why) if this event's text was redacted."""
        kept = self.kept_text
        return kept if kept is not None and kept.is_redacted else None

    @property
    def text_shown(self) -> str:
        """What a page, an export or a message shows where the text was: the text, or
        "[text redacted on 8 Feb 2026 by admin: names a patient]"."""
        redaction = self.redaction
        return redaction.sentence() if redaction is not None else self.reason_text

    @property
    def occurred(self) -> datetime:
        """When it happened: the stated time, or the recorded time for the events recorded
        before `occurred_at` existed (they were stamped when typed)."""
        return self.occurred_at or self.created_at

    @property
    def recorded_late(self) -> bool:
        """It was recorded a minute or more after it happened: the timeline shows both times."""
        return self.created_at - self.occurred >= RECORDED_LATE


# When an event happened, in a query: `occurred_at`, or `created_at` for the events recorded
# before `occurred_at` existed (NULL there).
OCCURRED = Coalesce("occurred_at", "created_at")


def occurred_between(start: datetime | None = None, end: datetime | None = None) -> Q:
    """Events that occurred from `start` (included) to `end` (excluded; either may be None),
    as a condition the indexes of `occurred_at` and `created_at` serve: filtering on `OCCURRED`
    (or on a `__date` of either column) compares an expression no index covers, and reads the
    whole table."""
    stated, older = Q(occurred_at__isnull=False), Q(occurred_at__isnull=True)
    if start is not None:
        stated &= Q(occurred_at__gte=start)
        older &= Q(created_at__gte=start)
    if end is not None:
        stated &= Q(occurred_at__lt=end)
        older &= Q(created_at__lt=end)
    return stated | older


# The gap from which an event counts as recorded after the fact (pages show minutes).
RECORDED_LATE = timedelta(minutes=1)


# What the first event of the log points back to.
GENESIS_HASH = "0" * 64


class ChainHead(models.Model):
    """One row, locked while an event is appended to the main chain, so it has no forks."""

    last_hash = models.CharField(max_length=64, default=GENESIS_HASH, verbose_name=_("last hash"))

    def __str__(self) -> str:
        return self.last_hash


class AccessLane(models.Model):
    """The head of one access lane: a hash chain of reads of personal data (`Event.lane`).

    Every read writes an event, and one chain for them all would make every read in the
    deployment wait, one after the other, for the lock on its head. Reads are appended to
    several lanes instead, each locked only while one event joins it: a read takes a lane no
    one holds (`SKIP LOCKED`), so concurrent readers never wait for each other while a lane is
    free. Each lane is a chain as strict as the main one (`lane_seq` counts without gaps,
    `prev_hash` links, this row holds its last hash), and the lanes' heads are sealed into the
    main chain at intervals (`Action.SEAL`), so no read can be removed from a lane without
    breaking a link, a count or a seal (`casetracker.audit.verify`)."""

    seq = models.PositiveBigIntegerField(default=0, verbose_name=_("events in the lane"))
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH, verbose_name=_("last hash"))

    class Meta:
        verbose_name = _("access lane")
        verbose_name_plural = _("access lanes")

    def __str__(self) -> str:
        return f"lane {self.pk}: {self.seq}"


class EventText(models.Model):
    """The free text of one event, kept beside the hash chain so it can be redacted: the chain
    holds its keyed hash (`Event.text_digest`), not the text. Written by `record_event`;
    changed only by `casetracker.audit.redaction.text_redact`, which blanks the text and says
    who, when and why (on PostgreSQL a trigger refuses any other change, and every DELETE)."""

    event = models.OneToOneField(
        Event,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="text_row",
        verbose_name=_("event"),
    )
    text = models.TextField(max_length=TEXT_MAX_LENGTH, blank=True, verbose_name=_("text"))
    redacted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("redacted at"))
    redacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("redacted by"),
    )
    redaction_reason = models.CharField(
        max_length=500, blank=True, verbose_name=_("why it was redacted")
    )
    # The event that recorded the redaction (action `redact`).
    redaction_event = models.OneToOneField(
        Event,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redacted_text",
        verbose_name=_("redaction event"),
    )

    class Meta:
        verbose_name = _("event text")
        verbose_name_plural = _("event texts")
        constraints = [
            max_length_check("text", TEXT_MAX_LENGTH, name="eventtext_text_length"),
            # Redacted: blank, with who, when and the `redact` event that recorded it (which
            # `verify_audit_log` checks, and the trigger of audit/0010 on PostgreSQL);
            # otherwise none of them.
            models.CheckConstraint(
                condition=Q(
                    redacted_at__isnull=True,
                    redacted_by__isnull=True,
                    redaction_event__isnull=True,
                )
                | Q(
                    redacted_at__isnull=False,
                    redacted_by__isnull=False,
                    redaction_event__isnull=False,
                    text="",
                ),
                name="eventtext_redacted_is_blank",
            ),
        ]

    def __str__(self) -> str:
        return f"text of event #{self.event_id}"

    @property
    def is_redacted(self) -> bool:
        return self.redacted_at is not None

    def sentence(self) -> str:
        """ "[text redacted on 8 Feb 2026 by admin: names a patient]", in the active language."""
        names = {
            "day": formats.date_format(timezone.localtime(self.redacted_at), "SHORT_DATE_FORMAT"),
            "who": self.redacted_by.username if self.redacted_by_id else gettext("system"),
            "why": self.redaction_reason,
        }
        if self.redaction_reason:
            return gettext("[text redacted on %(day)s by %(who)s: %(why)s]") % names
        return gettext("[text redacted on %(day)s by %(who)s]") % names
