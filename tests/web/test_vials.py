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
    assert "Example, Dana" in html and "1 patient received" in html
    other = as_manager.post(reverse("vial_recall"), {"product": "onabotulinumtoxinA", "lot": "NOPE"}).content.decode()
    assert "Example, Dana" not in other


def test_front_desk_has_no_vials(as_front_desk):
    assert as_front_desk.get(reverse("vials")).status_code == 403
    assert as_front_desk.get(reverse("vial_receive")).status_code == 403
    assert as_front_desk.post(reverse("vial_recall"), {"product": "onabotulinumtoxinA", "lot": "C1234A"}).status_code == 403
