"""Patients: find, register, and the patient page (screening, treatment history, aftercare)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.services.patients import patient_create, patient_update
from touchup.clinic.services.screenings import latest_screening

from .. import selectors
from ..clinical import aftercare_for, describe_screening, name_cycles, protocols_for
from ..forms import PatientForm, PatientSearchForm, StartTreatmentForm
from .common import download, show_invalid


def home(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "patient", None) is not None and not request.user.memberships.exists():
        return redirect("portal:home")  # a patient's home is the portal
    return redirect("patients")


def patient_list(request: HttpRequest) -> HttpResponse:
    patients = selectors.recent_patients(request.user)
    return render(request, "web/patients/list.html", {
        "nav": "patients", "form": PatientSearchForm(), "patients": patients, "searched": False,
    })


@require_POST
def patient_search(request: HttpRequest) -> HttpResponse:
    """Names are PHI: the term comes by POST so it never lands in URLs, logs or history."""
    form = PatientSearchForm(request.POST)
    q = form.data.get("q", "").strip()[:100]
    patients = selectors.search_patients(request.user, q) if q else selectors.recent_patients(request.user)
    ctx = {"nav": "patients", "form": form, "patients": patients, "searched": bool(q), "q": q}
    if request.htmx:
        return render(request, "web/patients/_results.html", ctx)
    return render(request, "web/patients/list.html", ctx)


@require_http_methods(["GET", "POST"])
def patient_new(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "patient.edit")
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = patient_create(actor=request.user, clinic=membership.clinic, **form.cleaned_data)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            messages.success(request, f"{patient.display_name} is registered.")
            return redirect("patient", public_id=patient.public_id)
    return render(request, "web/patients/form.html", {"nav": "patients", "form": form, "patient": None})


@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="patient.edit")
    initial = {f: getattr(patient, f) for f in PatientForm.base_fields}
    form = PatientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {f: form.cleaned_data[f] for f in form.changed_data}
        try:
            if changed:
                patient_update(actor=request.user, patient=patient, **changed)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("patient", public_id=patient.public_id)
    return render(request, "web/patients/form.html", {"nav": "patients", "form": form, "patient": patient})


def patient_export_fhir(request: HttpRequest, public_id) -> HttpResponse:
    """The whole record as a FHIR file (docs/interop.md); the export's own audit event
    (patient.export) stands for the read."""
    from touchup.clinic.services.records import patient_export_fhir as export

    patient = access.patient_for(request.user, public_id, need="patient.export", audit_read=False)
    return download(export(actor=request.user, patient=patient, via="web"))


def _visits(patient) -> list[tuple]:
    """Booked visits to come, each with its start in the clinic's time zone (the page shows
    clinic wall-clock times, as the booking pages do)."""
    from touchup.maintenance.services.booking import clinic_zone, upcoming_of_patient

    zone = clinic_zone(patient.clinic)
    return [(a, a.starts_at.astimezone(zone)) for a in upcoming_of_patient(patient)]


def _stale_visits(patient, visits: list[tuple]) -> list[tuple]:
    """Those of `visits` a treatment since their booking made too early: (appointment, its
    local start, StaleVisit), for the notice above the list (one query)."""
    from touchup.maintenance.services.booking import clinic_zone
    from touchup.maintenance.services.stale import stale_appointments

    stale = stale_appointments([a for a, _ in visits], zone=clinic_zone(patient.clinic))
    return [(a, local, stale[a.pk]) for a, local in visits if a.pk in stale]


def _early_reports(patient) -> list:
    """Check-ins that say the effect is wearing off before the forecast expects it: the
    front desk calls these patients (worklist), so every role that opens the page sees
    them. Covered by the page's patient.view audit event."""
    from touchup.maintenance.services.early_reports import reports_of

    return reports_of(patient)


def patient_detail(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id)
    screening = latest_screening(patient)
    ctx = {"nav": "patients", "patient": patient, "screening": describe_screening(screening),
           "visits": _visits(patient), "may_book": access.can(request.user, "patient.edit"),
           "early_reports": _early_reports(patient)}
    ctx["stale_visits"] = _stale_visits(patient, ctx["visits"])
    if access.can(request.user, "clinical.view"):
        latest = selectors.latest_signed_treatment(request.user, patient)
        ctx.update(
            groups=name_cycles(selectors.treatment_cycles(request.user, patient)),
            latest_treatment=latest,
            aftercare=aftercare_for(latest) if latest else None,
        )
    if access.can(request.user, "treatment.chart"):
        # Start with the indication the patient was last screened for, its first
        # protocol and that protocol's product: the usual case is one click.
        form = StartTreatmentForm()
        indication = screening.indication if screening is not None else form.fields["indication"].choices[0][0]
        protocols = protocols_for(indication)
        form.initial.update(indication=indication)
        if protocols:
            form.initial.update(protocol=protocols[0]["key"])
            if protocols[0]["product"]:
                form.initial.update(product=protocols[0]["product"])
        ctx.update(start_form=form, start_protocols=protocols)
        from ..forms import ObservationForm
        from .observations import treated_areas

        areas = treated_areas(request.user, patient)
        if areas:
            ctx["observation_form"] = ObservationForm(areas=areas)
    if access.can(request.user, "audit.view"):
        from ..audit_search import record_access

        ctx["record_access"] = record_access(request.user, patient)
    return render(request, "web/patients/detail.html", ctx)
