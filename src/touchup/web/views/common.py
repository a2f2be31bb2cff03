"""Small helpers shared by the view modules."""

from __future__ import annotations

from django import forms

from touchup.clinic.errors import InvalidInput


def show_invalid(form: forms.Form, exc: InvalidInput, *, aliases: dict[str, str] | None = None) -> None:
    """Put a service's InvalidInput on the form field it names (or on the form itself)."""
    field = (aliases or {}).get(exc.field, exc.field)
    if field in form.fields:
        form.add_error(field, exc.message)
    else:
        form.add_error(None, f"{exc.field.replace('_', ' ')}: {exc.message}")


def download(export) -> "HttpResponse":
    """A patient's exported record (touchup.clinic.services.records.Export) as a file to
    save, never to keep in a cache on the way (it is the whole health record)."""
    from django.http import HttpResponse

    response = HttpResponse(export.data, content_type=f"{export.media_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
