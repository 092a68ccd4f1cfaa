"""Writes and checks of two-factor devices: enrolment, backup codes, verification, reset."""

import logging

from django.db import transaction
from django_otp import device_classes
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from casetracker.accounts.sessions import delete_api_tokens, end_sessions
from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event

from .models import BackupCodeDevice, display_code, new_code, normalise_code

logger = logging.getLogger(__name__)

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator app"
BACKUP_DEVICE_NAME = "backup codes"


def has_confirmed_totp(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user) -> int:
    device = BackupCodeDevice.objects.filter(user=user, confirmed=True).first()
    return device.codes.count() if device else 0


def _record(*, user, actor, change: str, **details) -> None:
    record_event(
        subject_type=SubjectType.ACCOUNT,
        # Usernames are login names, not case data; the id keeps a long one unambiguous.
        subject_ref=user.get_username()[:64],
        action=Action.TWO_FACTOR,
        actor=actor,
        to_state=change,
        details={"user_id": user.pk, **details},
    )


@transaction.atomic
def totp_device_for_setup(*, user) -> TOTPDevice:
    """The user's pending (unconfirmed) authenticator device, created on first use, so that
    reloading the set-up page shows the same secret. Nothing is enrolled until it is confirmed,
    which is what the audit log records."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def _replace_backup_codes(user) -> list[str]:
    device, _created = BackupCodeDevice.objects.select_for_update().get_or_create(
        user=user, defaults={"name": BACKUP_DEVICE_NAME}
    )
    codes = [new_code() for _ in range(BACKUP_CODE_COUNT)]
    device.set_codes(codes)
    return [display_code(code) for code in codes]


@transaction.atomic
def totp_device_confirm(*, user, device: TOTPDevice, token: str) -> list[str] | None:
    """Enrol `device` if `token` is its current code: it replaces any earlier authenticator,
    and a fresh set of backup codes is made. Returns those codes (to show once), or None when
    the code is wrong (the device's throttling counts the failure)."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    if device.confirmed or not device.verify_token(normalise_code(token)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _replace_backup_codes(user)
    _record(user=user, actor=user, change="enrolled", backup_codes=len(codes))
    return codes


@transaction.atomic
def backup_codes_regenerate(*, user) -> list[str]:
    """Ten new backup codes; the old ones stop working. Returns them for showing once."""
    codes = _replace_backup_codes(user)
    _record(user=user, actor=user, change="new_backup_codes", backup_codes=len(codes))
    return codes


def two_factor_verify(*, user, token: str) -> Device | None:
    """The device that accepts `token`: a six-digit code goes to the authenticator, anything
    else to the backup codes, so a wrong code only counts against the device it was meant for
    (each throttles its own failures)."""
    token = normalise_code(token or "")
    model = TOTPDevice if token.isdigit() and len(token) <= 8 else BackupCodeDevice
    with transaction.atomic():
        devices = model.objects.devices_for_user(user, confirmed=True).select_for_update()
        for device in devices:
            if device.verify_token(token):
                return device
    logger.warning("two-factor code refused (%s)", model._meta.verbose_name)
    return None


@transaction.atomic
def two_factor_reset(*, user, actor) -> int:
    """Remove every two-factor device of `user` (a lost phone): they set up again at their next
    sign-in. Their sessions end and their API tokens (each issued with a code from that phone,
    perhaps kept on it) are deleted. Returns how many
    devices were removed."""
    delete_api_tokens(user)
    # A session that had passed the second factor could otherwise enrol a new phone.
    end_sessions(user)
    removed = 0
    for model in device_classes():
        devices = model.objects.filter(user=user)
        removed += devices.count()
        devices.delete()
    _record(user=user, actor=actor, change="not_enrolled", devices=removed)
    return removed
