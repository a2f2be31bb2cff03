"""The analysis on upload, end to end with the real vision package and the real worker:
the django-tasks database worker runs the job, the photo gets its analysis, and the
measured area gets its wrinkle_index observation."""

import io

import pytest
from django.core.management import call_command

from touchup.clinic.models import Observation, Photo
from touchup.clinic.services import photos as svc
from touchup.vision.analyze import analyze_bytes

from . import images
from .conftest import stored_files


def keep(clinician, patient, rgb, view="frown", **kw):
    return svc.photo_upload(actor=clinician, patient=patient, view=view, consent_clinical=True,
                            upload=io.BytesIO(images.jpeg(rgb)), **kw)


# The worker commits and closes connections as in production, so these tests commit too
# (inside a test transaction PostgreSQL's connection would be closed under the test).
pytestmark = pytest.mark.django_db(transaction=True)


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_the_worker_analyses_a_kept_photo_and_records_its_area(media, clinician, patient):
    photo = keep(clinician, patient, images.neutral_face())
    run_worker()
    photo.refresh_from_db()
    assert photo.analysis_status == "done", photo.analysis
    # The very result the vision package gives for the stored file.
    assert photo.analysis == analyze_bytes(svc.photo_bytes(photo), view="frown")
    assert photo.analysis["quality"]["usable"], photo.analysis["quality"]
    glabella = photo.analysis["regions"]["glabella"]
    obs = Observation.objects.get()
    assert (obs.area, obs.kind, obs.source, obs.observed_on) == ("glabella", "wrinkle_index", "photo", photo.taken_on)
    assert obs.value == glabella["wrinkle_index"]


def test_a_follow_up_is_analysed_against_the_baseline(media, clinician, patient):
    base = keep(clinician, patient, images.neutral_face())
    follow = keep(clinician, patient, images.neutral_face(dx=6))
    run_worker()
    follow.refresh_from_db()
    assert follow.analysis_status == "done"
    assert follow.analysis["baseline"] == str(base.public_id)
    assert "pose_change_deg" in follow.analysis["quality"]
    assert Observation.objects.filter(area="glabella").count() == 2


def test_quality_problems_are_kept_and_nothing_is_measured_from_them(media, clinician, patient):
    # The small original: the face is too small for a reliable index.
    photo = keep(clinician, patient, None)
    run_worker()
    photo.refresh_from_db()
    assert photo.analysis_status == "done"
    assert any("too small" in p for p in photo.problems), photo.problems
    assert not Observation.objects.exists()


def test_the_check_reports_problems_before_anything_is_kept(media, clinician, patient):
    check = svc.photo_check(actor=clinician, patient=patient, view="frown", data=images.jpeg())
    assert not check.usable and any("too small" in p for p in check.problems)
    good = svc.photo_check(actor=clinician, patient=patient, view="frown", data=images.jpeg(images.neutral_face()))
    assert good.usable and good.problems == [], good.problems
    assert stored_files(media) == [] and not Photo.objects.exists()


def test_keep_only_if_usable_refuses_a_poor_photo(media, clinician, patient):
    with pytest.raises(svc.QualityRefused) as exc:
        keep(clinician, patient, None, keep_only_if_usable=True)
    assert any("too small" in p for p in exc.value.problems)
    assert stored_files(media) == [] and not Photo.objects.exists()


def test_a_new_baseline_measures_the_view_again_against_it(media, clinician, patient):
    base = keep(clinician, patient, images.neutral_face())
    follow = keep(clinician, patient, images.neutral_face(dx=6))
    run_worker()
    follow.refresh_from_db()
    assert follow.analysis["baseline"] == str(base.public_id)

    svc.photo_set_baseline(actor=clinician, photo=follow)
    run_worker()
    base.refresh_from_db()
    follow.refresh_from_db()
    # The old baseline is now measured against the new one; the new one on its own.
    assert base.analysis_status == follow.analysis_status == "done"
    assert base.analysis == {**analyze_bytes(svc.photo_bytes(base), baseline=svc.photo_bytes(follow), view="frown"),
                             "baseline": str(follow.public_id)}
    assert follow.analysis == analyze_bytes(svc.photo_bytes(follow), view="frown")
    # One value per photo, each the one its new analysis gives (the old ones replaced).
    assert sorted(Observation.objects.values_list("photo_id", "value")) == sorted([
        (base.pk, base.analysis["regions"]["glabella"]["wrinkle_index"]),
        (follow.pk, follow.analysis["regions"]["glabella"]["wrinkle_index"]),
    ])


def test_a_photo_whose_clinical_use_was_withdrawn_is_not_analysed(media, clinician, patient):
    base = keep(clinician, patient, images.neutral_face())
    follow = keep(clinician, patient, images.neutral_face(dx=6))
    svc.photo_set_consent(actor=clinician, photo=follow, consent="clinical", given=False, channel="phone")
    run_worker()
    base.refresh_from_db()
    follow.refresh_from_db()
    assert base.analysis_status == "done" and follow.analysis is None
    assert list(Observation.objects.values_list("photo_id", flat=True)) == [base.pk]


def test_the_check_and_the_stored_analysis_name_a_wrong_expression(media, clinician, patient):
    # The astronaut smiles broadly: wrong for the frown photo, right for smile-and-squint.
    smiling = images.jpeg(images.usable_face())
    check = svc.photo_check(actor=clinician, patient=patient, view="frown", data=smiling)
    assert not check.usable
    assert check.problems == ["The mouth is smiling; for this view relax the mouth (no smile)."]
    assert svc.photo_check(actor=clinician, patient=patient, view="smile_squint", data=smiling).problems == []
    with pytest.raises(svc.QualityRefused):
        keep(clinician, patient, images.usable_face(), keep_only_if_usable=True)
    assert not Photo.objects.exists()

    # Kept anyway: the background analysis records the problem, and nothing is measured.
    photo = keep(clinician, patient, images.usable_face())
    run_worker()
    photo.refresh_from_db()
    assert photo.analysis_status == "done"
    assert "The mouth is smiling; for this view relax the mouth (no smile)." in photo.analysis["quality"]["problems"]
    assert photo.analysis["quality"]["usable"] is False
    assert not Observation.objects.exists()


def test_a_baseline_is_prepared_once_for_many_follow_ups_with_the_same_result(media, clinician, patient,
                                                                             monkeypatch):
    """The worker keeps a prepared baseline (per process): the second follow-up does not
    read or decode the baseline file again, and measures exactly what a fresh run does."""
    base = keep(clinician, patient, images.neutral_face())
    first = keep(clinician, patient, images.neutral_face(dx=6))
    second = keep(clinician, patient, images.neutral_face(dx=-6))
    svc._PREPARED.clear()
    reads = []
    real = svc.photo_bytes
    monkeypatch.setattr(svc, "photo_bytes", lambda p: reads.append(p.pk) or real(p))
    a = svc.analyse(real(first), base, "frown")
    b = svc.analyse(real(second), base, "frown")
    assert reads.count(base.pk) == 1
    svc._PREPARED.clear()  # the same result from a baseline prepared afresh
    assert svc.analyse(real(second), base, "frown") == b
    assert reads.count(base.pk) == 2
    assert a["regions"] != b["regions"] or a["quality"] != b["quality"]  # two different photos
