"""Hostile values in every portal form: a clear 4xx/200 with the error, never a 500,
and nothing written."""

import pytest

from touchup.clinic.models import Observation
from touchup.portal.models import BookingRequest, SideEffectReport

pytestmark = pytest.mark.django_db

HOSTILE = ["", " ", "x" * 5000, "\x00", "<script>alert(1)</script>", "'; DROP TABLE x; --", "\u202e", "😀" * 50,
           "-1", "1e308", "NaN", "inf", "2025-13-45", "9999-12-31", "0001-01-01", "00000000-0000-0000-0000-000000000000"]

FORMS = {
    "/portal/diary/checkin/": ["area", "c-glabella-area", "c-glabella-wearing_off", "c-glabella-observed_on"],
    "/portal/diary/headache/": ["h-headache_days", "h-hit6", "h-observed_on"],
    "/portal/diary/symptoms/": ["s-score", "s-observed_on"],
    "/portal/side-effects/new/": ["kind", "details", "started_on", "treatment"],
    "/portal/book/": ["slot"],
    "/portal/screening/": ["indication", "q_toxin_allergy"],
}


@pytest.mark.parametrize("url", sorted(FORMS))
def test_no_500_and_nothing_written(as_dana, treated, url):
    for field in FORMS[url]:
        for value in HOSTILE:
            r = as_dana.post(url, {field: value})
            assert r.status_code < 500, (url, field, value[:20])
    assert not Observation.objects.exists()
    assert not SideEffectReport.objects.exists()
    assert not BookingRequest.objects.exists()


def test_hostile_ids_are_404(as_dana):
    for bad in ["0", "abc", "..%2F..", "9" * 40, "x" * 300]:
        assert as_dana.get(f"/portal/aftercare/{bad}/").status_code == 404
        assert as_dana.get(f"/portal/join/{bad}/").status_code in (404, 410)
