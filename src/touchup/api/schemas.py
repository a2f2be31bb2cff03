"""Building blocks shared by the API's schemas: strict input types, error bodies, pages.

Input schemas are explicit per operation (ASVS 15.3.3: no mass assignment) and reject
what the database would choke on later (NUL characters, non-finite numbers, integers
past 64 bits), so bad input is a 422 naming the field, never a 500.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Generic, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, StringConstraints

# PostgreSQL refuses NUL in text and in jsonb; SQLite would store it. Refuse it for both.
_NUL = "\x00"


def _no_nul(value: str) -> str:
    if _NUL in value:
        raise ValueError("must not contain NUL characters")
    return value


def text(max_length: int, *, min_length: int = 0) -> Any:
    """A string of at most `max_length` characters, surrounding space removed."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=max_length, min_length=min_length),
        AfterValidator(_no_nul),
    ]


_ISO_DATE = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")


def _iso_date(value: Any) -> Any:
    # pydantic would also take 1700000000 (a Unix time) or "2025-01-01T10:00"; a birth
    # date or a treatment date is a calendar date and nothing else.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date (YYYY-MM-DD)")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


# Bounded JSON for free-form clinical payloads (screening answers, amendment changes).
MAX_JSON_DEPTH = 6
MAX_JSON_ITEMS = 500
MAX_JSON_STRING = 5000


def _check_json(value: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    budget = budget if budget is not None else [MAX_JSON_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"has more than {MAX_JSON_ITEMS} values")
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        if len(value) > MAX_JSON_STRING:
            raise ValueError(f"holds a text longer than {MAX_JSON_STRING} characters")
        return _no_nul(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("holds a number that is not finite")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        raise ValueError("holds a number too large to keep exactly")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            if len(key) > 200:
                raise ValueError("holds a key longer than 200 characters")
            _check_json(item, depth + 1, budget)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1, budget)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_check_json)]

# 64-bit row ids: a bigger number cannot name a row and would overflow the driver.
# In a path the id arrives as text, so it is parsed; in a JSON body it must be a number.
PathId = Annotated[int, Field(ge=1, le=2**63 - 1)]
BodyId = Annotated[int, Field(ge=1, le=2**63 - 1, strict=True)]


# --- error bodies (documented in the OpenAPI, produced by touchup.api.errors) ---------


class FieldErrorOut(Schema):
    field: str = Field(description='Dotted path of the bad input, e.g. "points[2].units"')
    message: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


class DetailOut(Schema):
    detail: str


class RefusedOut(Schema):
    detail: str
    reasons: list[str]


# The errors any authenticated operation can answer with.
COMMON_ERRORS: dict[int, Any] = {401: DetailOut, 403: DetailOut, 422: ValidationErrorOut}
OBJECT_ERRORS: dict[int, Any] = {**COMMON_ERRORS, 404: DetailOut}


# --- pages ---------------------------------------------------------------------------

T = TypeVar("T")

MAX_LIMIT = 200
# An offset past this is a scraper, not a person paging; it also keeps OFFSET in range.
MAX_OFFSET = 100_000


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class Page(Schema, Generic[T]):
    count: int
    limit: int
    offset: int
    items: list[T]


def page(qs: QuerySet[Any], params: PageParams, convert: Any) -> dict[str, Any]:
    """One page of an already-scoped, already-ordered queryset."""
    rows = list(qs[params.offset : params.offset + params.limit])
    return {"count": qs.count(), "limit": params.limit, "offset": params.offset, "items": [convert(r) for r in rows]}
