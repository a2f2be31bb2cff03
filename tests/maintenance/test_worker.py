"""Two real `touchup worker` processes race over the same due reminders in a real
database (an SQLite file in WAL mode; and a throwaway PostgreSQL database when one is
reachable): every reminder goes out exactly once."""

import json
import subprocess
import sys

REMINDERS = 400

SEED = """
import datetime as dt, os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.utils import timezone
from touchup.clinic.models import Clinic, InjectionPoint, Membership, Patient, Treatment
from touchup.maintenance.models import Reminder
from touchup.clinic import audit
clinic = Clinic.objects.create(name="Race Clinic", slug="race")
# A live install's audit chain has a head already (the very first append is not what is tested here).
audit.record("test.seed", clinic=clinic)
doc = get_user_model().objects.create_user(username="doc")
Membership.objects.create(user=doc, clinic=clinic, role="clinician")
now = timezone.now()
for i in range(%(n)d):
    p = Patient.objects.create(clinic=clinic, given_name="P", family_name=str(i), birth_date=dt.date(1980, 1, 1),
                               sex="female", phone="+4470000%%05d" %% i)
    t = Treatment.objects.create(patient=p, clinic=clinic, clinician=doc, treated_on=now.date() - dt.timedelta(days=30),
                                 product="onabotulinumtoxinA", indication="glabellar_lines", status="signed",
                                 signed_at=now, signed_by=doc)
    Reminder.objects.create(patient=p, clinic=clinic, treatment=t, area="glabella", kind="checkin",
                            step="checkin_peak", channel="sms", due_at=now - dt.timedelta(minutes=1))
"""

REPORT = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from touchup.maintenance.models import Reminder
rows = list(Reminder.objects.values_list("sent_at", "claimed_by", "attempts"))
print(json.dumps({"sent": sum(1 for s, _, _ in rows if s), "by": sorted({c for _, c, _ in rows}),
                  "attempts": sorted({a for _, _, a in rows})}))
"""


def _run(env, *args, **kw):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


def test_two_workers_send_each_reminder_exactly_once(worker_env, tmp_path):
    migrate = _run(worker_env, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    seed = _run(worker_env, "-c", SEED % {"n": REMINDERS})
    assert seed.returncode == 0, seed.stderr

    workers = [
        subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--once", "--no-tasks", "--worker-id", w],
                         env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in ("w1", "w2")
    ]
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err

    sent = [json.loads(line)["to"] for line in (tmp_path / "sms.log").read_text().splitlines()]
    assert len(sent) == REMINDERS
    assert len(set(sent)) == REMINDERS  # nobody got two
    report = _run(worker_env, "-c", REPORT)
    assert report.returncode == 0, report.stderr
    state = json.loads(report.stdout)
    assert state["sent"] == REMINDERS
    assert state["attempts"] == [1]  # no reminder was claimed twice
    assert set(state["by"]) <= {"w1", "w2"}
    print("reminders sent by", state["by"])
