"""Screening: the core's questionnaire as a form, its findings, the doctor's sign-off."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.services.screenings import screening_doctor_signoff, screening_record

from .. import clinical
from ..forms import ScreeningForm


@require_http_methods(["GET", "POST"])
def screening_new(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="screening.record")
    indication = request.POST.get("indication") or request.GET.get("indication") or ""
    form = ScreeningForm(request.POST or None, indication=indication)
    if request.method == "POST" and form.is_valid():
        try:
            screening = screening_record(
                actor=request.user, patient=patient, indication=form.cleaned_data["indication"],
                answers=form.answers(),
            )
        except InvalidInput as exc:
            form.show_invalid(exc)
        else:
            messages.success(request, "Screening recorded.")
            if access.can(request.user, "clinical.view"):
                return redirect("screening", public_id=screening.public_id)
            return redirect("patient", public_id=patient.public_id)
    return render(request, "web/screening/form.html", {"nav": "patients", "patient": patient, "form": form})


def screening_detail(request: HttpRequest, public_id) -> HttpResponse:
    screening = access.screening_for(request.user, public_id)
    return render(request, "web/screening/detail.html", {
        "nav": "patients", "patient": screening.patient, "s": clinical.describe_screening(screening),
        "answers": clinical.screening_answers(screening),
    })


@require_POST
def screening_signoff(request: HttpRequest, public_id) -> HttpResponse:
    screening = access.screening_for(request.user, public_id, need="screening.doctor_signoff")
    try:
        screening_doctor_signoff(actor=request.user, screening=screening)
    except Conflict as exc:
        messages.info(request, str(exc))
    except PermissionDenied:
        raise
    else:
        messages.success(request, "Screening signed off.")
    return redirect("screening", public_id=screening.public_id)
