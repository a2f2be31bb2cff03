"""A patient's record as a FHIR R4B Bundle (type "collection"), for the patient's own copy
(right of access) and for handing them over (a referral, another clinic).

Pure mapping: plain dataclasses in, a JSON-ready dict out; no Django, no database (the
clinic layer's selector, touchup.clinic.services.records, fills the dataclasses). The
shape follows clinical-facts §7.4: one Procedure per signed session, one Medication per
vial (lot and expiry), one MedicationAdministration per area and vial, `partOf` the
Procedure, with the dose in the product's own units. docs/interop.md has the table.

Ids are stable: a row with a public id keeps it (`urn:uuid:<public_id>`); what has none
(a vial, a staff member, a reading) gets an id the selector derives without exposing its
row number. Codes: only the sourced ones in fhir_codes.toml; everything else is text.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from touchup.core.catalogue import Catalogue, load_catalogue
from touchup.core.screening import QUESTIONS

CODES_FILE = Path(__file__).with_name("fhir_codes.toml")
FORMAT = "fhir-r4b-json"
MEDIA_TYPE = "application/fhir+json"

# Touchup's own code systems (readings, photo views, side effects). A name, not a web page:
# .invalid is reserved (RFC 6761), so the address can never come to mean anyone else's.
TOUCHUP = "https://touchup.invalid/fhir/CodeSystem"
OBSERVATION_SYSTEM = f"{TOUCHUP}/observation"
PHOTO_VIEW_SYSTEM = f"{TOUCHUP}/photo-view"
SIDE_EFFECT_SYSTEM = f"{TOUCHUP}/side-effect"
# FHIR's own terminology for structural elements.
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
UCUM = "http://unitsofmeasure.org"
URI_IDENTIFIER = "urn:ietf:rfc:3986"

# kind -> (display, FHIR value type, unit of a Quantity)
OBSERVATION_KINDS: dict[str, tuple[str, str, str]] = {
    "fws_grade": ("Facial wrinkle scale grade (0 none, 1 mild, 2 moderate, 3 severe)", "integer", ""),
    "wrinkle_index": ("Wrinkle index measured on a photo (larger: more visible lines)", "quantity", "index"),
    "wearing_off_reported": ("Patient reports the effect wearing off", "boolean", ""),
    "headache_days": ("Headache days in the 30 days before the date", "integer", ""),
    "symptom_score": ("Cervical dystonia symptom rating (0 none to 10 the worst)", "quantity", "score"),
    "hit6_total": ("HIT-6 headache impact total score (36 to 78)", "integer", ""),
}
WRINKLE_INDEX_NOTE = ("Only its change against the same area's index on the treatment day means "
                      "anything; indices are not comparable between people or cameras.")

PATIENT = "patient"  # an actor that is the patient themself (portal entries)


# --- what the selector hands in ------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    ref: str  # a uuid
    given_name: str
    family_name: str


@dataclass(frozen=True)
class PatientInfo:
    public_id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str  # female | male | other
    email: str
    phone: str
    clinic_ref: str
    clinic_name: str


@dataclass(frozen=True)
class VialInfo:
    ref: str
    product: str
    lot: str
    expiry: dt.date
    units: int
    diluent_ml: float | None


@dataclass(frozen=True)
class PointInfo:
    site: str  # catalogue site key; "" for a free point
    area: str
    units: float
    vial_ref: str | None  # None: a chart from before vials were recorded (or imported)


@dataclass(frozen=True)
class AmendmentInfo:
    reason: str
    changes: dict[str, Any]
    by: str  # a Staff ref
    at: dt.datetime


@dataclass(frozen=True)
class TreatmentInfo:
    """A signed treatment (the selector never hands in a draft)."""

    public_id: uuid.UUID
    treated_on: dt.date
    product: str
    indication: str
    notes: str
    clinician: str  # Staff ref
    signed_by: str | None
    signed_at: dt.datetime
    points: tuple[PointInfo, ...]
    amendments: tuple[AmendmentInfo, ...] = ()


@dataclass(frozen=True)
class ObservationInfo:
    ref: str
    kind: str  # OBSERVATION_KINDS
    area: str  # "" when the reading is not of one area
    observed_on: dt.date
    value: float
    source: str  # clinician | patient | photo
    recorded_at: dt.datetime
    photo: uuid.UUID | None = None


@dataclass(frozen=True)
class PhotoInfo:
    public_id: uuid.UUID
    view: str
    view_label: str
    taken_on: dt.date
    width: int
    height: int
    taken_by: str  # Staff ref or PATIENT
    treatment: uuid.UUID | None


@dataclass(frozen=True)
class SideEffectInfo:
    public_id: uuid.UUID
    kind: str
    kind_label: str
    details: str
    started_on: dt.date
    urgent: bool
    reported_by: str  # Staff ref or PATIENT
    reported_at: dt.datetime
    treatment: uuid.UUID | None
    reviewed_by: str | None


@dataclass(frozen=True)
class ScreeningInfo:
    public_id: uuid.UUID
    indication: str
    answers: dict[str, Any]  # {question key: {"answer": bool, "details": str}}
    recorded_by: str  # Staff ref
    recorded_at: dt.datetime


@dataclass(frozen=True)
class PatientRecord:
    patient: PatientInfo
    staff: tuple[Staff, ...] = ()
    vials: tuple[VialInfo, ...] = ()
    treatments: tuple[TreatmentInfo, ...] = ()
    observations: tuple[ObservationInfo, ...] = ()
    photos: tuple[PhotoInfo, ...] = ()
    side_effects: tuple[SideEffectInfo, ...] = ()
    screenings: tuple[ScreeningInfo, ...] = ()  # oldest first


# --- the sourced codes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    procedure: tuple[dict[str, str], ...]
    indications: dict[str, dict[str, tuple[dict[str, str], ...]]]
    areas: dict[str, tuple[dict[str, str], ...]]
    sources: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (system, code) -> keys


def read_codes(path: Path = CODES_FILE, catalogue: Catalogue | None = None) -> Codes:
    """fhir_codes.toml as codings; every code must cite sources the catalogue knows."""
    raw = tomllib.loads(path.read_text())
    systems: dict[str, str] = raw["systems"]
    known = set((catalogue or load_catalogue()).sources)
    sources: dict[tuple[str, str], tuple[str, ...]] = {}

    def codings(entries: list[dict[str, Any]], where: str) -> tuple[dict[str, str], ...]:
        out = []
        for e in entries:
            src = tuple(e.get("src") or ())
            if not src or not set(src) <= known:
                raise ValueError(f"{path.name}: {where} {e.get('code')!r} needs sources from sources.toml, has {src}")
            system = systems[e["system"]]
            sources[(system, e["code"])] = src
            out.append({"system": system, "code": e["code"], "display": e["display"]})
        return tuple(out)

    indications = {
        key: {part: codings(value.get(part, []), f"indications.{key}.{part}")
              for part in ("procedure", "condition", "encounter")}
        for key, value in raw.get("indications", {}).items()
    }
    areas = {key: codings(value.get("site", []), f"areas.{key}") for key, value in raw.get("areas", {}).items()}
    return Codes(procedure=codings(raw["procedure"]["codes"], "procedure"), indications=indications,
                 areas=areas, sources=sources)


@lru_cache(maxsize=1)
def codes() -> Codes:
    return read_codes()


# --- small builders ---------------------------------------------------------------------------


def urn(ident: Any) -> str:
    return f"urn:uuid:{ident}"


def ref(ident: Any) -> dict[str, str]:
    return {"reference": urn(ident)}


def derived_id(owner: uuid.UUID, what: str) -> str:
    """An id for a resource a public id owns (an administration of a treatment, say)."""
    return str(uuid.uuid5(owner, what))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 4)


def _instant(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("FHIR instants need a time zone")
    return value.isoformat()


def concept(text: str, codings: tuple[dict[str, str], ...] | list[dict[str, str]] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if codings:
        out["coding"] = [dict(c) for c in codings]
    return out


def units(value: float, product: str) -> dict[str, Any]:
    """A dose in the product's own potency units: never UCUM's "U" (an enzyme unit), and
    never comparable across products (S1, S21, S30, S32, S35), so the unit names it."""
    return {"value": _number(value), "unit": f"U ({product})"}


def _actor(who: str | None, patient_ref: str) -> dict[str, str] | None:
    if who is None:
        return None
    return ref(patient_ref) if who == PATIENT else ref(who)


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": urn(resource["id"]), "resource": resource}


# --- the resources -------------------------------------------------------------------------------


def _patient(p: PatientInfo) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.public_id),
        "identifier": [{"system": URI_IDENTIFIER, "value": urn(p.public_id)}],
        "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
        "gender": {"female": "female", "male": "male"}.get(p.sex, "other"),
        "birthDate": p.birth_date.isoformat(),
        "managingOrganization": ref(p.clinic_ref),
    }
    telecom = [{"system": "email", "value": p.email}] if p.email else []
    telecom += [{"system": "phone", "value": p.phone}] if p.phone else []
    if telecom:
        res["telecom"] = telecom
    return res


def _organization(p: PatientInfo) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": p.clinic_ref, "name": p.clinic_name}


def _practitioner(s: Staff) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Practitioner", "id": s.ref}
    name = {k: v for k, v in (("family", s.family_name), ("given", [s.given_name] if s.given_name else None)) if v}
    res["name"] = [name or {"text": "Clinic staff member"}]
    return res


def _medication(v: VialInfo, cat: Catalogue) -> dict[str, Any]:
    product = cat.products.get(v.product)
    text = f"{product.name} ({product.brands})" if product else v.product
    res: dict[str, Any] = {
        "resourceType": "Medication",
        "id": v.ref,
        "code": concept(text),
        "amount": {"numerator": units(v.units, v.product), "denominator": {"value": 1, "unit": "vial"}},
        "batch": {"lotNumber": v.lot, "expirationDate": v.expiry.isoformat()},
    }
    if v.diluent_ml:
        # Reconstituted: the units per mL of 0.9% saline it was made up with.
        res["ingredient"] = [{
            "itemCodeableConcept": concept(text),
            "isActive": True,
            "strength": {"numerator": units(v.units, v.product),
                         "denominator": {"value": _number(v.diluent_ml), "unit": "mL", "system": UCUM, "code": "mL"}},
        }]
    return res


def _site_name(cat: Catalogue, key: str) -> str:
    site = cat.sites.get(key) if key else None
    return site.name if site else "Free point"


def _area_site(cat: Catalogue, c: Codes, area: str) -> dict[str, Any]:
    a = cat.areas.get(area)
    return concept(a.name if a else area, c.areas.get(area, ()))


def _amendment_text(a: AmendmentInfo) -> str:
    changes = a.changes
    what = (str(changes["correction"]) if set(changes) == {"correction"}
            else json.dumps(changes, sort_keys=True, ensure_ascii=False))
    return f"Amendment: {what} Reason: {a.reason}"


def _procedure(t: TreatmentInfo, patient_ref: str, cat: Catalogue, c: Codes) -> dict[str, Any]:
    ind = cat.indications.get(t.indication)
    ind_codes = c.indications.get(t.indication, {})
    product = cat.products.get(t.product)
    product_name = product.name if product else t.product
    ind_name = ind.name if ind else t.indication
    areas = list(dict.fromkeys(p.area for p in t.points))
    reasons = [concept(ind_name, ind_codes.get("condition", ()))]
    if ind_codes.get("encounter"):
        reasons.append(concept("Cosmetic treatment", ind_codes["encounter"]))
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": str(t.public_id),
        "identifier": [{"system": URI_IDENTIFIER, "value": urn(t.public_id)}],
        "status": "completed",
        "code": concept(f"Botulinum toxin injection ({product_name}): {ind_name}",
                        c.procedure + ind_codes.get("procedure", ())),
        "subject": ref(patient_ref),
        "performedDateTime": t.treated_on.isoformat(),
        "performer": [{"actor": ref(t.clinician)}],
        "reasonCode": reasons,
    }
    if areas:
        res["bodySite"] = [_area_site(cat, c, a) for a in areas]
    vials = [ref(v) for v in dict.fromkeys(p.vial_ref for p in t.points) if v]
    if vials:
        res["usedReference"] = vials
    if t.signed_by:
        res["recorder"] = ref(t.signed_by)
    notes = []
    if t.notes.strip():
        notes.append({"authorReference": ref(t.clinician), "time": _instant(t.signed_at), "text": t.notes.strip()})
    notes += [{"authorReference": ref(a.by), "time": _instant(a.at), "text": _amendment_text(a)}
              for a in t.amendments]
    if notes:
        res["note"] = notes
    return res


def _administrations(t: TreatmentInfo, patient_ref: str, cat: Catalogue, c: Codes) -> list[dict[str, Any]]:
    """One per area and vial (a MedicationAdministration names one medication, and two vials
    are two lots): the area's total dose, each site's units in the dosage text."""
    groups: dict[tuple[str, str | None], list[PointInfo]] = defaultdict(list)
    for p in t.points:
        groups[(p.area, p.vial_ref)].append(p)
    out = []
    for (area, vial_ref), points in groups.items():
        total = sum(p.units for p in points)
        area_site = _area_site(cat, c, area)
        per_site = "; ".join(f"{_site_name(cat, p.site)} {_number(p.units)} U" for p in points)
        product = cat.products.get(t.product)
        out.append({
            "resourceType": "MedicationAdministration",
            "id": derived_id(t.public_id, f"administration:{area}:{vial_ref or 'no vial'}"),
            "status": "completed",
            # The vial (lot and expiry) when the chart names it, else the product alone.
            **({"medicationReference": ref(vial_ref)} if vial_ref else
               {"medicationCodeableConcept": concept(f"{product.name} ({product.brands})" if product else t.product)}),
            "subject": ref(patient_ref),
            "effectiveDateTime": t.treated_on.isoformat(),
            "performer": [{"actor": ref(t.clinician)}],
            "partOf": [ref(t.public_id)],
            "dosage": {
                "text": f"{_number(total)} U of {t.product} into {area_site['text']} "
                        f"({len(points)} injection point{'s' if len(points) != 1 else ''}: {per_site})",
                "site": area_site,
                "route": concept("Intramuscular injection"),
                "dose": units(total, t.product),
            },
        })
    return out


def _provenances(t: TreatmentInfo) -> list[dict[str, Any]]:
    """Each amendment of a signed chart: who, when, why (the chart itself stays as signed)."""
    return [{
        "resourceType": "Provenance",
        "id": derived_id(t.public_id, f"amendment:{i}"),
        "target": [ref(t.public_id)],
        "recorded": _instant(a.at),
        "activity": concept("Amended", [{"system": DATA_OPERATION, "code": "UPDATE", "display": "revise"}]),
        "reason": [concept(a.reason)],
        "agent": [{"who": ref(a.by)}],
    } for i, a in enumerate(t.amendments, start=1)]


def _observation(o: ObservationInfo, patient_ref: str, cat: Catalogue, c: Codes,
                 photos: set[uuid.UUID]) -> dict[str, Any]:
    display, kind, unit = OBSERVATION_KINDS[o.kind]
    category = {"patient": ("survey", "Survey"), "photo": ("imaging", "Imaging")}.get(o.source, ("exam", "Exam"))
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": o.ref,
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category[0], "display": category[1]}]}],
        "code": concept(display, [{"system": OBSERVATION_SYSTEM, "code": o.kind, "display": display}]),
        "subject": ref(patient_ref),
        "effectiveDateTime": o.observed_on.isoformat(),
        "issued": _instant(o.recorded_at),
    }
    if o.source == "patient":
        res["performer"] = [ref(patient_ref)]
    if o.area:
        res["bodySite"] = _area_site(cat, c, o.area)
    if kind == "boolean":
        res["valueBoolean"] = bool(o.value)
    elif kind == "integer":
        res["valueInteger"] = int(round(o.value))
    else:
        res["valueQuantity"] = {"value": _number(o.value), "unit": unit}
    if o.kind == "wrinkle_index":
        res["note"] = [{"text": WRINKLE_INDEX_NOTE}]
        if o.photo in photos:
            res["derivedFrom"] = [ref(o.photo)]
    return res


def _media(ph: PhotoInfo, patient_ref: str, signed: set[uuid.UUID]) -> dict[str, Any]:
    """The photo's place in the record without its pixels (see docs/interop.md)."""
    res: dict[str, Any] = {
        "resourceType": "Media",
        "id": str(ph.public_id),
        "status": "completed",
        "type": {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "image", "display": "Image"}]},
        "view": concept(ph.view_label, [{"system": PHOTO_VIEW_SYSTEM, "code": ph.view, "display": ph.view_label}]),
        "subject": ref(patient_ref),
        "createdDateTime": ph.taken_on.isoformat(),
        "operator": _actor(ph.taken_by, patient_ref),
        "width": ph.width,
        "height": ph.height,
        "content": {"contentType": "image/jpeg", "title": f"{ph.view_label}, {ph.taken_on.isoformat()}"},
        "note": [{"text": "The image itself is kept by the clinic and is not in this file."}],
    }
    if ph.treatment in signed:
        res["partOf"] = [ref(ph.treatment)]
    return res


def _adverse_event(s: SideEffectInfo, patient_ref: str, signed: set[uuid.UUID]) -> dict[str, Any]:
    text = s.kind_label + (f": {s.details}" if s.details else "")
    if s.urgent:
        text += " (urgent: a possible sign of the toxin spreading)"
    res: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": str(s.public_id),
        "actuality": "actual",
        "event": concept(text, [{"system": SIDE_EFFECT_SYSTEM, "code": s.kind, "display": s.kind_label}]),
        "subject": ref(patient_ref),
        "date": s.started_on.isoformat(),
        "recordedDate": _instant(s.reported_at),
        "recorder": _actor(s.reported_by, patient_ref),
    }
    if s.treatment in signed:
        res["suspectEntity"] = [{"instance": ref(s.treatment)}]
    if s.reviewed_by:
        res["contributor"] = [ref(s.reviewed_by)]
    return res


def _questionnaire_response(s: ScreeningInfo, patient_ref: str, cat: Catalogue) -> dict[str, Any]:
    items = []
    for q in QUESTIONS:
        given = s.answers.get(q.key)
        if not isinstance(given, dict) or not isinstance(given.get("answer"), bool):
            continue
        answer: dict[str, Any] = {"valueBoolean": given["answer"]}
        details = str(given.get("details") or "").strip()
        if details:
            answer["item"] = [{"linkId": f"{q.key}.details", "text": q.details_prompt,
                               "answer": [{"valueString": details}]}]
        items.append({"linkId": q.key, "text": q.text, "answer": [answer]})
    ind = cat.indications.get(s.indication)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(s.public_id),
        "status": "completed",
        "subject": ref(patient_ref),
        "authored": _instant(s.recorded_at),
        "author": ref(s.recorded_by),
        "source": ref(patient_ref),
        "item": [{"linkId": "indication", "text": "Screened for",
                  "answer": [{"valueString": ind.name if ind else s.indication}]}] + items,
    }


def _allergy(s: ScreeningInfo, patient_ref: str) -> dict[str, Any] | None:
    """The latest screening's "yes" to an allergy to a toxin product, as the patient said it."""
    given = s.answers.get("toxin_allergy")
    if not isinstance(given, dict) or given.get("answer") is not True:
        return None
    details = str(given.get("details") or "").strip()
    return {
        "resourceType": "AllergyIntolerance",
        "id": derived_id(s.public_id, "allergy:toxin_allergy"),
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": ALLERGY_VERIFICATION, "code": "unconfirmed"}]},
        "category": ["medication"],
        "code": concept("Botulinum toxin product or one of its ingredients" + (f" ({details})" if details else "")),
        "patient": ref(patient_ref),
        "recordedDate": _instant(s.recorded_at),
        "recorder": ref(s.recorded_by),
        "asserter": ref(patient_ref),
    }


# --- the bundle ----------------------------------------------------------------------------------


def bundle(record: PatientRecord, *, export_id: uuid.UUID, now: dt.datetime,
           catalogue: Catalogue | None = None, code_table: Codes | None = None) -> dict[str, Any]:
    """The whole record as a Bundle of type "collection" (a copy of what is on file, not an
    attested clinical document: see docs/interop.md). Drafts never reach here."""
    cat = catalogue or load_catalogue()
    c = code_table or codes()
    p = record.patient
    patient_ref = str(p.public_id)
    signed = {t.public_id for t in record.treatments}
    photos = {ph.public_id for ph in record.photos}
    resources: list[dict[str, Any]] = [_patient(p), _organization(p)]
    resources += [_practitioner(s) for s in record.staff]
    resources += [_medication(v, cat) for v in record.vials]
    for t in record.treatments:
        resources.append(_procedure(t, patient_ref, cat, c))
        resources += _administrations(t, patient_ref, cat, c)
        resources += _provenances(t)
    resources += [_observation(o, patient_ref, cat, c, photos) for o in record.observations]
    resources += [_media(ph, patient_ref, signed) for ph in record.photos]
    resources += [_adverse_event(s, patient_ref, signed) for s in record.side_effects]
    resources += [_questionnaire_response(s, patient_ref, cat) for s in record.screenings]
    if record.screenings:
        allergy = _allergy(record.screenings[-1], patient_ref)
        if allergy is not None:
            resources.append(allergy)
    for r in resources:  # no empty element: FHIR forbids them
        for key in [k for k, v in r.items() if v is None]:
            del r[key]
    return {
        "resourceType": "Bundle",
        "id": str(export_id),
        "meta": {"lastUpdated": _instant(now)},
        "identifier": {"system": URI_IDENTIFIER, "value": urn(export_id)},
        "type": "collection",
        "timestamp": _instant(now),
        "entry": [_entry(r) for r in resources],
    }


def resource_counts(b: dict[str, Any]) -> dict[str, int]:
    return dict(sorted(Counter(e["resource"]["resourceType"] for e in b["entry"]).items()))


def to_json(b: dict[str, Any]) -> bytes:
    return json.dumps(b, ensure_ascii=False, indent=1).encode()
