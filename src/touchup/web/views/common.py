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
