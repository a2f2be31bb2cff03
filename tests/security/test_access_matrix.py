"""The access-control matrix (AC-1, AC-2, AC-3; ASVS 8.2.1, 8.2.2, 8.4.1).

Every operation in the OpenAPI document must be classified below: which permission of
touchup.clinic.access.PERMISSIONS it needs and which clinic-owned object its path
names. A new route that is not classified fails test_every_route_is_classified, so
nobody adds an endpoint without deciding who may call it.

Then, for every operation:
- anonymous → 401, nothing written;
- each role of clinic A → allowed (2xx) exactly when PERMISSIONS says so, otherwise
  403, nothing written, and the refusal audited;
- a clinician of clinic B on clinic A's objects → 404 (the body a missing id gets),
  nothing written, the attempt audited as denied; on lists → none of clinic A's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from django.urls import get_resolver
from django.utils import timezone

from tests.api.helpers import Api, Multipart, clean_answers, counts
from touchup.api.main import api
from touchup.clinic.access import PERMISSIONS
from touchup.clinic.models import AuditEvent

ANYONE = "any authenticated user"  # their own things only (who am I, their own tokens)
STAFF = "any clinic member"  # shared, non-patient data (the catalogue)


@dataclass(frozen=True)
class Op:
    needs: str  # a PERMISSIONS key, STAFF or ANYONE
    target: str | None = None  # the world attribute the path's id comes from; "list" for clinic-wide lists
    body: Callable[[Any], Any] | None = None
    writes: bool = False
    ok: tuple[int, ...] = (200,)
    notes: str = field(default="", compare=False)


def future(days: int = 300) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def photo_jpeg() -> bytes:
    """A real JPEG unlike the world's own photos (so never a duplicate of them)."""
    from tests.photos import images

    return images.jpeg(images.shifted(dx=9))


NEW_PATIENT = {"given_name": "Nova", "family_name": "Matrix", "birth_date": "1991-01-01", "sex": "other"}

MATRIX: dict[tuple[str, str], Op] = {
    # --- the caller themselves --------------------------------------------------------
    ("GET", "/api/me"): Op(ANYONE),
    ("GET", "/api/tokens"): Op(ANYONE),
    ("POST", "/api/tokens"): Op(STAFF, body=lambda w: {"name": "cli"}, writes=True, ok=(201,)),
    ("DELETE", "/api/tokens/{token_id}"): Op(ANYONE, target="token", writes=True),
    # --- patients ------------------------------------------------------------------
    ("GET", "/api/patients"): Op("patient.view", target="list"),
    ("POST", "/api/patients/search"): Op("patient.view", target="list", body=lambda w: {"q": "a"}),
    ("POST", "/api/patients"): Op("patient.edit", body=lambda w: NEW_PATIENT, writes=True, ok=(201,)),
    ("GET", "/api/patients/{patient_id}"): Op("patient.view", target="patient"),
    ("PATCH", "/api/patients/{patient_id}"): Op("patient.edit", target="patient", body=lambda w: {"phone": "+44 7700 900123"}, writes=True),
    ("GET", "/api/patients/{patient_id}/fhir"): Op("patient.export", target="patient", notes="the whole record"),
    # --- screening -----------------------------------------------------------------
    ("GET", "/api/screening/questions"): Op("patient.view", notes="every staff role holds patient.view"),
    ("POST", "/api/patients/{patient_id}/screenings"): Op(
        "screening.record", target="patient", writes=True, ok=(201,),
        body=lambda w: {"indication": "glabellar_lines", "answers": clean_answers()},
    ),
    ("GET", "/api/screenings/{screening_id}"): Op("clinical.view", target="screening"),
    ("POST", "/api/screenings/{screening_id}/doctor-signoff"): Op(
        "screening.doctor_signoff", target="screening", writes=True
    ),
    # --- treatments ----------------------------------------------------------------
    ("GET", "/api/treatments"): Op("clinical.view", target="list"),
    ("POST", "/api/patients/{patient_id}/treatments"): Op(
        "treatment.chart", target="patient", writes=True, ok=(201,),
        body=lambda w: {"indication": "glabellar_lines", "product": "onabotulinumtoxinA"},
    ),
    ("GET", "/api/treatments/{treatment_id}"): Op("clinical.view", target="draft"),
    ("PATCH", "/api/treatments/{treatment_id}"): Op(
        "treatment.chart", target="draft", body=lambda w: {"notes": "Matrix."}, writes=True
    ),
    ("DELETE", "/api/treatments/{treatment_id}"): Op("treatment.chart", target="draft", writes=True, ok=(204,)),
    ("PUT", "/api/treatments/{treatment_id}/points"): Op(
        "treatment.chart", target="draft", writes=True,
        body=lambda w: {"points": [{"area": "glabella", "units": 4, "x": 200, "y": 150, "vial_id": w.vial.pk}]},
    ),
    ("GET", "/api/treatments/{treatment_id}/check"): Op("clinical.view", target="draft"),
    ("POST", "/api/treatments/{treatment_id}/sign"): Op("treatment.chart", target="draft", writes=True),
    ("POST", "/api/treatments/{treatment_id}/amendments"): Op(
        "treatment.chart", target="signed", writes=True, ok=(201,),
        body=lambda w: {"reason": "Second point was 5 U.", "changes": {"points[1].units": 5}},
    ),
    # --- readings and forecasts ----------------------------------------------------
    ("POST", "/api/patients/{patient_id}/observations"): Op(
        "treatment.chart", target="patient", writes=True, ok=(201,),
        body=lambda w: {"area": "glabella", "kind": "fws_grade", "value": 1},
    ),
    ("GET", "/api/patients/{patient_id}/forecasts"): Op("clinical.view", target="patient"),
    # --- photos --------------------------------------------------------------------
    ("GET", "/api/patients/{patient_id}/photos"): Op("clinical.view", target="patient"),
    ("POST", "/api/patients/{patient_id}/photos"): Op(
        "clinical.view", target="patient", writes=True, ok=(201,), notes="multipart: the staff capture page's gate",
        body=lambda w: Multipart(photo=photo_jpeg(), view="smile_squint", consent_clinical=True),
    ),
    ("GET", "/api/photos/{photo_id}"): Op("clinical.view", target="photo"),
    ("POST", "/api/photos/{photo_id}/consent"): Op(
        "photo.consent", target="photo", writes=True,
        body=lambda w: {"consent": "marketing", "given": True, "channel": "phone"},
    ),
    ("POST", "/api/photos/{photo_id}/remove"): Op(
        "photo.remove", target="photo", writes=True, body=lambda w: {"reason": "other", "note": "Matrix."},
    ),
    ("POST", "/api/photos/{photo_id}/baseline"): Op("photo.baseline", target="later_photo", writes=True),
    ("POST", "/api/photos/{photo_id}/reanalyse"): Op("photo.reanalyse", target="photo", writes=True),
    # --- vials ---------------------------------------------------------------------
    ("GET", "/api/vials"): Op("vial.view", target="list"),
    ("POST", "/api/vials"): Op(
        "vial.manage", writes=True, ok=(201,),
        body=lambda w: {"product": "onabotulinumtoxinA", "lot": "M1", "expiry": future(), "units": 100},
    ),
    ("GET", "/api/vials/{vial_id}"): Op("vial.view", target="vial"),
    ("POST", "/api/vials/{vial_id}/reconstitute"): Op(
        "vial.manage", target="unopened_vial", body=lambda w: {"diluent_ml": 2.5}, writes=True
    ),
    ("POST", "/api/vials/recall"): Op(
        "vial.view", target="list", body=lambda w: {"product": "onabotulinumtoxinA", "lot": w.vial.lot}
    ),
    # --- catalogue (shared reference data, no clinic owns it) ----------------------
    ("GET", "/api/catalogue/products"): Op(STAFF),
    ("GET", "/api/catalogue/indications"): Op(STAFF),
    ("GET", "/api/catalogue/protocols"): Op(STAFF),
    ("GET", "/api/catalogue/protocols/{key}"): Op(STAFF, target="protocol"),
}

# URL patterns under /api/ that are not operations: what an anonymous caller gets.
NON_OPERATIONS = {"openapi-json": 401, "openapi-view": 401, "api-root": 404}

ROLES = ("clinician", "front_desk", "manager")
PATH_PARAM = {"patient": "patient_id", "screening": "screening_id", "draft": "treatment_id",
              "signed": "treatment_id", "vial": "vial_id", "unopened_vial": "vial_id",
              "photo": "photo_id", "later_photo": "photo_id"}


def operations_in_schema() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


def allowed(role: str, needs: str) -> bool:
    if needs in (ANYONE, STAFF):
        return True
    return role in PERMISSIONS[needs]


def url_for(path: str, op: Op, world: Any, actor: Any = None) -> str:
    if op.target == "token":
        # The caller's own token (for the roles) or alice's (for clinic B's clinician).
        owner = actor if actor is not None and actor.pk in world.tokens else world.people["clinician"]
        return path.replace("{token_id}", str(world.tokens[owner.pk].token.pk))
    if op.target == "protocol":
        from tests.api.helpers import protocol_for

        return path.replace("{key}", protocol_for())
    if op.target in PATH_PARAM:
        obj = getattr(world, op.target)
        ident = obj.pk if op.target.endswith("vial") else obj.public_id
        return path.replace("{" + PATH_PARAM[op.target] + "}", str(ident))
    assert "{" not in path, f"{path}: classify the object its path names"
    return path


def call(client: Api, method: str, url: str, body: Any):
    return client.call(method.lower(), url, body)


CASES = sorted(MATRIX)


def test_every_route_is_classified():
    in_schema = operations_in_schema()
    unclassified = sorted(in_schema - set(MATRIX))
    stale = sorted(set(MATRIX) - in_schema)
    assert not unclassified, f"classify these operations in MATRIX: {unclassified}"
    assert not stale, f"these MATRIX entries no longer exist: {stale}"
    for key, op in MATRIX.items():
        assert op.needs in PERMISSIONS or op.needs in (ANYONE, STAFF), key
        if op.target not in (None, "list", "token", "protocol"):
            assert op.target in PATH_PARAM, key


def test_every_api_url_is_an_operation_or_a_known_page():
    """Django's resolver, not only the OpenAPI: nothing under /api/ escapes the matrix."""
    resolver = get_resolver()
    api_patterns = resolver.namespace_dict["api"][1].url_patterns
    names = {p.name for p in api_patterns}
    known = set(NON_OPERATIONS)
    operation_names = names - known
    # Each remaining pattern is a ninja path view; every path there is in the schema.
    schema_paths = {path for _, path in operations_in_schema()}
    routes = {"/api/" + str(p.pattern).replace("<", "{").replace(">", "}") for p in api_patterns if p.name in operation_names}
    assert routes <= schema_paths | {r.rstrip("/") for r in schema_paths}, routes - schema_paths


@pytest.mark.parametrize("name", sorted(NON_OPERATIONS))
def test_non_operation_pages_anonymously(db, name):
    from django.urls import reverse

    r = Api().client.get(reverse(f"api:{name}"))
    assert r.status_code == NON_OPERATIONS[name]


@pytest.mark.parametrize(("method", "path"), CASES)
def test_anonymous_gets_401_everywhere(world, method, path):
    op = MATRIX[(method, path)]
    url = url_for(path, op, world)
    before = counts()
    r = call(Api(), method, url, op.body(world) if op.body else None)
    assert r.status_code == 401, (method, path, r.status_code)
    assert r.json() == {"detail": "Authentication required."}
    assert counts() == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), CASES)
def test_each_role_gets_exactly_what_the_permissions_say(world, role, method, path, django_capture_on_commit_callbacks):
    op = MATRIX[(method, path)]
    actor = world.people[role]
    client = Api(actor)
    url = url_for(path, op, world, actor)
    body = op.body(world) if op.body else None
    before = counts()
    denied_before = AuditEvent.objects.filter(outcome="denied").count()
    with django_capture_on_commit_callbacks(execute=True):
        r = call(client, method, url, body)
    if allowed(role, op.needs):
        assert r.status_code in op.ok, (role, method, path, r.status_code, r.content[:300])
        if op.writes:
            assert counts() != before, f"{method} {path} answered {r.status_code} but wrote nothing"
    else:
        assert r.status_code == 403, (role, method, path, r.status_code, r.content[:300])
        assert counts() == before
        assert AuditEvent.objects.filter(outcome="denied").count() > denied_before, "refusal not audited"


OBJECT_CASES = [c for c in CASES if MATRIX[c].target not in (None, "list", "protocol")]
LIST_CASES = [c for c in CASES if MATRIX[c].target == "list"]


@pytest.mark.parametrize(("method", "path"), OBJECT_CASES)
def test_bola_another_clinic_gets_404_and_writes_nothing(world, method, path, django_capture_on_commit_callbacks):
    """Charlie is a clinician and a doctor, so his role allows every one of these; only
    the clinic differs. He must get exactly what a made-up id gets."""
    op = MATRIX[(method, path)]
    charlie = world.people["other"]
    url = url_for(path, op, world, charlie)
    body = op.body(world) if op.body else None
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        r = call(Api(charlie), method, url, body)
    assert r.status_code == 404, (method, path, r.status_code, r.content[:300])
    assert r.json() == {"detail": "Not found."}
    assert counts() == before
    denied = AuditEvent.objects.filter(outcome="denied", actor=charlie)
    assert denied.exists(), f"{method} {path}: the cross-clinic attempt was not audited"


@pytest.mark.parametrize(("method", "path"), LIST_CASES)
def test_lists_never_show_another_clinics_rows(world, method, path):
    op = MATRIX[(method, path)]
    charlie = world.people["other"]
    r = call(Api(charlie), method, url_for(path, op, world), op.body(world) if op.body else None)
    assert r.status_code == 200
    text = r.content.decode()
    secrets_of_a = [str(world.patient.public_id), str(world.second.public_id), str(world.draft.public_id),
                    str(world.signed.public_id), str(world.screening.public_id), "Dana", "Robin", "U777"]
    leaked = [s for s in secrets_of_a if s in text]
    assert not leaked, f"{method} {path} showed clinic A's {leaked}"
    data = r.json()
    rows = data.get("items", data.get("patients"))
    assert rows == [], (method, path, data)
    # And clinic A's own staff do see them (the list is not simply empty).
    mine = call(Api(world.people["manager"]), method, url_for(path, op, world), op.body(world) if op.body else None)
    assert mine.json().get("items", mine.json().get("patients"))
