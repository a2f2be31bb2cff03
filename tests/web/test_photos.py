"""The photo pages: capture by file upload, the gated file view, the photo page, and the
comparisons; other clinics get 404 (audited), anonymous visitors the login page."""

import datetime as dt
import io

import pytest
from django.urls import reverse

from tests.photos import images
from tests.photos.conftest import media, stored_files  # noqa: F401 - fixture
from touchup.clinic.models import AuditEvent, Observation, Photo, Treatment
from touchup.clinic.services import photos as svc


def post_photo(client, patient, data, *, name="face.jpg", **fields):
    form = {
        "view": "frown", "taken_on": dt.date.today().isoformat(), "treatment": "",
        "consent_clinical": "on", **fields,
    }
    form["photo"] = io.BytesIO(data)
    form["photo"].name = name
    return client.post(reverse("photo_capture", args=[patient.public_id]), form)


@pytest.fixture
def kept(media, clinician, patient):
    return svc.photo_upload(actor=clinician, patient=patient, view="frown", upload=images.jpeg(),
                            consent_clinical=True)


def test_capture_page_offers_every_view_and_works_without_script(as_clinician, patient, media):
    r = as_clinician.get(reverse("photo_capture", args=[patient.public_id]))
    assert r.status_code == 200
    html = r.content.decode()
    for label in ("At rest", "Frown", "Brows raised", "Smile and squint", "Neck tensed"):
        assert label in html
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html
    assert "capture.js" in html
    # A phone's HEIC can be chosen: by type, and by extension for browsers that give none.
    assert 'accept="image/jpeg,image/png,image/heic,image/heif,.heic,.heif"' in html
    assert "Photo (JPEG, PNG or HEIC, up to 25 MB)" in html


def test_the_cycle_choice_names_the_treatment_in_words(as_clinician, patient, media, clinician):
    """It read "05 Oct 2026 · glabellar lines": a zero-padded day and the indication's code."""
    from tests.maintenance.conftest import signed_treatment

    day = dt.date.today().replace(day=5) - dt.timedelta(days=62)
    day = day.replace(day=5)
    signed_treatment(patient, clinician, day, {"glabella": 20})
    html = as_clinician.get(reverse("photo_capture", args=[patient.public_id])).content.decode()
    assert f"{day.day} {day:%b %Y} · Glabellar (frown) lines</option>" in html
    assert "glabellar lines" not in html


def test_an_iphone_heic_is_checked_and_kept_through_the_page(as_clinician, patient, media):
    original = images.heic_phone_photo()
    f = io.BytesIO(original)
    f.name = "IMG_0042.HEIC"
    r = as_clinician.post(reverse("photo_check", args=[patient.public_id]), {"view": "frown", "photo": f})
    assert r.status_code == 200 and "data-check-ok" in r.content.decode()
    r = post_photo(as_clinician, patient, original, name="IMG_0042.HEIC", keep_only_if_usable="on")
    photo = Photo.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("photo", args=[photo.public_id])
    assert (photo.width, photo.height) == (1536, 1800)
    [stored] = stored_files(media)
    assert stored.suffix == ".jpg" and stored.read_bytes()[:3] == b"\xff\xd8\xff"
    served = as_clinician.get(reverse("photo_file", args=[photo.public_id]))
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"


def test_upload_through_the_page_keeps_the_photo(as_clinician, patient, media):
    r = post_photo(as_clinician, patient, images.jpeg())
    photo = Photo.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("photo", args=[photo.public_id])
    page = as_clinician.get(r["Location"])
    assert page.status_code == 200
    assert reverse("photo_file", args=[photo.public_id]) in page.content.decode()
    listing = as_clinician.get(reverse("photos", args=[patient.public_id])).content.decode()
    assert str(photo.public_id) in listing


@pytest.mark.parametrize(("data", "words"), [
    (images.NOT_AN_IMAGE, "not a JPEG, PNG or HEIC"),
    (images.polyglot(), "ZIP archive"),
    (images.truncated(), "truncated"),
    (images.heic_truncated(), "This HEIC photo is cut short (truncated)"),
    (images.heic_polyglot(), "ZIP archive"),
])
def test_bad_files_get_a_clear_message_and_nothing_is_kept(as_clinician, patient, media, data, words):
    r = post_photo(as_clinician, patient, data, name="photo.jpg")
    assert r.status_code == 400
    assert words in r.content.decode()
    assert stored_files(media) == [] and not Photo.objects.exists()


def test_missing_consent_names_the_field(as_clinician, patient, media):
    r = post_photo(as_clinician, patient, images.jpeg(), consent_clinical="")
    assert r.status_code == 400
    assert "consent to clinical use is needed" in r.content.decode()
    assert stored_files(media) == []


def test_a_duplicate_goes_to_the_photo_already_on_file(as_clinician, patient, media, kept):
    r = post_photo(as_clinician, patient, images.jpeg(), view="at_rest")
    assert r.status_code == 302 and r["Location"] == reverse("photo", args=[kept.public_id])
    assert Photo.objects.count() == 1 and len(stored_files(media)) == 1
    page = as_clinician.get(r["Location"]).content.decode()
    assert "already on file" in page


def test_the_file_is_served_gated_audited_and_never_cached(as_clinician, patient, kept):
    before = AuditEvent.objects.filter(action="photo.view").count()
    r = as_clinician.get(reverse("photo_file", args=[kept.public_id]))
    assert r.status_code == 200
    assert r["Content-Type"] == "image/jpeg"
    assert "no-store" in r["Cache-Control"]
    assert r.content == svc.photo_bytes(kept)
    event = AuditEvent.objects.filter(action="photo.view").latest("id")
    assert AuditEvent.objects.filter(action="photo.view").count() == before + 1
    assert event.detail == {"purpose": "file"} and event.object_id == str(kept.public_id)


def test_lists_get_a_small_copy(as_clinician, patient, media, clinician):
    from touchup.vision.decode import decode_image

    photo = svc.photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                             upload=images.jpeg(images.usable_face()))
    listing = as_clinician.get(reverse("photos", args=[patient.public_id])).content.decode()
    url = reverse("photo_file", args=[photo.public_id]) + "?size=thumb"
    assert url in listing
    r = as_clinician.get(url)
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    assert decode_image(r.content).width == 480
    assert AuditEvent.objects.filter(action="photo.view", detail__purpose="thumbnail").exists()


def test_another_clinic_gets_404_and_the_attempt_is_audited(as_other_clinician, kept, django_capture_on_commit_callbacks):
    for name in ("photo_file", "photo", "photo_status"):
        # The denied event is written after the failing request's transaction (on commit).
        with django_capture_on_commit_callbacks(execute=True):
            r = as_other_clinician.get(reverse(name, args=[kept.public_id]))
        assert r.status_code == 404
        assert b"Dana" not in r.content
    denied = AuditEvent.objects.filter(action="photo.not_found", outcome="denied")
    assert denied.count() == 3
    assert all(e.detail["id"] == str(kept.public_id) for e in denied)
    r = as_other_clinician.post(reverse("photo_consent", args=[kept.public_id]),
                                {"change": "marketing:yes", "channel": "in_person"})
    assert r.status_code == 404
    assert not Photo.objects.get(pk=kept.pk).consent_marketing


def test_another_clinic_cannot_upload_to_or_list_a_patient(as_other_clinician, patient, media):
    assert post_photo(as_other_clinician, patient, images.jpeg()).status_code == 404
    assert as_other_clinician.get(reverse("photos", args=[patient.public_id])).status_code == 404
    assert stored_files(media) == []


def test_anonymous_visitors_are_sent_to_sign_in(client, kept):
    r = client.get(reverse("photo_file", args=[kept.public_id]))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_front_desk_does_not_see_clinical_photos(as_front_desk, kept):
    assert as_front_desk.get(reverse("photo_file", args=[kept.public_id])).status_code == 403


def test_an_unknown_photo_is_404(as_clinician, media):
    import uuid

    assert as_clinician.get(reverse("photo_file", args=[uuid.uuid4()])).status_code == 404


def test_the_check_endpoint_explains_a_bad_file_and_keeps_nothing(as_clinician, patient, media):
    f = io.BytesIO(images.polyglot())
    f.name = "x.jpg"
    r = as_clinician.post(reverse("photo_check", args=[patient.public_id]), {"view": "frown", "photo": f})
    assert r.status_code == 400
    assert "ZIP archive" in r.content.decode()
    assert stored_files(media) == [] and not Photo.objects.exists()


def test_consent_and_baseline_from_the_photo_page(as_clinician, patient, media, kept, clinician):
    second = svc.photo_upload(actor=clinician, patient=patient, view="frown",
                              upload=images.jpeg(images.shifted(dx=5)), consent_clinical=True)
    r = as_clinician.post(reverse("photo_consent", args=[second.public_id]),
                          {"change": "marketing:yes", "channel": "in_person"})
    assert r.status_code == 302
    as_clinician.post(reverse("photo_baseline", args=[second.public_id]))
    second.refresh_from_db()
    kept.refresh_from_db()
    assert second.consent_marketing and second.is_baseline and not kept.is_baseline


def test_compare_shows_two_photos_of_the_same_view(as_clinician, patient, media, kept, clinician):
    later = svc.photo_upload(actor=clinician, patient=patient, view="frown",
                             upload=images.jpeg(images.shifted(dx=5)), consent_clinical=True)
    other_view = svc.photo_upload(actor=clinician, patient=patient, view="at_rest",
                                  upload=images.jpeg(images.shifted(dx=9)), consent_clinical=True)
    url = reverse("photo_compare", args=[patient.public_id])
    r = as_clinician.get(url, {"a": kept.public_id, "b": later.public_id})
    html = r.content.decode()
    assert r.status_code == 200
    assert "Side by side" in html and "data-slider" in html
    assert reverse("photo_file", args=[kept.public_id]) in html
    assert reverse("photo_aligned", args=[later.public_id, kept.public_id]) in html
    r = as_clinician.get(url, {"a": kept.public_id, "b": other_view.public_id})
    assert r.status_code == 400 and "same view" in r.content.decode()


def test_timeline_plots_the_wrinkle_index_per_area_with_treatments(as_clinician, patient, clinician):
    t = Treatment.objects.create(patient=patient, clinic=patient.clinic, clinician=clinician,
                                 treated_on=dt.date(2026, 1, 10), product="onabotulinumtoxinA",
                                 indication="glabellar_lines")
    t.points.create(area="glabella", x=200, y=150, units=4)
    for day, value in ((dt.date(2026, 1, 10), 0.42), (dt.date(2026, 2, 10), 0.12), (dt.date(2026, 5, 1), 0.33)):
        Observation.objects.create(patient=patient, area="glabella", observed_on=day, kind="wrinkle_index",
                                   value=value, source="photo")
    r = as_clinician.get(reverse("photo_timeline", args=[patient.public_id]))
    html = r.content.decode()
    assert r.status_code == 200
    assert html.count('class="obs" data-observed=') == 3
    assert 'data-treated="2026-01-10"' in html
    assert 'data-timeline="glabella"' in html and 'data-timeline="forehead"' not in html
    # Areas never treated nor measured get one line, not an empty card each.
    assert 'id="tl-forehead"' not in html and "Not treated or measured: Forehead, Crow" in html
    t.points.create(area="platysma", x=200, y=400, units=5)
    html = as_clinician.get(reverse("photo_timeline", args=[patient.public_id])).content.decode()
    assert 'id="tl-platysma"' in html and "Treated, but no measured photo of this area yet" in html


def test_a_timeline_with_nothing_yet_says_so_once(as_clinician, patient):
    html = as_clinician.get(reverse("photo_timeline", args=[patient.public_id])).content.decode()
    assert "No area has been treated or measured yet" in html and 'aria-labelledby="tl-' not in html


def test_the_chart_page_shows_the_cycles_photos(as_clinician, patient, media, clinician):
    t = Treatment.objects.create(patient=patient, clinic=patient.clinic, clinician=clinician,
                                 treated_on=dt.date.today(), product="onabotulinumtoxinA",
                                 indication="glabellar_lines")
    photo = svc.photo_upload(actor=clinician, patient=patient, view="frown", upload=images.jpeg(),
                             consent_clinical=True)
    assert photo.treatment == t
    html = as_clinician.get(reverse("chart", args=[t.public_id])).content.decode()
    assert "Photos of this cycle" in html
    assert reverse("photo_file", args=[photo.public_id]) in html


def test_the_after_photo_is_aligned_onto_the_before_photo(as_clinician, patient, media, clinician):
    import cv2
    import numpy as np

    from touchup.vision.decode import decode_image

    before = svc.photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                              upload=images.jpeg(images.usable_face()))
    # The same face re-shot 96 px to the side.
    after = svc.photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                             upload=images.jpeg(images.usable_face(dx=24)))
    r = as_clinician.get(reverse("photo_aligned", args=[after.public_id, before.public_id]))
    assert r.status_code == 200 and r["X-Touchup-Aligned"] == "yes"
    assert "no-store" in r["Cache-Control"]
    aligned = decode_image(r.content).rgb.astype(np.float32)
    h, w = aligned.shape[:2]
    ref = cv2.resize(decode_image(svc.photo_bytes(before)).rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    raw = cv2.resize(decode_image(svc.photo_bytes(after)).rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    face = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    # Aligned, the faces coincide far better than as taken.
    assert np.abs(aligned[face] - ref[face]).mean() < 0.5 * np.abs(raw[face] - ref[face]).mean()


def test_alignment_needs_two_photos_of_the_same_view(as_clinician, patient, media, kept, clinician):
    other = svc.photo_upload(actor=clinician, patient=patient, view="at_rest", consent_clinical=True,
                             upload=images.jpeg(images.shifted(dx=5)))
    r = as_clinician.get(reverse("photo_aligned", args=[other.public_id, kept.public_id]))
    assert r.status_code == 404


def test_another_clinic_cannot_get_an_aligned_photo(as_other_clinician, kept, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = as_other_clinician.get(reverse("photo_aligned", args=[kept.public_id, kept.public_id]))
    assert r.status_code == 404
    assert AuditEvent.objects.filter(action="photo.not_found", outcome="denied").exists()


def test_the_patient_themself_can_see_their_own_photo_and_no_one_elses(client, django_user_model, patient, kept,
                                                                      clinician, clinic_a, django_capture_on_commit_callbacks):
    """The gate already serves the portal: a patient account sees its own photos only."""
    from tests.conftest import PASSWORD
    from touchup.clinic.services.patients import patient_create

    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    other = patient_create(actor=clinician, clinic=clinic_a, given_name="Eve", family_name="Other",
                           birth_date=dt.date(1990, 1, 1), sex="female")
    theirs = svc.photo_upload(actor=clinician, patient=other, view="frown", consent_clinical=True,
                              upload=images.jpeg(images.shifted(dx=7)))
    assert client.login(username="dana", password=PASSWORD)
    r = client.get(reverse("photo_file", args=[kept.public_id]))
    assert r.status_code == 200 and r.content == svc.photo_bytes(kept)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(reverse("photo_file", args=[theirs.public_id])).status_code == 404
    assert AuditEvent.objects.filter(action="photo.not_found", outcome="denied", actor=user).exists()


def test_a_patient_account_cannot_use_the_staff_photo_pages(client, django_user_model, patient, kept):
    from tests.conftest import PASSWORD

    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    assert client.login(username="dana", password=PASSWORD)
    assert client.get(reverse("photo", args=[kept.public_id])).status_code == 403
    assert client.post(reverse("photo_baseline", args=[kept.public_id])).status_code == 403
    assert client.post(reverse("photo_consent", args=[kept.public_id]),
                       {"change": "marketing:yes", "channel": "in_person"}).status_code == 403
    assert not Photo.objects.get(pk=kept.pk).consent_marketing


def test_without_script_a_poor_photo_is_checked_and_not_kept_unless_asked(as_clinician, patient, media):
    # The small original: the face is too small for a reliable index.
    r = post_photo(as_clinician, patient, images.jpeg(), keep_only_if_usable="on")
    html = r.content.decode()
    assert r.status_code == 400
    assert "too small" in html and "was not kept" in html
    assert stored_files(media) == [] and not Photo.objects.exists()
    # The person decides to keep it anyway: untick the box.
    r = post_photo(as_clinician, patient, images.jpeg())
    assert r.status_code == 302 and Photo.objects.count() == 1


def test_the_check_names_a_wrong_expression_and_keeping_anyway_stays_possible(as_clinician, patient, media):
    smiling = images.jpeg(images.usable_face())  # the astronaut, smiling broadly
    sentence = "The mouth is smiling; for this view relax the mouth (no smile)."

    def check(view):
        f = io.BytesIO(smiling)
        f.name = "face.jpg"
        return as_clinician.post(reverse("photo_check", args=[patient.public_id]), {"view": view, "photo": f})

    r = check("frown")
    assert r.status_code == 200 and sentence in r.content.decode()
    assert "keep it anyway" in r.content.decode()
    r = check("smile_squint")
    assert sentence not in r.content.decode() and "data-check-ok" in r.content.decode()
    # Without script: refused while "Keep it only if…" is ticked, kept when it is not.
    r = post_photo(as_clinician, patient, smiling, keep_only_if_usable="on")
    assert r.status_code == 400 and sentence in r.content.decode()
    assert stored_files(media) == [] and not Photo.objects.exists()
    r = post_photo(as_clinician, patient, smiling)
    assert r.status_code == 302 and Photo.objects.count() == 1


def test_the_timeline_axis_writes_days_unpadded_and_months_with_the_year():
    from touchup.web.photo_timeline import _chart

    def labels(days: int) -> list[str]:
        first = dt.date(2026, 1, 5)
        rows = [{"observed_on": first + dt.timedelta(days=d), "value": 0.1 + d / 1000} for d in (0, days)]
        return [t["label"] for t in _chart("glabella", "Frown lines", rows, [first]).x_ticks]

    assert labels(100)[0] == "5 Jan" and all(not label.startswith("0") for label in labels(100))
    assert labels(400)[0] == "Jan 2026"
