"""Importing a list of cases on a field page: upload a CSV or XLSX, see the dry run's preview
(every refused row with its errors, the rows to create and to update), choose which fields of
cases already held to update, then confirm: all rows or none (`imports.cases.import_cases`).

The uploaded file waits, encrypted, in a `PendingImport` between the dry run and the
confirmation: the pages name it by a random id, never by a name or a national ID. The routes
are for coordinators and admins (the route policy table); the audit context of the request
(channel web, its request id) reaches the import's events through the middleware."""

import io

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from casetracker.exports import FORMATS

from ..imports import pending as store
from ..imports.cases import CREATE, REJECT, UPDATABLE, UPDATE, ImportBusy, import_cases
from ..imports.forms import UpdateFieldsForm, UploadForm, upload_limit
from ..imports.reading import where
from ..imports.template import template_csv, template_xlsx
from ..models import ImportKind, Patient, PendingImport

PAGE_SIZE = 50
TABS = (REJECT, UPDATE, CREATE)


def find_pending(request, pk, *, kind: str, batch_ref: str = "") -> PendingImport:
    """The user's own pending import of this kind (another user's is a 404, as is one of
    another batch); `PendingImportExpired` once its time has passed."""
    pending = store.own_pending(request.user, pk, kind=kind, batch_ref=batch_ref)
    if pending is None:
        raise Http404
    if store.is_expired(pending):
        store.pending_discard(pending=pending)
        raise PendingImportExpired
    return pending


class PendingImportExpired(Exception):
    pass


def expired_page(request, again_url: str):
    """An upload past its time (or no longer readable): nothing was saved; upload it again."""
    return render(request, "patients/import_expired.html", {"again_url": again_url}, status=410)


def limits() -> dict:
    return {"max_bytes": upload_limit(), "max_rows": settings.IMPORT_MAX_ROWS}


def refused_message(error) -> str:
    return where(error.row, error.column) + error.message


# --- Upload ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        name, content = form.cleaned_data["file"].name, form.content()
        result = import_cases(file=io.BytesIO(content), name=name, actor=request.user, dry_run=True)
        if result.refused is None:
            _replace(request)
            pending = store.pending_create(
                actor=request.user,
                kind=ImportKind.CASES,
                name=name,
                content=content,
                sha256=result.sha256,
                preview=_preview(result, content, name),
            )
            return redirect("patients:import-preview", pending.pk)
        problems = [refused_message(error) for error in result.errors()]
    return render(
        request,
        "patients/import_upload.html",
        {
            "form": form,
            "problems": problems,
            "notes": column_notes(),
            "templates": template_links(),
            **limits(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _replace(request) -> None:
    """A corrected file uploaded from a preview replaces the pending import it came from."""
    replaced = store.parse_id(request.POST.get("replaces", ""))
    pending = store.own_pending(request.user, replaced, kind=ImportKind.CASES)
    if pending is not None:
        store.pending_discard(pending=pending)


def column_notes() -> list[str]:
    """The template's rules for each kind of cell, in the reader's language (COLUMN_NOTES is
    the English of the documentation; these say the same)."""
    return [
        _(
            "Dates are day first: 04/02/2026 is 4 February 2026, never 2 April; 2026-02-04 is "
            "also read."
        ),
        _("Choices (sex, priority, category, language): the value or its English or Arabic name."),
        _("Yes/no cells: yes/no, نعم/لا, true/false or 1/0; an empty cell is no."),
        _("Facilities: the facility's code."),
        _("Headers in English or Arabic; columns in any order; optional columns may be left out."),
    ]


def template_links() -> list[dict]:
    links = []
    for language, label in (("en", _("English headers")), ("ar", _("Arabic headers"))):
        for fmt in ("xlsx", "csv"):
            url = reverse("patients:import-template") + f"?headers={language}&type={fmt}"
            links.append({"url": url, "label": label, "format": fmt.upper()})
    return links


def template(request):
    """The column template: its header row, English or Arabic, as CSV or XLSX."""
    language, fmt = request.GET.get("headers", "en"), request.GET.get("type", "xlsx")
    if language not in ("en", "ar") or fmt not in ("csv", "xlsx"):
        raise Http404
    content = template_csv(language) if fmt == "csv" else template_xlsx(language)
    response = HttpResponse(content, content_type=FORMATS[fmt][0])
    response["Content-Disposition"] = f'attachment; filename="cases-template-{language}.{fmt}"'
    add_never_cache_headers(response)
    return response


# --- Preview, check again, confirm ----------------------------------------------------------


def preview(request, pending):
    try:
        found = find_pending(request, pending, kind=ImportKind.CASES)
        data = store.pending_preview(found)
        name = store.pending_name(found)
    except (PendingImportExpired, store.PendingImportDamaged):
        return expired_page(request, reverse("patients:import-cases"))
    counts = data["counts"]
    shown = request.GET.get("show", "")
    if shown not in TABS:
        shown = next((tab for tab in TABS if counts[tab]), CREATE)
    rows = [_row(row) for row in data["rows"] if row[1] == shown]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    chosen = found.update_fields
    return render(
        request,
        "patients/import_preview.html",
        {
            "pending": found,
            "file_name": name,
            "counts": counts,
            "refused": data.get("refused", ""),
            "total": sum(counts.values()),
            "shown": shown,
            "tabs": [{"name": tab, "count": counts[tab]} for tab in TABS],
            "page": page,
            "fields_form": UpdateFieldsForm(initial={"update_fields": chosen}),
            "chosen": [str(Patient._meta.get_field(f).verbose_name) for f in chosen],
            "can_confirm": not counts[REJECT] and sum(counts.values()) > 0,
            "upload_form": UploadForm(),
            **limits(),
        },
    )


def _row(row: list) -> dict:
    number, outcome, reference, changed, errors, latin, arabic = row
    labels = [str(Patient._meta.get_field(f).verbose_name) for f in changed if f in UPDATABLE]
    return {
        "number": number,
        "outcome": outcome,
        "reference": reference,
        "changed": labels,
        "errors": [{"column": column, "message": message} for column, message in errors],
        "latin": latin,
        "arabic": arabic,
    }


@require_POST
def check(request, pending):
    """Dry run again with the fields of cases already held that the coordinator chose."""
    try:
        found = find_pending(request, pending, kind=ImportKind.CASES)
        form = UpdateFieldsForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(form.errors["update_fields"]))
            return redirect("patients:import-preview", found.pk)
        fields = form.cleaned_data["update_fields"]
        name, content = store.pending_file(store.with_content(found))
    except (PendingImportExpired, store.PendingImportDamaged):
        return expired_page(request, reverse("patients:import-cases"))
    result = _import(request, name, content, dry_run=True, update_fields=fields)
    store.pending_update_preview(
        pending=found, preview=_preview(result, content, name), update_fields=fields
    )
    messages.info(request, _("Checked again."))
    return redirect("patients:import-preview", found.pk)


def _import(request, name: str, content: bytes, *, dry_run: bool, update_fields):
    """The stored file checked again or imported, with the fields of cases already held."""
    return import_cases(
        file=io.BytesIO(content),
        name=name,
        actor=request.user,
        dry_run=dry_run,
        update_fields=set(update_fields),
    )


def _preview(result, content: bytes, name: str) -> dict:
    """The preview to keep; a file refused as a whole (the limits changed since the upload)
    has no rows, only its refusal."""
    if result.refused is not None:
        return {**store.case_preview(result, {}), "refused": refused_message(result.refused)}
    return store.case_preview(result, store.row_names(io.BytesIO(content), name))


@require_POST
def confirm(request, pending):
    """Import every row, or none: a row refused now (the queue changed since the dry run)
    shows its errors again and nothing is saved."""
    try:
        found = find_pending(request, pending, kind=ImportKind.CASES)
        name, content = store.pending_file(store.with_content(found))
    except (PendingImportExpired, store.PendingImportDamaged):
        return expired_page(request, reverse("patients:import-cases"))
    result = _import(request, name, content, dry_run=False, update_fields=found.update_fields)
    if result.applied:
        store.pending_discard(pending=found)
        counts = result.counts()
        messages.success(
            request,
            _("The list is imported: %(created)s cases created, %(updated)s updated.")
            % {"created": counts[CREATE], "updated": counts[UPDATE]},
        )
        return redirect("patients:queue")
    if isinstance(result.refused, ImportBusy):  # the preview still holds: confirm again later
        messages.error(request, result.refused.message)
        return redirect("patients:import-preview", found.pk)
    store.pending_update_preview(
        pending=found,
        preview=_preview(result, content, name),
        update_fields=found.update_fields,
    )
    messages.error(request, _("Nothing was saved: some rows are refused now. See why below."))
    return redirect("patients:import-preview", found.pk)


@require_POST
def discard(request, pending):
    try:
        found = find_pending(request, pending, kind=ImportKind.CASES)
    except PendingImportExpired:
        return redirect("patients:import-cases")
    store.pending_discard(pending=found)
    messages.info(request, _("The uploaded file is discarded; nothing was saved."))
    return redirect("patients:import-cases")
