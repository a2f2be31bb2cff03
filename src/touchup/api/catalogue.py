"""The clinical catalogue, read-only: products, indications, protocols with their sites.

Any staff role may read it (it holds no patient data); it comes from the core's data
files, each number with its source.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

from touchup.clinic import access, audit

from .schemas import COMMON_ERRORS, OBJECT_ERRORS, text

router = Router(tags=["catalogue"])


def plain(obj: Any) -> Any:
    """A core value as JSON-ready data: dataclasses to dicts, tuples to lists, enums to values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    return obj


def _staff(request: HttpRequest) -> None:
    if access.membership_of(request.user) is None:
        audit.record_denied("access.no_membership", actor=request.user, detail={"permission": "catalogue"})
        raise PermissionDenied("You are not a member of a clinic.")


def _catalogue() -> Any:
    from touchup.core.catalogue import load_catalogue

    return load_catalogue()


class ProtocolQuery(Schema):
    indication: text(40) | None = Field(None, description="Only protocols for this indication")  # type: ignore[valid-type]


@router.get("/catalogue/products", response={200: list[dict[str, Any]], **COMMON_ERRORS})
def products(request: HttpRequest) -> list[dict[str, Any]]:
    _staff(request)
    return [{"key": k, **plain(v)} for k, v in _catalogue().products.items()]


@router.get("/catalogue/indications", response={200: list[dict[str, Any]], **COMMON_ERRORS})
def indications(request: HttpRequest) -> list[dict[str, Any]]:
    _staff(request)
    return [{"key": k, **plain(v)} for k, v in _catalogue().indications.items()]


@router.get("/catalogue/protocols", response={200: list[dict[str, Any]], **COMMON_ERRORS})
def protocols(request: HttpRequest, params: Query[ProtocolQuery]) -> list[dict[str, Any]]:
    _staff(request)
    items = _catalogue().protocols.items()
    return [{"key": k, **plain(v)} for k, v in items if not params.indication or v.indication == params.indication]


@router.get("/catalogue/protocols/{key}", response={200: dict[str, Any], **OBJECT_ERRORS})
def protocol(request: HttpRequest, key: str) -> dict[str, Any]:
    _staff(request)
    proto = _catalogue().protocols.get(key)
    if proto is None:
        raise Http404
    return {"key": key, **plain(proto)}
