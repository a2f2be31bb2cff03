"""Vials: the stock list, receiving, reconstituting and the recall list."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from touchup.clinic.models import Vial

pytestmark = pytest.mark.django_db


def test_the_list_shows_lot_expiry_and_concentration(as_clinician, vial):
    html = as_clinician.get(reverse("vials")).content.decode()
    assert "C1234A" in html
    assert ">4<" in html  # 100 U in 2.5 mL = 4 U per 0.1 mL


def _second_patient_draft(clinician, clinic_a, glabellar_protocol, vial):
    """Another patient's draft chart from `vial` (20 U, the glabellar protocol)."""
    from touchup.clinic.services.patients import patient_create
    from touchup.clinic.services.screenings import screening_record
    from touchup.clinic.services.treatments import treatment_start, treatment_update

    from .conftest import clean_answers

    other = patient_create(actor=clinician, clinic=clinic_a, given_name="Sam", family_name="Second",
                           birth_date=dt.date(1979, 6, 1), sex="male")
    screening_record(actor=clinician, patient=other, indication="glabellar_lines", answers=clean_answers())
    t = treatment_start(actor=clinician, patient=other, indication="glabellar_lines",
                        product="onabotulinumtoxinA", protocol=glabellar_protocol)
    return treatment_update(actor=clinician, treatment=t, vial=vial)


def _units_left_cells(html):
    import re

    return re.findall(r'data-units-left="([^"]*)"', html)


def test_the_list_shows_units_left_after_signed_charts_and_drafts_beside(
    as_clinician, clinician, clinic_a, draft, vial, glabellar_protocol,
):
    from touchup.clinic.services.treatments import treatment_sign, treatment_update

    html = as_clinician.get(reverse("vials")).content.decode()
    assert _units_left_cells(html) == ["100"] and "in drafts" not in html
    charted = sum(p.units for p in draft.points.all())
    assert charted == 20  # the glabellar protocol: 5 points of 4 U
    treatment_sign(actor=clinician, treatment=treatment_update(actor=clinician, treatment=draft, vial=vial))
    _second_patient_draft(clinician, clinic_a, glabellar_protocol, vial)
    html = as_clinician.get(reverse("vials")).content.decode()
    # Signed units are taken off; the other patient's draft is shown, not subtracted.
    assert _units_left_cells(html) == ["80"]
    assert "20 U in drafts" in html
    assert "not taken off until the chart is signed" in html


def test_the_units_left_cost_no_query_per_vial(as_clinician, clinician, clinic_a, draft, vial):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from touchup.clinic.services.treatments import treatment_update
    from touchup.clinic.services.vials import vial_receive

    treatment_update(actor=clinician, treatment=draft, vial=vial)
    with CaptureQueriesContext(connection) as one:
        as_clinician.get(reverse("vials"))
    for n in range(5):
        vial_receive(actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot=f"Q{n}",
                     expiry=timezone.localdate() + dt.timedelta(days=300), units=100)
    with CaptureQueriesContext(connection) as six:
        html = as_clinician.get(reverse("vials")).content.decode()
    assert len(_units_left_cells(html)) == 6
    assert len(six) == len(one), [q["sql"] for q in six.captured_queries]
    vial_queries = [q["sql"] for q in six.captured_queries if '"clinic_vial"' in q["sql"] and "SUM(" in q["sql"].upper()]
    assert len(vial_queries) == 1


def test_receive_a_vial(as_manager):
    expiry = (timezone.localdate() + dt.timedelta(days=200)).isoformat()
    response = as_manager.post(reverse("vial_receive"), {"product": "onabotulinumtoxinA", "lot": "L77", "expiry": expiry, "units": "100"})
    assert response.status_code == 302
    assert Vial.objects.filter(lot="L77", units=100).exists()


def test_receiving_a_size_the_product_does_not_come_in_is_refused(as_manager):
    expiry = (timezone.localdate() + dt.timedelta(days=200)).isoformat()
    response = as_manager.post(reverse("vial_receive"), {"product": "onabotulinumtoxinA", "lot": "L77", "expiry": expiry, "units": "77"})
    assert response.status_code == 200
    assert response.context["form"].errors.get("units")
    assert not Vial.objects.exists()


def test_an_expired_vial_is_refused_on_its_expiry_field(as_manager):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    response = as_manager.post(reverse("vial_receive"), {"product": "onabotulinumtoxinA", "lot": "OLD1",
                                                         "expiry": yesterday.isoformat(), "units": "100"})
    assert response.status_code == 200
    error = " ".join(response.context["form"].errors["expiry"])
    assert f"expired on {yesterday.day} {yesterday:%b %Y}" in error and "must not enter stock" in error
    assert "must not enter stock" in response.content.decode()
    assert not Vial.objects.exists()


def test_a_vial_expiring_soon_is_received_with_a_visible_warning(as_manager):
    soon = timezone.localdate() + dt.timedelta(days=10)
    response = as_manager.post(reverse("vial_receive"), {"product": "onabotulinumtoxinA", "lot": "SOON1",
                                                         "expiry": soon.isoformat(), "units": "100"}, follow=True)
    html = response.content.decode()
    assert Vial.objects.filter(lot="SOON1").exists()
    assert "message-warning" in html and "Vial lot SOON1 expires in 10 days" in html
    far = timezone.localdate() + dt.timedelta(days=200)
    html = as_manager.post(reverse("vial_receive"), {"product": "onabotulinumtoxinA", "lot": "FAR1",
                                                     "expiry": far.isoformat(), "units": "100"}, follow=True).content.decode()
    assert "message-warning" not in html


def test_reconstitute_shows_the_concentration(as_clinician, clinician, clinic_a):
    from touchup.clinic.services.vials import vial_receive

    v = vial_receive(actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot="R1",
                     expiry=timezone.localdate() + dt.timedelta(days=100), units=100)
    page = as_clinician.get(reverse("vial_reconstitute", args=[v.pk])).content.decode()
    assert 'data-units="100"' in page
    response = as_clinician.post(reverse("vial_reconstitute", args=[v.pk]), {"diluent_ml": "2.5"}, follow=True)
    assert "4 U per 0.1 mL" in response.content.decode()
    v.refresh_from_db()
    assert v.diluent_ml == 2.5


def test_reconstituting_twice_is_refused(as_clinician, vial):
    response = as_clinician.post(reverse("vial_reconstitute", args=[vial.pk]), {"diluent_ml": "1"})
    assert response.status_code == 200
    assert "already reconstituted" in response.content.decode()
    vial.refresh_from_db()
    assert float(vial.diluent_ml) == 2.5


def test_bad_diluent_is_shown_on_its_field(as_clinician, clinician, clinic_a):
    from touchup.clinic.services.vials import vial_receive

    v = vial_receive(actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot="R2",
                     expiry=timezone.localdate() + dt.timedelta(days=100), units=100)
    response = as_clinician.post(reverse("vial_reconstitute", args=[v.pk]), {"diluent_ml": "50"})
    assert response.context["form"].errors["diluent_ml"]
    v.refresh_from_db()
    assert v.reconstituted_at is None


def test_idor_another_clinics_vial_is_404(as_other_clinician, vial):
    assert as_other_clinician.get(reverse("vial_reconstitute", args=[vial.pk])).status_code == 404
    assert "C1234A" not in as_other_clinician.get(reverse("vials")).content.decode()


def test_recall_lists_the_patients_who_received_the_lot(as_manager, draft, vial, clinician):
    from touchup.clinic.services.treatments import treatment_update

    treatment_update(actor=clinician, treatment=draft, vial=vial)
    html = as_manager.post(reverse("vial_recall"), {"product": "onabotulinumtoxinA", "lot": "C1234A"}).content.decode()
    assert "Example, Dana" in html and "1 patient charted from lot" in html
    other = as_manager.post(reverse("vial_recall"), {"product": "onabotulinumtoxinA", "lot": "NOPE"}).content.decode()
    assert "Example, Dana" not in other


def test_recall_keeps_draft_charts_and_labels_them(as_manager, draft, vial, clinician, clinic_a, glabellar_protocol):
    import re

    from touchup.clinic.models import AuditEvent
    from touchup.clinic.services.treatments import treatment_sign, treatment_update

    treatment_update(actor=clinician, treatment=draft, vial=vial)
    recall = {"product": "onabotulinumtoxinA", "lot": "C1234A"}
    html = as_manager.post(reverse("vial_recall"), recall).content.decode()
    assert "Example, Dana" in html
    assert re.findall(r"<td data-label=\"Chart\" data-recall-chart>(.*?)</td>", html) == [
        '<span class="badge badge-warn">Draft — not signed</span>']
    assert "1 of them is listed only because of a draft (unsigned) chart" in html
    event = AuditEvent.objects.filter(action="vial.recall_list").latest("id")
    assert event.detail["draft_only"] == [draft.patient.pk]

    treatment_sign(actor=clinician, treatment=draft)
    second = _second_patient_draft(clinician, clinic_a, glabellar_protocol, vial)
    html = as_manager.post(reverse("vial_recall"), recall).content.decode()
    cells = re.findall(r"<td data-label=\"Name\"><a [^>]*>([^<]*)</a></td><td data-label=\"Chart\" data-recall-chart>(.*?)</td>", html)
    assert cells == [("Example, Dana", "Signed"), ("Second, Sam", '<span class="badge badge-warn">Draft — not signed</span>')]
    assert second.status == "draft"


def test_front_desk_has_no_vials(as_front_desk):
    assert as_front_desk.get(reverse("vials")).status_code == 403
    assert as_front_desk.get(reverse("vial_receive")).status_code == 403
    assert as_front_desk.post(reverse("vial_recall"), {"product": "onabotulinumtoxinA", "lot": "C1234A"}).status_code == 403
