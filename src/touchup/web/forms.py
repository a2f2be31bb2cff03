"""Forms parse and type the request; the services decide what is valid clinically.

A service's InvalidInput lands back on the field it names (views.common.show_invalid),
so the form shows the same words the API would.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from touchup.clinic.models import Role, Sex, TreatmentStatus
from touchup.clinic.services.observations import kinds_for_area


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _catalogue():
    from touchup.core.catalogue import load_catalogue

    return load_catalogue()


def product_choices() -> list[tuple[str, str]]:
    cat = _catalogue()
    return [(key, p.name) for key, p in cat.products.items()]


def indication_choices() -> list[tuple[str, str]]:
    cat = _catalogue()
    return [(key, i.name) for key, i in cat.indications.items()]



class PatientForm(forms.Form):
    given_name = forms.CharField(label="Given name", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    family_name = forms.CharField(label="Family name", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    birth_date = forms.DateField(label="Date of birth", widget=DateInput())
    sex = forms.ChoiceField(label="Sex", choices=[("", "—")] + list(Sex.choices))
    email = forms.EmailField(label="Email", required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(label="Phone", max_length=32, required=False, widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))


class ClinicContactForm(forms.Form):
    """The clinic's phone and email for patients; the rules are the service's
    (clinic.services.contact), which names the field a bad value is in."""
    phone = forms.CharField(label="Phone number for patients", max_length=32, required=False,
                            help_text="Shown wherever patients are told to call the clinic, e.g. 020 7946 0000.",
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    email = forms.CharField(label="Email for patients", max_length=254, required=False,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))


class PatientSearchForm(forms.Form):
    q = forms.CharField(label="Find a patient", max_length=100, required=False)


class StartTreatmentForm(forms.Form):
    indication = forms.ChoiceField(label="Indication")
    protocol = forms.ChoiceField(label="Protocol", required=False)
    product = forms.ChoiceField(label="Product")
    treated_on = forms.DateField(label="Date", widget=DateInput())

    def __init__(self, *args, protocols: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indication"].choices = indication_choices()
        self.fields["product"].choices = product_choices()
        self.fields["protocol"].choices = [("", "No protocol — place points by hand")] + (protocols or [])
        self.fields["treated_on"].initial = timezone.localdate()


class TreatmentDetailsForm(forms.Form):
    product = forms.ChoiceField(label="Product")
    treated_on = forms.DateField(label="Date", widget=DateInput())
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = product_choices()


class AmendForm(forms.Form):
    reason = forms.CharField(label="Reason for the amendment", widget=forms.Textarea(attrs={"rows": 2}))
    correction = forms.CharField(
        label="What is corrected",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: “Point 3 was 5 U, not 4 U.” The signed chart itself stays as signed.",
    )


class VialReceiveForm(forms.Form):
    product = forms.ChoiceField(label="Product")
    lot = forms.CharField(label="Lot number", max_length=64)
    expiry = forms.DateField(label="Expiry date", widget=DateInput())
    units = forms.IntegerField(label="Units in the vial", min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = product_choices()


class ReconstituteForm(forms.Form):
    diluent_ml = forms.DecimalField(
        label="Diluent (mL of 0.9% saline)", max_digits=5, decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0.1", "max": "20"}),
    )
    reconstituted_at = forms.DateTimeField(
        label="Reconstituted at", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for now.",
    )


class RecallForm(forms.Form):
    product = forms.ChoiceField(label="Product")
    lot = forms.CharField(label="Lot number", max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = product_choices()


class TreatmentFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status")] + list(TreatmentStatus.choices))
    indication = forms.ChoiceField(label="Indication", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indication"].choices = [("", "Any indication")] + indication_choices()


def parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


YES_NO = [("yes", "Yes"), ("no", "No")]


def screening_questions(indication: str) -> list:
    """The core's questions that apply to this indication, in the core's order."""
    from touchup.core.screening import questions_for

    return list(questions_for(indication))


class ScreeningForm(forms.Form):
    """One yes/no (+ details) pair per question of touchup.core.screening.QUESTIONS.

    Every question must be answered: a skipped question is not a "no"."""

    indication = forms.ChoiceField(label="Screening for")

    def __init__(self, *args, indication: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        choices = indication_choices()
        self.fields["indication"].choices = choices
        self.chosen_indication = indication if indication in dict(choices) else (choices[0][0] if choices else "")
        self.fields["indication"].initial = self.chosen_indication
        self.questions = screening_questions(self.chosen_indication)
        for q in self.questions:
            self.fields[f"q_{q.key}"] = forms.ChoiceField(
                label=q.text, choices=YES_NO, widget=forms.RadioSelect,
                error_messages={"required": "Answer yes or no."},
            )
            self.fields[f"q_{q.key}_details"] = forms.CharField(
                label=getattr(q, "details_prompt", "") or "Details", required=False, max_length=500,
            )

    def rows(self):
        """(question, answer field, details field) for the template."""
        return [(q, self[f"q_{q.key}"], self[f"q_{q.key}_details"]) for q in self.questions]

    def clean(self):
        cleaned = super().clean()
        if all(f"q_{q.key}" in cleaned for q in self.questions):
            from touchup.core.screening import missing_details

            # The core's rule, checked here too so every question lacking its details is
            # marked at once (the service refuses the first it meets).
            for exc in missing_details(self.answers(), self.chosen_indication):
                self.add_error(f"q_{exc.question}_details", exc.message)
        return cleaned

    def answers(self) -> dict:
        return {
            q.key: {
                "answer": self.cleaned_data[f"q_{q.key}"] == "yes",
                "details": self.cleaned_data[f"q_{q.key}_details"].strip(),
            }
            for q in self.questions
        }

    def show_invalid(self, exc) -> None:
        name = f"q_{exc.field}"
        if name in self.fields:
            self.add_error(name, exc.message)
        elif exc.field in self.fields:
            self.add_error(exc.field, exc.message)
        else:
            self.add_error(None, exc.message)


READING_CHOICES = [
    ("fws_grade", "Wrinkle grade (FWS 0 none, 1 mild, 2 moderate, 3 severe)"),
    ("headache_days", "Headache days in the last 30 days (0-30)"),
    ("symptom_score", "Neck symptoms, patient's rating (0-10)"),
]


class ReadingSelect(forms.Select):
    """Each reading option carries the areas it applies to (data-areas="glabella forehead"),
    so touchup.js can list only the readings for the area chosen."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.option_areas: dict[str, str] = {}

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if str(value) in self.option_areas:
            option["attrs"]["data-areas"] = self.option_areas[str(value)]
        return option


class ReadingKindField(forms.ChoiceField):
    """Lists only the readings for the patient's areas, but accepts any reading the clinic
    records: a mismatch of area and reading (a stale page, no JavaScript) is then refused
    by the service, in words naming the area and what it takes, not "not a valid choice"."""

    def valid_value(self, value: str) -> bool:
        return value in dict(READING_CHOICES)


def reading_choices(areas: list[tuple[str, str]]) -> tuple[list, dict[str, str]]:
    """The readings that apply to at least one of `areas` ((key, name), the patient's
    treated areas), and for each the areas it applies to. With readings for more than one
    kind of area (a cosmetic area and migraine), each is put under "For <areas>" so the
    list says, without JavaScript, which reading goes with which area."""
    fits = {kind: [(a, n) for a, n in areas if kind in kinds_for_area(a)] for kind, _ in READING_CHOICES}
    offered = [(kind, label) for kind, label in READING_CHOICES if fits[kind]]
    if not offered:  # areas no staff reading applies to: list them all, the service explains
        return list(READING_CHOICES), {}
    option_areas = {kind: " ".join(a for a, _ in fits[kind]) for kind, _ in offered}
    if len(offered) == 1:
        return offered, option_areas
    return [(f"For {', '.join(n for _, n in fits[kind])}", [(kind, label)]) for kind, label in offered], option_areas


class ObservationForm(forms.Form):
    """A reading at a visit: the clinician's grade of an area, or a therapeutic score."""

    area = forms.ChoiceField(label="Area")
    kind = ReadingKindField(label="Reading", choices=READING_CHOICES, widget=ReadingSelect())
    value = forms.DecimalField(label="Value", max_digits=4, decimal_places=1,
                               widget=forms.NumberInput(attrs={"step": "1", "inputmode": "decimal"}))
    observed_on = forms.DateField(label="Date", widget=DateInput())

    def __init__(self, *args, areas: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas or []
        choices, option_areas = reading_choices(areas or [])
        self.fields["kind"].choices = choices
        self.fields["kind"].widget.option_areas = option_areas
        self.fields["observed_on"].initial = timezone.localdate()


# --- the clinic's staff (web/views/staff.py) --------------------------------------------

STAFF_ROLE_CHOICES = [(value, label) for value, label in Role.choices if value != Role.PATIENT]


class StaffAddForm(forms.Form):
    given_name = forms.CharField(label="Given name", max_length=150)
    family_name = forms.CharField(label="Family name", max_length=150)
    username = forms.CharField(label="Username", max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
                               help_text="What they sign in with: letters, digits and @ . + - _ (e.g. nora.lee).")
    email = forms.EmailField(label="Email", required=False,
                             help_text="Their own address: the set-password link is emailed to it.")
    role = forms.ChoiceField(label="Role", choices=STAFF_ROLE_CHOICES)
    is_doctor = forms.BooleanField(label="Is a doctor (may sign off screenings for therapeutic treatments)",
                                   required=False)


class StaffChangeForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=STAFF_ROLE_CHOICES)
    is_doctor = forms.BooleanField(label="Is a doctor (may sign off screenings for therapeutic treatments)",
                                   required=False)


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text="At least 10 characters, not a common password, not all digits, "
                                          "not like your name or username.")
    password2 = forms.CharField(label="Password again", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
