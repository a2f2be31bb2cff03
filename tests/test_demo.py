"""The demo clinic: every indication with years of cycles, idempotent, logins that work."""

import os
import subprocess
import sys

import pytest
from django.urls import reverse

from touchup.clinic.demo import demo_logins, prepare_day, seed_demo
from touchup.clinic.models import Clinic, Observation, Patient, Treatment, Vial
from touchup.core.catalogue import load_catalogue


@pytest.fixture
def demo(db, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "media"}}}
    assert seed_demo() is True
    return Clinic.objects.get(slug="demo")


def test_every_indication_has_patients_with_years_of_signed_cycles(demo):
    indications = set(Treatment.objects.filter(clinic=demo, status="signed").values_list("indication", flat=True))
    expected = set(load_catalogue().indications)
    assert indications == expected
    first = Treatment.objects.filter(clinic=demo).order_by("treated_on").first()
    assert (Treatment.objects.latest("treated_on").treated_on - first.treated_on).days > 365
    for kind in ("fws_grade", "wearing_off_reported", "headache_days", "symptom_score"):
        assert Observation.objects.filter(patient__clinic=demo, kind=kind).exists(), kind


def test_a_frown_line_patient_has_a_photo_series_that_the_worker_measures(demo):
    from touchup.clinic.models import Photo
    from touchup.jobs.photo_analysis import analyze_photo

    photos = list(Photo.objects.filter(patient__clinic=demo).order_by("taken_on"))
    assert len(photos) >= 2 and photos[0].is_baseline
    for photo in photos[:2]:  # what `touchup worker` does with the queued analysis
        analyze_photo.call(photo.pk)
    values = list(Observation.objects.filter(patient=photos[0].patient, kind="wrinkle_index", source="photo")
                  .order_by("observed_on").values_list("value", flat=True))
    assert len(values) == 2 and values[1] < values[0]  # smoother two weeks after the injections


def test_seeding_twice_changes_nothing(demo):
    counts = (Patient.objects.count(), Treatment.objects.count(), Observation.objects.count())
    assert seed_demo() is False
    assert (Patient.objects.count(), Treatment.objects.count(), Observation.objects.count()) == counts


def test_each_demo_login_works_and_sees_the_patients(demo, client):
    logins = demo_logins()
    assert {l["username"] for l in logins} == {"dr.rivera", "nurse.kim", "desk.sam", "manager.lee", "patient.demo"}
    patient = Patient.objects.filter(clinic=demo, treatments__isnull=False).first()
    # No phone needed for the walk-through: the demo clinic does not require two-step sign-in.
    assert demo.require_two_step is False
    for login in logins[:4]:
        client.logout()
        assert client.login(username=login["username"], password=login["password"]), login["username"]
        assert client.get(reverse("patients")).status_code == 200
        assert client.get(reverse("patient", args=[patient.public_id])).status_code == 200


def test_passwords_are_random_and_private(demo, tmp_path):
    path = tmp_path / "demo_logins.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len({l["password"] for l in demo_logins()}) == 5


def test_the_demo_patient_signs_in_to_her_portal(demo, client):
    login = next(l for l in demo_logins() if l["username"] == "patient.demo")
    assert client.login(username=login["username"], password=login["password"])
    home = client.get("/portal/")
    assert home.status_code == 200
    # The demo clinic has a phone number, so the portal shows it where patients are told to call.
    assert demo.phone == "020 7946 0000" and "Call the clinic on 020 7946 0000" in home.content.decode()
    assert client.get(reverse("patients")).status_code == 403


def test_the_demo_patient_can_reset_her_forgotten_password(demo, client, mailoutbox):
    """Her account had no email address, so the portal's reset emailed the clinic's
    "Unknown Account" note to the address the clinic has for her, and she was stuck."""
    import re

    patient = Patient.objects.get(user__username="patient.demo")
    assert client.post("/portal/password/reset/", {"email": patient.email}).status_code == 302
    (message,) = mailoutbox
    assert message.to == [patient.email]
    link = re.search(r"http://\S+(/portal/password/reset/key/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and 'name="password1"' in form.content.decode()
    new = "a-new-Demo-password-42"
    assert client.post(form.redirect_chain[-1][0] if form.redirect_chain else link,
                       {"password1": new, "password2": new}).status_code == 302
    assert client.login(username="patient.demo", password=new)


def test_the_day_starts_with_usable_vials_and_only_once(demo):
    assert prepare_day() == 3
    assert prepare_day() == 0
    fresh = Vial.objects.filter(clinic=demo, lot__endswith="T")
    assert {v.product for v in fresh} == {"onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA"}
    assert all(v.reconstituted_at is not None for v in fresh)


def test_touchup_demo_twice_keeps_the_data(tmp_path):
    env = {**os.environ, "TOUCHUP_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("TOUCHUP_PUBLIC_URL", None)
    cmd = [sys.executable, "-m", "touchup.cli", "demo", "--no-serve"]
    # The first run on another port: the links in the messages it sends (through the worker
    # it starts, which inherits the environment) must reach the server on that port.
    first = subprocess.run([sys.executable, "-c", (
        "import os, sys; from touchup.cli import main; code = main(['demo', '--no-serve', '--port', '8765']); "
        "print('public url:', os.environ['TOUCHUP_PUBLIC_URL']); sys.exit(code)")],
        env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "public url: http://127.0.0.1:8765" in first.stdout
    assert "Seeded the demo clinic." in first.stdout and "dr.rivera" in first.stdout
    # Seeding measures the demo photos in this process; MediaPipe's native start-up lines
    # are not passed on (they buried the logins), real errors would be.
    assert "TensorFlow Lite" not in first.stderr and "absl" not in first.stderr, first.stderr
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "already seeded" in second.stdout
    # The same passwords both times: they were made once.
    logins = first.stdout.split("Demo logins")[1].split("public url:")[0]
    assert logins == second.stdout.split("Demo logins")[1]


def test_every_demo_treatment_keeps_the_dose_and_interval_rules(demo):
    """The seeded histories are ones a clinic could have signed: no cycle is sooner than
    its minimum interval or over a cumulative or session limit."""
    from touchup.core.rules import DraftInjection, DraftTreatment, PastTreatment, check_treatment

    signed = list(Treatment.objects.filter(clinic=demo, status="signed").prefetch_related("points")
                  .order_by("patient_id", "treated_on"))
    history: dict[int, list[PastTreatment]] = {}
    for t in signed:
        past = history.setdefault(t.patient_id, [])
        draft = DraftTreatment(t.treated_on, t.product, t.indication,
                               tuple(DraftInjection(p.site or None, p.area, float(p.units)) for p in t.points.all()),
                               doctor_signoff=True, protocol=t.protocol or None)
        blocks = [f.code for f in check_treatment(draft, history=past, today=t.treated_on) if f.severity == "block"]
        assert not blocks, (t.pk, t.indication, t.treated_on, blocks)
        by_area: dict[str, float] = {}
        for p in t.points.all():
            by_area[p.area] = by_area.get(p.area, 0.0) + float(p.units)
        past.append(PastTreatment(t.treated_on, t.product, t.indication, by_area))


def test_the_demo_relays_the_workers_errors_but_not_mediapipes_start_up_chatter(capsys):
    import io

    from touchup.commands.demo import _relay_stderr

    _relay_stderr(io.StringIO(
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "W0000 00:00:1795620661.176833   17677 inference_feedback_manager.cc:114] Feedback manager ...\n"
        "Traceback (most recent call last):\n"
        "ValueError: a real problem\n"
    ))
    assert capsys.readouterr().err == "Traceback (most recent call last):\nValueError: a real problem\n"



def _demo_with_its_workers(tmp_path):
    """A served demo and its worker processes (the worker, and on a machine with more than
    one CPU its helper: --processes), once they are all running."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TOUCHUP_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen([sys.executable, "-m", "touchup.cli", "demo", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wanted = min(2, len(os.sched_getaffinity(0)))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(_running_under(demo.pid)) < wanted:
        time.sleep(0.5)
    workers = _running_under(demo.pid)
    if len(workers) < wanted:
        demo.kill()
        pytest.fail("the demo started no worker (or the worker no helper)")
    return demo, workers


def _gone_within(pids: list[int], seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.5)
    return not any(_alive(pid) for pid in pids)


def test_stopping_the_demo_stops_its_worker_and_the_workers_helpers(tmp_path):
    """`kill` (SIGTERM) as well as Ctrl+C: no worker process outlives the demo."""
    import signal

    demo, workers = _demo_with_its_workers(tmp_path)
    try:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
        assert _gone_within(workers, 30), "a worker outlived the demo"
    finally:
        if demo.poll() is None:
            demo.kill()


def test_a_demo_killed_outright_leaves_no_worker_behind(tmp_path):
    """SIGKILL (or a crashed terminal) gives the demo no chance to stop its worker: the
    worker notices within one pass that the demo is gone, and leaves with its helpers."""
    demo, workers = _demo_with_its_workers(tmp_path)
    try:
        demo.kill()
        demo.wait(timeout=30)
        assert _gone_within(workers, 60), "a worker outlived a killed demo"
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, 9)


def _running_under(pid: int) -> list[int]:
    """The worker processes started by `pid` and by them (from /proc)."""
    from pathlib import Path

    found, parents = [], {pid}
    for _ in range(2):  # the worker, then its helpers
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmd = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            child = int(stat.parent.name)
            if int(fields[1]) in parents and b"worker" in cmd and child not in found:
                found.append(child)
        parents = set(found) | {pid}
    return found


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        return "State:\tZ" not in (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False


SLOW_TASK = '''
import time
from pathlib import Path

from django_tasks import task


@task()
def slow(marker: str, seconds: float) -> str:
    Path(marker + ".started").touch()
    time.sleep(seconds)
    Path(marker + ".done").touch()
    return "done"
'''

ENQUEUE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
import slowtask
slowtask.slow.enqueue(sys.argv[1], float(sys.argv[2]))
"""


def test_ctrl_c_in_the_terminal_lets_the_demos_worker_finish_the_task_in_hand(tmp_path):
    """Ctrl+C sends SIGINT to the terminal's whole process group. The worker used to get it
    too and then the demo's SIGTERM, a second signal, which makes it leave at once: the
    task in hand was cut short. Now the demo alone gets it and stops the worker once."""
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "slowtask.py").write_text(SLOW_TASK)
    env = {**os.environ, "TOUCHUP_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(mods)}
    env.pop("DATABASE_URL", None)
    env.pop("TOUCHUP_TASKS_REDIS_URL", None)
    # One CPU: the worker runs the task itself, with no helper (a helper has always been
    # stopped with one signal from its worker).
    cpu = min(os.sched_getaffinity(0))
    start = (f"import os, sys; os.sched_setaffinity(0, {{{cpu}}}); from touchup.cli import main; "
             f"sys.exit(main(['demo', '--port', '{port}']))")
    log = (tmp_path / "demo.err").open("w")
    # Its own process group, as a shell gives a foreground job: killpg is the terminal's Ctrl+C.
    demo = subprocess.Popen([sys.executable, "-c", start], env=env, stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True)
    marker = str(tmp_path / "slow")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _running_under(demo.pid):
            time.sleep(0.5)
        workers = _running_under(demo.pid)
        assert workers, "the demo started no worker"
        enqueue = subprocess.run([sys.executable, "-c", ENQUEUE, marker, "8"], env=env, capture_output=True,
                                 text=True, timeout=120)
        assert enqueue.returncode == 0, enqueue.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not os.path.exists(marker + ".started"):
            time.sleep(0.2)
        assert os.path.exists(marker + ".started"), "the worker did not take the task"
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl+C
        assert demo.wait(timeout=60) == 0
        assert os.path.exists(marker + ".done"), (tmp_path / "demo.err").read_text()[-3000:]
        assert not any(_alive(pid) for pid in workers), "a worker outlived the demo"
    finally:
        log.close()
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for pid in _running_under(demo.pid):
            os.kill(pid, signal.SIGKILL)


def test_the_demo_stops_its_worker_with_one_signal_and_a_hung_one_by_force():
    import signal
    import time

    from touchup.commands.demo import _stop_worker

    # A worker that takes a second over the task in hand, and would leave at once (exit 1)
    # on a second signal.
    graceful = subprocess.Popen([sys.executable, "-c", (
        "import signal, sys, time\n"
        "got = []\n"
        "def stop(signum, frame):\n"
        "    if got: sys.exit(1)\n"
        "    got.append(signum)\n"
        "signal.signal(signal.SIGTERM, stop); signal.signal(signal.SIGINT, stop)\n"
        "print('ready', flush=True)\n"
        "while not got: time.sleep(0.05)\n"
        "time.sleep(1.5); sys.exit(0)\n")], stdout=subprocess.PIPE, text=True)
    assert graceful.stdout.readline() == "ready\n"
    _stop_worker(graceful, grace=30)
    assert graceful.returncode == 0
    # One that never stops: killed once the grace is over.
    hung = subprocess.Popen([sys.executable, "-c", (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        "time.sleep(120)")], stdout=subprocess.PIPE, text=True)
    assert hung.stdout.readline() == "ready\n"
    began = time.monotonic()
    _stop_worker(hung, grace=2)
    assert hung.returncode == -signal.SIGKILL and time.monotonic() - began < 10


def test_patients_were_registered_before_their_first_visit_not_on_seeding_day(demo):
    """Every demo patient read 'Registered <today>' on their page, years of treatments below it."""
    from django.db.models import Min
    from django.utils import timezone

    today = timezone.localdate()
    patients = Patient.objects.filter(clinic=demo).annotate(
        first_treated=Min("treatments__treated_on"), first_screened=Min("screenings__recorded_at"))
    assert patients.count() > 30
    for p in patients:
        registered = timezone.localdate(p.created_at)
        assert registered < today, p
        assert p.created_at <= p.first_screened, p
        if p.first_treated is not None:
            assert registered < p.first_treated, p
    # Spread out as real registrations are, not one date for everybody.
    assert len({timezone.localdate(p.created_at) for p in patients}) > 20


def test_the_patient_page_reads_the_registration_date(demo, client):
    patient = Patient.objects.filter(clinic=demo, treatments__isnull=False).order_by("pk").first()
    password = {l["username"]: l["password"] for l in demo_logins()}["desk.sam"]
    assert client.login(username="desk.sam", password=password)
    html = client.get(reverse("patient", args=[patient.public_id])).content.decode()
    from django.utils import timezone

    day = timezone.localdate(patient.created_at)
    assert f"<dt>Registered</dt><dd>{day.day} {day:%b %Y}</dd>" in html
