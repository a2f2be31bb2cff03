"""A patient sees their own data and nothing else; staff pages refuse patients; the
portal refuses staff; every read is audited."""

import re
import uuid

import pytest

from tests.conftest import PASSWORD
from touchup.clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


def denied(action_prefix):
    return AuditEvent.objects.filter(action__startswith=action_prefix, outcome="denied")


def test_anonymous_goes_to_the_patients_sign_in(client):
    r = client.get("/portal/diary/")
    assert r.status_code == 302 and r["Location"].startswith("/portal/login/?next=/portal/diary/")
    page = client.get("/portal/login/")
    assert page.status_code == 200 and b"Sign in to your care portal" in page.content


def test_patient_signs_in_on_the_portal_page_and_lands_in_the_portal(client, dana):
    r = client.post("/portal/login/", {"login": "dana", "password": PASSWORD, "next": "/portal/"})
    assert r.status_code == 302 and r["Location"] == "/portal/"


@pytest.mark.parametrize("step,area,page", [
    ("aftercare", "glabella", "/portal/aftercare/"), ("checkin_peak", "glabella", "/portal/diary/"),
    # The wear-off watch: the photo diary on the area's view where a photo measures it.
    ("checkin_before_window", "glabella", "/portal/photos/?view=frown"),
    ("checkin_watch", "crows_feet", "/portal/photos/?view=smile_squint"),
    ("checkin_watch", "migraine", "/portal/diary/"),
    ("maintenance", "glabella", "/portal/book/")])
def test_a_reminders_link_opens_its_page_after_the_sign_in(client, dana, step, area, page):
    # The message's link is the page it is about (answer, read, book); a patient who is
    # not signed in is asked to, and then lands there, not on the portal's front page.
    import datetime as dt
    from types import SimpleNamespace

    from touchup.maintenance.services.messages import compose

    body = compose(SimpleNamespace(step=step, area=area), clinic_name="C", given_name="Dana",
                   treated_on=dt.date(2026, 1, 5)).body
    link = re.search(r"https?://\S+", body).group(0)
    assert link.endswith(page)
    r = client.get(page)
    assert r.status_code == 302
    r = client.post(r["Location"], {"login": "dana", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == page


def test_another_patients_treatment_is_404_and_audited(as_dana, treated, erin_treated,
                                                       django_capture_on_commit_callbacks):
    assert as_dana.get(f"/portal/aftercare/{treated.public_id}/").status_code == 200
    before = denied("portal.treatment").count()
    with django_capture_on_commit_callbacks(execute=True):
        assert as_dana.get(f"/portal/aftercare/{erin_treated.public_id}/").status_code == 404
        assert as_dana.get(f"/portal/aftercare/{uuid.uuid4()}/").status_code == 404
    assert denied("portal.treatment").count() == before + 2
    # Through the side-effect form too.
    r = as_dana.post("/portal/side-effects/new/", {"treatment": str(erin_treated.public_id), "kind": "bruising"})
    assert r.status_code == 404
    from touchup.portal.models import SideEffectReport

    assert not SideEffectReport.objects.exists()


def test_another_patients_appointment_is_404(as_dana, erin, clinician, django_capture_on_commit_callbacks):
    import datetime as dt

    from django.utils import timezone

    from touchup.maintenance.models import Appointment

    now = timezone.now()
    a = Appointment.objects.create(clinic=erin.clinic, patient=erin, clinician=clinician,
                                   starts_at=now + dt.timedelta(days=3), ends_at=now + dt.timedelta(days=3, minutes=30),
                                   booked_by=clinician, booked_at=now, updated_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        for url in (f"/portal/visits/{a.public_id}/", f"/portal/visits/{a.public_id}/calendar.ics"):
            assert as_dana.get(url).status_code == 404
        assert as_dana.post(f"/portal/visits/{a.public_id}/cancel/").status_code == 404
    a.refresh_from_db()
    assert a.is_booked
    assert denied("portal.appointment").count() == 3


def test_lists_show_only_the_patients_own_rows(as_dana, treated, erin_treated, erin):
    from touchup.portal.services.side_effects import side_effect_report

    side_effect_report(actor=erin.user, patient=erin, kind="other", details="ERIN-ONLY-DETAIL")
    for url in ("/portal/", "/portal/aftercare/", "/portal/side-effects/", "/portal/diary/", "/portal/results/",
                "/portal/photos/"):
        body = as_dana.get(url).content.decode()
        assert "Erin" not in body and str(erin_treated.public_id) not in body and "ERIN-ONLY" not in body, url
    assert str(treated.public_id) in as_dana.get("/portal/aftercare/").content.decode()


STAFF_PAGES = ["/", "/patients/", "/treatments/", "/vials/", "/audit/", "/from-patients/"]


def test_staff_pages_refuse_patients(as_dana, dana, treated):
    for url in STAFF_PAGES + [f"/patients/{dana.public_id}/", f"/treatments/{treated.public_id}/",
                              f"/patients/{dana.public_id}/portal/"]:
        r = as_dana.get(url, follow=True)
        if url == "/":  # the staff home sends a patient to her own portal instead
            assert r.redirect_chain[-1][0] == "/portal/", r.redirect_chain
            continue
        assert r.status_code in (403, 404), (url, r.status_code)
        assert "Dana Example" not in r.content.decode(), url
    assert as_dana.get("/api/patients").status_code in (401, 403)


def test_portal_refuses_staff(client, clinician, django_capture_on_commit_callbacks):
    client.force_login(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get("/portal/").status_code == 403
    assert denied("portal.not_a_patient").exists()


def test_every_portal_read_is_audited(as_dana, treated):
    for url, page in (("/portal/", "home"), ("/portal/diary/", "diary"), ("/portal/results/", "results"),
                      ("/portal/aftercare/", "treatments"), ("/portal/book/", "booking"),
                      ("/portal/photos/", "photos")):
        n = AuditEvent.objects.filter(action="portal.view", detail__page=page).count()
        assert as_dana.get(url).status_code == 200
        assert AuditEvent.objects.filter(action="portal.view", detail__page=page).count() == n + 1, url
    as_dana.get(f"/portal/aftercare/{treated.public_id}/")
    assert AuditEvent.objects.filter(action="portal.view", object_id=str(treated.public_id)).exists()


def test_portal_views_go_through_the_gate():
    """Source check: every portal view module asks the gate (access.patient_of /
    own_*), none reads Patient or Treatment through a manager."""
    from pathlib import Path

    from tests.web.test_gate_rule import violations

    import touchup.portal

    views = Path(touchup.portal.__file__).parent / "views"
    for path in views.glob("*.py"):
        src = path.read_text()
        assert not violations(src), path
        if path.name not in ("__init__.py", "common.py", "account.py"):
            assert "access." in src, path


def _staff_urls(dana, treated):
    """Every staff page pattern with ids filled in (Dana's own where the pattern names a
    patient or treatment: even her own record is not hers to see on staff pages)."""
    from django.urls import URLPattern, URLResolver

    from touchup.web import urls as web_urls

    out = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
                continue
            assert isinstance(p, URLPattern)
            route = prefix + str(p.pattern)
            route = route.replace("patients/<uuid:public_id>", f"patients/{dana.public_id}")
            route = route.replace("treatments/<uuid:public_id>", f"treatments/{treated.public_id}")
            route = re.sub(r"<uuid:[^>]+>", str(uuid.uuid4()), route)
            route = re.sub(r"<int:[^>]+>", "1", route)
            route = re.sub(r"<(str:)?[^>]+>", "x", route)
            out.append("/" + route)
    walk(web_urls.urlpatterns)
    return out


def test_every_staff_page_refuses_a_patient(as_dana, dana, treated):
    urls = _staff_urls(dana, treated)
    assert len(urls) > 20
    for url in urls:
        for method in ("get", "post"):
            r = getattr(as_dana, method)(url)
            # "/" only redirects to the patient list, which refuses her (checked as its own url).
            assert r.status_code in (403, 404, 405) or (url == "/" and r.status_code == 302), (method, url, r.status_code)
            assert "Dana Example" not in r.content.decode(errors="replace"), (method, url)


def test_the_api_documentation_is_not_shown_to_a_patient(as_dana, dana, django_capture_on_commit_callbacks):
    """The API serves staff; a patient signed in to the portal does not get its map (ASVS
    13.4.5), and the refusal is in the trail."""
    from touchup.clinic.models import AuditEvent

    for path in ("/api/docs", "/api/openapi.json"):
        with django_capture_on_commit_callbacks(execute=True):
            r = as_dana.get(path)
        assert r.status_code == 403, path
        assert "paths" not in r.content.decode()
    assert [e.detail for e in AuditEvent.objects.filter(action="access.no_membership", outcome="denied")] == [
        {"permission": "api.docs"}] * 2
