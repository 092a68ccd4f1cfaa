"""Periodic work of the patients app, run by Celery beat (CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from .imports.pending import purge_expired

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def purge_expired_imports() -> int:
    """Delete the uploaded lists whose confirmation time has passed (they hold names and
    national IDs, encrypted). Idempotent: a second run finds nothing."""
    deleted = purge_expired()
    if deleted:
        logger.info("purged %d expired pending import(s)", deleted)
    return deleted
