"""The patient's settings page: how reminders reach them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from touchup.clinic.errors import InvalidInput

from .. import access
from ..services.preferences import CHANNELS, reminder_channel_set
from .common import portal_view


class ChannelForm(forms.Form):
    channel = forms.ChoiceField(label="How should we remind you?", choices=list(CHANNELS.items()),
                                widget=forms.RadioSelect, error_messages={"required": "Choose one."})


@portal_view
def settings(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    access.read(request.user, patient, "settings")
    current = patient.reminder_channel or ("email" if patient.email else "sms" if patient.phone else "none")
    form = ChannelForm(request.POST or None, initial={"channel": current})
    if request.method == "POST" and form.is_valid():
        try:
            reminder_channel_set(actor=request.user, patient=patient, channel=form.cleaned_data["channel"])
        except InvalidInput as exc:
            form.add_error("channel", exc.message)
        else:
            messages.success(request, "Saved. Reminders will reach you that way.")
            return redirect("portal:settings")
    from allauth.mfa.models import Authenticator

    has_mfa = Authenticator.objects.filter(user=request.user).exists()
    return render(request, "portal/settings.html",
                  {"nav": "settings", "patient": patient, "form": form, "has_mfa": has_mfa},
                  status=422 if form.errors else 200)


@portal_view
def record_export(request: HttpRequest) -> HttpResponse:
    """The patient's own copy of their record (right of access), as a FHIR file; audited as
    patient.export with the patient as the actor."""
    from touchup.clinic.services.records import patient_export_fhir
    from touchup.web.views.common import download

    patient = access.patient_of(request.user)
    return download(patient_export_fhir(actor=request.user, patient=patient, via="portal"))
