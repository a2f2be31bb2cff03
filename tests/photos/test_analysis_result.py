"""Storing an analysis result (the DESIGN.md `photo analyze` format) on a photo: the
measured areas of its view become wrinkle_index observations, once."""

import pytest

from touchup.clinic.models import AuditEvent, Observation
from touchup.clinic.services import photos as svc

from . import images


def result(**regions):
    base = {"forehead": None, "glabella": None, "crows_feet_left": None, "crows_feet_right": None,
            "crows_feet": None, "platysma": None}
    base.update(regions)
    return {"face_found": True,
            "quality": {"sharpness": 0.8, "exposure": "ok", "pose_deg": [1.0, 0.0, 0.5], "usable": True, "problems": []},
            "regions": base}


def keep(clinician, patient, view, dx=0):
    return svc.photo_upload(actor=clinician, patient=patient, view=view, consent_clinical=True,
                            upload=images.jpeg(images.shifted(dx=dx)))


def test_the_views_area_becomes_an_observation(media, clinician, patient):
    photo = keep(clinician, patient, "frown")
    r = result(glabella={"wrinkle_index": 0.22, "grade": 1}, forehead={"wrinkle_index": 0.31, "grade": 1})
    svc.photo_record_analysis(photo_id=photo.pk, result=r)
    photo.refresh_from_db()
    assert photo.analysis_status == "done" and photo.analysis == r
    obs = Observation.objects.get()
    # The frown measures the glabella; the forehead in a frown is not the forehead series.
    assert (obs.area, obs.kind, obs.value, obs.source, obs.observed_on) == (
        "glabella", "wrinkle_index", 0.22, "photo", photo.taken_on)
    assert AuditEvent.objects.filter(action="photo.analysis").latest("id").detail["observations"] == ["glabella"]


@pytest.mark.parametrize(("view", "region", "area"), [
    ("brows_raised", "forehead", "forehead"),
    ("smile_squint", "crows_feet", "crows_feet"),
    ("neck_tensed", "platysma", "platysma"),
])
def test_each_movement_view_feeds_its_area(media, clinician, patient, view, region, area):
    photo = keep(clinician, patient, view)
    svc.photo_record_analysis(photo_id=photo.pk, result=result(**{region: {"wrinkle_index": 0.4, "grade": 2}}))
    assert list(Observation.objects.values_list("area", flat=True)) == [area]


def test_a_region_that_is_not_visible_writes_nothing(media, clinician, patient):
    photo = keep(clinician, patient, "neck_tensed")
    svc.photo_record_analysis(photo_id=photo.pk, result=result(glabella={"wrinkle_index": 0.2, "grade": 1}))
    assert not Observation.objects.exists()


def test_at_rest_feeds_no_series(media, clinician, patient):
    photo = keep(clinician, patient, "at_rest")
    svc.photo_record_analysis(photo_id=photo.pk, result=result(glabella={"wrinkle_index": 0.2, "grade": 1}))
    assert not Observation.objects.exists()


def test_an_unusable_photo_is_stored_with_its_problems_but_measures_nothing(media, clinician, patient):
    photo = keep(clinician, patient, "frown")
    r = result(glabella={"wrinkle_index": 0.2, "grade": 1})
    r["quality"].update(usable=False, problems=["The photo is blurred."])
    svc.photo_record_analysis(photo_id=photo.pk, result=r)
    photo.refresh_from_db()
    assert photo.problems == ["The photo is blurred."]
    assert not Observation.objects.exists()


def test_a_rerun_does_not_add_a_second_value(media, clinician, patient):
    photo = keep(clinician, patient, "frown")
    r = result(glabella={"wrinkle_index": 0.22, "grade": 1})
    svc.photo_record_analysis(photo_id=photo.pk, result=r)
    svc.photo_record_analysis(photo_id=photo.pk, result=r)
    assert Observation.objects.count() == 1


def test_a_failure_is_recorded(media, clinician, patient):
    photo = keep(clinician, patient, "frown")
    svc.photo_record_analysis(photo_id=photo.pk, result=None, error="ValueError: the analysis could not run.")
    photo.refresh_from_db()
    assert photo.analysis_status == "failed" and "could not run" in photo.analysis["error"]
    assert not Observation.objects.exists()
