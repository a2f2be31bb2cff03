"""The record export (FHIR R4B): what it holds, that it validates, and who may make it.

Every bundle is parsed by fhir.resources' R4B models (the Bundle, and each resource again
through its own class); codes are checked against fhir_codes.toml, which cites a source
for each; drafts, row numbers, usernames and audit data must not appear."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from tests.api.helpers import Api
from tests.conftest import PASSWORD
from touchup.clinic.models import AuditEvent
from touchup.interop import fhir

from .conftest import AMEND_REASON, CORRECTION, DRAFT_NOTE

CLINICAL_SYSTEMS = {"http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm", "http://www.ama-assn.org/go/cpt"}
# Present in public code as "injection of botulinum toxin", unverified or wrong (clinical-facts §7.3).
NEVER = {"428191000124101", "442695005", "404909007"}


def staff_url(patient) -> str:
    return f"/patients/{patient.public_id}/export/fhir/"


def api_url(patient) -> str:
    return f"/api/patients/{patient.public_id}/fhir"


def validated(data: bytes) -> dict:
    """The bundle, after R4B has parsed it whole and each resource on its own."""
    Bundle.model_validate_json(data)
    b = json.loads(data)
    for e in b["entry"]:
        get_fhir_model_class(e["resource"]["resourceType"]).model_validate(e["resource"])
    return b


def resources(b: dict, kind: str | None = None) -> list[dict]:
    return [e["resource"] for e in b["entry"] if kind is None or e["resource"]["resourceType"] == kind]


def walk(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, path + (k,))
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, path)
    else:
        yield path, value


def codings(b: dict) -> set[tuple[str, str]]:
    """(system, code) of every coding from a clinical code system, wherever it sits."""
    found = set()

    def visit(v):
        if isinstance(v, dict):
            if v.get("system") in CLINICAL_SYSTEMS and "code" in v:
                found.add((v["system"], v["code"]))
            for x in v.values():
                visit(x)
        elif isinstance(v, list):
            for x in v:
                visit(x)

    visit(b)
    return found


def export_as(user, patient) -> bytes:
    client = Client()
    client.force_login(user)
    r = client.get(staff_url(patient))
    assert r.status_code == 200, r.content[:300]
    return r.content


# --- what is in it -------------------------------------------------------------------------------


def test_the_staff_download_is_a_valid_r4b_collection_as_an_attachment(record):
    client = Client()
    client.force_login(record.clinician)
    r = client.get(staff_url(record.patient))
    assert r.status_code == 200
    assert r["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert r["Content-Disposition"] == f'attachment; filename="touchup-record-{record.patient.public_id}.json"'
    assert "no-store" in r["Cache-Control"]
    b = validated(r.content)
    assert b["type"] == "collection"
    full_urls = [e["fullUrl"] for e in b["entry"]]
    assert len(full_urls) == len(set(full_urls))
    assert all(u == f"urn:uuid:{e['resource']['id']}" for u, e in zip(full_urls, b["entry"]))
    assert all(uuid.UUID(e["resource"]["id"]) for e in b["entry"])
    # Every reference points into the bundle: a receiver needs nothing else to read it.
    refs = {v for r in resources(b) for path, v in walk(r) if path and path[-1] == "reference"}
    assert refs and refs <= set(full_urls), refs - set(full_urls)


def test_signed_cycles_with_doses_vials_and_amendments_and_never_the_draft(record):
    data = export_as(record.clinician, record.patient)
    b = validated(data)
    text = data.decode()
    procedures = {p["id"]: p for p in resources(b, "Procedure")}
    assert set(procedures) == {str(t.public_id) for t in record.signed}
    assert str(record.draft.public_id) not in text and DRAFT_NOTE not in text
    # One Medication per vial used, with lot and expiry; none for a vial only the draft used.
    lots = {m["batch"]["lotNumber"]: m for m in resources(b, "Medication")}
    assert set(lots) == {"GL-2024-A", "CM-2025-B", "XE-77"}
    assert lots["XE-77"]["batch"]["expirationDate"] == record.vials[2].expiry.isoformat()
    # Per area, the dose in the product's own units, part of its session.
    admins = resources(b, "MedicationAdministration")
    dystonia = str(record.signed[3].public_id)
    (cd,) = [a for a in admins if a["partOf"] == [{"reference": f"urn:uuid:{dystonia}"}]]
    assert cd["dosage"]["dose"] == {"value": 90, "unit": "U (incobotulinumtoxinA)"}
    assert "Sternocleidomastoid, right 40 U" in cd["dosage"]["text"]
    assert cd["medicationReference"]["reference"] == f"urn:uuid:{lots['XE-77']['id']}"
    assert all("system" not in a["dosage"]["dose"] for a in admins), "units are not UCUM's U"
    migraine = [a for a in admins if a["partOf"][0]["reference"].endswith(str(record.signed[2].public_id))]
    assert [a["dosage"]["dose"] for a in migraine] == [{"value": 155, "unit": "U (onabotulinumtoxinA)"}]
    # The amended chart: the original as signed, the amendment beside it with its reason.
    first = procedures[str(record.signed[0].public_id)]
    assert any(CORRECTION in n["text"] and AMEND_REASON in n["text"] for n in first["note"])
    (prov,) = resources(b, "Provenance")
    assert prov["target"] == [{"reference": f"urn:uuid:{record.signed[0].public_id}"}]
    assert prov["reason"] == [{"text": AMEND_REASON}]
    # Readings from the clinician, the diaries, the check-in and the photo.
    kinds = sorted(o["code"]["coding"][0]["code"] for o in resources(b, "Observation"))
    assert kinds == ["fws_grade", "headache_days", "headache_days", "hit6_total", "symptom_score",
                     "wearing_off_reported", "wrinkle_index"]
    (index,) = [o for o in resources(b, "Observation") if o["code"]["coding"][0]["code"] == "wrinkle_index"]
    assert index["code"]["coding"][0]["system"] == fhir.OBSERVATION_SYSTEM
    assert index["derivedFrom"] == [{"reference": f"urn:uuid:{record.photo.public_id}"}]
    (media,) = resources(b, "Media")
    assert "data" not in media["content"] and "url" not in media["content"]
    (event,) = resources(b, "AdverseEvent")
    assert event["suspectEntity"] == [{"instance": {"reference": f"urn:uuid:{dystonia}"}}]
    (allergy,) = resources(b, "AllergyIntolerance")
    assert allergy["verificationStatus"]["coding"][0]["code"] == "unconfirmed"
    assert len(resources(b, "QuestionnaireResponse")) == record.patient.screenings.count()
    (practitioner,) = resources(b, "Practitioner")
    assert practitioner["name"] == [{"family": "Rivera", "given": ["Alice"]}]


def test_codes_present_are_exactly_the_sourced_ones(record):
    b = validated(export_as(record.clinician, record.patient))
    found = codings(b)
    sourced = set(fhir.codes().sources)
    assert found <= sourced, found - sourced
    assert {code for _, code in found} == {"225426007", "R23.4", "Z41.1", "64615", "64616", "G24.3"}
    text = json.dumps(b)
    assert not [c for c in NEVER if c in text]
    # Every code in the table cites sources the catalogue knows (the loader refuses others).
    from touchup.core.catalogue import load_catalogue

    known = set(load_catalogue().sources)
    assert all(src and set(src) <= known for src in fhir.codes().sources.values())


def test_a_code_without_a_source_is_refused(tmp_path):
    bad = fhir.CODES_FILE.read_text().replace('src = ["S142"]', "src = []")
    path = tmp_path / "codes.toml"
    path.write_text(bad)
    with pytest.raises(ValueError, match="225426007"):
        fhir.read_codes(path)


def test_no_row_numbers_usernames_or_audit_data(record):
    from touchup.clinic.models import InjectionPoint, Observation

    data = export_as(record.clinician, record.patient)
    b = validated(data)
    text = data.decode()
    # Numbers appear only as values (doses, readings, sizes), never as a key or id.
    numeric_keys = {path[-1] for r in resources(b) for path, v in walk(r)
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert numeric_keys <= {"value", "valueInteger", "width", "height"}, numeric_keys
    pks = {record.patient.pk, record.patient.clinic_id, record.clinician.pk, record.patient.user_id,
           record.report.pk, record.photo.pk, record.amendment.pk, record.draft.pk}
    pks |= {t.pk for t in record.signed} | {v.pk for v in record.vials}
    pks |= set(Observation.objects.filter(patient=record.patient).values_list("pk", flat=True))
    pks |= set(InjectionPoint.objects.filter(treatment__patient=record.patient).values_list("pk", flat=True))
    strings = {v for r in resources(b) for _, v in walk(r) if isinstance(v, str)}
    assert not {str(pk) for pk in pks} & strings
    assert not [s for s in strings for pk in pks if s.endswith(f"/{pk}")]
    # No usernames (Alice's login is "alice", the patient's "dana"), no audit trail.
    assert "alice" not in text and '"dana"' not in text
    last = AuditEvent.objects.order_by("-id").first()
    assert last.hash not in text and "patient.view" not in text and "prev_hash" not in text


def test_the_export_reads_a_fixed_number_of_queries(record, django_assert_max_num_queries):
    """Whatever the number of cycles: no query per treatment, point or reading
    (benchmarks/fhir_export.py: 17 for 30 cycles, the audit event's included)."""
    from touchup.clinic.services.records import patient_export_fhir

    with django_assert_max_num_queries(20):
        patient_export_fhir(actor=record.clinician, patient=record.patient, via="web")


def test_ids_are_the_same_in_every_export(record):
    one = validated(export_as(record.clinician, record.patient))
    two = validated(export_as(record.clinician, record.patient))
    assert [e["fullUrl"] for e in one["entry"]] == [e["fullUrl"] for e in two["entry"]]
    assert one["id"] != two["id"]  # each export is its own bundle


# --- who may make it, and the audit trail -------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "manager"])
def test_clinicians_and_managers_export_and_it_is_audited(record, role, request):
    user = record.clinician if role == "clinician" else request.getfixturevalue("manager")
    client = Client()
    client.force_login(user)
    page = client.get(f"/patients/{record.patient.public_id}/").content.decode()
    assert staff_url(record.patient) in page and "Export record (FHIR)" in page
    before = AuditEvent.objects.count()
    b = validated(client.get(staff_url(record.patient)).content)
    (event,) = AuditEvent.objects.filter(id__gt=before)  # the export stands for the read
    assert (event.action, event.outcome, event.actor_id, event.patient_id_ref) == (
        "patient.export", "ok", user.pk, record.patient.pk)
    assert event.detail["format"] == "fhir-r4b-json" and event.detail["via"] == "web"
    assert event.detail["export"] == b["id"]
    assert event.detail["counts"] == fhir.resource_counts(b)
    assert event.detail["counts"]["Procedure"] == 4
    detail = json.dumps(event.detail)
    assert record.patient.given_name not in detail and record.patient.family_name not in detail


def test_the_front_desk_is_refused_on_the_page_and_the_api(record, front_desk, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(front_desk)
    page = client.get(f"/patients/{record.patient.public_id}/").content.decode()
    assert "Export record" not in page and staff_url(record.patient) not in page
    denied = AuditEvent.objects.filter(outcome="denied").count()
    with django_capture_on_commit_callbacks(execute=True):  # refusals are written after the rollback
        assert client.get(staff_url(record.patient)).status_code == 403
        assert Api(front_desk).call("get", api_url(record.patient)).status_code == 403
    assert AuditEvent.objects.filter(outcome="denied").count() == denied + 2
    assert not AuditEvent.objects.filter(action="patient.export").exists()


def test_another_clinic_gets_404_no_side_effect_and_a_denied_event(record, other_clinician,
                                                                   django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(other_clinician)
    from touchup.clinic.signin_audit import LABELS as SIGNIN_ACTIONS

    # Signing the API client in is an event of its own (signin); nothing else may be.
    ok = AuditEvent.objects.filter(outcome="ok").exclude(action__in=list(SIGNIN_ACTIONS))
    ok_before = ok.count()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.get(staff_url(record.patient))
        a = Api(other_clinician).call("get", api_url(record.patient))
    assert r.status_code == 404
    assert record.patient.family_name not in r.content.decode()
    assert (a.status_code, a.json()) == (404, {"detail": "Not found."})
    assert ok.count() == ok_before
    assert AuditEvent.objects.filter(outcome="denied", actor=other_clinician, action="patient.not_found").count() == 2


def test_the_api_serves_the_same_bundle_for_a_clinician(record):
    r = Api(record.clinician).call("get", api_url(record.patient))
    assert r.status_code == 200
    assert r["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert "no-store" in r["Cache-Control"]
    b = validated(r.content)
    assert {p["id"] for p in resources(b, "Procedure")} == {str(t.public_id) for t in record.signed}
    event = AuditEvent.objects.filter(action="patient.export").get()
    assert event.detail["via"] == "api"


# --- the patient's own copy -----------------------------------------------------------------------------


PORTAL_URL = "/portal/settings/record.json"


def test_a_patient_downloads_their_own_record_from_the_portal(record):
    client = Client()
    assert client.login(username="dana", password=PASSWORD)
    page = client.get("/portal/settings/").content.decode()
    assert PORTAL_URL in page and "Download your record" in page
    r = client.get(PORTAL_URL)
    assert r.status_code == 200
    assert r["Content-Disposition"] == f'attachment; filename="touchup-record-{record.patient.public_id}.json"'
    assert "no-store" in r["Cache-Control"]
    b = validated(r.content)
    (patient,) = resources(b, "Patient")
    assert patient["id"] == str(record.patient.public_id)
    assert len(resources(b, "Procedure")) == 4 and DRAFT_NOTE not in r.content.decode()
    event = AuditEvent.objects.filter(action="patient.export").get()
    assert (event.actor_id, event.patient_id_ref, event.detail["via"]) == (
        record.patient.user_id, record.patient.pk, "portal")


def test_a_patient_gets_only_their_own(record, erin):
    client = Client()
    assert client.login(username="erin", password=PASSWORD)
    r = client.get(PORTAL_URL)
    b = validated(r.content)
    assert [p["id"] for p in resources(b, "Patient")] == [str(erin.public_id)]
    text = r.content.decode()
    assert str(record.patient.public_id) not in text
    assert not [t for t in record.signed if str(t.public_id) in text]
    assert resources(b, "Procedure") == []
    # Neither staff nor strangers get a patient's portal copy.
    staff = Client()
    staff.force_login(record.clinician)
    assert staff.get(PORTAL_URL).status_code == 403
    assert Client().get(PORTAL_URL).status_code == 302
