"""Portal "My results": an early "yes" is said as such (the clinic will look at it, a photo
helps) instead of "it is wearing off" beside a date months away."""

import datetime as dt

from django.utils import timezone

from tests.maintenance.conftest import signed_treatment
from touchup.clinic.models import Observation
from touchup.core.dates import long_day_text
from touchup.maintenance.models import AreaForecast
from touchup.maintenance.services.forecasts import recompute


def answered(patient, clinician, *answers):
    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=34), {"glabella": 20})
    for i, yes in enumerate(answers):
        Observation.objects.create(patient=patient, area="glabella", kind="wearing_off_reported",
                                   observed_on=today - dt.timedelta(days=len(answers) - 1 - i),
                                   value=1.0 if yes else 0.0, source="patient")
    recompute(patient)
    return AreaForecast.objects.get(patient=patient, area="glabella")


def test_an_early_yes_is_answered_in_words_with_the_photo_to_take(as_dana, dana, clinician):
    f = answered(dana, clinician, True, True, True)
    body = as_dana.get("/portal/results/").content.decode()
    today = long_day_text(timezone.localdate())
    assert (f"You told us on {today} that it is wearing off. That is earlier than we expected, so your clinic "
            "will look at it; a photo helps us measure it.") in body
    assert 'href="/portal/photos/?view=frown" data-early-link>Take the photo' in body
    # No contradiction left, and no date before the earliest allowed is offered.
    assert "it is wearing off</li>" not in body and "Your last check-in" not in body
    assert "in about" not in body and "The best time for your next visit" not in body
    assert f"A new treatment is possible from {long_day_text(f.earliest_allowed)} at the earliest." in body


def test_a_yes_taken_back_keeps_the_forecast_words(as_dana, dana, clinician):
    answered(dana, clinician, True, False)
    body = as_dana.get("/portal/results/").content.decode()
    assert "You told us on" not in body and "data-early-link" not in body
    assert "not wearing off yet" in body and "We expect the effect to have noticeably worn off around" in body
