"""The photo diary from the patient's side, through the clinic's photo service."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.photos import images
from tests.photos.conftest import media, stored_files  # noqa: F401 - fixture
from touchup.clinic.models import Photo

pytestmark = pytest.mark.django_db


def upload(data, name="me.jpg"):
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_page_offers_the_views_for_the_treated_area(as_dana, treated):
    body = as_dana.get("/portal/photos/").content.decode()
    assert "Face at rest" in body and "Frown" in body and "Big smile" not in body
    assert 'capture="user"' in body and 'enctype="multipart/form-data"' in body
    # An iPhone's HEIC can be chosen; WebP, which is refused, is not offered.
    assert 'accept="image/jpeg,image/png,image/heic,image/heif,.heic,.heif"' in body


def test_an_iphone_heic_is_checked_and_kept(as_dana, dana, treated, media):
    heic = SimpleUploadedFile("IMG_0042.HEIC", images.heic_phone_photo(), content_type="image/heic")
    r = as_dana.post("/portal/photos/", {"view": "frown", "consent": "yes", "photo": heic})
    assert r.status_code == 302, r.content.decode()[:2000]
    photo = Photo.objects.get(patient=dana)
    assert (photo.width, photo.height) == (1536, 1800)
    [stored] = stored_files(media)
    data = stored.read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and b"Exif" not in data and b"PhoneMaker" not in data


def test_a_usable_photo_is_kept_and_the_patient_sees_only_their_own(as_dana, dana, treated, media, erin, clinician):
    r = as_dana.post("/portal/photos/", {"view": "frown", "consent": "yes",
                                         "photo": upload(images.jpeg(images.neutral_face()))})
    assert r.status_code == 302, r.content.decode()[:2000]
    photo = Photo.objects.get(patient=dana)
    assert photo.view == "frown" and photo.uploaded_by == dana.user and photo.is_baseline
    page = as_dana.get("/portal/photos/").content.decode()
    assert f"/photos/{photo.public_id}/file/?size=thumb" in page
    assert as_dana.get(f"/photos/{photo.public_id}/file/?size=thumb").status_code == 200

    from touchup.clinic.services.photos import photo_upload

    theirs = photo_upload(actor=clinician, patient=erin, view="at_rest", consent_clinical=True,
                          upload=images.jpeg(images.usable_face(dx=7)))
    assert str(theirs.public_id) not in as_dana.get("/portal/photos/").content.decode()
    assert as_dana.get(f"/photos/{theirs.public_id}/file/").status_code == 404


def test_each_photo_in_the_list_says_which_kind_it_is(as_dana, dana, treated, media):
    """One reference per kind: the list must tell "Frown" from "Face at rest", or two
    entries both marked "reference" read as a mistake."""
    from touchup.clinic.services.photos import photo_upload

    photo_upload(actor=dana.user, patient=dana, view="frown", consent_clinical=True,
                 upload=images.jpeg(images.neutral_face()))
    photo_upload(actor=dana.user, patient=dana, view="at_rest", consent_clinical=True,
                 upload=images.jpeg(images.neutral_face(dx=5)))
    page = as_dana.get("/portal/photos/").content.decode()
    mine = page[page.index('id="mine-h"'):]
    assert '<span class="small">Frown, ' in mine and '<span class="small">Face at rest, ' in mine


@pytest.mark.parametrize("post,words", [
    ({"view": "frown", "consent": "yes", "photo": upload(images.NOT_AN_IMAGE, "notes.txt")}, "not"),
    ({"view": "frown", "photo": upload(images.jpeg(images.usable_face()))}, "Tick the box"),
    ({"view": "smile_squint", "consent": "yes"}, "Choose which photo"),
    ({"view": "frown", "consent": "yes"}, "Choose a photo to send"),
])
def test_refusals_say_why_and_keep_nothing(as_dana, treated, media, post, words):
    r = as_dana.post("/portal/photos/", post)
    assert r.status_code == 400 and words in r.content.decode()
    assert not Photo.objects.exists() and not stored_files(media)


def test_a_blurred_photo_is_refused_with_the_problems(as_dana, treated, media):
    import cv2

    blurred = cv2.GaussianBlur(images.usable_face(), (0, 0), 25)
    r = as_dana.post("/portal/photos/", {"view": "frown", "consent": "yes", "photo": upload(images.jpeg(blurred))})
    assert r.status_code == 400 and "Please take it again" in r.content.decode()
    assert not Photo.objects.exists() and not stored_files(media)


def test_a_face_too_small_is_refused_in_a_patients_words(as_dana, treated, media):
    """The measurement ("eye corners 94 px apart, at least 192 needed") is for the staff
    capture page; the patient is told what to do."""
    import cv2

    small = cv2.resize(images.neutral_face(), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    r = as_dana.post("/portal/photos/", {"view": "frown", "consent": "yes", "photo": upload(images.jpeg(small))})
    body = r.content.decode()
    assert r.status_code == 400 and "Please take it again" in body
    assert "Your face is too small in the photo: move closer, so your face fills most of the frame." in body
    assert " px " not in body and "eye corners" not in body
    assert not Photo.objects.exists() and not stored_files(media)


def test_a_smile_in_the_frown_photo_is_refused_with_what_to_do(as_dana, treated, media):
    r = as_dana.post("/portal/photos/", {"view": "frown", "consent": "yes",
                                         "photo": upload(images.jpeg(images.usable_face()))})
    body = r.content.decode()
    assert r.status_code == 400 and "Please take it again" in body
    assert "relax the mouth (no smile)" in body
    assert not Photo.objects.exists() and not stored_files(media)
