"""The clinic's treatments list and starting a new treatment."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.services.treatments import treatment_start

from .. import selectors
from ..clinical import name_of, protocol_choices, protocols_for, units_text
from ..forms import StartTreatmentForm, TreatmentFilterForm
from .common import show_invalid


def treatment_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "clinical.view")
    form = TreatmentFilterForm(request.GET or None)
    status = indication = ""
    if form.is_valid():
        status, indication = form.cleaned_data["status"], form.cleaned_data["indication"]
    page = selectors.clinic_treatments(
        request.user, status=status, indication=indication, page=request.GET.get("page", 1)
    )
    query = urlencode({k: v for k, v in (("status", status), ("indication", indication)) if v})
    rows = [
        {"obj": t, "indication_name": name_of("indication", t.indication),
         "product_name": name_of("product", t.product), "units_text": units_text(t.total_units)}
        for t in page.object_list
    ]
    return render(request, "web/treatments/list.html", {
        "nav": "treatments", "form": form, "page": page, "rows": rows, "query": query,
    })


@require_GET
def protocol_options(request: HttpRequest) -> HttpResponse:
    """The protocol <option>s for one indication (the start form swaps them in)."""
    access.require(request.user, "treatment.chart")
    indication = request.GET.get("indication", "")
    return render(request, "web/treatments/_protocol_options.html", {
        "protocols": protocols_for(indication), "selected": request.GET.get("protocol", ""),
    })


@require_POST
def treatment_new(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="treatment.chart")
    indication = request.POST.get("indication", "")
    form = StartTreatmentForm(request.POST, protocols=protocol_choices(indication))
    if form.is_valid():
        data = form.cleaned_data
        try:
            treatment = treatment_start(
                actor=request.user, patient=patient, indication=data["indication"],
                product=data["product"], protocol=data["protocol"] or None, treated_on=data["treated_on"],
            )
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            return redirect("chart", public_id=treatment.public_id)
    return render(request, "web/treatments/start.html", {
        "nav": "patients", "patient": patient, "start_form": form, "start_protocols": protocols_for(indication),
    })
