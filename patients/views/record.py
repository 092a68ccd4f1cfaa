"""A case's page and the actions a coordinator takes from it: add a companion or a referral,
decide a referral, record a death or a withdrawal. Readiness is reported through
`patients:readiness` (the ward's endpoint); this page only shows the toggles that post there.

The batches a patient was placed in are read through the ORM relation (`patient.lines`), never
by importing `batches`: dependencies point from batches to patients (DESIGN section 5)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from casetracker.accounts import policy
from casetracker.accounts.roles import Role, can_manage_cases, user_role
from casetracker.audit.models import ACCESS_ACTIONS, Action, Event, SubjectType
from casetracker.audit.vocabulary import state_label
from casetracker.errors import TransitionRefused
from casetracker.text import listed

from .. import services
from ..access import log_access, national_id_for, record_category
from ..eligibility import Check, exit_patient_findings, guardian_first, has_adult_guardian
from ..forms import (
    CompanionForm,
    ReferralDecisionForm,
    ReferralForm,
    StatusForm,
    add_service_errors,
)
from ..models import (
    READINESS_FLAGS,
    ClinicalCategory,
    Companion,
    Patient,
    PatientStatus,
    Priority,
    Readiness,
    ReferralStatus,
    yes_no,
)
from ..selectors import queue_places

OPEN_STATUSES = (PatientStatus.WAITING, PatientStatus.SCHEDULED)
# Long histories are cut: the audit pages hold everything.
HISTORY_LIMIT = 50


def _patient(request, case_reference: str, *related: str) -> Patient:
    visible = Patient.objects.visible_to(request.user).select_related("facility", *related)
    return get_object_or_404(visible, case_reference=case_reference)


def _detail_url(patient: Patient, anchor: str = "") -> str:
    url = reverse("patients:detail", args=[patient.case_reference])
    return f"{url}#{anchor}" if anchor else url


def _item(flag: str) -> str:
    """A readiness item as a heading or a list entry reads it: "Fit to travel"."""
    return capfirst(Readiness.label(flag))


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a field renamed since the event was written
        return name


def _event_words(event: Event, referral_numbers: dict[int, str]) -> str:
    """What an event's details say, in words; references only, never names or numbers."""
    details = event.details or {}
    words: list[str] = []
    if event.action == Action.REGISTER and details.get("priority"):
        words.append(
            _("priority %(priority)s, %(category)s")
            % {
                "priority": Priority(details["priority"]).label
                if details["priority"] in Priority.values
                else details["priority"],
                "category": ClinicalCategory(details["category"]).label
                if details.get("category") in ClinicalCategory.values
                else details.get("category", ""),
            }
        )
    if event.action == Action.COMPANION_ADD and details.get("guardian"):
        words.append(_("guardian"))
    if event.action == Action.READINESS_UPDATE:
        words += [
            f"{_item(name)}: {yes_no(value)}"
            for name, value in details.items()
            if name in READINESS_FLAGS
        ]
    if event.action == Action.UPDATE and details.get("fields"):
        model = Companion if "companion" in details else Patient
        words.append(listed(_field_label(model, name) for name in details["fields"]))
    if "referral_id" in details:
        number = referral_numbers.get(details["referral_id"])
        if number:
            words.append(_("referral %(number)s") % {"number": number})
    return listed(words, strong=True)


def _event_rows(patient: Patient, user, referral_numbers: dict[int, str]) -> list[dict]:
    # The access log (who opened this page) is for the audit pages: here it would bury the
    # changes under one line per visit.
    events = (
        Event.objects.visible_to(user)
        .filter(subject_ref=patient.case_reference)
        .exclude(action__in=ACCESS_ACTIONS)
        .select_related("actor", "text_row__redacted_by")
        .order_by("-id")[:HISTORY_LIMIT]
    )
    rows = []
    for event in events:
        if event.to_state and event.from_state:
            change = _("%(to)s (was %(from)s)") % {
                "to": state_label(event.to_state),
                "from": state_label(event.from_state),
            }
        else:
            change = state_label(event.to_state) if event.to_state else ""
        rows.append(
            {
                # When it happened; when it was recorded too, if that was later.
                "when": event.occurred,
                "recorded": event.created_at if event.recorded_late else None,
                "who": event.actor.username if event.actor else _("system"),
                "action": (
                    _("referral registered")
                    if event.subject_type == SubjectType.REFERRAL and event.action == Action.CREATE
                    else event.get_action_display()
                ),
                "change": change,
                "details": _event_words(event, referral_numbers),
                # The text, or who redacted it, when and why.
                "reason": event.text_shown,
            }
        )
    return rows


def _journey(patient: Patient, user) -> list[dict]:
    """Every batch the patient was placed in, newest first."""
    lines = (
        patient.lines.visible_to(user)
        .select_related("batch")
        .order_by("-batch__planned_date", "-id")[:HISTORY_LIMIT]
    )
    return [
        {
            "code": line.batch.code,
            "planned_date": line.batch.planned_date,
            "batch_status": line.batch.get_status_display(),
            "batch_status_code": line.batch.status,
            "clearance": line.get_clearance_display(),
            "clearance_code": line.clearance,
            "outcome": line.get_outcome_display() if line.outcome else "",
            "ended": line.get_end_reason_display() if not line.is_open else "",
        }
        for line in lines
    ]


def _batch_needs(patient, companions, today, *, has_valid_referral: bool) -> list[str]:
    """What still stops a waiting patient from being put in a batch and prepared, in words: the
    checks `prepare` makes (`patients.eligibility`), as of today, with the companions the
    builder would propose."""
    travelling = guardian_first(companions, today)[: settings.MAX_COMPANIONS_PER_PATIENT]
    needs = []
    for finding in exit_patient_findings(
        patient, day=today, companions=travelling, has_valid_referral=has_valid_referral
    ):
        if finding.check == Check.NO_VALID_REFERRAL:
            needs.append(_("an approved referral that has not expired"))
        elif finding.check == Check.NOT_READY:
            needs += [_item(name) for name in finding.missing]
        elif finding.check == Check.CHILD_WITHOUT_GUARDIAN:
            needs.append(_("an adult guardian among the companions"))
    return needs


def _page(request, patient: Patient, *, problems=(), decision_forms=None, status: int = 200):
    """The patient page. Every rendering shows the record, so every one is in the access log."""
    user = request.user
    role = user_role(user)
    auditor = role is Role.AUDITOR
    manages = can_manage_cases(user)
    today = timezone.localdate()
    log_access(actor=user, category=record_category(user), subject=patient)

    companions = list(patient.companions.all())
    referrals = list(patient.referrals.select_related("referring_facility"))
    # Read with the patient by the page (None: no row), or here; the eligibility checks read
    # `patient.readiness` too: the same row, not a second query.
    cached = Patient.readiness.related
    if cached.is_cached(patient):
        readiness = cached.get_cached_value(patient)
    else:
        readiness = Readiness.objects.filter(patient=patient).select_related("updated_by").first()
        cached.set_cached_value(patient, readiness)
    history = patient.readiness_history.select_related("changed_by")[:HISTORY_LIMIT]
    is_open = patient.status in OPEN_STATUSES
    decision_forms = decision_forms or {}
    # `is_valid_on` is `Referral.objects.valid_on` for the referrals already read.
    valid_today = {r.pk for r in referrals if r.is_valid_on(today)}

    context = {
        "patient": patient,
        "problems": problems,
        "auditor": auditor,
        "manages": manages and is_open,
        "may_close": manages and is_open,
        "reports_readiness": is_open and policy.allows("patients:readiness", "POST", role),
        "facility_name": patient.facility.name,
        "national_id": national_id_for(user, patient.national_id),
        "age": patient.age_on(today),
        "child": patient.is_child_on(today),
        "queue_place": queue_places(user, [patient]).get(patient.pk),
        "companions": [
            {
                "companion": c,
                "age": c.age_on(today),
                "child": not c.is_adult_on(today),
                "national_id": national_id_for(user, c.national_id),
            }
            for c in companions
        ],
        "child_without_guardian": patient.is_child_on(today)
        and is_open
        and not has_adult_guardian(companions, today),
        "referrals": [
            {
                "referral": r,
                "referring_facility": r.referring_facility.name,
                "valid_today": r.pk in valid_today,
                "expired_by_date": r.expires_on is not None and r.expires_on < today,
                "decision_form": (
                    decision_forms.get(r.pk) or ReferralDecisionForm(referral=r)
                    if manages and ReferralDecisionForm.offered(r)
                    else None
                ),
            }
            for r in referrals
        ],
        "readiness": readiness,
        "readiness_flags": [
            {"name": name, "label": _item(name), "done": getattr(readiness, name)}
            for name in READINESS_FLAGS
            # As the batch rules: companions need to be present only when there are some.
            if name != "companions_present" or companions
        ]
        if readiness
        else [],
        "readiness_history": [
            {
                "when": change.changed_at,
                "who": change.changed_by.username if change.changed_by else _("system"),
                "words": change.in_words(show_note=not auditor),
            }
            for change in history
        ],
        "batch_needs": (
            _batch_needs(patient, companions, today, has_valid_referral=bool(valid_today))
            if patient.status == PatientStatus.WAITING
            else []
        ),
        "journey": _journey(patient, user),
        "events": _event_rows(patient, user, {r.pk: r.number for r in referrals}),
    }
    return render(request, "patients/detail.html", context, status=status)


@require_safe
def detail(request, case_reference: str):
    return _page(request, _patient(request, case_reference, "readiness__updated_by"))


@require_http_methods(["GET", "POST"])
def companion_add(request, case_reference: str):
    patient = _patient(request, case_reference)
    form = CompanionForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.companion_add(patient=patient, actor=request.user, **form.service_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Companion added to %(reference)s.") % {"reference": patient.case_reference},
            )
            return redirect(_detail_url(patient, "companions"))
    return render(
        request,
        "patients/companion_form.html",
        {"patient": patient, "form": form},
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
def referral_add(request, case_reference: str):
    patient = _patient(request, case_reference)
    form = ReferralForm(
        request.POST if request.method == "POST" else None,
        actor=request.user,
        initial={"referring_facility": patient.facility_id},
    )
    if form.is_bound and form.is_valid():
        try:
            referral = services.referral_create(
                patient=patient, actor=request.user, **form.service_data()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Referral %(number)s added to %(reference)s; it waits for a decision.")
                % {"number": referral.number, "reference": patient.case_reference},
            )
            return redirect(_detail_url(patient, "referrals"))
    return render(
        request,
        "patients/referral_form.html",
        {"patient": patient, "form": form},
        status=400 if form.is_bound else 200,
    )


DECISION_MESSAGES = {
    ReferralStatus.APPROVED: gettext_lazy("Referral %(number)s of %(reference)s approved."),
    ReferralStatus.REJECTED: gettext_lazy("Referral %(number)s of %(reference)s rejected."),
    ReferralStatus.EXPIRED: gettext_lazy("Referral %(number)s of %(reference)s marked as expired."),
}


@require_POST
def referral_decide(request, case_reference: str, referral_id: int):
    patient = _patient(request, case_reference)
    referral = get_object_or_404(patient.referrals.all(), pk=referral_id)
    form = ReferralDecisionForm(request.POST, referral=referral)
    if form.is_valid():
        decision = form.cleaned_data["status"]
        try:
            services.referral_decide(referral=referral, status=decision, actor=request.user)
        except TransitionRefused as refused:
            return _page(request, patient, problems=refused.problems, status=409)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                DECISION_MESSAGES[decision]
                % {"number": referral.number, "reference": patient.case_reference},
            )
            return redirect(_detail_url(patient, "referrals"))
    return _page(request, patient, decision_forms={referral.pk: form}, status=400)


STATUS_MESSAGES = {
    PatientStatus.DECEASED: gettext_lazy("Death recorded for %(reference)s."),
    PatientStatus.WITHDRAWN: gettext_lazy("Withdrawal recorded for %(reference)s."),
}


@require_http_methods(["GET", "POST"])
def status(request, case_reference: str):
    patient = _patient(request, case_reference)
    form = StatusForm(request.POST if request.method == "POST" else None)
    problems: list[str] = []
    if form.is_bound and form.is_valid():
        chosen = form.cleaned_data["status"]
        try:
            services.patient_set_status(
                patient=patient,
                status=chosen,
                actor=request.user,
                reason_text=form.cleaned_data["reason_text"],
                occurred_at=form.cleaned_data["occurred_at"],
            )
        except TransitionRefused as refused:
            problems = refused.problems
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, STATUS_MESSAGES[chosen] % {"reference": patient.case_reference}
            )
            return redirect(_detail_url(patient))
    code = 409 if problems else (400 if form.is_bound else 200)
    return render(
        request,
        "patients/status_form.html",
        {
            "patient": patient,
            "form": form,
            "problems": problems,
            "closed": patient.status not in OPEN_STATUSES,
        },
        status=code,
    )
