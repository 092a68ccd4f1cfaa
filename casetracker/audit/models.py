from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
    VIEW = "view", _("record viewed")
    SEARCH = "search", _("patient search")


# Reads of personal data (the access log): for auditors and admins only. Seeing who looked at
# whom would tell a coordinator or a nurse more about a person than their role needs.
ACCESS_ACTIONS = (Action.VIEW, Action.SEARCH)


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


class Event(models.Model):
    """Append-only audit record of a state change. Holds references, never names or IDs."""

    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
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
    reason_text = models.TextField(max_length=2000, blank=True, verbose_name=_("reason text"))
    source = models.CharField(max_length=32, blank=True, verbose_name=_("source"))
    channel = models.CharField(max_length=10, choices=Channel.choices, verbose_name=_("channel"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    prev_hash = models.CharField(max_length=64, verbose_name=_("prev hash"))
    hash = models.CharField(max_length=64, unique=True, verbose_name=_("hash"))

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["id"]
        indexes = [models.Index(fields=["subject_type", "subject_ref"])]
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
            max_length_check("reason_text", 2000, name="event_reason_text_length"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject_ref} {self.action} {self.from_state}->{self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit events are append-only")


# What the first event of the log points back to.
GENESIS_HASH = "0" * 64


class ChainHead(models.Model):
    """One row, locked while an event is appended, so the hash chain has no forks."""

    last_hash = models.CharField(max_length=64, default=GENESIS_HASH, verbose_name=_("last hash"))

    def __str__(self) -> str:
        return self.last_hash
