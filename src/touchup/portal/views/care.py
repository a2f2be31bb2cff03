"""Before and after a treatment: the screening questions, the aftercare timeline, and
reporting a side effect."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from touchup.clinic.errors import InvalidInput
from touchup.clinic.services.screenings import screening_record
from touchup.core.catalogue import load_catalogue
from touchup.web.forms import ScreeningForm

from .. import access
from ..forms import SideEffectForm, show_invalid
from ..models import URGENT_KINDS, SideEffectReport
from ..services.side_effects import side_effect_report
from .common import htmx_or, portal_view


@portal_view
@require_http_methods(["GET", "POST"])
def screening(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    indication = request.POST.get("indication") or request.GET.get("indication") or ""
    form = ScreeningForm(request.POST if request.method == "POST" else None, indication=indication)
    if request.method == "POST" and form.is_valid():
        try:
            s = screening_record(actor=request.user, patient=patient, indication=form.cleaned_data["indication"],
                                 answers=form.answers())
        except InvalidInput as exc:
            form.show_invalid(exc)
        else:
            request.session["portal_screening"] = str(s.public_id)
            return redirect("portal:screening_done")
    return render(request, "portal/screening.html", {"nav": "home", "form": form})


@portal_view
def screening_done(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    from touchup.clinic.services.screenings import latest_screening

    s = latest_screening(patient)
    if s is not None:
        access.read(request.user, patient, "screening", s)
    yes = [k for k, v in (s.answers if s else {}).items() if isinstance(v, dict) and v.get("answer")]
    return render(request, "portal/screening_done.html", {"nav": "home", "s": s, "any_yes": bool(yes)})


def _timeline(treatment):
    from touchup.web.clinical import aftercare_for

    # The plan counts from the moment of the injections: the signing time when the chart
    # was signed that day, else midday of the treatment day (a chart signed later).
    zone = timezone.get_current_timezone()
    signed = treatment.signed_at.astimezone(zone) if treatment.signed_at else None
    if signed is None or signed.date() != treatment.treated_on:
        treatment.signed_at = dt.datetime.combine(treatment.treated_on, dt.time(12), tzinfo=zone)  # not saved
    care = aftercare_for(treatment)
    now = timezone.now()
    for step in care["steps"]:
        # A step that lasts to midnight ("today and tomorrow") ends with the day before it:
        # "until the end of Sat 24 Oct", not "until Sun 25 Oct, 00:00".
        until = timezone.localtime(step["until"], zone) if step["until"] is not None else None
        step["until_day_end"] = (until.date() - dt.timedelta(days=1)
                                 if until is not None and until.time() == dt.time(0) else None)
        if step["until"] is not None and step["until"] <= now:
            step["state"] = "done"
        elif step["starts_at"] <= now:
            step["state"] = "now"
        else:
            step["state"] = "later"
    return care


@portal_view
def aftercare_index(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    access.read(request.user, patient, "treatments")
    # Each visit by what was treated as well as when: the aftercare differs by area, and a
    # patient treated for two things cannot tell "Treatment on …" lines apart.
    names = load_catalogue().indications
    treatments = list(access.signed_treatments(patient)[:20])
    for t in treatments:
        t.indication_name = names[t.indication].name if t.indication in names else t.indication
    return render(request, "portal/aftercare_index.html", {"nav": "aftercare", "treatments": treatments})


def _cite(care: dict) -> None:
    """The plan names its sources by key ("S90, S88"): resolve them to the catalogue's
    sources, listed once at the foot of the page as on the Learn pages, so a code a patient
    sees leads to what it stands for."""
    sources = load_catalogue().sources
    listed: dict = {}

    def resolve(keys: str) -> list:
        return [listed.setdefault(k, sources[k]) for k in (k.strip() for k in keys.split(",")) if k in sources]

    for step in care["steps"]:
        step["sources"] = resolve(step["source"])
    care["sign_sources"] = resolve(care["plan"].source)
    care["sources"] = list(listed.values())


@portal_view
def aftercare(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.own_treatment(request.user, public_id)
    care = _timeline(treatment)
    _cite(care)
    return render(request, "portal/aftercare.html", {
        "nav": "aftercare", "t": treatment, "care": care, "indication": load_catalogue().indications[treatment.indication].name if treatment.indication in load_catalogue().indications else treatment.indication,
    })


@portal_view
@require_http_methods(["GET", "POST"])
def side_effect_new(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    treatment = None
    tid = request.POST.get("treatment") or request.GET.get("treatment")
    if tid:
        treatment = access.own_treatment(request.user, tid)
    form = SideEffectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            report = side_effect_report(
                actor=request.user, patient=patient, kind=form.cleaned_data["kind"],
                details=form.cleaned_data["details"], started_on=form.cleaned_data["started_on"], treatment=treatment,
            )
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            ctx = {"nav": "aftercare", "report": report}
            return render(request, htmx_or(request, "portal/_side_effect_sent.html", "portal/side_effect_sent.html"), ctx)
    ctx = {"nav": "aftercare", "form": form, "treatment": treatment, "urgent_kinds": sorted(URGENT_KINDS)}
    return render(request, htmx_or(request, "portal/_side_effect_form.html", "portal/side_effect_new.html"), ctx)


@portal_view
def side_effect_list(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    access.read(request.user, patient, "side_effects")
    reports = list(SideEffectReport.objects.filter(patient=patient).order_by("-reported_at")[:50])
    return render(request, "portal/side_effects.html", {"nav": "aftercare", "reports": reports})


