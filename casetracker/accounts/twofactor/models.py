"""Backup codes as a django-otp device, stored hashed.

django-otp's own StaticToken keeps its codes in clear text: whoever reads a database dump could
sign in with them. Here each code is high-entropy, hashed with SHA-256 under a random salt of its
own (ASVS 2.6.2), and deleted when used."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

# No 0/O, 1/I: codes are read off paper. 32 symbols x 12 = 60 bits per code.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 12
CODE_GROUP = 4


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What the user typed, without the spaces and hyphens that group it, upper-cased."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


def display_code(code: str) -> str:
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + code.encode()).hexdigest()


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's set of backup codes; each code signs in once. Wrong codes are throttled like
    TOTP codes (exponential delay)."""

    class Meta(Device.Meta):
        verbose_name = _("backup code set")
        verbose_name_plural = _("backup code sets")

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def set_codes(self, codes: list[str]) -> None:
        self.codes.all().delete()
        rows = []
        for code in codes:
            salt = secrets.token_hex(16)
            rows.append(BackupCode(device=self, salt=salt, digest=_digest(salt, code)))
        BackupCode.objects.bulk_create(rows)

    def verify_token(self, token) -> bool:
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        code = normalise_code(str(token))
        if len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET):
            for row in self.codes.all():
                if hmac.compare_digest(row.digest, _digest(row.salt, code)):
                    # Of two requests racing with one code, only one deletes the row.
                    deleted, _rows = BackupCode.objects.filter(pk=row.pk).delete()
                    if deleted:
                        self.throttle_reset(commit=False)
                        self.set_last_used_timestamp(commit=False)
                        self.save()
                        return True
        self.throttle_increment(commit=True)
        return False


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    salt = models.CharField(max_length=32)  # hex of 16 random bytes
    digest = models.CharField(max_length=64)  # hex SHA-256 of salt + code

    class Meta:
        verbose_name = _("backup code")
        verbose_name_plural = _("backup codes")

    def __str__(self) -> str:
        return f"backup code #{self.pk}"  # never the code: only its hash is kept
