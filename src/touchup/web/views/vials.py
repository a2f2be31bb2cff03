"""Vial stock: receive, reconstitute, and the recall list for a lot."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.services.vials import (
    vial_expiry_finding,
    vial_receive,
    vial_recall_list,
    vial_reconstitute,
)

from .. import selectors
from ..clinical import vial_rows
from ..forms import ReconstituteForm, RecallForm, VialReceiveForm
from .common import show_invalid


def vial_list(request: HttpRequest) -> HttpResponse:
    vials = selectors.vial_list(request.user)
    return render(request, "web/vials/list.html", {
        "nav": "vials", "rows": vial_rows(vials, now=timezone.now()),
        "may_manage": access.can(request.user, "vial.manage"),
    })


@require_http_methods(["GET", "POST"])
def vial_receive_view(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "vial.manage")
    form = VialReceiveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            vial = vial_receive(actor=request.user, clinic=membership.clinic, **form.cleaned_data)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            messages.success(request, f"Received {vial.product} lot {vial.lot} ({vial.units} U).")
            # Accepted, but said out loud: a short-dated vial should be used first.
            finding = vial_expiry_finding(vial)
            if finding is not None:
                messages.warning(request, finding.message)
            return redirect("vials")
    return render(request, "web/vials/receive.html", {"nav": "vials", "form": form})


@require_http_methods(["GET", "POST"])
def vial_reconstitute_view(request: HttpRequest, vial_id: int) -> HttpResponse:
    vial = access.vial_for(request.user, vial_id, need="vial.manage")
    form = ReconstituteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            vial = vial_reconstitute(
                actor=request.user, vial=vial, diluent_ml=form.cleaned_data["diluent_ml"],
                at=form.cleaned_data["reconstituted_at"],
            )
        except InvalidInput as exc:
            show_invalid(form, exc)
        except Conflict as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Lot {vial.lot} reconstituted: {vial.units_per_0_1ml:g} U per 0.1 mL."
            )
            return redirect("vials")
    return render(request, "web/vials/reconstitute.html", {"nav": "vials", "form": form, "vial": vial})


@require_http_methods(["GET", "POST"])
def vial_recall(request: HttpRequest) -> HttpResponse:
    """Who received a lot. POST even though it writes nothing but an audit event: the
    answer is a list of patients, which must not be cached or sit in history."""
    membership = access.require(request.user, "vial.manage")
    access.require(request.user, "patient.view")
    form = RecallForm(request.POST or None)
    patients = None
    if request.method == "POST" and form.is_valid():
        patients = vial_recall_list(
            actor=request.user, clinic=membership.clinic,
            product=form.cleaned_data["product"], lot=form.cleaned_data["lot"].strip(),
        )
    draft_only = sum(1 for p in patients if not p.lot_signed) if patients else 0
    return render(request, "web/vials/recall.html", {
        "nav": "vials", "form": form, "patients": patients, "draft_only": draft_only,
    })
