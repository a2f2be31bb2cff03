"""The record export in a real browser, under the real CSP: a clinician downloads a
patient's record from the patient page, the patient their own from the portal's settings.
Both files are FHIR R4B bundles of that patient's signed treatments (docs/interop.md)."""

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import expect

from tests.e2e.conftest import portal_sign_in
from tests.e2e.test_chart_glabellar import sign_in
from tests.maintenance.conftest import signed_treatment
from tests.portal.conftest import dana  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e]


def downloaded_bundle(page, link_name: str, filename: str) -> dict:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    download = info.value
    assert download.suggested_filename == filename
    data = Path(download.path()).read_bytes()
    Bundle.model_validate_json(data)
    return json.loads(data)


def test_clinician_and_patient_download_the_record(browser_page, live_server, transactional_db, dana,  # noqa: F811
                                                   clinician):
    treated = signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    filename = f"touchup-record-{dana.public_id}.json"
    page = browser_page

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/patients/{dana.public_id}/")
    b = downloaded_bundle(page, "Export record (FHIR)", filename)
    procedures = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Procedure"]
    assert [p["id"] for p in procedures] == [str(treated.public_id)]
    page.get_by_role("button", name="Sign out").click()

    portal_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/portal/settings/")
    expect(page.get_by_role("heading", name="Your record")).to_be_visible()
    mine = downloaded_bundle(page, "Download your record", filename)
    assert [e["resource"]["id"] for e in mine["entry"]] == [e["resource"]["id"] for e in b["entry"]]
