"""A JSON client for the API and the bits of data the API tests keep reaching for."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

BASE = "/api"


class Multipart(dict):
    """A multipart/form-data body (a file upload) for `Api.call`: bytes values are sent as
    files, None leaves the field out, anything else is sent as its text (JSON for lists and
    objects), so the fuzzer can put any value in a field. Each call sends fresh file objects."""

    def encoded(self) -> dict[str, Any]:
        from django.core.files.uploadedfile import SimpleUploadedFile

        out: dict[str, Any] = {}
        for key, value in self.items():
            if value is None:
                continue
            if isinstance(value, (bytes, bytearray)):
                out[key] = SimpleUploadedFile(f"{key}.jpg", bytes(value), content_type="image/jpeg")
            elif isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, (list, dict)):
                out[key] = json.dumps(value)
            else:
                out[key] = str(value)
        return out


class Api:
    """Django's test client speaking JSON to /api, as one persona (or nobody)."""

    def __init__(self, user: Any = None, *, token: str | None = None, ip: str = "198.51.100.7", csrf: bool = False):
        self.client = Client(enforce_csrf_checks=csrf, REMOTE_ADDR=ip)
        self.user = user
        self.headers: dict[str, str] = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user is not None:
            self.client.force_login(user)

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None, **query: Any):
        url = path if path.startswith("/") and path.startswith(BASE) else BASE + path
        kwargs: dict[str, Any] = {"headers": self.headers}
        if method == "get":
            return self.client.get(url, query or None, **kwargs)
        if isinstance(body, Multipart) and raw is None:
            return getattr(self.client, method)(url, body.encoded(), **kwargs)  # multipart/form-data
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method)(url, data, content_type="application/json", **kwargs)

    def get(self, path: str, **query: Any):
        return self.call("get", path, **query)

    def post(self, path: str, body: Any = None, **kw: Any):
        return self.call("post", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any):
        return self.call("put", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any):
        return self.call("patch", path, body, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any):
        return self.call("delete", path, body, **kw)


def counts() -> dict[str, Any]:
    """How many rows of everything the API can write (and of successful audit events), and
    which photos are their view's baseline."""
    from touchup.clinic.signin_audit import LABELS as SIGNIN_ACTIONS
    from touchup.clinic.models import (
        ApiToken, AuditEvent, InjectionPoint, Observation, Patient, Photo, PhotoConsentChange, Screening,
        Treatment, TreatmentAmendment, Vial,
    )

    return {
        "patients": Patient.objects.count(),
        "screenings": Screening.objects.count(),
        "screenings_signed": Screening.objects.filter(doctor_signed_at__isnull=False).count(),
        "treatments": Treatment.objects.count(),
        "treatments_signed": Treatment.objects.filter(status="signed").count(),
        "points": InjectionPoint.objects.count(),
        "amendments": TreatmentAmendment.objects.count(),
        "vials": Vial.objects.count(),
        "vials_reconstituted": Vial.objects.filter(reconstituted_at__isnull=False).count(),
        "tokens": ApiToken.objects.count(),
        "tokens_revoked": ApiToken.objects.filter(revoked_at__isnull=False).count(),
        "observations": Observation.objects.count(),
        "photos_removed": Photo.objects.filter(removed_at__isnull=False).count(),
        "photo_consent_changes": PhotoConsentChange.objects.count(),
        "photo_baselines": sorted(Photo.objects.filter(is_baseline=True).values_list("pk", flat=True)),
        # Signing in (the persona's client logs in) is an event of its own, not a write.
        "audit_ok": AuditEvent.objects.filter(outcome="ok").exclude(action__endswith=".view")
        .exclude(action__in=SIGNIN_ACTIONS).count(),
    }


def fields_named(response) -> set[str]:
    """The field names a 4xx JSON error body points at."""
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return {d["field"] for d in detail}


def clean_answers(indication: str = "glabellar_lines") -> dict[str, Any]:
    """Every screening question that applies answered "no" (the screening form's format)."""
    from touchup.core.screening import questions_for

    return {q.key: {"answer": False, "details": ""} for q in questions_for(indication)}


def protocol_for(indication: str = "glabellar_lines", product: str = "onabotulinumtoxinA") -> str:
    from touchup.core.catalogue import load_catalogue

    cat = load_catalogue()
    keys = [
        p.key for p in cat.protocols_for(indication)
        if (getattr(p, "product", "") or "") in ("", product)
    ]
    assert keys, f"the catalogue has no {product} protocol for {indication}"
    return keys[0]
