class DeliveryError(Exception):
    """A delivery attempt failed; a later attempt may succeed (network, provider 5xx, 429)."""


class PermanentDeliveryError(DeliveryError):
    """The provider refused the message itself (bad number, bad request): retrying cannot help."""
