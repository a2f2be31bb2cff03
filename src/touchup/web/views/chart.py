"""The chart: place and dose injection points on the face and neck maps, watch the
safety findings, sign; then the read-only signed chart, amendments and aftercare.

The page posts its whole state on every change (hx-post, queued so saves land in
order); the server replaces the points through treatment_set_points and answers with
the status panel rendered from treatment_check. Nothing is kept in the browser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput, SigningRefused, WarningsNotAccepted
from touchup.clinic.models import Treatment
from touchup.clinic.services.treatments import (
    signing_problems,
    treatment_amend,
    treatment_check,
    treatment_discard,
    treatment_set_points,
    treatment_sign,
    treatment_update,
)
from touchup.maintenance.services import stale as stale_svc

from .. import clinical
from ..forms import AmendForm, TreatmentDetailsForm
from .common import show_invalid

KEEP_VIALS = "__keep__"


def _posted_points(request: HttpRequest) -> list[dict[str, Any]]:
    """The chart rows as the services want them. Each row posts site, area, units, x, y,
    view and vial_id in step; the vial picker, unless it says "keep", overrides them all."""
    post = request.POST
    columns = {name: post.getlist(name) for name in ("site", "area", "units", "x", "y", "view", "vial_id")}
    count = len(columns["x"])
    chosen = post.get("vial", KEEP_VIALS)
    points = []
    for i in range(count):
        row = {name: (values[i] if i < len(values) else "") for name, values in columns.items()}
        if chosen != KEEP_VIALS:
            row["vial_id"] = chosen
        row["units"] = row["units"].strip().replace(",", ".")
        points.append(row)
    return points


def _status(request: HttpRequest, treatment: Treatment, **extra: Any) -> dict[str, Any]:
    if treatment.is_signed:
        # Checks re-run today would judge a signed chart by later events (newer
        # treatments, a vial expired since); what was accepted is in the audit trail.
        return clinical.status_panel(treatment, None, [], **extra)
    try:
        findings = treatment_check(treatment)
    except InvalidInput as exc:
        # A draft the rules cannot read (e.g. a product/indication pair the catalogue
        # lacks) still opens, with the reason, so it can be fixed or discarded.
        extra["error"] = extra.get("error") or clinical.describe_error(exc, title="The safety checks could not run.")
        return clinical.status_panel(treatment, [], ["the safety checks must run"], **extra)
    return clinical.status_panel(treatment, findings, signing_problems(treatment, findings), **extra)


def _page(request: HttpRequest, treatment: Treatment, **extra: Any) -> HttpResponse:
    editable = not treatment.is_signed and access.can(request.user, "treatment.chart")
    ctx = clinical.chart_context(request.user, treatment, editable=editable)
    ctx.update(nav="patients", status=_status(
        request, treatment, refusal=extra.pop("refusal", None), error=extra.pop("error", None),
    ))
    if editable:
        ctx["details_form"] = extra.pop("details_form", None) or TreatmentDetailsForm(initial={
            "product": treatment.product, "treated_on": treatment.treated_on, "notes": treatment.notes,
        })
    if treatment.is_signed:
        # Booked visits this treatment made too early: named, with the way to cancel or
        # move them; never cancelled for the clinician (the patient may still want one).
        ctx["stale_visits"] = stale_svc.caused_by(treatment)
    if treatment.is_signed and access.can(request.user, "treatment.chart"):
        ctx["amend_form"] = extra.pop("amend_form", None) or AmendForm()
    ctx.update(extra)
    return render(request, "web/treatments/chart.html", ctx)


def chart(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.treatment_for(request.user, public_id)
    return _page(request, treatment)


@require_POST
def chart_save(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.treatment_for(request.user, public_id, need="treatment.chart")
    error = None
    try:
        treatment = treatment_set_points(actor=request.user, treatment=treatment, points=_posted_points(request))
    except InvalidInput as exc:
        error = exc  # nothing was written; the panel says which point and why
    except Conflict as exc:
        error = InvalidInput("treatment", str(exc))
    if not request.htmx:
        if error:
            return _page(request, treatment, error=clinical.describe_error(error))
        return redirect("chart", public_id=treatment.public_id)
    return render(request, "web/treatments/_status.html", {
        "status": _status(request, treatment, error=clinical.describe_error(error) if error else None),
        "treatment": treatment, "editable": True,
    })


def _accepted(request: HttpRequest) -> list[str]:
    """The warnings the clinician accepted: the keys of those the panel showed
    (`reviewed_warning`), only when the acknowledgement box was ticked. The service compares
    them with the warnings standing when it signs, so a chart changed since the panel was
    read (another dose at a warned site, too) is refused."""
    if request.POST.get("accept_warnings") != "yes":
        return []
    return request.POST.getlist("reviewed_warning")


@require_POST
def chart_sign(request: HttpRequest, public_id) -> HttpResponse:
    """Save what is on screen, then sign it. A refusal comes back with its reasons.

    Sign is a submit button of the chart form (formaction here), so it signs without
    JavaScript too: POST/redirect/GET on success, else the page again with the refusal,
    409 (the chart's state forbids signing) or 400 (a value it could not read). htmx gets
    200s, since it swaps only those into the panel."""
    treatment = access.treatment_for(request.user, public_id, need="treatment.chart")
    refusal: list[str] | None = None
    error = None
    status = 409
    try:
        if "x" in request.POST or "vial" in request.POST:
            treatment = treatment_set_points(actor=request.user, treatment=treatment, points=_posted_points(request))
        treatment = treatment_sign(actor=request.user, treatment=treatment, accepted_warnings=_accepted(request))
    except WarningsNotAccepted as exc:
        refusal = exc.reasons if exc.changed else [
            f"Not signed: {exc.count} safety warning{'s' if exc.count != 1 else ''} stand. Read "
            f"{'them' if exc.count != 1 else 'it'} and tick “I have reviewed "
            f"{'these' if exc.count != 1 else 'this'} {exc.count} warning{'s' if exc.count != 1 else ''} and accept "
            f"{'them' if exc.count != 1 else 'it'}” beside Sign."
        ]
    except SigningRefused as exc:
        refusal = exc.reasons
    except InvalidInput as exc:
        error = clinical.describe_error(exc)
        refusal = [f"{error['where']}: {error['message']}"]
        status = 400
    except Conflict as exc:
        refusal = [str(exc)]
    else:
        messages.success(request, "Treatment signed.")
        url = reverse("chart", kwargs={"public_id": treatment.public_id})
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        return render(request, "web/treatments/_status.html", {
            "status": _status(request, treatment, refusal=refusal, error=error),
            "treatment": treatment, "editable": True,
        })
    response = _page(request, treatment, refusal=refusal, error=error)
    response.status_code = status
    return response


@require_POST
def chart_details(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.treatment_for(request.user, public_id, need="treatment.chart")
    form = TreatmentDetailsForm(request.POST)
    if form.is_valid():
        try:
            treatment_update(actor=request.user, treatment=treatment, **form.cleaned_data)
        except InvalidInput as exc:
            show_invalid(form, exc)
        except Conflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Treatment details saved.")
            return redirect("chart", public_id=treatment.public_id)
    return _page(request, treatment, details_form=form)


@require_POST
def chart_discard(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.treatment_for(request.user, public_id, need="treatment.chart")
    patient_id = treatment.patient.public_id
    try:
        treatment_discard(actor=request.user, treatment=treatment)
    except Conflict as exc:
        messages.error(request, str(exc))
        return redirect("chart", public_id=treatment.public_id)
    messages.success(request, "Draft discarded.")
    return redirect("patient", public_id=patient_id)


@require_http_methods(["POST"])
def chart_amend(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.treatment_for(request.user, public_id, need="treatment.chart")
    form = AmendForm(request.POST)
    if form.is_valid():
        try:
            treatment_amend(
                actor=request.user, treatment=treatment, reason=form.cleaned_data["reason"],
                changes={"correction": form.cleaned_data["correction"]},
            )
        except InvalidInput as exc:
            show_invalid(form, exc, aliases={"changes": "correction"})
        except Conflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Amendment added to the signed chart.")
            return redirect("chart", public_id=treatment.public_id)
    return _page(request, treatment, amend_form=form)


def aftercare(request: HttpRequest, public_id) -> HttpResponse:
    treatment = access.treatment_for(request.user, public_id)
    if not treatment.is_signed:
        messages.info(request, "Aftercare is given once the treatment is signed.")
        return redirect("chart", public_id=treatment.public_id)
    return render(request, "web/treatments/aftercare.html", {
        "nav": "patients", "treatment": treatment, "patient": treatment.patient,
        "plan": clinical.aftercare_for(treatment), "now": timezone.now(),
        "indication_name": clinical.name_of("indication", treatment.indication),
        "product_name": clinical.name_of("product", treatment.product),
    })
