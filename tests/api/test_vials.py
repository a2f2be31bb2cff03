"""Vial stock over the API: clinicians and managers only; integer ids, same 404 rule."""

import datetime as dt

import pytest
from django.utils import timezone

from touchup.clinic.models import AuditEvent, Vial

from .helpers import counts, fields_named


def expiry(days=365):
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def test_it_lists_and_filters_vials(api_manager, vial, unopened_vial):
    body = api_manager.get("/vials").json()
    assert body["count"] == 2
    one = next(v for v in body["items"] if v["id"] == vial.pk)
    assert one["lot"] == "C1234A" and one["diluent_ml"] == 2.5 and one["units_per_0_1ml"] == 4.0
    assert [v["id"] for v in api_manager.get("/vials", lot="U777").json()["items"]] == [unopened_vial.pk]


def test_it_receives_a_vial(api_manager, clinic_a, manager):
    r = api_manager.post("/vials", {"product": "onabotulinumtoxinA", "lot": "L1", "expiry": expiry(), "units": 100})
    assert r.status_code == 201, r.json()
    v = Vial.objects.get(pk=r.json()["id"])
    assert v.clinic == clinic_a and v.received_by == manager
    assert AuditEvent.objects.filter(action="vial.receive").exists()


def test_an_expired_vial_is_refused_and_one_expiring_soon_is_flagged(api_manager):
    before = counts()
    r = api_manager.post("/vials", {"product": "onabotulinumtoxinA", "lot": "OLD", "expiry": expiry(-1), "units": 100})
    assert r.status_code == 422, r.json()
    [error] = r.json()["detail"]
    assert error["field"] == "expiry" and "expired on" in error["message"] and "must not enter stock" in error["message"]
    assert counts() == before
    soon = api_manager.post("/vials", {"product": "onabotulinumtoxinA", "lot": "SOON", "expiry": expiry(5), "units": 100})
    assert soon.status_code == 201, soon.json()
    assert "expires in 5 days" in soon.json()["expiry_warning"]
    far = api_manager.post("/vials", {"product": "onabotulinumtoxinA", "lot": "FAR", "expiry": expiry(), "units": 100})
    assert far.json()["expiry_warning"] is None


@pytest.mark.parametrize(("change", "field"), [
    ({"units": "100"}, "units"),
    ({"units": -100}, "units"),
    ({"units": 0}, "units"),
    ({"units": 100.5}, "units"),
    ({"units": True}, "units"),
    ({"units": 10**30}, "units"),
    ({"units": 7}, "units"),  # not a size this product comes in
    ({"product": "snake_oil"}, "product"),
    ({"product": ""}, "product"),
    ({"lot": ""}, "lot"),
    ({"lot": "x" * 65}, "lot"),
    ({"lot": "A\x00B"}, "lot"),
    ({"expiry": "next year"}, "expiry"),
    ({"expiry": None}, "expiry"),
])
def test_receiving_validates_each_field(api_clinician, clinic_a, change, field):
    body = {"product": "onabotulinumtoxinA", "lot": "L1", "expiry": expiry(), "units": 100, **change}
    before = counts()
    r = api_clinician.post("/vials", body)
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before


def test_it_reconstitutes_once(api_clinician, unopened_vial):
    r = api_clinician.post(f"/vials/{unopened_vial.pk}/reconstitute", {"diluent_ml": 2.5})
    assert r.status_code == 200, r.json()
    assert r.json()["units_per_0_1ml"] == 4.0
    before = counts()
    r = api_clinician.post(f"/vials/{unopened_vial.pk}/reconstitute", {"diluent_ml": 1})
    assert r.status_code == 409
    assert counts() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"diluent_ml": "2.5"}, "diluent_ml"),
    ({"diluent_ml": -1}, "diluent_ml"),
    ({"diluent_ml": 0}, "diluent_ml"),
    ({"diluent_ml": 21}, "diluent_ml"),
    ({"diluent_ml": None}, "diluent_ml"),
    ({}, "diluent_ml"),
    ({"diluent_ml": 2, "reconstituted_at": "2999-01-01T10:00:00Z"}, "reconstituted_at"),
    ({"diluent_ml": 2, "reconstituted_at": "2020-01-01T10:00:00"}, "reconstituted_at"),  # no zone
])
def test_reconstituting_validates(api_clinician, unopened_vial, body, field):
    before = counts()
    r = api_clinician.post(f"/vials/{unopened_vial.pk}/reconstitute", body)
    assert r.status_code == 422, r.json()
    assert fields_named(r) == {field}
    assert counts() == before


def test_nan_is_refused(api_clinician, unopened_vial):
    # Python's json module reads the non-standard NaN literal; the schema must still refuse it.
    r = api_clinician.post(f"/vials/{unopened_vial.pk}/reconstitute", raw=b'{"diluent_ml": NaN}')
    assert r.status_code == 422 and fields_named(r) == {"diluent_ml"}
    r = api_clinician.post(f"/vials/{unopened_vial.pk}/reconstitute", raw=b'{"diluent_ml": Infinity}')
    assert r.status_code == 422 and fields_named(r) == {"diluent_ml"}


def test_the_recall_list_names_the_patients_treated_from_the_lot(api_manager, signed, manager):
    r = api_manager.post("/vials/recall", {"product": "onabotulinumtoxinA", "lot": "C1234A"})
    assert r.status_code == 200
    assert [p["id"] for p in r.json()["patients"]] == [str(signed.patient.public_id)]
    assert (r.json()["patients"][0]["lot_signed"], r.json()["patients"][0]["lot_in_draft"]) == (True, False)
    assert AuditEvent.objects.filter(action="vial.recall_list", actor=manager).exists()
    assert api_manager.post("/vials/recall", {"product": "onabotulinumtoxinA", "lot": "OTHER"}).json()["patients"] == []


def test_the_recall_list_keeps_a_draft_and_flags_it(api_manager, draft):
    [p] = api_manager.post("/vials/recall", {"product": "onabotulinumtoxinA", "lot": "C1234A"}).json()["patients"]
    assert p["id"] == str(draft.patient.public_id)
    assert (p["lot_signed"], p["lot_in_draft"]) == (False, True)


def test_the_front_desk_cannot_see_stock(api_front_desk, vial):
    before = counts()
    assert api_front_desk.get("/vials").status_code == 403
    assert api_front_desk.get(f"/vials/{vial.pk}").status_code == 403
    assert api_front_desk.post("/vials", {"product": "onabotulinumtoxinA", "lot": "L", "expiry": expiry(),
                                          "units": 100}).status_code == 403
    assert api_front_desk.post("/vials/recall", {"product": "onabotulinumtoxinA", "lot": "C1234A"}).status_code == 403
    assert counts() == before


def test_another_clinics_vial_is_a_404(api_other, other_clinician, unopened_vial, signed, denied):
    before = counts()
    with denied():
        assert api_other.get(f"/vials/{unopened_vial.pk}").json() == {"detail": "Not found."}
        r = api_other.post(f"/vials/{unopened_vial.pk}/reconstitute", {"diluent_ml": 2})
        assert r.status_code == 404
    assert counts() == before
    assert AuditEvent.objects.filter(outcome="denied", actor=other_clinician, action="vial.not_found").count() == 2
    assert api_other.get("/vials").json()["count"] == 0
    r = api_other.post("/vials/recall", {"product": "onabotulinumtoxinA", "lot": "C1234A"})
    assert r.json()["patients"] == []


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "99999999999999999999999", "1.5"])
def test_bad_vial_ids_are_4xx(api_clinician, bad):
    assert api_clinician.get(f"/vials/{bad}").status_code in (404, 422)


def test_units_remaining_counts_signed_charts_and_shows_drafts_apart(api_clinician, clinician, vial, patient):
    from touchup.clinic.services.screenings import screening_record
    from touchup.clinic.services.treatments import treatment_sign, treatment_start, treatment_update
    from touchup.web.clinical import protocols_for
    from tests.web.conftest import clean_answers

    screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    protocol = next(p["key"] for p in protocols_for("glabellar_lines") if p["product"] in ("", "onabotulinumtoxinA"))
    t = treatment_update(actor=clinician, vial=vial, treatment=treatment_start(
        actor=clinician, patient=patient, indication="glabellar_lines", product="onabotulinumtoxinA", protocol=protocol))
    one = api_clinician.get(f"/vials/{vial.pk}").json()
    assert (one["units_remaining"], one["units_in_drafts"]) == (100, 20)
    treatment_sign(actor=clinician, treatment=t)
    [listed] = api_clinician.get("/vials").json()["items"]
    assert (listed["units_remaining"], listed["units_in_drafts"]) == (80, 0)
