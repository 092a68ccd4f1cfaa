from celery import shared_task
from django.conf import settings

from .services import add_access_lanes, seal_access_lanes


@shared_task(acks_late=True)
def seal_access_log() -> int | None:
    """Seal the access lanes' heads into the main chain (run by Celery beat); a second run with
    nothing new read seals nothing. Also opens the lanes `AUDIT_ACCESS_LANES` asks for beyond
    those that exist. Returns the seal event's id, if one was recorded."""
    add_access_lanes(settings.AUDIT_ACCESS_LANES)
    seal = seal_access_lanes()
    return seal.pk if seal is not None else None
