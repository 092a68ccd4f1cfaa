"""A batch's page: the manifest grouped by patient, clearance, every step the batch may take
next, vehicles and the timeline. Every action is a plain form; htmx only spares a page load
when recording clearance. Every write goes through `batches.services`."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from casetracker.accounts.roles import can_manage_cases
from casetracker.audit.models import Action, Event, sees_every_change
from casetracker.errors import TransitionRefused
from patients.access import log_people_shown
from patients.eligibility import guardian_first
from patients.models import Patient, Returnee

from .. import services, states
from ..forms import (
    AllCrossedForm,
    ClearanceForm,
    CrossForm,
    RescheduleForm,
    SeatingForm,
    StatementForm,
    VehicleForm,
)
from ..manifest import build_manifest
from ..models import Batch, BatchStatus, Direction, Statement
from ..reports.selectors import batch_events, batch_timeline
from ..selectors import batch_lines, manifest_groups, open_counts
from ..services.clearance import batch_record_clearances, pending_decisions
from ..services.quotas import places_left
from ..services.statements import statement_add
from ..services.vehicles import takes_stretcher
from ..steps import DONE_MESSAGES, STEP_FORMS, allowed_steps

# Person references in URLs and forms are the opaque ones; lines are posted by their id, which
# a user can only see on a batch they may see.


def _batch(request, code: str, *related: str) -> Batch:
    batches = Batch.objects.visible_to(request.user).select_related(
        "crossing", "staging_facility", "rescheduled_from", *related
    )
    return get_object_or_404(batches, code=code)


def _manifest_context(request, batch: Batch, *, sheet: bool = False, events=None) -> dict:
    """The manifest as the page shows it, names included: the access log records whose.
    `sheet`: the lines with what the printed sheet needs too; `events`: the batch's events,
    when the caller has read every change of it (`sees_every_change`)."""
    lines = list(batch_lines(request.user, batch, sheet=sheet))
    log_people_shown(actor=request.user, people=(line.person for line in lines))
    manage = can_manage_cases(request.user)
    return {
        "batch": batch,
        "lines": lines,
        # A redacted clearance note or cancel text shows as "[text redacted on …]".
        "redacted": _redactions(batch, lines, events),
        "groups": manifest_groups(lines),
        "counts": open_counts(lines),
        "can_manage": manage,
        "drafting": manage and batch.status == BatchStatus.DRAFT,
        "clearing": manage and batch.status == BatchStatus.SUBMITTED,
    }


def detail(request, code: str):
    # The page links to the batch it was rescheduled as: read with it, not by the template.
    batch = _batch(request, code, "rescheduled_as")
    # The timeline's events hold the clearance and cancel events for whoever sees every change
    # (a nurse sees only those of their facility's people: the redactions are read apart).
    events = list(batch_events(request.user, batch))
    every = sees_every_change(request.user)
    context = _manifest_context(request, batch, sheet=True, events=events if every else None)
    fleet = list(batch.vehicles.order_by("number"))
    # The sheet the browser prints (the PDF's layout), with ID numbers masked for everyone.
    context["manifest"] = build_manifest(
        batch=batch, user=request.user, masked=True, fleet=fleet, lines=context["lines"]
    )
    places = None if batch.is_terminal else places_left(batch)
    counts = context["counts"]
    context.update(
        steps=allowed_steps(batch) if context["can_manage"] else [],
        places=places,
        # What the day's quota would have left once this batch's people are counted.
        left=places
        and {
            "patients": places.patients - (counts.patients or counts.returnees),
            "companions": places.companions - counts.companions,
        },
        events=batch_timeline(request.user, batch, events),
        vehicles=fleet,
        exit=batch.direction == Direction.EXIT,
        statements=_statements(request, batch),
        statement_form=StatementForm(batch=batch) if context["can_manage"] else None,
    )
    return render(request, "batches/detail.html", context)


def _refused(request, problems) -> None:
    for problem in problems:
        messages.error(request, problem)


def _back(batch: Batch, anchor: str = ""):
    return redirect(reverse("batches:detail", args=[batch.code]) + anchor)


# --- Who is on the manifest (draft) ---------------------------------------------------------


def members(request, code: str):
    """Add a patient (with their companions) or a returnee by reference, or take a line off."""
    batch = _batch(request, code)
    try:
        if "remove" in request.POST:
            line = get_object_or_404(batch.members.filter(is_open=True), pk=_int(request, "remove"))
            services.batch_remove_member(batch=batch, member=line, actor=request.user)
            taken_off = _("%(who)s was taken off the batch.")
            messages.success(request, taken_off % {"who": line.label})
        elif reference := request.POST.get("reference", "").strip().upper():
            who = _add_by_reference(request, batch, reference)
            messages.success(request, _("%(who)s was added to the batch.") % {"who": who})
        else:
            messages.error(request, _("Type a case reference (EV-…) or a returnee one (RT-…)."))
    except TransitionRefused as exc:
        _refused(request, exc.problems)
    except ValidationError as exc:
        _refused(request, exc.messages)
    return _back(batch, "#manifest")


def _add_by_reference(request, batch: Batch, reference: str) -> str:
    if batch.direction == Direction.RETURN:
        returnee = Returnee.objects.visible_to(request.user).filter(reference=reference).first()
        if returnee is None:
            raise ValidationError(_("No returnee %(ref)s.") % {"ref": reference})
        services.batch_add_returnee(batch=batch, returnee=returnee, actor=request.user)
        return reference
    patient = Patient.objects.visible_to(request.user).filter(case_reference=reference).first()
    if patient is None:
        raise ValidationError(_("No patient %(ref)s.") % {"ref": reference})
    services.batch_add_patient(
        batch=batch,
        patient=patient,
        actor=request.user,
        companions=_companions_of(patient, batch.planned_date),
    )
    return reference


def _companions_of(patient: Patient, day) -> list:
    """The companions who travel when a patient is added by reference: the builder's choice
    (guardians first, up to the limit); the coordinator can take one off afterwards."""
    ordered = guardian_first(patient.companions.all(), day)
    return ordered[: settings.MAX_COMPANIONS_PER_PATIENT]


def _int(request, name: str) -> int:
    try:
        return int(request.POST.get(name, ""))
    except ValueError:
        raise Http404 from None


# --- Clearance (submitted) ------------------------------------------------------------------


def clearance(request, code: str):
    """One person's vetting decision (with a note), or "approve all pending"."""
    batch = _batch(request, code)
    if "approve_all" in request.POST:
        decisions = pending_decisions(batch)
        done = _("%(count)s people approved.") % {"count": len(decisions)}
    else:
        form = ClearanceForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(_("A clearance decision needs a person and a decision."))
        data = form.cleaned_data
        decisions = {data["line"]: (data["decision"], data["note"])}
        done = None
    problems = []
    try:
        with transaction.atomic():
            recorded = batch_record_clearances(batch=batch, actor=request.user, decisions=decisions)
    except TransitionRefused as exc:
        problems = exc.problems
    except ValidationError as exc:
        problems = exc.messages
    else:
        if done is None:
            line = recorded[0]
            done = _("%(who)s: %(decision)s.") % {
                "who": line.label,
                "decision": line.get_clearance_display(),
            }
    if request.htmx:
        context = _manifest_context(request, _batch(request, code))
        context.update(problems=problems, done=done if not problems else None)
        return render(request, "batches/_manifest.html", context)
    if problems:
        _refused(request, problems)
    else:
        messages.success(request, done)
    return _back(batch, "#manifest")


# --- Steps of the batch ---------------------------------------------------------------------


def transition(request, code: str, name: str):
    """GET: what the step needs (a confirmation, or its form). POST: take the step."""
    batch = _batch(request, code)
    if name not in states.LABELS:
        raise Http404
    context = {"batch": batch, "name": name, "label": states.LABELS[name], "problems": []}
    if name not in {step.name for step in allowed_steps(batch)}:
        context.update(problems=[_("This step is not possible now.")], impossible=True)
        return render(request, "batches/step.html", context, status=409)
    form = _step_form(request, name, batch, request.POST if request.method == "POST" else None)
    everyone_crossed = AllCrossedForm(
        # Its own ids: the crossing form beside it has a "When it happened" field too.
        request.POST if "all_crossed" in request.POST else None,
        auto_id="id_all_%s",
    )
    if request.method == "POST":
        kwargs = _step_arguments(name, form, everyone_crossed, request)
        if kwargs is not None:
            try:
                result = getattr(services, f"batch_{name}")(
                    batch=batch, actor=request.user, **kwargs
                )
            except TransitionRefused as exc:
                context["problems"] = exc.problems
            except ValidationError as exc:
                posted = everyone_crossed if "all_crossed" in request.POST else form
                context["problems"] = _form_errors(posted, exc)
            else:
                messages.success(request, DONE_MESSAGES[name] % {"code": result.code})
                return _back(result)
    if name == "cross":
        # The crossing form names everyone on board.
        log_people_shown(actor=request.user, people=(line.person for line in form.lines))
        context.update(everyone_crossed=everyone_crossed, groups=manifest_groups(form.lines))
    context["form"] = form
    status = 409 if context["problems"] and request.method == "POST" else 200
    return render(request, "batches/step.html", context, status=status)


def _step_form(request, name: str, batch: Batch, data):
    form_class = STEP_FORMS.get(name)
    if form_class is None:
        return None
    if form_class is CrossForm:
        lines = list(batch_lines(request.user, batch).filter(is_open=True))
        return CrossForm(data if data and "all_crossed" not in data else None, lines=lines)
    if form_class is RescheduleForm:
        return RescheduleForm(data, batch=batch)
    return form_class(data)


def _step_arguments(name: str, form, everyone_crossed, request) -> dict | None:
    """The service's arguments from the posted form; None when the form is not valid. The
    cancel and crossing forms say when it happened (`occurred_at`, blank: now); the steps
    without a form happen now."""
    if form is None:
        return {}
    if name == "cross":
        if "all_crossed" in request.POST:
            if not everyone_crossed.is_valid():
                return None
            return {
                "outcomes": dict.fromkeys((line.pk for line in form.lines), "crossed"),
                "occurred_at": everyone_crossed.cleaned_data["occurred_at"],
            }
        if not form.is_valid():
            return None
        return {"outcomes": form.outcomes(), "occurred_at": form.cleaned_data["occurred_at"]}
    return dict(form.cleaned_data) if form.is_valid() else None


def _form_errors(form, exc: ValidationError) -> list[str]:
    """Errors the service named by field go beside the field; the others above the form."""
    if form is None or not hasattr(exc, "error_dict"):
        return exc.messages
    left = []
    for name, errors in exc.message_dict.items():
        if name in form.fields:
            for error in errors:
                form.add_error(name, error)
        else:
            left.extend(errors)
    return left


# --- Statements -----------------------------------------------------------------------------


def statement(request, code: str):
    """What a party said later about the batch or its cancellation: the form (also on the
    batch page), and its errors beside their fields."""
    batch = _batch(request, code)
    form = StatementForm(request.POST if request.method == "POST" else None, batch=batch)
    problems = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            statement_add(
                batch=batch,
                actor=request.user,
                source=data["source"],
                text=data["text"],
                relayed_by=data["relayed_by"],
                said_at=data["said_at"],
                about_cancellation=data.get("about_cancellation", False),
            )
        except TransitionRefused as exc:
            problems = exc.problems
        except ValidationError as exc:
            problems = _form_errors(form, exc)
        else:
            messages.success(request, _("The statement is recorded."))
            return _back(batch, "#statements")
    # Posted and shown again: refused by the batch's state (409) or the input (400).
    status = (409 if problems else 400) if request.method == "POST" else 200
    return render(
        request,
        "batches/statement.html",
        {"batch": batch, "form": form, "problems": problems},
        status=status,
    )


def _statements(request, batch: Batch) -> list:
    return list(
        Statement.objects.visible_to(request.user)
        .filter(batch=batch)
        .select_related("recorded_by", "event__text_row__redacted_by")
        .order_by("said_at", "id")
    )


def _redactions(batch: Batch, lines: list, events: list[Event] | None = None) -> dict:
    """Where a text of this batch was redacted, the redaction's sentence: the cancel text
    (`cancel`) and the clearance notes of the lines (set on each line as `note_redaction`);
    and whether the cancellation was stated as heard directly (`told_directly`). `events`:
    every event of the batch, read already (with their texts); otherwise they are read."""
    actions = (Action.CANCEL, Action.CLEARANCE)
    if events is None:
        events = (
            Event.objects.filter(batch_ref=batch.code, action__in=actions)
            .select_related("text_row__redacted_by")
            .order_by("id")
        )
    else:
        events = sorted((e for e in events if e.action in actions), key=lambda e: e.pk)
    latest = {event.subject_ref: event for event in events}  # a line's last decision
    for line in lines:
        event = latest.get(f"{batch.code}#{line.pk}")
        redaction = event.redaction if event is not None else None
        line.note_redaction = redaction.sentence() if redaction and not line.clearance_note else ""
    cancel = latest.get(batch.code)
    redaction = cancel.redaction if cancel is not None else None
    return {
        "cancel": redaction.sentence() if redaction else "",
        # Stated "nobody relayed it" (cancellations recorded before who relayed them was
        # asked do not say).
        "told_directly": cancel is not None and cancel.details.get("relayed_by", None) == "",
    }


# --- Vehicles -------------------------------------------------------------------------------


def vehicles(request, code: str):
    """The batch's ambulances and buses, and who travels in which: add or remove a vehicle,
    seat everyone in one go (all or nothing, with every capacity problem named)."""
    batch = _batch(request, code)
    fleet = list(batch.vehicles.order_by("number"))
    lines = list(batch_lines(request.user, batch).filter(is_open=True))
    data = request.POST if request.method == "POST" else None
    add = VehicleForm(data if data and "add" in data else None)
    seating = SeatingForm(data if data and "seat" in data else None, lines=lines, vehicles=fleet)
    problems = []
    if request.method == "POST":
        try:
            done = _vehicle_action(request, batch, fleet, add, seating)
        except TransitionRefused as exc:
            problems = exc.problems
        except ValidationError as exc:
            problems = _form_errors(add if "add" in request.POST else seating, exc)
        else:
            if done:
                messages.success(request, done)
                return redirect(reverse("batches:vehicles", args=[batch.code]))
    log_people_shown(actor=request.user, people=(line.person for line in lines))
    return render(
        request,
        "batches/vehicles.html",
        {
            "batch": batch,
            "vehicles": _loads(fleet, lines),
            "add": add,
            "seating": seating,
            "groups": manifest_groups(lines),
            "problems": problems,
        },
        status=409 if problems else 200,
    )


def _vehicle_action(request, batch, fleet, add, seating) -> str | None:
    """Runs the posted action; the message to show, or None when its form is not valid."""
    if "add" in request.POST:
        if not add.is_valid():
            return None
        vehicle = services.vehicle_add(batch=batch, actor=request.user, **add.cleaned_data)
        return _("%(vehicle)s added.") % {"vehicle": vehicle.name}
    if "remove" in request.POST:
        vehicle = next((v for v in fleet if str(v.number) == request.POST["remove"]), None)
        if vehicle is None:
            raise Http404
        services.vehicle_remove(batch=batch, vehicle=vehicle, actor=request.user)
        return _("%(vehicle)s removed; its people have no vehicle now.") % {"vehicle": vehicle.name}
    if "seat" in request.POST:
        if not seating.is_valid():
            return None
        services.vehicle_assign(batch=batch, actor=request.user, assignments=seating.assignments())
        return _("Seats saved.")
    raise Http404


def _loads(fleet, lines) -> list[dict]:
    """Each vehicle with the places its people take (stretcher or seat)."""
    rows = []
    for vehicle in fleet:
        aboard = [line for line in lines if line.vehicle_id == vehicle.pk]
        lying = sum(1 for line in aboard if takes_stretcher(line))
        rows.append(
            {"vehicle": vehicle, "lying": lying, "seated": len(aboard) - lying, "people": aboard}
        )
    return rows
