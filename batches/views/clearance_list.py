"""The clearance list of a submitted batch from a spreadsheet, on a field page: upload, see who
the list approves and rejects, the rows naming nobody on the batch and the people on the batch
it leaves out, then confirm: recorded in one all-or-nothing call (`batches.imports`).

The file waits, encrypted, in a `PendingImport` of the batch between the dry run and the
confirmation (patients/imports/pending.py), named in URLs by a random id only."""

import io

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from patients.access import log_people_shown
from patients.imports import pending as store
from patients.imports.forms import UploadForm
from patients.models import ImportKind
from patients.views.imports import (
    PendingImportExpired,
    expired_page,
    find_pending,
    limits,
    refused_message,
)

from ..imports import ClearanceResult, import_clearance
from ..models import Batch, BatchStatus, Clearance
from ..selectors import batch_lines


def _batch(request, code: str) -> Batch:
    return get_object_or_404(Batch.objects.visible_to(request.user), code=code)


def _not_now(request, batch: Batch):
    """Clearance is recorded only while the batch is submitted (the service says so too)."""
    problem = _(
        "Batch %(code)s is %(status)s: a clearance list is recorded only once it is submitted."
    )
    return render(
        request,
        "batches/clearance_list.html",
        {
            "batch": batch,
            "problems": [problem % {"code": batch.code, "status": batch.get_status_display()}],
        },
        status=409,
    )


def _summary(result: ClearanceResult) -> dict:
    """What the preview keeps (encrypted): decisions by line, errors, the lines left out."""
    return {
        "by_line": {str(pk): decision for pk, decision in result.by_line.items()},
        "errors": [refused_message(error) for error in result.errors],
        "not_on_list": result.not_on_list,
    }


@require_http_methods(["GET", "POST"])
def upload(request, code: str):
    batch = _batch(request, code)
    if batch.status != BatchStatus.SUBMITTED:
        return _not_now(request, batch)
    form = UploadForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        name, content = form.cleaned_data["file"].name, form.content()
        result = import_clearance(
            file=io.BytesIO(content), name=name, batch=batch, actor=request.user, dry_run=True
        )
        # A file that could not be read at all names no line: nothing to keep.
        if result.by_line or result.not_on_list or not result.errors:
            _replace(request, batch)
            pending = store.pending_create(
                actor=request.user,
                kind=ImportKind.CLEARANCE,
                batch_ref=batch.code,
                name=name,
                content=content,
                sha256=result.sha256,
                preview=_summary(result),
            )
            return redirect("batches:clearance-list-preview", batch.code, pending.pk)
        problems = [refused_message(error) for error in result.errors]
    return render(
        request,
        "batches/clearance_list.html",
        {"batch": batch, "form": form, "problems": problems, **limits()},
        status=400 if request.method == "POST" else 200,
    )


def _replace(request, batch: Batch) -> None:
    replaced = store.parse_id(request.POST.get("replaces", ""))
    found = store.own_pending(
        request.user, replaced, kind=ImportKind.CLEARANCE, batch_ref=batch.code
    )
    if found is not None:
        store.pending_discard(pending=found)


def preview(request, code: str, pending):
    batch = _batch(request, code)
    again = reverse("batches:clearance-list", args=[batch.code])
    try:
        found = find_pending(request, pending, kind=ImportKind.CLEARANCE, batch_ref=batch.code)
        data = store.pending_preview(found)
        name = store.pending_name(found)
    except (PendingImportExpired, store.PendingImportDamaged):
        return expired_page(request, again)
    lines = list(batch_lines(request.user, batch).filter(is_open=True))
    log_people_shown(actor=request.user, people=(line.person for line in lines))
    decided = data["by_line"]
    groups = {Clearance.APPROVED: [], Clearance.REJECTED: [], "missing": []}
    for line in lines:
        groups[decided.get(str(line.pk), "missing")].append(line)
    return render(
        request,
        "batches/clearance_list_preview.html",
        {
            "batch": batch,
            "pending": found,
            "file_name": name,
            "approved": groups[Clearance.APPROVED],
            "rejected": groups[Clearance.REJECTED],
            "missing": groups["missing"],
            "errors": data["errors"],
            "can_confirm": batch.status == BatchStatus.SUBMITTED and not data["errors"],
            "upload_form": UploadForm(),
            **limits(),
        },
    )


@require_POST
def confirm(request, code: str, pending):
    batch = _batch(request, code)
    again = reverse("batches:clearance-list", args=[batch.code])
    try:
        found = find_pending(request, pending, kind=ImportKind.CLEARANCE, batch_ref=batch.code)
        name, content = store.pending_file(store.with_content(found))
    except (PendingImportExpired, store.PendingImportDamaged):
        return expired_page(request, again)
    result = import_clearance(
        file=io.BytesIO(content), name=name, batch=batch, actor=request.user, dry_run=False
    )
    if result.applied:
        store.pending_discard(pending=found)
        approved = result.decided.get(Clearance.APPROVED, 0)
        rejected = result.decided.get(Clearance.REJECTED, 0)
        messages.success(
            request,
            _("The clearance list is recorded: %(approved)s approved, %(rejected)s rejected.")
            % {"approved": approved, "rejected": rejected},
        )
        return redirect(reverse("batches:detail", args=[batch.code]) + "#manifest")
    store.pending_update_preview(pending=found, preview=_summary(result))
    messages.error(request, _("Nothing was saved: the list is refused now. See why below."))
    return redirect("batches:clearance-list-preview", batch.code, found.pk)


@require_POST
def discard(request, code: str, pending):
    batch = _batch(request, code)
    try:
        found = find_pending(request, pending, kind=ImportKind.CLEARANCE, batch_ref=batch.code)
    except PendingImportExpired:
        return redirect("batches:clearance-list", batch.code)
    store.pending_discard(pending=found)
    messages.info(request, _("The uploaded file is discarded; nothing was saved."))
    return redirect("batches:detail", batch.code)
