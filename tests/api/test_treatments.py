"""Charting over the API: start, points, edit, check, sign, amend, discard, list."""

import datetime as dt

import pytest
from django.utils import timezone

from touchup.clinic.models import AuditEvent, Treatment

from .helpers import Api, counts, fields_named, protocol_for


def points_of(body):
    return [(p["site"], p["area"], p["units"], p["vial_id"]) for p in body["points"]]


def test_it_starts_a_draft_with_the_protocol_prefilled(api_clinician, screened_patient, vial, clinician):
    r = api_clinician.post(f"/patients/{screened_patient.public_id}/treatments", {
        "indication": "glabellar_lines", "product": "onabotulinumtoxinA", "protocol": protocol_for(),
        "vial_id": vial.pk,
    })
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "draft" and body["clinician"] == "alice"
    assert body["treated_on"] == timezone.localdate().isoformat()
    assert body["points"] and all(p["units"] and p["vial_id"] == vial.pk and p["lot"] == "C1234A" for p in body["points"])
    assert Treatment.objects.get(public_id=body["id"]).clinician == clinician


def test_it_starts_an_empty_draft_without_a_protocol(api_clinician, screened_patient):
    r = api_clinician.post(f"/patients/{screened_patient.public_id}/treatments",
                           {"indication": "glabellar_lines", "product": "onabotulinumtoxinA"})
    assert r.status_code == 201 and r.json()["points"] == []


@pytest.mark.parametrize(("change", "field"), [
    ({"indication": "hair_loss"}, "indication"),
    ({"product": "snake_oil"}, "product"),
    ({"protocol": "nope"}, "protocol"),
    ({"treated_on": "2999-01-01"}, "treated_on"),
    ({"treated_on": "01/02/2025"}, "treated_on"),
    ({"vial_id": "1"}, "vial_id"),
    ({"vial_id": 987654}, "vial_id"),
    ({"vial_id": -1}, "vial_id"),
])
def test_starting_validates(api_clinician, screened_patient, vial, change, field):
    body = {"indication": "glabellar_lines", "product": "onabotulinumtoxinA", **change}
    before = counts()
    r = api_clinician.post(f"/patients/{screened_patient.public_id}/treatments", body)
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before


def test_another_clinics_vial_in_a_body_is_a_field_error(api_clinician, screened_patient, other_clinician, clinic_b):
    from touchup.clinic.services.vials import vial_receive

    theirs = vial_receive(actor=other_clinician, clinic=clinic_b, product="onabotulinumtoxinA", lot="B1",
                          expiry=timezone.localdate() + dt.timedelta(days=90), units=100)
    before = counts()
    r = api_clinician.post(f"/patients/{screened_patient.public_id}/treatments",
                           {"indication": "glabellar_lines", "product": "onabotulinumtoxinA", "vial_id": theirs.pk})
    assert r.status_code == 422 and fields_named(r) == {"vial_id"}
    assert r.json()["detail"][0]["message"] == "no such vial in this clinic"
    assert counts() == before


def test_it_reads_a_chart_with_its_points(api_manager, draft):
    r = api_manager.get(f"/treatments/{draft.public_id}")
    assert r.status_code == 200
    assert len(r.json()["points"]) == draft.points.count()
    assert AuditEvent.objects.filter(action="treatment.view").exists()


def test_it_replaces_the_points(api_clinician, draft, vial):
    pts = [{"area": "glabella", "units": 4, "x": 200, "y": 150, "vial_id": vial.pk},
           {"area": "glabella", "units": 2.5, "x": 210.5, "y": 151, "vial_id": vial.pk, "view": "front"}]
    r = api_clinician.put(f"/treatments/{draft.public_id}/points", {"points": pts})
    assert r.status_code == 200, r.json()
    assert points_of(r.json()) == [("", "glabella", 4.0, vial.pk), ("", "glabella", 2.5, vial.pk)]
    r = api_clinician.put(f"/treatments/{draft.public_id}/points", {"points": []})
    assert r.status_code == 200 and r.json()["points"] == []


GOOD_POINT = {"area": "glabella", "units": 4, "x": 200, "y": 150}


@pytest.mark.parametrize(("point", "field"), [
    ({"units": "4"}, "points[0].units"),
    ({"units": -4}, "points[0].units"),
    ({"units": 0}, "points[0].units"),
    ({"units": 501}, "points[0].units"),
    ({"units": True}, "points[0].units"),
    ({"units": [4]}, "points[0].units"),
    ({"x": -1}, "points[0].x"),
    ({"x": 401}, "points[0].x"),
    ({"y": "150"}, "points[0].y"),
    ({"view": "side"}, "points[0].view"),
    ({"area": "knee"}, "points[0].area"),
    ({"site": "no_such_site"}, "points[0].site"),
    ({"vial_id": 10**6}, "points[0].vial_id"),
    ({"vial_id": "1"}, "points[0].vial_id"),
    ({"area": "glabella\x00"}, "points[0].area"),
])
def test_points_are_validated_naming_the_point(api_clinician, draft, point, field):
    before = counts()
    original = points_of(api_clinician.get(f"/treatments/{draft.public_id}").json())
    r = api_clinician.put(f"/treatments/{draft.public_id}/points", {"points": [{**GOOD_POINT, **point}]})
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before
    assert points_of(api_clinician.get(f"/treatments/{draft.public_id}").json()) == original


def test_nan_units_are_refused(api_clinician, draft):
    before = counts()
    r = api_clinician.put(f"/treatments/{draft.public_id}/points",
                          raw=b'{"points": [{"area": "glabella", "units": NaN, "x": 1, "y": 1}]}')
    assert r.status_code == 422 and fields_named(r) == {"points[0].units"}
    assert counts() == before


def test_too_many_points_are_refused(api_clinician, draft):
    r = api_clinician.put(f"/treatments/{draft.public_id}/points", {"points": [GOOD_POINT] * 201})
    assert r.status_code == 422 and fields_named(r) == {"points"}


def test_it_updates_a_draft(api_clinician, draft, unopened_vial):
    r = api_clinician.patch(f"/treatments/{draft.public_id}", {"notes": "Left brow higher.", "vial_id": unopened_vial.pk})
    assert r.status_code == 200, r.json()
    assert r.json()["notes"] == "Left brow higher."
    assert {p["vial_id"] for p in r.json()["points"]} == {unopened_vial.pk}


@pytest.mark.parametrize(("body", "field"), [
    ({"product": "snake_oil"}, "product"),
    ({"treated_on": "2999-12-31"}, "treated_on"),
    ({"treated_on": None}, "treated_on"),
    ({"notes": None}, "notes"),
    ({"notes": "x" * 5001}, "notes"),
    ({"vial_id": 123456}, "vial_id"),
])
def test_updating_validates(api_clinician, draft, body, field):
    before = counts()
    r = api_clinician.patch(f"/treatments/{draft.public_id}", body)
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before


def test_check_lists_findings_and_what_stops_signing(api_clinician, draft):
    body = api_clinician.get(f"/treatments/{draft.public_id}/check").json()
    assert set(body) == {"findings", "problems", "can_sign"}
    assert body["can_sign"] is True, body
    api_clinician.put(f"/treatments/{draft.public_id}/points", {"points": [GOOD_POINT]})  # no vial
    body = api_clinician.get(f"/treatments/{draft.public_id}/check").json()
    assert body["can_sign"] is False and any("vial" in p for p in body["problems"])


def test_it_signs_once_then_409(api_clinician, draft, clinician):
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "signed" and r.json()["signed_by"] == "alice"
    before = counts()
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign")
    assert r.status_code == 409 and "signed" in r.json()["detail"]
    assert counts() == before
    assert AuditEvent.objects.filter(action="treatment.sign").count() == 1


def test_a_refused_signing_is_422_with_reasons(api_clinician, draft):
    api_clinician.put(f"/treatments/{draft.public_id}/points", {"points": [GOOD_POINT]})  # no vial
    before = counts()
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign")
    assert r.status_code == 422
    assert r.json()["detail"] == "Signing was refused."
    assert any("vial" in reason for reason in r.json()["reasons"])
    assert counts() == before


def _over_the_label(api, draft, units=1):
    """21 U on the 20 U glabellar protocol: two warnings (site and session total); their keys."""
    points = api.get(f"/treatments/{draft.public_id}").json()["points"]
    body = [{k: p[k] for k in ("site", "area", "units", "vial_id", "view", "x", "y")} for p in points]
    body[0]["units"] = body[0]["units"] + units
    assert api.put(f"/treatments/{draft.public_id}/points", {"points": body}).status_code == 200
    warns = [f for f in api.get(f"/treatments/{draft.public_id}/check").json()["findings"] if f["severity"] == "warn"]
    assert sorted(f["code"] for f in warns) == ["above_label_site", "above_label_total"]
    assert all(f["key"].startswith(f"{f['code']}@{f['site'] or ''}#") for f in warns)
    return [f["key"] for f in warns]


def test_signing_with_warnings_needs_their_keys_accepted(api_clinician, draft):
    keys = _over_the_label(api_clinician, draft)
    before = counts()
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign")
    assert r.status_code == 422
    assert "must be reviewed and accepted" in r.json()["reasons"][0]
    assert "above_label_site" in r.json()["reasons"][0]
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign", {"accepted_warnings": keys[:1]})
    assert r.status_code == 422
    assert r.json()["reasons"][0].startswith("The safety checks changed since you reviewed them:")
    assert counts() == before
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign", {"accepted_warnings": keys})
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "signed"
    event = AuditEvent.objects.get(action="treatment.sign")
    assert sorted(event.detail["warnings"]) == ["above_label_site", "above_label_total"]
    assert sorted(event.detail["accepted"]) == sorted(keys)


def test_codes_alone_no_longer_accept_warnings(api_clinician, draft):
    """The earlier contract (codes) is refused, with the keys to send instead."""
    keys = _over_the_label(api_clinician, draft)
    before = counts()
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign",
                           {"accepted_warnings": ["above_label_site", "above_label_total"]})
    assert r.status_code == 422
    reason = r.json()["reasons"][0]
    assert reason.startswith("Warnings are accepted by their key from the safety checks, not by code")
    assert all(k in reason for k in keys)
    assert counts() == before


def test_keys_accepted_before_a_bigger_dose_at_the_same_site_are_refused(api_clinician, draft):
    keys = _over_the_label(api_clinician, draft)
    _over_the_label(api_clinician, draft, units=1)  # one more unit at the same warned site
    before = counts()
    r = api_clinician.post(f"/treatments/{draft.public_id}/sign", {"accepted_warnings": keys})
    assert r.status_code == 422
    assert r.json()["reasons"][0].startswith("The safety checks changed since you reviewed them:")
    assert counts() == before


def test_a_signed_chart_is_not_edited(api_clinician, signed):
    before = counts()
    assert api_clinician.put(f"/treatments/{signed.public_id}/points", {"points": [GOOD_POINT]}).status_code == 409
    assert api_clinician.patch(f"/treatments/{signed.public_id}", {"notes": "later"}).status_code == 409
    assert api_clinician.delete(f"/treatments/{signed.public_id}").status_code == 409
    assert counts() == before


def test_it_amends_a_signed_chart_only(api_clinician, draft, clinician):
    body = {"reason": "Point 2 was 5 U, not 4 U.", "changes": {"points[1].units": {"was": 4, "now": 5}}}
    before = counts()
    assert api_clinician.post(f"/treatments/{draft.public_id}/amendments", body).status_code == 409
    assert counts() == before
    from touchup.clinic.services.treatments import treatment_sign

    treatment_sign(actor=clinician, treatment=draft)
    r = api_clinician.post(f"/treatments/{draft.public_id}/amendments", body)
    assert r.status_code == 201, r.json()
    assert api_clinician.get(f"/treatments/{draft.public_id}").json()["amendments"][0]["reason"] == body["reason"]


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "typo", "changes": {"a": 1}}, "reason"),
    ({"reason": "A real reason.", "changes": {}}, "changes"),
    ({"reason": "A real reason.", "changes": []}, "changes"),
    ({"reason": "A real reason."}, "changes"),
    ({"reason": "A real reason.", "changes": {"a": float("inf")}}, "changes"),
])
def test_amending_validates(api_clinician, signed, body, field):
    before = counts()
    r = api_clinician.post(f"/treatments/{signed.public_id}/amendments", body)
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before


def test_it_discards_a_draft(api_clinician, draft):
    r = api_clinician.delete(f"/treatments/{draft.public_id}")
    assert r.status_code == 204
    assert not Treatment.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action="treatment.discard").exists()
    assert api_clinician.get(f"/treatments/{draft.public_id}").status_code == 404


def test_it_lists_and_filters(api_manager, signed, clinician, screened_patient):
    from touchup.clinic.services.treatments import treatment_start

    other = treatment_start(actor=clinician, patient=screened_patient, indication="glabellar_lines",
                            product="onabotulinumtoxinA")
    body = api_manager.get("/treatments").json()
    assert body["count"] == 2
    ids = lambda **q: [t["id"] for t in api_manager.get("/treatments", **q).json()["items"]]  # noqa: E731
    assert ids(status="signed") == [str(signed.public_id)]
    assert ids(status="draft") == [str(other.public_id)]
    assert set(ids(patient_id=str(screened_patient.public_id))) == {str(signed.public_id), str(other.public_id)}
    assert ids(treated_from="2999-01-01") == []
    r = api_manager.get("/treatments", status="deleted")
    assert r.status_code == 422 and fields_named(r) == {"status"}


def test_listing_by_another_clinics_patient_is_a_404(api_other, signed, denied):
    with denied():
        r = api_other.get("/treatments", patient_id=str(signed.patient.public_id))
    assert r.status_code == 404
    assert api_other.get("/treatments").json()["count"] == 0


def test_front_desk_never_sees_charts(api_front_desk, draft, screened_patient):
    before = counts()
    assert api_front_desk.get("/treatments").status_code == 403
    assert api_front_desk.get(f"/treatments/{draft.public_id}").status_code == 403
    assert api_front_desk.get(f"/treatments/{draft.public_id}/check").status_code == 403
    assert api_front_desk.post(f"/treatments/{draft.public_id}/sign").status_code == 403
    r = api_front_desk.post(f"/patients/{screened_patient.public_id}/treatments",
                            {"indication": "glabellar_lines", "product": "onabotulinumtoxinA"})
    assert r.status_code == 403
    assert counts() == before


def test_a_manager_reads_but_does_not_chart(api_manager, draft):
    before = counts()
    assert api_manager.get(f"/treatments/{draft.public_id}").status_code == 200
    assert api_manager.post(f"/treatments/{draft.public_id}/sign").status_code == 403
    assert api_manager.delete(f"/treatments/{draft.public_id}").status_code == 403
    assert counts() == before


def test_another_clinics_chart_is_a_404_for_every_verb(api_other, other_clinician, draft, denied):
    t = f"/treatments/{draft.public_id}"
    before = counts()
    with denied():
        responses = [
            api_other.get(t), api_other.get(f"{t}/check"), api_other.post(f"{t}/sign"),
            api_other.put(f"{t}/points", {"points": [GOOD_POINT]}), api_other.patch(t, {"notes": "x"}),
            api_other.post(f"{t}/amendments", {"reason": "Because.", "changes": {"a": 1}}), api_other.delete(t),
        ]
    assert [r.status_code for r in responses] == [404] * 7
    assert all(r.json() == {"detail": "Not found."} for r in responses)
    assert counts() == before
    assert AuditEvent.objects.filter(outcome="denied", actor=other_clinician, action="treatment.not_found").count() == 7


def test_token_auth_charts_too(clinician, draft):
    from touchup.clinic import tokens

    api = Api(token=tokens.token_create(actor=clinician, name="ipad").secret)
    assert api.post(f"/treatments/{draft.public_id}/sign").status_code == 200
