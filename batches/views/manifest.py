"""The printed manifest as a PDF, of a batch or of one of its vehicles (WeasyPrint).

What is on it and who sees full ID numbers: `batches/manifest.py`. Every download is written to
the access log. WeasyPrint reads the stylesheet from the collected static files on disk and may
fetch nothing else: no request ever leaves the server while a PDF is drawn."""

import logging
from pathlib import Path
from urllib.request import url2pathname

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from casetracker.exports import FORMATS

from ..manifest import build_manifest, log_manifest_access
from ..manifest_export import manifest_export_response
from ..models import Batch

logger = logging.getLogger(__name__)

STYLESHEET = "casetracker/manifest.css"
# Latin text and Arabic text: without them Pango draws empty boxes or unshaped letters.
REQUIRED_FONTS = ("DejaVu Sans", "Amiri")


@require_safe
def batch_pdf(request, code: str):
    batch = _batch(request, code)
    return _pdf(request, batch)


@require_safe
def vehicle_pdf(request, code: str, number: int):
    batch = _batch(request, code)
    vehicle = get_object_or_404(batch.vehicles, number=number)
    return _pdf(request, batch, vehicle)


@require_safe
def batch_export(request, code: str):
    """The manifest as a CSV or XLSX file (`?download=csv` or `xlsx`), from manifest_export.py."""
    batch = _batch(request, code)  # another facility's batch is not found, whatever the query
    fmt = request.GET.get("download", "")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(_("download: choose csv or xlsx."))
    return manifest_export_response(batch=batch, user=request.user, fmt=fmt)


def _batch(request, code: str) -> Batch:
    return get_object_or_404(
        Batch.objects.visible_to(request.user).select_related("staging_facility"), code=code
    )


def _pdf(request, batch: Batch, vehicle=None) -> HttpResponse:
    missing = missing_fonts()
    if missing:
        logger.error("printed manifests need the fonts %s: install them", ", ".join(missing))
        messages.error(
            request,
            _(
                "The PDF manifest cannot be made: the server lacks the fonts %(fonts)s, so "
                "Arabic names would not print. Ask the administrator to install them. Meanwhile, "
                "print this page from the browser."
            )
            % {"fonts": ", ".join(missing)},
        )
        return redirect("batches:detail", code=batch.code)
    manifest = build_manifest(batch=batch, user=request.user, vehicle=vehicle)
    html = render_to_string(
        "batches/manifest_pdf.html",
        {"manifest": manifest, "stylesheet": staticfiles_storage.stored_name(STYLESHEET)},
        request=request,
    )
    pdf = render_pdf(html)
    # Written once the PDF exists: a failed rendering disclosed nothing.
    log_manifest_access(actor=request.user, manifest=manifest)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{manifest.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def render_pdf(html: str) -> bytes:
    """The PDF of `html`, its relative links read from the collected static files."""
    # Imported here: WeasyPrint loads Pango at import, which only this view needs.
    from weasyprint import HTML

    root = Path(settings.STATIC_ROOT).resolve()
    return HTML(
        string=html, base_url=root.as_uri() + "/", url_fetcher=_static_fetcher(root)
    ).write_pdf()


def _static_fetcher(root: Path):
    from weasyprint.urls import URLFetcher

    class StaticFilesOnly(URLFetcher):
        """Files under STATIC_ROOT, nothing else: no HTTP, no other path on the disk."""

        def fetch(self, url, headers=None):
            if not url.startswith("file:"):
                raise ValueError(f"manifest assets come from the static files only: {url}")
            path = Path(url2pathname(url.split("?")[0].removeprefix("file:"))).resolve()
            if not path.is_relative_to(root):
                raise ValueError(f"not a static file: {url}")
            return super().fetch(url, headers)

    return StaticFilesOnly(allowed_protocols=["file"])


_fonts_found = False


def missing_fonts() -> list[str]:
    """The font families the sheet needs that fontconfig cannot find. Once all are found the
    answer is kept for the process; a missing font is looked for again on the next download,
    so installing it needs no restart."""
    global _fonts_found
    if _fonts_found:
        return []
    missing = [family for family in REQUIRED_FONTS if not _has_font(family)]
    _fonts_found = not missing
    return missing


def _has_font(family: str) -> bool:
    """Whether fontconfig matches `family` itself, not a fallback (it always answers some
    font). Asked through WeasyPrint's own binding, the one Pango will use."""
    from weasyprint.text.ffi import ffi, fontconfig

    config = fontconfig.FcInitLoadConfigAndFonts()
    try:
        pattern = fontconfig.FcPatternCreate()
        fontconfig.FcPatternAddString(pattern, b"family", family.encode())
        fontconfig.FcConfigSubstitute(config, pattern, 0)  # FcMatchPattern
        fontconfig.FcDefaultSubstitute(pattern)
        match = fontconfig.FcFontMatch(config, pattern, ffi.new("FcResult *"))
        fontconfig.FcPatternDestroy(pattern)
        if match == ffi.NULL:
            return False
        value = ffi.new("FcChar8 **")
        found = fontconfig.FcPatternGetString(match, b"family", 0, value) == 0  # FcResultMatch
        name = ffi.string(value[0]).decode() if found else ""
        fontconfig.FcPatternDestroy(match)
        return name.casefold() == family.casefold()
    finally:
        fontconfig.FcConfigDestroy(config)
