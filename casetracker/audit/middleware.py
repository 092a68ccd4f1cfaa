import re

from .context import Channel, audit_context, new_request_id

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _channel_for(path: str) -> str:
    if path.startswith("/api/"):
        return Channel.API
    if path.startswith("/admin/"):
        return Channel.ADMIN
    return Channel.WEB


class AuditContextMiddleware:
    """Gives every request an id (kept from a well-formed X-Request-ID header) and a channel."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        request.request_id = request_id
        with audit_context(channel=_channel_for(request.path), request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
