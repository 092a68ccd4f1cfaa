from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("accounts/two_factor_off_banner.html")
def two_factor_off_banner(where: str = "page") -> dict:
    """The "demonstration only" banner while two-factor sign-in is off; `where` is "page" or
    "admin" (the admin's own message style)."""
    return {"off": not settings.TWO_FACTOR_REQUIRED, "admin": where == "admin"}
