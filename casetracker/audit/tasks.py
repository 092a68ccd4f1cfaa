from celery import shared_task

from casetracker import health

from .services import seal_access_lanes


@shared_task(acks_late=True)
def seal_access_log() -> int | None:
    """Seal the access lanes' heads into the main chain (run by Celery beat); a second run with
    nothing new read seals nothing. Returns the seal event's id, if one was recorded."""
    seal = seal_access_lanes()
    # For /readyz: the sealing ran, whether or not anything was read since the last one.
    health.record_beat(health.SEALER)
    return seal.pk if seal is not None else None
