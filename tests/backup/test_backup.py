"""`touchup backup` and `touchup restore`: real `touchup` processes on their own data
directory and database (an SQLite file, or throwaway PostgreSQL databases named
touchup_backup_<hex>), a clinic seeded through the services, backed up, checked, tampered
with, and restored into a fresh install, by the command and by the steps docs/backups.md
gives for doing it by hand."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.subprocess_seeds import SETUP

ROOT = Path(__file__).parents[2]

# The patient's name: nothing the command prints or writes beside the snapshot may hold it.
GIVEN, FAMILY = "Zelda", "Quillfeather"

SEED = SETUP + '''
import hashlib
from django.core.files.storage import default_storage
from tests.api.helpers import clean_answers, protocol_for
from tests.photos import images
from touchup.clinic.services.patients import patient_create
from touchup.clinic.services.photos import photo_upload
from touchup.clinic.services.screenings import screening_record
from touchup.clinic.services.treatments import treatment_sign, treatment_start
from touchup.clinic.services.vials import vial_receive, vial_reconstitute

clinic, doc = seed_clinic("Backup Clinic", "backup")
patient = patient_create(actor=doc, clinic=clinic, given_name=sys.argv[1], family_name=sys.argv[2],
                         birth_date=dt.date(1984, 3, 2), sex="female")
screening_record(actor=doc, patient=patient, indication="glabellar_lines", answers=clean_answers())
vial = vial_receive(actor=doc, clinic=clinic, product="onabotulinumtoxinA", lot="B4CKUP",
                    expiry=now.date() + dt.timedelta(days=300), units=100)
vial = vial_reconstitute(actor=doc, vial=vial, diluent_ml="2.5", at=now - dt.timedelta(hours=1))
treatment = treatment_sign(actor=doc, treatment=treatment_start(
    actor=doc, patient=patient, indication="glabellar_lines", product="onabotulinumtoxinA",
    protocol=protocol_for(), vial=vial))
photo = photo_upload(actor=doc, patient=patient, view="frown", consent_clinical=True, upload=images.jpeg())
with default_storage.open(photo.file.name, "rb") as fh:
    stored = fh.read()
print(json.dumps({"patient": str(patient.public_id), "treatment": str(treatment.public_id),
                  "photo": str(photo.public_id), "photo_file": photo.file.name,
                  "photo_sha256": hashlib.sha256(stored).hexdigest(),
                  "units": str(sum(p.units for p in treatment.points.all()))}))
'''

CHECK = SETUP + '''
import hashlib
from touchup.clinic.models import AuditEvent, Photo
from touchup.clinic.services.photos import photo_bytes
ids = json.loads(sys.argv[1])
patient = Patient.objects.get(public_id=ids["patient"])
treatment = Treatment.objects.get(public_id=ids["treatment"])
photo = Photo.objects.get(public_id=ids["photo"])
chain = audit.verify()
print(json.dumps({
    "name": [patient.given_name, patient.family_name],
    "treatment": [str(treatment.patient.public_id), treatment.status,
                  str(sum(p.units for p in treatment.points.all()))],
    "photo_sha256": hashlib.sha256(photo_bytes(photo)).hexdigest(),  # photo_bytes checks the row's hash too
    "audit": [chain.ok, chain.events, chain.problem],
    "backup_events": list(AuditEvent.objects.filter(action="backup.create").values_list(
        "patient_id_ref", "actor_id", "detail")),
    "restore_events": list(AuditEvent.objects.filter(action="backup.restore").values_list(
        "patient_id_ref", "actor_id", "detail")),
    "patients": Patient.objects.count(),
}))
'''

WRITER = SETUP + '''
import pathlib
from touchup.clinic.services.patients import patient_create
clinic, doc = seed_clinic("Busy Clinic", "busy")
stop, started = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[1] + ".started")
n = 0
# One patient and its audit event per transaction, as fast as the database takes them.
while not stop.exists() and n < 20000:
    patient_create(actor=doc, clinic=clinic, given_name="W", family_name=f"Writer{n}",
                   birth_date=dt.date(1990, 1, 1), sex="female")
    n += 1
    if n == 10:
        started.touch()
print(n)
'''


ERASED_MEANWHILE = SETUP + '''
import pathlib
from touchup.clinic import backup
from touchup.clinic.models import Photo
from touchup.clinic.services.photos import photo_remove
real, calls = backup._copy_photos, []


def erased_meanwhile(kept, *args):
    """The patient's erasure request is carried out between the snapshot and the copy."""
    if not calls:
        photo = Photo.objects.get(public_id=sys.argv[2])
        photo_remove(actor=photo.uploaded_by, photo=photo, reason="erasure_request")
    calls.append(len(kept))
    return real(kept, *args)


backup._copy_photos = erased_meanwhile
result = backup.create_backup(pathlib.Path(sys.argv[1]))
print(json.dumps({"path": str(result.path), "photos_kept_per_snapshot": calls}))
'''


def _postgres_base() -> str:
    base = os.environ.get("TOUCHUP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    try:
        import psycopg

        with psycopg.connect(f"{base}/postgres", connect_timeout=2) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: no server here
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable at {base} and CI=true: {exc}")
        pytest.skip("no PostgreSQL server reachable")
    return base


class Install:
    """One Touchup install for `touchup` processes: a data directory and its database."""

    def __init__(self, vendor: str, data_dir: Path, database_url: str | None = None):
        self.vendor, self.data_dir, self.database_url = vendor, data_dir, database_url
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "TOUCHUP_TASKS_REDIS_URL")}
        self.env.update(TOUCHUP_DATA_DIR=str(data_dir), PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def touchup(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "touchup.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def python(self, script: str, *args: str) -> str:
        done = subprocess.run([sys.executable, "-c", script, *args], env=self.env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def migrate(self) -> None:
        done = self.touchup("manage", "migrate", "--verbosity", "0")
        assert done.returncode == 0, done.stderr

    @property
    def database(self) -> str:
        """The PostgreSQL database's name."""
        assert self.database_url
        return self.database_url.rsplit("/", 1)[1]


class Installs:
    """Makes installs of one vendor; drops the PostgreSQL databases it created."""

    def __init__(self, vendor: str, root: Path):
        self.vendor, self.root, self.databases = vendor, root, []
        self.base = _postgres_base() if vendor == "postgresql" else None

    def new(self, label: str) -> Install:
        data_dir = self.root / label
        if self.vendor == "sqlite":
            return Install("sqlite", data_dir)
        import psycopg

        name = f"touchup_backup_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return Install("postgresql", data_dir, f"{self.base}/{name}")

    def beside(self, name: str) -> list[str]:
        """The databases a restore into `name` made beside it (`<name>_restoring_<hex>`,
        `<name>_replaced_<time>`)."""
        import psycopg

        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            return [row[0] for row in conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY datname", (f"{name}_",))]

    def drop(self) -> None:
        if not self.databases:
            return
        import psycopg

        names = [beside for name in self.databases for beside in self.beside(name)] + self.databases
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def installs(request, tmp_path):
    made = Installs(request.param, tmp_path)
    try:
        yield made
    finally:
        made.drop()


def _backup(install: Install, dest: Path) -> Path:
    before = set(dest.iterdir())
    done = install.touchup("backup", str(dest))
    assert done.returncode == 0, done.stderr
    for text in (done.stdout, done.stderr):
        assert GIVEN not in text and FAMILY not in text
    [made] = set(dest.iterdir()) - before
    assert done.stdout.startswith(f"backup written: {made}\n")
    return made


def _databases_like(installs: Installs, install: Install) -> list[str]:
    return installs.beside(install.database)


def _verify(install: Install, backup: Path) -> subprocess.CompletedProcess:
    return install.touchup("backup", "--verify", str(backup))


def _restore_by_hand(backup: Path, install: Install) -> None:
    """docs/backups.md "Restoring by hand", on a fresh install (the web server and worker are stopped)."""
    manifest = json.loads((backup / "manifest.json").read_text())
    install.data_dir.mkdir(parents=True)
    if install.vendor == "sqlite":
        target = install.data_dir / "touchup.sqlite3"
        shutil.copyfile(backup / "database.sqlite3", target)
        target.chmod(0o600)
    else:
        # Into the new, empty database: pg_restore --no-owner --exit-on-error.
        from touchup.clinic.backup import libpq_env

        import dj_database_url

        settings = dj_database_url.parse(install.database_url)
        done = subprocess.run(
            ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--no-password",
             f"--dbname={settings['NAME']}", str(backup / "database.pgdump")],
            env=libpq_env(settings), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert manifest["database"]["vendor"] == install.vendor
    shutil.copytree(backup / "media", install.data_dir / "media", dirs_exist_ok=True)
    install.migrate()


def test_a_backup_of_a_seeded_clinic_verifies_and_restores_into_a_fresh_install(installs, tmp_path):
    live = installs.new("live")
    live.migrate()
    ids = json.loads(live.python(SEED, GIVEN, FAMILY))
    dest = tmp_path / "backups"
    dest.mkdir(mode=0o700)

    backup = _backup(live, dest)

    # The folder: database, photo, manifest; private to the user that runs Touchup.
    manifest = json.loads((backup / "manifest.json").read_text())
    snapshot = "database.sqlite3" if live.vendor == "sqlite" else "database.pgdump"
    photo_rel = f"media/{ids['photo_file']}"
    assert set(manifest["files"]) == {snapshot, photo_rel}
    assert manifest["files"][photo_rel]["sha256"] == ids["photo_sha256"]
    assert manifest["database"]["vendor"] == live.vendor
    assert manifest["created_at"].endswith("Z") and manifest["touchup_version"]
    assert manifest["counts"]["patients"] == 1 and manifest["counts"]["treatments_signed"] == 1
    assert manifest["counts"]["photos_kept"] == 1 and manifest["photo_problems"] == []
    assert manifest["audit_head"]["id"] == manifest["counts"]["audit_events"] > 0
    assert manifest["migrations"]["clinic"].startswith("00")
    assert GIVEN not in (backup / "manifest.json").read_text()
    for path in [backup, *backup.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # no partial folder left

    checked = _verify(live, backup)
    assert checked.returncode == 0, checked.stderr
    assert f"backup OK: {backup}" in checked.stdout
    assert f"audit trail intact: {manifest['counts']['audit_events']} events" in checked.stdout
    assert "1 kept photos, each with its file" in checked.stdout

    # The backup itself is audited on the live install: no patient, no actor, ids only.
    [(patient_ref, actor, detail)] = json.loads(live.python(CHECK, json.dumps(ids)))["backup_events"]
    assert patient_ref is None and actor is None
    assert detail["backup"] == backup.name and detail["photos"] == 1

    # `touchup restore` into a fresh install: no database yet (SQLite: not even the data
    # directory; PostgreSQL: the empty database DATABASE_URL names).
    fresh = installs.new("restored")
    started = time.monotonic()
    done = fresh.touchup("restore", str(backup))
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    print(f"\ntouchup restore ({fresh.vendor}): {seconds:.2f} s wall; {done.stdout.splitlines()[-2].strip()}")
    assert done.stdout.startswith(f"restored: {backup} (taken {manifest['created_at']}, Touchup ")
    assert "photos: 1 written, 0 already in storage; no migrations to apply" in done.stdout
    assert f"audit trail intact: {manifest['counts']['audit_events'] + 1} events" in done.stdout
    assert "kept as" not in done.stdout and done.stderr == ""
    assert GIVEN not in done.stdout + done.stderr and FAMILY not in done.stdout + done.stderr
    restored = json.loads(fresh.python(CHECK, json.dumps(ids)))
    assert restored["name"] == [GIVEN, FAMILY]
    assert restored["treatment"] == [ids["patient"], "signed", ids["units"]]
    assert restored["photo_sha256"] == ids["photo_sha256"]
    assert restored["audit"] == [True, manifest["counts"]["audit_events"] + 1, ""]
    assert restored["backup_events"] == []  # recorded after its own snapshot
    # The restore itself is audited in the restored trail, as a backup is: no patient, no actor.
    [(patient_ref, actor, detail)] = restored["restore_events"]
    assert patient_ref is None and actor is None
    assert detail["backup"] == backup.name and detail["database"] == fresh.vendor
    assert detail["photos_written"] == 1 and detail["migrations_applied"] == 0 and detail["replaced"] is False
    assert detail["audit_head_id"] == manifest["audit_head"]["id"]
    assert fresh.touchup("audit", "verify").returncode == 0
    if fresh.vendor == "sqlite":
        database = fresh.data_dir / "touchup.sqlite3"
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
        assert sorted(p.name for p in fresh.data_dir.iterdir()) == ["media", "secret_key", "touchup.sqlite3"]
    else:
        assert _databases_like(installs, fresh) == []  # no database left beside it

    # By hand, as docs/backups.md describes it for when the command cannot be used.
    by_hand = installs.new("by-hand")
    _restore_by_hand(backup, by_hand)
    restored = json.loads(by_hand.python(CHECK, json.dumps(ids)))
    assert restored["name"] == [GIVEN, FAMILY]
    assert restored["treatment"] == [ids["patient"], "signed", ids["units"]]
    assert restored["photo_sha256"] == ids["photo_sha256"]
    assert restored["audit"] == [True, manifest["counts"]["audit_events"], ""]
    assert by_hand.touchup("audit", "verify").returncode == 0


def test_a_backup_taken_while_another_process_writes_is_consistent(installs, tmp_path):
    live = installs.new("live")
    live.migrate()
    dest = tmp_path / "backups"
    dest.mkdir()
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(stop)], env=live.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not Path(f"{stop}.started").exists():
            assert writer.poll() is None, writer.communicate()[1]
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.05)
        backups = [_backup(live, dest), _backup(live, dest)]
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    written = int(out)

    seen = []
    for taken_before, backup in enumerate(backups):
        checked = _verify(live, backup)
        assert checked.returncode == 0, checked.stderr
        assert "audit trail intact" in checked.stdout
        counts = json.loads((backup / "manifest.json").read_text())["counts"]
        # Each patient and its audit event commit together: a consistent snapshot holds both
        # or neither (plus the clinic's seed event and the events of the earlier backups).
        assert counts["audit_events"] == 1 + counts["patients"] + taken_before
        seen.append(counts["patients"])
    # The writer was busy before, between and after the two snapshots.
    assert 10 <= seen[0] < seen[1] < written


def test_a_photo_erased_during_the_backup_is_not_in_it(installs, tmp_path):
    """Its row was kept in the first snapshot, its file gone by the time it was copied: the
    snapshot is taken again, and the backup has neither the file nor a row needing it."""
    live = installs.new("live")
    live.migrate()
    ids = json.loads(live.python(SEED, GIVEN, FAMILY))
    dest = tmp_path / "backups"
    dest.mkdir()

    made = json.loads(live.python(ERASED_MEANWHILE, str(dest), ids["photo"]))
    assert made["photos_kept_per_snapshot"] == [1, 0]
    backup = Path(made["path"])
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["snapshot_attempts"] == 2 and manifest["photo_problems"] == []
    assert manifest["counts"]["photos_kept"] == 0 and manifest["counts"]["photos_removed"] == 1
    assert not (backup / "media").exists() or not any((backup / "media").rglob("*.jpg"))
    checked = _verify(live, backup)
    assert checked.returncode == 0, checked.stderr


# --- touchup restore: replacing, and failing midway ---------------------------------------------

# The last maintenance migration before the one that creates the WorkerHeartbeat table.
ROLLED_BACK = ("maintenance", "0006_calibration_fit_request")

CONFLICT = SETUP + '''
from django.db import connection
with connection.cursor() as cur:
    # The table the next migration creates, there already: migrating a restore of this fails.
    cur.execute("CREATE TABLE maintenance_workerheartbeat (worker_id varchar(64))")
'''


def _state(install: Install, ids: dict) -> tuple[dict, dict[str, str]]:
    """What a refused or failed restore must leave as it was: the clinic as CHECK reads it,
    and every file of the data directory (the SQLite file, the stored photos) by SHA-256."""
    files = {
        str(p.relative_to(install.data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(install.data_dir.rglob("*")) if p.is_file()
    }
    return json.loads(install.python(CHECK, json.dumps(ids))), files


def test_restore_replaces_data_only_when_asked_and_a_failure_midway_leaves_it_as_it_was(installs, tmp_path):
    live = installs.new("live")
    live.migrate()
    ids = json.loads(live.python(SEED, GIVEN, FAMILY))
    # A backup of an older schema (one migration behind the code), and one whose migration fails.
    done = live.touchup("manage", "migrate", *ROLLED_BACK, "--verbosity", "0")
    assert done.returncode == 0, done.stderr
    dest = tmp_path / "backups"
    dest.mkdir()
    older = _backup(live, dest)
    manifest = json.loads((older / "manifest.json").read_text())
    assert manifest["migrations"]["maintenance"] == ROLLED_BACK[1]
    live.python(CONFLICT)
    broken = _backup(live, dest)

    # Another clinic's install, with its own patient and photo.
    target = installs.new("target")
    target.migrate()
    own = json.loads(target.python(SEED, "Other", "Person"))
    before = _state(target, own)
    assert before[0]["name"] == ["Other", "Person"] and before[0]["patients"] == 1

    refused = target.touchup("restore", str(older))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "already holds data (1 clinics, 1 users, 1 patients, 1 screenings, 1 treatments, 1 photos, " \
        in refused.stderr
    assert "run again with --replace" in refused.stderr
    assert refused.stderr.rstrip().endswith("nothing was changed") and refused.stdout == ""
    assert GIVEN not in refused.stderr and "Other" not in refused.stderr
    assert _state(target, own) == before

    # Migrating fails once the database is restored beside the live one and the backup's
    # photo is in storage: both are removed again, and the live data is as it was.
    failed = target.touchup("restore", "--replace", str(broken))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "touchup restore: FAILED: migrating the restored database failed: " in failed.stderr
    assert "maintenance_workerheartbeat\" already exists" in failed.stderr
    assert failed.stderr.rstrip().endswith("the live data was not changed")
    assert "Traceback" not in failed.stderr.split("FAILED:")[0]
    assert _state(target, own) == before
    if target.vendor == "postgresql":
        assert _databases_like(installs, target) == []

    # With --replace: restored, migrated, audited; the replaced database kept beside it.
    done = target.touchup("restore", "--replace", str(older))
    assert done.returncode == 0, done.stderr
    behind = len([m for m in (ROOT / "src/touchup/maintenance/migrations").glob("0*.py") if m.stem > ROLLED_BACK[1]])
    assert f"photos: 1 written, 0 already in storage; {behind} migration{'' if behind == 1 else 's'} applied" \
        in done.stdout
    assert "1 patients, 1 treatments (1 signed), 1 photos kept" in done.stdout
    aside = re.search(r"\(1 clinics, .*\) is kept as (\S+): delete it", done.stdout).group(1)
    restored = json.loads(target.python(CHECK, json.dumps(ids)))
    assert restored["name"] == [GIVEN, FAMILY] and restored["patients"] == 1
    assert restored["treatment"] == [ids["patient"], "signed", ids["units"]]
    assert restored["photo_sha256"] == ids["photo_sha256"]
    assert restored["audit"] == [True, manifest["counts"]["audit_events"] + 1, ""]
    [(_patient, _actor, detail)] = restored["restore_events"]
    assert detail["migrations_applied"] == behind and detail["replaced"] is True and detail["backup"] == older.name
    assert target.touchup("manage", "migrate", "--check").returncode == 0  # nothing left to apply

    # The replaced database is whole where the output says, and its photo is still stored.
    if target.vendor == "sqlite":
        assert Path(aside).parent == target.data_dir and Path(aside).name.startswith("touchup.sqlite3.replaced-")
        kept = Install("sqlite", target.data_dir, f"sqlite:///{aside}")
    else:
        assert _databases_like(installs, target) == [aside]
        kept = Install("postgresql", target.data_dir, f"{installs.base}/{aside}")
    assert json.loads(kept.python(CHECK, json.dumps(own))) == before[0]


# --- bad input ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded_backup(request, tmp_path_factory):
    """One backup of a seeded clinic per vendor, for the tests to copy and damage."""
    made = Installs(request.param, tmp_path_factory.mktemp(f"seeded-{request.param}"))
    try:
        live = made.new("live")
        live.migrate()
        ids = json.loads(live.python(SEED, GIVEN, FAMILY))
        dest = made.root / "backups"
        dest.mkdir()
        yield live, _backup(live, dest), ids
    finally:
        made.drop()


def _copy(backup: Path, tmp_path: Path) -> Path:
    copy = tmp_path / backup.name
    shutil.copytree(backup, copy)
    return copy


def _tampered_photo_copy(backup: Path, ids: dict, tmp_path: Path) -> Path:
    """A copy of the backup with one bit of its photo flipped (the manifest unchanged)."""
    copy = _copy(backup, tmp_path)
    photo = copy / "media" / ids["photo_file"]
    data = bytearray(photo.read_bytes())
    data[len(data) // 2] ^= 0x01
    photo.write_bytes(bytes(data))
    return copy


def test_verify_names_a_tampered_photo(seeded_backup, tmp_path):
    live, backup, ids = seeded_backup
    copy = _tampered_photo_copy(backup, ids, tmp_path)

    checked = _verify(live, copy)
    assert checked.returncode == 1
    assert f"media/{ids['photo_file']}: its SHA-256 does not match the manifest (altered)" in checked.stderr
    assert f"photo {ids['photo']}: media/{ids['photo_file']} is not the file its row was stored with" in checked.stderr
    assert f"backup NOT OK: {copy}" in checked.stderr
    assert GIVEN not in checked.stdout + checked.stderr


def test_verify_names_a_missing_photo_and_an_extra_file(seeded_backup, tmp_path):
    live, backup, ids = seeded_backup
    copy = _copy(backup, tmp_path)
    (copy / "media" / ids["photo_file"]).unlink()
    (copy / "notes.txt").write_text("not from the backup")

    checked = _verify(live, copy)
    assert checked.returncode == 1
    assert f"media/{ids['photo_file']}: missing" in checked.stderr
    assert "notes.txt: not in the manifest" in checked.stderr


def test_verify_refuses_a_truncated_snapshot(seeded_backup, tmp_path):
    live, backup, _ids = seeded_backup
    copy = _copy(backup, tmp_path)
    snapshot = next(copy.glob("database.*"))
    size = snapshot.stat().st_size
    with open(snapshot, "r+b") as fh:
        fh.truncate(size // 2)

    checked = _verify(live, copy)
    assert checked.returncode == 1
    assert f"{snapshot.name}: {size // 2} bytes, the manifest says {size} (truncated or altered)" in checked.stderr

    # Truncated before the manifest was written (its hashes then describe the damaged
    # file): the database check itself finds it.
    from touchup.clinic.backup import sha256_file

    manifest = json.loads((copy / "manifest.json").read_text())
    sha, size = sha256_file(snapshot)
    manifest["files"][snapshot.name] = {"sha256": sha, "bytes": size}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    checked = _verify(live, copy)
    assert checked.returncode == 1
    if live.vendor == "sqlite":
        assert "database.sqlite3: integrity check failed" in checked.stderr or \
            "database.sqlite3: not a readable SQLite database" in checked.stderr, checked.stderr
    else:
        assert "database.pgdump: pg_restore failed" in checked.stderr, checked.stderr


def test_a_folder_without_its_manifest_is_not_a_backup(seeded_backup, tmp_path):
    """What an interrupted backup leaves (under its .partial name) never verifies."""
    live, backup, _ids = seeded_backup
    copy = _copy(backup, tmp_path)
    (copy / "manifest.json").unlink()
    checked = _verify(live, copy)
    assert checked.returncode == 1
    assert "manifest.json is missing: not a complete backup" in checked.stderr


def test_a_postgresql_backup_is_not_checked_without_a_postgresql_server(seeded_backup, tmp_path):
    live, backup, _ids = seeded_backup
    if live.vendor != "postgresql":
        pytest.skip("a PostgreSQL backup")
    checked = Install("sqlite", tmp_path / "var").touchup("backup", "--verify", str(backup))
    assert checked.returncode == 2
    assert "this is a PostgreSQL backup" in checked.stderr


def test_backup_refuses_a_destination_it_cannot_use(tmp_path):
    install = Install("sqlite", tmp_path / "var")
    install.migrate()

    missing = install.touchup("backup", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert f"destination {tmp_path / 'nowhere'} does not exist" in missing.stderr

    a_file = tmp_path / "file"
    a_file.write_text("")
    assert install.touchup("backup", str(a_file)).returncode == 2

    neither = install.touchup("backup")
    assert neither.returncode == 2 and "give DEST_DIR" in neither.stderr
    both = install.touchup("backup", str(tmp_path), "--verify", str(tmp_path))
    assert both.returncode == 2

    assert install.touchup("backup", "--verify", str(tmp_path / "nowhere")).returncode == 2

    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        refused = install.touchup("backup", str(locked))
        assert refused.returncode == 2 and "is not writable by this user" in refused.stderr


def test_backup_refuses_when_the_disk_is_obviously_too_small(tmp_path):
    install = Install("sqlite", tmp_path / "var")
    install.migrate()
    dest = tmp_path / "backups"
    dest.mkdir()
    # `touchup backup` with the disk reporting 100 KB free: less than the database alone.
    script = ("import shutil, sys\n"
              "shutil.disk_usage = lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**5, 10**5)\n"
              "from touchup.cli import main\n"
              "sys.exit(main(['backup', sys.argv[1]]))\n")
    done = subprocess.run([sys.executable, "-c", script, str(dest)], env=install.env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert f"not enough free space in {dest}: the database needs about" in done.stderr
    assert list(dest.iterdir()) == []


# --- touchup restore: refusals -----------------------------------------------------------------


def test_restore_refuses_a_damaged_backup_and_changes_nothing(seeded_backup, tmp_path):
    live, backup, ids = seeded_backup
    copy = _tampered_photo_copy(backup, ids, tmp_path)
    before = _state(live, ids)

    done = live.touchup("restore", "--replace", str(copy))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"  PROBLEM: media/{ids['photo_file']}: its SHA-256 does not match the manifest (altered)\n" in done.stderr
    assert "touchup restore: the backup is damaged; nothing was changed" in done.stderr
    assert done.stdout == "" and GIVEN not in done.stderr
    assert _state(live, ids) == before

    # A snapshot damaged before its manifest was written (the hashes agree): the database's
    # own check refuses it (PostgreSQL: in the database restored beside the live one, dropped).
    (tmp_path / "2").mkdir()
    copy = _copy(backup, tmp_path / "2")
    snapshot = next(copy.glob("database.*"))
    with open(snapshot, "r+b") as fh:
        fh.truncate(snapshot.stat().st_size // 2)
    from touchup.clinic.backup import sha256_file

    manifest = json.loads((copy / "manifest.json").read_text())
    sha, size = sha256_file(snapshot)
    manifest["files"][snapshot.name] = {"sha256": sha, "bytes": size}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    done = live.touchup("restore", "--replace", str(copy))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "touchup restore: the backup is damaged; nothing was changed" in done.stderr
    if live.vendor == "sqlite":
        assert "PROBLEM: database.sqlite3: integrity check failed" in done.stderr or \
            "PROBLEM: database.sqlite3: not a readable SQLite database" in done.stderr, done.stderr
    else:
        assert "PROBLEM: database.pgdump: pg_restore failed" in done.stderr, done.stderr
        assert Installs("postgresql", tmp_path).beside(live.database) == []
    assert _state(live, ids) == before


def test_restore_refuses_another_engine_a_newer_schema_and_a_database_in_use(seeded_backup, tmp_path):
    live, backup, ids = seeded_backup
    if live.vendor == "postgresql":
        other = Install("sqlite", tmp_path / "var")
        expected = "this is a PostgreSQL backup and the configured database is SQLite"
    else:  # refused before any connection: the database need not exist
        other = Install("postgresql", tmp_path / "var", "postgres://postgres@127.0.0.1:5432/touchup_backup_none")
        expected = "this is a SQLite backup and the configured database is PostgreSQL"
    done = other.touchup("restore", str(backup))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"touchup restore: {expected}: a restore goes into the same database engine only" in done.stderr
    assert not (tmp_path / "var" / "touchup.sqlite3").exists()

    missing = live.touchup("restore", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and f"touchup restore: {tmp_path / 'nowhere'} does not exist" in missing.stderr
    assert live.touchup("restore").returncode == 2  # argparse: BACKUP_DIR is required

    newer = _copy(backup, tmp_path)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["migrations"]["clinic"] = "0999_from_the_future"
    (newer / "manifest.json").write_text(json.dumps(manifest))
    done = live.touchup("restore", "--replace", str(newer))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the backup was made by a newer Touchup" in done.stderr
    assert "does not know (clinic.0999_from_the_future)" in done.stderr

    # The web server or the worker still connected: refused, even with --replace.
    before = _state(live, ids)
    if live.vendor == "sqlite":
        open_elsewhere = sqlite3.connect(live.data_dir / "touchup.sqlite3")
        open_elsewhere.execute("PRAGMA journal_mode=WAL")
        open_elsewhere.execute("SELECT count(*) FROM clinic_patient").fetchone()
        expected = "touchup.sqlite3 is in use (the web server or the worker still has it open): stop them"
    else:
        import psycopg

        open_elsewhere = psycopg.connect(live.database_url)
        expected = f"1 other sessions are connected to database {live.database}"
    try:
        done = live.touchup("restore", "--replace", str(backup))
    finally:
        open_elsewhere.close()
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr and "nothing was changed" in done.stderr
    assert _state(live, ids) == before
