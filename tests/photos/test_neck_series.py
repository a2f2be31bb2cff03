"""The neck bands are measured from the neck_tensed view (core.photo_rules.VIEW_AREAS): a
real neck photo, analysed by the real worker, shows the same platysma value, under the
same name, on its photo page, in the comparison captions and on the wrinkle index
timeline. The photo page named it "Platysma (neck)" among every other region of the
photo (forehead and glabella values the timeline has not got, unmarked), and the compare
captions listed all of them by code."""

import re

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from touchup.clinic.models import Observation

from . import images
from .test_analysis_job import keep, run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_neck_photo_reads_the_same_on_its_page_and_the_timeline(media, clinician, patient, client):
    first = keep(clinician, patient, images.neutral_face(), view="neck_tensed")
    later = keep(clinician, patient, images.neutral_face(dx=6), view="neck_tensed")
    run_worker()
    first.refresh_from_db()
    platysma = first.analysis["regions"]["platysma"]["wrinkle_index"]
    assert first.analysis["quality"]["usable"] and first.analysis["regions"]["forehead"]  # the neck view sees it too
    assert Observation.objects.get(photo=first).area == "platysma"
    assert client.login(username="alice", password=PASSWORD)

    page = client.get(reverse("photo", args=[first.public_id])).content.decode()
    rows = [(k, s, n.strip()) for k, s, n in re.findall(r'<tr data-region="(\w+)"( data-series)?><th scope="row">([^<]+)', page)]
    assert rows[0] == ("platysma", " data-series", "Neck bands (platysma)")  # the view's own area first
    assert [r[0] for r in rows if r[1]] == ["platysma"]
    assert "for reference: not this view&#x27;s area" in page or "for reference: not this view's area" in page
    assert f"{platysma:.3f}" in page

    timeline = client.get(reverse("photo_timeline", args=[patient.public_id])).content.decode()
    assert '<h2 id="tl-platysma">Neck bands (platysma)</h2>' in timeline
    assert f"<td class=\"num\">{round(platysma, 3)}</td>" in timeline
    assert re.search(r'Not treated or measured: [^<]*Neck bands', timeline) is None

    compare = client.get(reverse("photo_compare", args=[patient.public_id]),
                         {"a": first.public_id, "b": later.public_id}).content.decode()
    assert f"· Neck bands (platysma) {platysma:.2f}" in compare
    assert "· forehead" not in compare and "· glabella" not in compare
