"""Bad input is a 4xx naming the problem, never a 500 (API-1, ASVS 16.5.3 fail closed).

A small deterministic fuzzer driven by the OpenAPI document: for every operation with
a body (JSON, or a multipart upload), each field of a valid body is replaced in turn by
hostile values (a file field also by hostile files); every
body-less operation gets hostile path ids; list operations get hostile query strings.
(schemathesis would do this more thoroughly; this runs in a second with no extra
dependency.)
"""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import Api, counts
from touchup.api.main import api

from .test_access_matrix import CASES, MATRIX, url_for

HOSTILE = [
    None, "", " ", "x" * 20_000, "\x00", "null\x00byte", "<script>alert(1)</script>", "'; DROP TABLE x; --",
    "\u202eevil", "😀" * 50, -1, 0, 1.5, 10**30, -(10**30), 1e308, True, [], [1, 2], {}, {"a": {"b": {"c": {}}}},
    "2025-13-45", "9999-12-31", "0001-01-01", "1970-01-01T00:00:00", "00000000-0000-0000-0000-000000000000",
]
RAW_BODIES = [b"", b"{", b"[]", b'"text"', b"123", b"null", b"NaN", b'{"a": NaN}', b"\xff\xfe",
              b"[" * 5000 + b"]" * 5000, b'{"' + b"k" * 100_000 + b'": 1}']
BAD_IDS = ["0", "-1", "abc", "%00", "..%2F..%2Fetc", "9" * 40, "1e3", "00000000-0000-0000-0000-00000000000g",
           "%E2%80%AE", "x" * 1000]

def hostile_files() -> list[bytes]:
    from tests.photos import images

    return [b"", b"\x00" * 64, images.NOT_AN_IMAGE, images.truncated(), images.polyglot(), images.png_bomb(),
            images.zip_bytes(), b"\xff\xd8\xff" + b"\xff" * 4096]


BODY_CASES = [c for c in CASES if MATRIX[c].body is not None]


def assert_clean(r, what):
    assert r.status_code < 500, f"{what}: {r.status_code} {r.content[:300]!r}"
    if r.status_code >= 400 and r.status_code != 405:
        assert r["Content-Type"].startswith("application/json"), what
        assert "detail" in r.json(), what


@pytest.mark.parametrize(("method", "path"), BODY_CASES)
def test_hostile_field_values(world, method, path):
    op = MATRIX[(method, path)]
    client = Api(world.people["clinician"])
    url = url_for(path, op, world, world.people["clinician"])
    base = op.body(world)
    for name in list(base):
        for value in HOSTILE + (hostile_files() if isinstance(base[name], bytes) else []):
            body = type(base)({**base, name: value})  # a JSON object, or a multipart form
            assert_clean(client.call(method.lower(), url, body), f"{method} {path} {name}={value!r:.40}")
        if isinstance(base[name], list) and base[name] and isinstance(base[name][0], dict):
            for sub in base[name][0]:
                for value in HOSTILE:
                    body = type(base)({**base, name: [{**base[name][0], sub: value}]})
                    assert_clean(client.call(method.lower(), url, body), f"{method} {path} {name}[0].{sub}={value!r:.40}")


@pytest.mark.parametrize(("method", "path"), BODY_CASES)
def test_hostile_raw_bodies(world, method, path):
    op = MATRIX[(method, path)]
    client = Api(world.people["clinician"])
    url = url_for(path, op, world, world.people["clinician"])
    before = counts()
    for raw in RAW_BODIES:
        assert_clean(client.call(method.lower(), url, raw=raw), f"{method} {path} raw={raw[:20]!r}")
    assert counts() == before


@pytest.mark.parametrize(("method", "path"), [c for c in CASES if "{" in c[1]])
def test_hostile_path_ids(world, method, path):
    op = MATRIX[(method, path)]
    client = Api(world.people["clinician"])
    body = op.body(world) if op.body else None
    before = counts()
    for bad in BAD_IDS:
        url = path.split("{")[0] + bad + path.split("}", 1)[1]
        r = client.call(method.lower(), url, body)
        assert r.status_code < 500, (method, url, r.status_code)
    assert counts() == before


def test_hostile_query_strings(world):
    client = Api(world.people["manager"])
    schema = api.get_openapi_schema()
    for path, ops in schema["paths"].items():
        get = ops.get("get")
        if not get or "{" in path:
            continue
        names = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        for name in names:
            for value in ["-1", "10" * 20, "abc", "", "\x00", "2025-02-30", "true", "[]", "x" * 5000]:
                r = client.client.get(path, {name: value})
                assert r.status_code < 500, (path, name, value, r.status_code)


def test_hostile_headers(world):
    secret = world.tokens[world.people["clinician"].pk].secret
    for header in ["Bearer", "Bearer ", "bearer " + secret.upper(), "Basic " + secret, "Bearer " + secret + "\x00",
                   "Bearer " + "a" * 100_000, "Token " + secret, "Bearer  " + secret + " extra"]:
        api_client = Api()
        api_client.headers["Authorization"] = header
        r = api_client.get("/me")
        assert r.status_code in (200, 401), (header[:30], r.status_code)
    assert json.loads(Api(token=secret).get("/me").content)["username"] == "alice"
