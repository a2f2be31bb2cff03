"""Security headers on every route (HD-1; ASVS 3.4.1-3.4.6, 14.3.2; docs/security.md).

Every URL pattern Django resolves (staff pages, the portal, allauth's pages, the API and
its docs, the health checks), enumerated from the resolver as the access matrix does, is
fetched once with GET as nobody, as a clinician and as a patient, with ids of real
objects where the path names one. Every answer, whatever its status, must carry the
Content-Security-Policy below (exactly: loosening it fails here), a Permissions-Policy
that turns the camera off (on only for the photo capture page), nosniff, the referrer
policy and DENY framing, and `no-store` when someone is signed in. Every HTML page must
hold nothing the policy would block (style attributes, <style>, inline scripts, on*
handlers): the browser tests (tests/e2e) catch violations on the pages they visit, this
catches them on all of them.

A new route needs nothing here unless its path has a parameter this file cannot fill:
then the test says so.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import get_resolver

from tests.conftest import PASSWORD
from tests.portal.conftest import dana  # noqa: F401 - fixture

CSP = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:", "blob:"},
    "media-src": {"'self'", "blob:"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}
OFF = ("camera", "microphone", "geolocation", "payment", "usb")
HSTS = "max-age=31536000; includeSubDomains"
MISSING = "00000000-0000-4000-8000-000000000000"  # a well-formed id that names nothing


@pytest.fixture
def site(world):
    """The security tests' clinic, and Dana's frown lines treated 30 days ago with the
    forecast made, so her page draws the effect chart (an SVG with its legend)."""
    import datetime as dt

    from django.utils import timezone

    from tests.maintenance.conftest import signed_treatment
    from touchup.maintenance.services.forecasts import recompute

    world.treated = signed_treatment(world.patient, world.people["clinician"],
                                     timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    recompute(world.patient)
    return world


def routes() -> list[tuple[str, str]]:
    """(route, name) for every URL pattern, includes flattened."""

    def walk(patterns, prefix):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p.name

    return sorted(set(walk(get_resolver().url_patterns, "")))


def sample_url(route: str, world) -> str:
    """The route with each parameter filled: the id of a real object of the kind the path
    names (so most pages answer 200), else a value that names nothing (a 404 still has
    to carry the headers)."""
    by_prefix = {"patients/": world.patient, "worklist/": world.patient, "treatments/": world.draft,
                 "screenings/": world.screening, "photos/": world.photo, "portal/aftercare/": world.treated}
    api_ids = {"patient_id": world.patient.public_id, "treatment_id": world.draft.public_id,
               "screening_id": world.screening.public_id, "photo_id": world.photo.public_id,
               "vial_id": world.vial.pk, "token_id": MISSING, "key": "x"}

    def value(kind: str | None, name: str) -> str:
        if kind == "uuid" and name == "public_id":
            obj = next((o for p, o in by_prefix.items() if route.startswith(p)), None)
            return str(obj.public_id) if obj else MISSING
        if kind == "uuid" and name == "onto":
            return str(world.later_photo.public_id)
        if kind == "int":
            return str(world.vial.pk)
        if kind == "slug":
            return "glabellar_lines"
        if kind in (None, "str") and name in api_ids:
            return str(api_ids[name])
        if kind == "str" or name in ("uidb36",):
            return "x1"
        raise AssertionError(f"{route}: give test_headers a sample value for <{kind}:{name}>")

    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(None, m.group(1)), route)  # allauth's regexes
    url = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: value(m.group(1), m.group(2)), url)
    return "/" + url.replace("^", "").replace("$", "")


def parse_csp(value: str) -> dict[str, set[str]]:
    out = {}
    for part in value.split(";"):
        name, *sources = part.split()
        assert name not in out, f"{name} twice"
        out[name] = set(sources)
    return out


def parse_permissions(value: str) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in value.split(","))


class InlineCode(HTMLParser):
    """What script-src 'self' and style-src 'self' (no 'unsafe-inline') would block."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append("inline <script>")
        for name, value in attrs:
            if name == "style" or name.startswith("on") or name.startswith("hx-on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")


def problems(r, url: str, name: str) -> list[str]:
    bad = []
    if "Content-Security-Policy" not in r:
        bad.append("no Content-Security-Policy")
    elif parse_csp(r["Content-Security-Policy"]) != CSP:
        bad.append(f"Content-Security-Policy {r['Content-Security-Policy']}")
    policy = parse_permissions(r.get("Permissions-Policy", "")) if "Permissions-Policy" in r else {}
    camera = "(self)" if name == "photo_capture" and r.status_code == 200 else "()"
    for feature in OFF:
        want = camera if feature == "camera" else "()"
        if policy.get(feature) != want:
            bad.append(f"Permissions-Policy {feature}={policy.get(feature)}, not {want}")
    for header, want in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                         ("X-Frame-Options", "DENY")):
        if r.get(header) != want:
            bad.append(f"{header}: {r.get(header)}")
    for header in ("Strict-Transport-Security", "Clear-Site-Data"):  # plain http, and no GET signs out
        if header in r:
            bad.append(f"{header}: {r[header]}")
    if r.get("Content-Type", "").startswith("text/html") and r.status_code == 200:
        parser = InlineCode()
        parser.feed(r.content.decode())
        bad += [f"inline code the CSP blocks: {f}" for f in sorted(set(parser.found))]
    return [f"GET {url} ({name}, {r.status_code}): {b}" for b in bad]


def fetch_all(client: Client, world, signed_in: bool) -> tuple[list[str], dict[str, int]]:
    bad, statuses = [], {}
    for route, name in routes():
        url = sample_url(route, world)
        r = client.get(url)
        statuses[url] = r.status_code
        bad += problems(r, url, name)
        if signed_in and "no-store" not in r.get("Cache-Control", ""):
            bad.append(f"GET {url} ({name}): Cache-Control {r.get('Cache-Control')} while signed in")
    return bad, statuses


def test_every_route_as_nobody(site):
    bad, statuses = fetch_all(Client(), site, signed_in=False)
    assert not bad, "\n".join(bad)
    assert statuses["/accounts/login/"] == statuses["/portal/login/"] == 200


def test_every_route_as_a_clinician(site):
    world = site
    client = Client()
    client.force_login(world.people["clinician"])
    bad, statuses = fetch_all(client, world, signed_in=True)
    assert not bad, "\n".join(bad)
    # Real pages, not only refusals: the staff pages with the world's objects answer 200.
    pages = ["/patients/", f"/patients/{world.patient.public_id}/", f"/treatments/{world.draft.public_id}/",
             f"/patients/{world.patient.public_id}/photos/capture/", f"/photos/{world.photo.public_id}/",
             "/api/docs", "/accounts/2fa/", "/worklist/", "/schedule/"]
    assert {p: statuses[p] for p in pages} == dict.fromkeys(pages, 200)
    assert "effect-chart" in client.get(f"/patients/{world.patient.public_id}/").content.decode()


def test_every_route_as_a_patient(site, dana):  # noqa: F811 - fixture
    client = Client()
    assert client.login(username="dana", password=PASSWORD)
    bad, statuses = fetch_all(client, site, signed_in=True)
    assert not bad, "\n".join(bad)
    pages = ["/portal/", "/portal/diary/", "/portal/photos/", "/portal/settings/", "/portal/learn/",
             f"/portal/aftercare/{site.treated.public_id}/", "/portal/learn/glabellar_lines/"]
    assert {p: statuses[p] for p in pages} == dict.fromkeys(pages, 200)


# --- Clear-Site-Data on signing out -----------------------------------------------------------


@pytest.mark.parametrize("who", ["clinician", "patient"])
def test_signing_out_clears_the_browsers_copy_of_the_site(world, dana, who):  # noqa: F811 - fixture
    client = Client(enforce_csrf_checks=True)
    user = world.people["clinician"] if who == "clinician" else dana.user
    client.force_login(user)
    page = client.get("/patients/" if who == "clinician" else "/portal/")
    assert page.status_code == 200 and "Clear-Site-Data" not in page
    confirm = client.get("/accounts/logout/")  # the confirmation page signs nobody out
    assert "Clear-Site-Data" not in confirm
    r = client.post("/accounts/logout/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert r.status_code == 302
    assert r["Clear-Site-Data"] == '"cache", "storage"'
    assert "_auth_user_id" not in client.session
    # Signing in again works at once (the CSRF cookie is not among what is cleared).
    login = client.get("/accounts/login/")
    assert "Clear-Site-Data" not in login
    again = client.post("/accounts/login/", {"login": user.username, "password": PASSWORD,
                                             "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert again.status_code == 302 and "Clear-Site-Data" not in again


def test_signing_in_or_failing_to_sends_no_clear_site_data(world):
    client = Client()
    r = client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    assert r.status_code == 200 and "Clear-Site-Data" not in r


# --- HTTPS ---------------------------------------------------------------------------------


def https_settings(flag: str | None) -> dict:
    """The settings module as a server started with TOUCHUP_HTTPS=flag loads it."""
    import json
    import os

    env = {k: v for k, v in os.environ.items() if k != "TOUCHUP_HTTPS"}
    if flag is not None:
        env["TOUCHUP_HTTPS"] = flag
    code = ("import json, touchup.settings as s; print(json.dumps({k: getattr(s, k, None) for k in ("
            "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
            "'SECURE_PROXY_SSL_HEADER', 'SECURE_REDIRECT_EXEMPT', 'SESSION_COOKIE_SECURE')}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plain_http_by_default_so_the_demo_keeps_working():
    s = https_settings(None)
    assert not s["SECURE_SSL_REDIRECT"] and not s["SECURE_HSTS_SECONDS"] and not s["SESSION_COOKIE_SECURE"]


def test_touchup_https_turns_on_the_redirect_and_a_years_hsts(db, client, settings):
    s = https_settings("1")
    assert s["SECURE_SSL_REDIRECT"] and s["SESSION_COOKIE_SECURE"]
    assert s["SECURE_HSTS_SECONDS"] == 31536000 and s["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    # Served with exactly those settings:
    for name, value in s.items():
        setattr(settings, name, tuple(value) if name == "SECURE_PROXY_SSL_HEADER" else value)
    r = client.get("/accounts/login/")
    assert r.status_code == 301 and r["Location"] == "https://testserver/accounts/login/"
    assert "Strict-Transport-Security" not in r  # only over https, as the standard says
    r = client.get("/accounts/login/", secure=True)
    assert r.status_code == 200 and r["Strict-Transport-Security"] == HSTS
    assert "Content-Security-Policy" in r
    # Behind a TLS proxy that says so:
    r = client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200 and r["Strict-Transport-Security"] == HSTS
    # A local uptime monitor on the server's own port is not redirected.
    assert client.get("/health/").status_code in (200, 503)
