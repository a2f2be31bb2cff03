"""The clinic's phone and email for patients, set by the manager on the Clinic page."""

import pytest
from django.urls import reverse

from touchup.clinic.models import AuditEvent, Clinic

pytestmark = pytest.mark.django_db


def test_the_manager_sets_the_clinics_phone_and_email_and_it_is_audited(as_manager, manager, clinic_a):
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert "How patients reach the clinic" in page and 'name="phone"' in page and 'name="email"' in page
    r = as_manager.post(reverse("clinic_contact"), {"phone": " 020  7946 0000 ", "email": "desk@example.org"},
                        follow=True)
    assert r.status_code == 200 and "Contact details saved" in r.content.decode()
    clinic_a.refresh_from_db()
    assert (clinic_a.phone, clinic_a.email) == ("020 7946 0000", "desk@example.org")
    event = AuditEvent.objects.get(action="clinic.contact")
    assert event.actor_id == manager.pk and event.detail == {"changed": ["phone", "email"]}
    assert 'value="020 7946 0000"' in r.content.decode()
    # The same values again change nothing and record nothing.
    as_manager.post(reverse("clinic_contact"), {"phone": "020 7946 0000", "email": "desk@example.org"})
    assert AuditEvent.objects.filter(action="clinic.contact").count() == 1
    # Emptying the phone is allowed: patients read "call the clinic" again.
    as_manager.post(reverse("clinic_contact"), {"phone": "", "email": "desk@example.org"})
    clinic_a.refresh_from_db()
    assert clinic_a.phone == ""
    assert AuditEvent.objects.filter(action="clinic.contact").last().detail == {"changed": ["phone"]}


@pytest.mark.parametrize("data, field, words", [
    ({"phone": "ring reception", "email": ""}, "phone", "must be a phone number: 6 to 15 digits"),
    ({"phone": "020 7946 0000", "email": "not an email"}, "email", "must be an email address"),
])
def test_a_bad_value_is_a_clear_error_on_its_field_and_nothing_is_saved(as_manager, clinic_a, data, field, words):
    r = as_manager.post(reverse("clinic_contact"), data)
    html = r.content.decode()
    assert r.status_code == 400 and words in html and f'id="id_{field}_error"' in html
    assert "Nothing was saved" in html and f'value="{data["phone"]}"' in html  # typed stays
    assert Clinic.objects.get(pk=clinic_a.pk).phone == ""
    assert not AuditEvent.objects.filter(action="clinic.contact").exists()


def test_only_the_manager_changes_them(as_front_desk, clinic_a):
    r = as_front_desk.post(reverse("clinic_contact"), {"phone": "020 7946 0000", "email": ""})
    assert r.status_code == 403
    assert Clinic.objects.get(pk=clinic_a.pk).phone == ""
