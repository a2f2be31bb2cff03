"""Portal forms: they type the request; the services decide what is valid and say so
naming the field (shown on that field)."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from .models import SideEffectKind
from .services.diaries import HEADACHE_DAYS, HIT6, SYMPTOM_SCALE


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _today_attrs() -> dict:
    return {"max": timezone.localdate().isoformat()}


class JoinForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username"}),
                               help_text="Letters, digits and @ . + - _ only. You sign in with it.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text="At least 10 characters, not a common password.")
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class SideEffectForm(forms.Form):
    kind = forms.ChoiceField(label="What have you noticed?", choices=SideEffectKind.choices, widget=forms.RadioSelect,
                             error_messages={"required": "Choose what you noticed."})
    started_on = forms.DateField(label="Since when?", required=False, widget=DateInput())
    details = forms.CharField(label="Tell us more", required=False, max_length=1000,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Where, how strong, and whether it is getting better or worse.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["started_on"].widget.attrs.update(_today_attrs())
        self.fields["started_on"].initial = timezone.localdate()


class _DatedEntryForm(forms.Form):
    """A diary entry dated today unless the patient says otherwise (never in the future)."""

    observed_on = forms.DateField(label="Date", required=False, widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["observed_on"].widget.attrs.update(_today_attrs())
        self.fields["observed_on"].initial = timezone.localdate()


class CheckinForm(_DatedEntryForm):
    area = forms.CharField(widget=forms.HiddenInput)
    wearing_off = forms.ChoiceField(label="Is it wearing off?", choices=[("yes", "Yes, it is wearing off"),
                                    ("no", "No, not yet")], widget=forms.RadioSelect,
                                    error_messages={"required": "Answer yes or no."})


class HeadacheForm(_DatedEntryForm):
    headache_days = forms.CharField(
        label=f"Headache days in the last 30 days ({HEADACHE_DAYS[0]} to {HEADACHE_DAYS[1]})",
        widget=forms.NumberInput(attrs={"min": HEADACHE_DAYS[0], "max": HEADACHE_DAYS[1], "inputmode": "numeric"}),
        error_messages={"required": "Enter a number from 0 to 30."},
    )
    hit6 = forms.CharField(
        label=f"HIT-6 score ({HIT6[0]} to {HIT6[1]})", required=False,
        widget=forms.NumberInput(attrs={"min": HIT6[0], "max": HIT6[1], "inputmode": "numeric"}),
        help_text="Optional: the total of the six HIT-6 questions, if you have done the test.",
    )


class SymptomForm(_DatedEntryForm):
    score = forms.CharField(
        label=f"Your neck symptoms this past week ({SYMPTOM_SCALE[0]} to {SYMPTOM_SCALE[1]})",
        widget=forms.NumberInput(attrs={"min": SYMPTOM_SCALE[0], "max": SYMPTOM_SCALE[1], "inputmode": "numeric"}),
        help_text="Pulling, pain and spasms together: 0 = none, 10 = the worst they have been.",
        error_messages={"required": "Enter a number from 0 to 10."},
    )


def show_invalid(form: forms.Form, exc) -> None:
    if exc.field in form.fields:
        form.add_error(exc.field, exc.message)
    else:
        form.add_error(None, f"{exc.field.replace('_', ' ')}: {exc.message}")
