"""A clinician records a reading at a visit (wrinkle grade, headache days, symptoms)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.services.observations import observation_record

from .. import selectors
from ..clinical import name_of
from ..forms import ObservationForm
from .common import show_invalid


def treated_areas(user, patient) -> list[tuple[str, str]]:
    """(area, name) of the areas this patient has had treated, most recent first."""
    return [(a, name_of("area", a)) for a in selectors.treated_areas(user, patient)]


@require_POST
def observation_new(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="treatment.chart", audit_read=False)
    form = ObservationForm(request.POST, areas=treated_areas(request.user, patient))
    if form.is_valid():
        try:
            observation_record(actor=request.user, patient=patient, area=form.cleaned_data["area"],
                               kind=form.cleaned_data["kind"], value=form.cleaned_data["value"],
                               observed_on=form.cleaned_data["observed_on"])
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            messages.success(request, "Reading recorded. The forecast updates in a moment.")
            return redirect("patient", public_id=patient.public_id)
    return render(request, "web/patients/observation_form.html",
                  {"nav": "patients", "patient": patient, "form": form}, status=422)
