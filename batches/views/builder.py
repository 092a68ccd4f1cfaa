"""The batch builder (`/batches/new/`): the coordinator chooses crossing, direction, day and
staging facility (a GET form); the system proposes the batch (`batches/proposal/`); the
coordinator unticks, reorders and adds people by reference, then saves a draft through
`batch_create_draft`. Everything works as plain forms; the manifest keeps the chosen order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from casetracker.accounts.fields import FacilityChoiceField
from casetracker.accounts.models import Facility, FacilityKind
from casetracker.errors import TransitionRefused
from patients.access import Category, log_access
from patients.models import Patient, Returnee

from .. import proposal as proposals
from ..models import DEFAULT_CROSSING, Crossing, Direction
from ..proposal import ProposedPatient, ProposedReturnee, Why
from ..services import batch_create_draft
from ..services.quotas import places_left_on


def staging_choices():
    """Active facilities, staging points first."""
    first = Case(
        When(kind=FacilityKind.STAGING, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return Facility.objects.filter(is_active=True).alias(first=first).order_by("first", "code")


def crossing_label(crossing: Crossing) -> str:
    """A crossing as the choice lists it: its name, and since when it is closed or restricted."""
    since = date_format(timezone.localtime(crossing.state_since), "SHORT_DATETIME_FORMAT")
    names = {"crossing": crossing.name, "since": since}
    if crossing.is_closed:
        return _("%(crossing)s: closed since %(since)s") % names
    if crossing.is_restricted:
        return _("%(crossing)s: restricted since %(since)s") % names
    return crossing.name


def crossing_choices() -> list[tuple[str, str]]:
    return [(c.code, crossing_label(c)) for c in Crossing.objects.order_by("code")]


class ChooseForm(forms.Form):
    """Step 1: which batch to build. A GET form: choosing shows a proposal, saves nothing."""

    crossing = forms.ChoiceField(
        label=gettext_lazy("Crossing"), choices=crossing_choices, initial=DEFAULT_CROSSING
    )
    direction = forms.ChoiceField(
        label=gettext_lazy("Direction"), choices=Direction.choices, initial=Direction.EXIT
    )
    date = forms.DateField(
        label=gettext_lazy("Planned date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    staging_facility = FacilityChoiceField(
        label=gettext_lazy("Staging facility"),
        queryset=Facility.objects.none(),
        to_field_name="code",
        empty_label=gettext_lazy("Choose…"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staging_facility"].queryset = staging_choices()
        self.fields["date"].initial = timezone.localdate() + dt.timedelta(days=1)
        self.crossing = None

    def clean_crossing(self) -> str:
        """A closed crossing is refused here, with since when and why: `prepare` would refuse
        the batch anyway. A restricted one is a warning on the page."""
        code = self.cleaned_data["crossing"]
        self.crossing = Crossing.objects.get(code=code)
        if self.crossing.is_closed:
            raise ValidationError(self.crossing.state_sentence())
        return code


@dataclass
class Row:
    """One person in the batch being built, as the coordinator left them."""

    candidate: ProposedPatient | ProposedReturnee
    kept: bool = True
    chosen: set[int] = field(default_factory=set)  # companion ids that travel
    warnings: list[Why] = field(default_factory=list)
    position: int = 0

    @property
    def reference(self) -> str:
        return self.candidate.reference

    @property
    def person(self) -> Patient | Returnee:
        return getattr(self.candidate, "patient", None) or self.candidate.returnee

    @property
    def companions(self) -> list:
        """(proposed companion, ticked) pairs, for the template."""
        return [
            (c, c.companion.pk in self.chosen) for c in getattr(self.candidate, "companions", [])
        ]

    def travelling(self) -> list:
        return [c.companion for c, ticked in self.companions if ticked]


@dataclass
class Build:
    """What the page shows of the batch being built."""

    day: dt.date
    direction: str
    crossing: str
    staging_facility: Facility
    rows: list[Row]
    proposal: proposals.Proposal
    problems: list[str] = field(default_factory=list)
    add_errors: list[str | Why] = field(default_factory=list)
    add_value: str = ""  # what was typed, kept when it is refused

    @property
    def is_exit(self) -> bool:
        return self.direction == Direction.EXIT

    @property
    def kept(self) -> list[Row]:
        return [row for row in self.rows if row.kept]

    @property
    def people(self) -> int:
        return len(self.kept)

    @property
    def companions(self) -> int:
        return sum(len(row.travelling()) for row in self.kept)

    @property
    def places(self):
        return self.proposal.places

    @property
    def places_after(self) -> tuple[int, int] | None:
        if self.places is None:
            return None
        return self.places.patients - self.people, self.places.companions - self.companions

    @property
    def over_quota(self) -> bool:
        after = self.places_after
        return after is not None and (after[0] < 0 or (self.is_exit and after[1] < 0))

    @property
    def skipped(self) -> list[proposals.Skipped]:
        listed = {row.reference for row in self.rows}
        return [s for s in self.proposal.skipped if s.reference not in listed]


# --- Reading the rows the form posted -----------------------------------------------------


def _load(user, day: dt.date, direction: str, references: list[str]) -> dict[str, tuple]:
    """reference -> (candidate, reasons), for the people the user may see."""
    if not references:
        return {}
    if direction == Direction.EXIT:
        people = list(proposals.exit_candidates(user, day).filter(case_reference__in=references))
        batches = proposals.open_batches("patient", people)
        return {
            p.case_reference: proposals.evaluate_patient(p, day, on_batch=batches.get(p.pk))
            for p in people
        }
    people = list(proposals.return_candidates(user).filter(reference__in=references))
    batches = proposals.open_batches("returnee", people)
    return {
        r.reference: proposals.evaluate_returnee(r, day, on_batch=batches.get(r.pk)) for r in people
    }


def _position(value: str, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _posted_rows(request, day: dt.date, direction: str) -> list[Row]:
    """The table as the coordinator left it, in the order they asked for."""
    data = request.POST
    references = list(dict.fromkeys(data.getlist("row")))
    loaded = _load(request.user, day, direction, references)
    kept = set(data.getlist("keep"))
    ticked = set(data.getlist("companions"))
    rows = []
    for index, reference in enumerate(references):
        if reference not in loaded:
            continue  # no longer visible to this user: dropped
        candidate, _reasons = loaded[reference]
        row = Row(candidate, kept=reference in kept)
        if isinstance(candidate, ProposedPatient):
            row.chosen = {
                c.companion.pk for c in candidate.companions if str(c.companion.pk) in ticked
            }
        row.position = _position(data.get(f"order-{reference}"), index + 1)
        rows.append((row.position, index, row))
    return [row for _p, _i, row in sorted(rows, key=lambda item: item[:2])]


def _check_rows(rows: list[Row], day: dt.date, on_batches: dict[str, str]) -> None:
    """Each row's warnings now, with the companions ticked (the same rules as `prepare`)."""
    for number, row in enumerate(rows, start=1):
        row.position = number
        if isinstance(row.candidate, ProposedPatient):
            row.warnings = proposals.patient_reasons(
                row.candidate.patient,
                day,
                row.travelling(),
                on_batch=on_batches.get(row.reference),
            )
        else:
            _candidate, row.warnings = proposals.evaluate_returnee(
                row.candidate.returnee, day, on_batch=on_batches.get(row.reference)
            )


def _on_batches(rows: list[Row], direction: str) -> dict[str, str]:
    people = [row.person for row in rows]
    by_id = proposals.open_batches("patient" if direction == Direction.EXIT else "returnee", people)
    return {row.reference: by_id[row.person.pk] for row in rows if row.person.pk in by_id}


def _add(request, build: Build) -> None:
    """The "add by reference" box: a person not proposed joins the list, unless something
    stops them from travelling that day (then the box says what)."""
    reference = request.POST.get("add", "").strip().upper()
    if not reference:
        return
    for row in build.rows:
        if row.reference == reference:
            row.kept = True
            return
    build.add_value = reference
    check = proposals.check_patient if build.is_exit else proposals.check_returnee
    found = check(user=request.user, reference=reference, day=build.day)
    if found is None:
        if build.is_exit:
            text = _("No case with the reference %(reference)s.")
        else:
            text = _("No returnee with the reference %(reference)s.")
        build.add_errors.append(text % {"reference": reference})
        return
    candidate, reasons = found
    if reasons:
        build.add_errors.append(
            _("%(reference)s cannot travel that day:") % {"reference": reference}
        )
        build.add_errors += reasons
        return
    build.add_value = ""
    chosen = {c.pk for c in getattr(candidate, "travelling", [])}
    build.rows.append(Row(candidate, kept=True, chosen=chosen, position=len(build.rows) + 1))


def _save(request, build: Build):
    kept = build.kept
    if not kept:
        # An empty draft is a slip here: the builder exists to fill one.
        build.problems = [_("Tick at least one person to save a draft.")]
        return None
    try:
        batch = batch_create_draft(
            actor=request.user,
            crossing=build.crossing,
            direction=build.direction,
            planned_date=build.day,
            staging_facility=build.staging_facility,
            patients=[(row.candidate.patient, row.travelling()) for row in kept]
            if build.is_exit
            else (),
            returnees=[row.candidate.returnee for row in kept] if not build.is_exit else (),
        )
    except TransitionRefused as exc:
        build.problems = exc.problems
        return None
    except ValidationError as exc:
        build.problems = [
            str(m) for msgs in getattr(exc, "message_dict", {}).values() for m in msgs
        ]
        build.problems = build.problems or list(exc.messages)
        return None
    people = (
        ngettext("%(count)d patient", "%(count)d patients", build.people)
        if build.is_exit
        else ngettext("%(count)d returnee", "%(count)d returnees", build.people)
    ) % {"count": build.people}
    if build.is_exit:
        people += ", " + ngettext(
            "%(count)d companion", "%(count)d companions", build.companions
        ) % {"count": build.companions}
    text = _("Draft batch %(code)s saved with %(people)s. Prepare it once everyone is ready.") % {
        "code": batch.code,
        "people": people,
    }
    messages.success(request, text)
    return redirect("batches:detail", code=batch.code)


# --- The page -----------------------------------------------------------------------------


def _places_preview(form: ChooseForm):
    """Places left on the chosen (or default) day, before a proposal is asked for."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else None
    day = data["date"] if data else form.fields["date"].initial
    direction = data["direction"] if data else Direction.EXIT
    crossing = data["crossing"] if data else DEFAULT_CROSSING
    if not day:
        return None
    return {
        "day": day,
        "is_exit": direction == Direction.EXIT,
        "places": places_left_on(crossing=crossing, day=day, direction=direction),
    }


def _crossing_warning(form: ChooseForm) -> str:
    """What the page says of a restricted crossing (a closed one is a form error)."""
    crossing = form.crossing
    if crossing is None and not form.is_bound:
        crossing = Crossing.objects.filter(code=DEFAULT_CROSSING).first()
    return crossing.state_sentence() if crossing and crossing.is_restricted else ""


def builder(request):
    source = request.POST if request.method == "POST" else request.GET
    chosen = any(name in source for name in ChooseForm.base_fields)
    form = ChooseForm(source if chosen else None)
    context = {"form": form}
    if not (chosen and form.is_valid()):
        context["preview"] = _places_preview(form)
        context["crossing_warning"] = _crossing_warning(form)
        return render(request, "batches/builder.html", context)

    data = form.cleaned_data
    day, direction = data["date"], data["direction"]
    proposal = proposals.propose(
        user=request.user,
        crossing=data["crossing"],
        direction=direction,
        day=day,
        staging_facility=data["staging_facility"],
    )
    if request.method == "POST":
        rows = _posted_rows(request, day, direction)
    else:
        rows = [
            Row(candidate, chosen={c.pk for c in getattr(candidate, "travelling", [])})
            for candidate in (proposal.patients if proposal.is_exit else proposal.returnees)
        ]
    build = Build(
        day=day,
        direction=direction,
        crossing=data["crossing"],
        staging_facility=data["staging_facility"],
        rows=rows,
        proposal=proposal,
    )
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "add":
        _add(request, build)
    _check_rows(build.rows, day, _on_batches(build.rows, direction))
    if action == "save":
        done = _save(request, build)
        if done is not None:
            return done
    shown = [row.person for row in build.rows] + [s.person for s in build.skipped]
    log_access(
        actor=request.user,
        category=Category.IDENTITY,
        results=shown,
        model=Patient if build.is_exit else Returnee,
    )
    context.update(build=build, hidden=_hidden_choice(form))
    return render(request, "batches/builder.html", context, status=200)


def _hidden_choice(form: ChooseForm) -> list[tuple[str, str]]:
    """Step 1's answers, carried by the step 2 form."""
    data = form.cleaned_data
    return [
        ("crossing", data["crossing"]),
        ("direction", data["direction"]),
        ("date", data["date"].isoformat()),
        ("staging_facility", data["staging_facility"].code),
    ]
