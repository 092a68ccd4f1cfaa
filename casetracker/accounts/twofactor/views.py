"""The two-factor pages: set up an authenticator, verify a sign-in, renew backup codes."""

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from .admin_site import is_verified
from .forms import BackupCodeForm, CodeForm
from .models import BackupCodeDevice
from .services import (
    backup_codes_left,
    backup_codes_regenerate,
    has_confirmed_totp,
    totp_device_confirm,
    totp_device_for_setup,
    two_factor_verify,
)

WRONG_CODE = gettext_lazy(
    "This code is wrong or has expired. After several wrong codes, wait a little before the "
    "next try."
)


def _next_url(request) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("home")


def _to(name: str, next_url: str):
    return redirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def _signed_in_with(request, device) -> None:
    # A new privilege level for this session: a new session key, as at sign-in.
    request.session.cycle_key()
    otp_login(request, device)


def _qr_svg(config_url: str) -> str:
    qr = segno.make(config_url, error="m")
    # segno writes the SVG itself from the secret alone: nothing of the user's input in it.
    return mark_safe(qr.svg_inline(scale=4, dark="#000", light="#fff", title=_("QR code")))  # noqa: S308


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    next_url = _next_url(request)
    user = request.user
    if has_confirmed_totp(user) and not is_verified(user):
        # Only a verified session may replace the authenticator: a password alone may not.
        return _to("account:verify", next_url)
    device = totp_device_for_setup(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = totp_device_confirm(user=user, device=device, token=form.cleaned_data["otp_token"])
        if codes is not None:
            device.refresh_from_db()
            _signed_in_with(request, device)
            messages.success(request, _("Two-factor sign-in is set up."))
            return render(
                request,
                "accounts/backup_codes.html",
                {"codes": codes, "left": len(codes), "next": next_url, "after_setup": True},
            )
        form.add_error("otp_token", WRONG_CODE)
    context = {
        "form": form,
        "next": next_url,
        "qr_svg": _qr_svg(device.config_url),
        "secret": _grouped(b32encode(device.bin_key).decode()),
        "replacing": has_confirmed_totp(user),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    next_url = _next_url(request)
    user = request.user
    if is_verified(user):
        return redirect(next_url)
    if not has_confirmed_totp(user):
        return _to("account:setup", next_url)
    form = CodeForm(request.POST or None)
    backup_form = BackupCodeForm(auto_id="backup_%s")
    if request.method == "POST" and form.is_valid():
        device = two_factor_verify(user=user, token=form.cleaned_data["otp_token"])
        if device is not None:
            _signed_in_with(request, device)
            if isinstance(device, BackupCodeDevice):
                left = backup_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "You used a backup code: %(left)d is left. Renew them on the backup "
                        "codes page.",
                        "You used a backup code: %(left)d are left. Renew them on the backup "
                        "codes page when few are left.",
                        left,
                    )
                    % {"left": left},
                )
            return redirect(next_url)
        form.add_error("otp_token", WRONG_CODE)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "backup_form": backup_form, "next": next_url},
    )


@require_POST
def sign_out(request):
    """The admin's own sign-out only serves sessions the admin accepts: this one also ends a
    session that stopped at the second factor (to sign in as someone else)."""
    logout(request)
    return redirect("admin:login")


@login_required
@require_http_methods(["GET", "POST"])
def backup_codes(request):
    user = request.user
    here = reverse("account:backup-codes")
    if not has_confirmed_totp(user):
        return _to("account:setup", here)
    if not is_verified(user):
        return _to("account:verify", here)
    codes = backup_codes_regenerate(user=user) if request.method == "POST" else None
    left = len(codes) if codes else backup_codes_left(user)
    return render(request, "accounts/backup_codes.html", {"codes": codes, "left": left})
