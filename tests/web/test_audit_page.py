"""The manager's audit page: every action in words, filtered by person, kind, outcome,
dates and patient (by public id, never a name), paged with its filters, never another
clinic's events; and the "Record access" card on the patient page, for managers only."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


def ids_on(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'<td data-label="#" class="num[^"]*">(\d+)</td>', html)}


def page(client, **params):
    response = client.get(reverse("audit"), params)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content.decode()


@pytest.fixture
def events(clinic_a, clinician, front_desk, patient):
    """A few events of clinic A: the clinician reads the patient, the front desk fails to
    sign in and is refused a page, a sign-in yesterday."""
    # Yesterday's first, as the trail numbers events in the order they happen.
    yesterday = audit.record("signin", actor=front_desk, clinic=clinic_a)
    AuditEvent.objects.filter(pk__lte=yesterday.pk).update(at=timezone.now() - dt.timedelta(days=1))
    made = {
        "yesterday": yesterday,
        "read": audit.record("patient.view", actor=clinician, patient=patient, obj=patient),
        "sign": audit.record("treatment.sign", actor=clinician, patient=patient),
        "failed": audit.record("signin.failed", actor=front_desk, clinic=clinic_a, outcome="denied",
                               detail={"reason": "wrong_password"}),
        "refused": audit.record("access.role", actor=front_desk, clinic=clinic_a, outcome="denied"),
    }
    return {k: e.pk for k, e in made.items()}


def test_every_action_shows_in_words_with_its_code(as_manager, events):
    html = page(as_manager)
    assert "Opened the patient&#x27;s record" in html and "<code class=\"small\">patient.view</code>" in html
    assert "Signed the chart" in html and "Refused: not allowed for the role" in html
    assert "Sign-in failed: wrong password" in html


def test_by_person(as_manager, events, front_desk, clinician):
    assert ids_on(page(as_manager, who=front_desk.pk)) == {events["failed"], events["refused"], events["yesterday"]}
    assert events["read"] in ids_on(page(as_manager, who=clinician.pk))


def test_by_kind(as_manager, events):
    assert ids_on(page(as_manager, kind="charts")) == {events["sign"]}
    assert ids_on(page(as_manager, kind="refused")) == {events["refused"]}
    signin = ids_on(page(as_manager, kind="signin"))
    assert {events["failed"], events["yesterday"]} <= signin and events["read"] not in signin


def test_by_outcome(as_manager, events):
    assert ids_on(page(as_manager, outcome="denied")) == {events["failed"], events["refused"]}
    assert events["failed"] not in ids_on(page(as_manager, outcome="ok"))


def test_by_dates(as_manager, events):
    today = timezone.now().date()
    yesterday = today - dt.timedelta(days=1)
    assert events["yesterday"] not in ids_on(page(as_manager, since=today.isoformat()))
    earlier = set(AuditEvent.objects.filter(pk__lte=events["yesterday"]).values_list("id", flat=True))
    assert ids_on(page(as_manager, since=yesterday.isoformat(), until=yesterday.isoformat())) == earlier
    assert events["yesterday"] in earlier and events["read"] not in earlier


def test_failed_sign_ins_today_combines_the_filters(as_manager, events):
    today = timezone.now().date().isoformat()
    assert ids_on(page(as_manager, kind="signin", outcome="denied", since=today, until=today)) == {events["failed"]}


def test_by_patient_public_id_with_no_name_on_the_page(as_manager, events, patient):
    html = page(as_manager, patient=str(patient.public_id))
    assert ids_on(html) == set(AuditEvent.objects.filter(patient_id_ref=patient.pk).values_list("id", flat=True))
    assert {events["read"], events["sign"]} <= ids_on(html) and events["failed"] not in ids_on(html)
    assert "Example" not in html and "Dana" not in html
    assert f'name="patient" value="{patient.public_id}"' in html  # kept when another filter changes


def test_the_patient_themself_on_the_portal(as_manager, events, patient, django_user_model, front_desk):
    person = django_user_model.objects.create_user(username="dana-portal", password="x" * 20)
    patient.user = person
    patient.save(update_fields=["user"])
    own = audit.record("portal.view", actor=person, patient=patient, detail={"page": "home"})
    html = page(as_manager, who="patient", patient=str(patient.public_id))
    assert ids_on(html) == {own.pk}
    assert "Patient opened the portal" in html


def test_paging_keeps_the_filters(as_manager, clinic_a, front_desk, events):
    for _ in range(60):
        audit.record("signin.failed", actor=front_desk, clinic=clinic_a, outcome="denied")
    html = page(as_manager, outcome="denied")
    assert len(ids_on(html)) == 50
    assert 'href="?outcome=denied&amp;page=2"' in html
    second = ids_on(page(as_manager, outcome="denied", page=2))
    assert len(second) == 12 and events["refused"] in second and events["read"] not in second


def test_htmx_gets_the_results_only_and_the_form_pushes_the_url(as_manager, events):
    html = as_manager.get(reverse("audit"), {"kind": "charts"}, HTTP_HX_REQUEST="true").content.decode()
    assert ids_on(html) == {events["sign"]} and "<form" not in html and "<html" not in html
    full = page(as_manager)
    assert 'hx-get="/audit/"' in full and 'hx-push-url="true"' in full and 'hx-target="#audit-results"' in full


def test_another_clinics_events_never_show(as_manager, events, other_clinician, clinic_b,
                                          django_capture_on_commit_callbacks):
    from touchup.clinic.services.patients import patient_create

    theirs = patient_create(actor=other_clinician, clinic=clinic_b, given_name="Zed", family_name="Other",
                            birth_date="1990-01-01", sex="male")
    foreign = set(AuditEvent.objects.filter(clinic_id_ref=clinic_b.pk).values_list("id", flat=True))
    assert foreign
    for params in ({}, {"kind": "records"}, {"outcome": "ok"}, {"since": timezone.now().date().isoformat()}):
        assert not ids_on(page(as_manager, **params)) & foreign
    # Their staff and their patients are not filters here: refused, and the probe audited.
    assert as_manager.get(reverse("audit"), {"who": other_clinician.pk}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):  # refusals are written after the request
        response = as_manager.get(reverse("audit"), {"patient": str(theirs.public_id)})
    assert response.status_code == 400 and not ids_on(response.content.decode())
    probe = AuditEvent.objects.get(action="patient.not_found", detail__id=str(theirs.public_id))
    assert probe.outcome == "denied" and probe.clinic_id_ref == AuditEvent.objects.get(pk=events["read"]).clinic_id_ref


@pytest.mark.parametrize("params", [{"who": "nobody"}, {"kind": "everything"}, {"outcome": "maybe"},
                                    {"since": "yesterday"}, {"since": "2026-02-02", "until": "2026-02-01"},
                                    {"patient": "Dana Example"}, {"page": "0"}])
def test_bad_filters_are_named_not_guessed(as_manager, events, params):
    response = as_manager.get(reverse("audit"), params)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode() and not ids_on(response.content.decode())


def test_the_filters_stay_managers_only(as_clinician, as_front_desk, events):
    assert as_clinician.get(reverse("audit"), {"kind": "records"}).status_code == 403


# --- the patient page's "Record access" ----------------------------------------------


def test_the_manager_sees_who_opened_the_record_on_the_patient_page(as_manager, events, patient, manager):
    html = as_manager.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "Record access" in html
    card = html[html.index("data-record-access"):]
    assert "alice" in card and "Opened the patient&#x27;s record" in card and "Signed the chart" in card
    assert "mona" in card  # this very visit, audited before the card is read
    assert f'href="/audit/?patient={patient.public_id}"' in card
    assert card.count("<li>") == AuditEvent.objects.filter(patient_id_ref=patient.pk).count()


def test_the_card_shows_the_latest_twenty(as_manager, patient, clinician):
    for _ in range(25):
        audit.record("patient.view", actor=clinician, patient=patient, obj=patient)
    html = as_manager.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert html[html.index("data-record-access"):].count("<li>") == 20


def test_reading_the_card_writes_no_event_of_its_own(as_manager, patient):
    before = AuditEvent.objects.count()
    as_manager.get(reverse("patient", args=[patient.public_id]))
    assert list(AuditEvent.objects.filter(pk__gt=before).values_list("action", flat=True)) == ["patient.view"]


@pytest.mark.parametrize("persona", ["as_clinician", "as_front_desk"])
def test_other_roles_see_no_record_access(persona, request, patient, events):
    client = request.getfixturevalue(persona)
    html = client.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "Record access" not in html and "data-record-access" not in html


def test_a_common_kind_read_off_the_table_finds_the_same_events(as_manager, events, monkeypatch):
    """The two ways a kind is read (off its index when rare, off the table newest first
    when common: touchup.web.audit_search.COMMON) list the same events."""
    from touchup.web import audit_search

    rare = ids_on(page(as_manager, kind="signin"))
    monkeypatch.setattr(audit_search, "COMMON", 1)
    assert ids_on(page(as_manager, kind="signin")) == rare and rare


def test_no_inline_code_the_csp_would_block(as_manager, events, patient):
    from tests.security.test_headers import InlineCode

    for url in (reverse("patient", args=[patient.public_id]),
                f"{reverse('audit')}?kind=records&outcome=ok&patient={patient.public_id}&since=2026-01-01"):
        parser = InlineCode()
        parser.feed(as_manager.get(url).content.decode())
        assert not parser.found, (url, parser.found)


def test_who_reads_the_same_in_the_filter_and_the_rows(as_manager, events, clinician, front_desk):
    """The filter listed "Alice Ward" while the rows said "alice": both name the person,
    with the username beside it; someone without a name on file is their username in both."""
    clinician.first_name, clinician.last_name = "Alice", "Ward"
    clinician.save()
    html = page(as_manager)
    assert f'<option value="{clinician.pk}" >Alice Ward (alice)</option>' in html
    assert f'<option value="{front_desk.pk}" >bob</option>' in html
    rows = re.findall(r'<td data-label="Who" class="nowrap">(.*?)</td>', html)
    assert 'Alice Ward <span class="small muted">alice</span>' in rows
    assert "bob" in rows and "alice" not in rows
