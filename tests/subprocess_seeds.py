"""The start of the scripts that tests run with `python -c` to seed a real `touchup`
process's own database (an SQLite file or a throwaway PostgreSQL database): Django set
up, the clinic such a test starts from, and a treated patient. A seed is `SETUP` plus its
own lines; SETUP holds no `%`, so a seed can still be %-formatted."""

SETUP = '''
import datetime as dt, json, os, sys
from decimal import Decimal
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from touchup.clinic import audit
from touchup.clinic.models import Clinic, InjectionPoint, Membership, Patient, Treatment
now = timezone.now()


def seed_clinic(name, slug):
    """The clinic and its clinician "doc". A live install's audit chain has a head already
    (the very first append is not what these tests are about)."""
    clinic = Clinic.objects.create(name=name, slug=slug)
    audit.record("test.seed", clinic=clinic)
    doc = get_user_model().objects.create_user(username="doc")
    Membership.objects.create(user=doc, clinic=clinic, role="clinician")
    return clinic, doc


def new_patient(clinic, family_name="Q", **fields):
    return Patient.objects.create(clinic=clinic, given_name="P", family_name=family_name,
                                  birth_date=dt.date(1980, 1, 1), sex="female", **fields)


def treated_patient(clinic, doc, family_name="Q", **fields):
    """A patient whose frown lines (20 U to the glabella) were treated and signed 30 days ago."""
    p = new_patient(clinic, family_name, **fields)
    t = Treatment.objects.create(patient=p, clinic=clinic, clinician=doc, treated_on=now.date() - dt.timedelta(days=30),
                                 product="onabotulinumtoxinA", indication="glabellar_lines", status="signed",
                                 signed_at=now, signed_by=doc)
    InjectionPoint.objects.create(treatment=t, area="glabella", units=Decimal("20"), x=200, y=100)
    return p, t
'''


def race_two_workers(env: dict, *flags: str) -> list[str]:
    """Two `touchup worker --once` processes (w1, w2) started together on `env`'s database,
    as after a crash or with two machines; both must exit cleanly. Their stderr, in order."""
    import subprocess
    import sys

    workers = [
        subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--once", *flags, "--worker-id", w],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in ("w1", "w2")
    ]
    errs = []
    for w in workers:
        _out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        errs.append(err)
    return errs
