"""An uploaded list waiting between its dry run and its confirmation (patients/imports/pending.py).

The file and the preview of its dry run hold names and national IDs: both are kept encrypted
(`casetracker.crypto.encrypt_bytes`), as is the file's name. Only a random id ever reaches a
URL. A pending import belongs to whoever uploaded it, expires after PENDING_IMPORT_HOURS and is
deleted once confirmed; the beat purges the expired ones."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    CASES = "cases", _("list of cases")
    CLEARANCE = "clearance", _("clearance list")


class PendingImportQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PendingImportQuerySet":
        """A pending import is its uploader's alone (an expired one is refused by the screens
        with its own page, then purged)."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(actor=user)


class PendingImport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", editable=False
    )
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    # The batch a clearance list is for, by its code (patients never import batches).
    batch_ref = models.CharField(max_length=40, blank=True, default="")
    file_name = models.BinaryField()  # encrypted
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()  # encrypted (zlib-compressed file)
    # The last dry run's rows, encrypted (zlib-compressed JSON); empty before it ran.
    preview = models.BinaryField(default=b"")
    # Fields of cases already held to update, as the last dry run used them (no personal data).
    update_fields = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()

    objects = PendingImportQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="pendingimport_expires")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"
