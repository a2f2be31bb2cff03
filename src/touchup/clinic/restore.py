"""Restoring a backup: `touchup restore BACKUP_DIR [--replace]` (docs/backups.md "Restore").

Nothing live is touched until everything that can be checked has been: the backup is
checked as `touchup backup --verify` checks it (every file against the manifest's SHA-256,
the database's integrity, its audit chain, counts and photo files), its database engine
must be the configured one and its schema no newer than this code, a database that
already holds data is replaced only with --replace, and no other process may have the
database open.

The database is restored beside the live one (SQLite: a copy of the snapshot in the same
folder; PostgreSQL: a new database on the same server, filled by pg_restore), the photos
it keeps are written into the configured storage under their own names (a file already
there with the same SHA-256 is left as it is; none is overwritten or deleted), the new
database is migrated in a separate process, its audit chain verified and the
`backup.restore` event appended to it. Only then is it put in place, in one step: SQLite,
a rename over the live file; PostgreSQL, two ALTER DATABASE ... RENAME in one
transaction. A failure or a stop before that step drops the new database and deletes the
photo files this run wrote: the live data is as it was. A replaced database that held
data is kept beside the new one for the operator to delete.

Nothing printed or recorded names a patient; only counts.
"""

from __future__ import annotations

import copy
import datetime as dt
import errno
import fcntl
import hashlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backup import (
    CHUNK,
    MEDIA,
    PG_RESTORE_OPTIONS,
    BackupFailed,
    BackupRefused,
    VerifyReport,
    _check_contents,
    _check_space,
    _database,
    _fsync_path,
    _new_private_file,
    _touchup_version,
    _verify_sqlite,
    _write_all,
    check_backup_files,
    database_facts,
    human_bytes,
    libpq_env,
    postgres_tool,
    read_manifest,
)

NOTHING_CHANGED = "nothing was changed"
LIVE_UNCHANGED = "the live data was not changed"

# Tables whose rows make a database "hold data" (what --replace must be asked for).
HOLDS = (
    ("clinics", "clinic.Clinic"),
    ("users", None),  # settings.AUTH_USER_MODEL
    ("patients", "clinic.Patient"),
    ("screenings", "clinic.Screening"),
    ("treatments", "clinic.Treatment"),
    ("observations", "clinic.Observation"),
    ("photos", "clinic.Photo"),
    ("appointments", "maintenance.Appointment"),
    ("reminders", "maintenance.Reminder"),
    ("audit events", "clinic.AuditEvent"),
)

# Run in a separate process: the migrations' own code writes through the default
# database, which there is the restored one (sys.argv[1]), never the live one.
MIGRATE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchup.settings")
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
"""


class RestoreRefused(BackupRefused):
    """Nothing was changed: the backup, the target or the environment is the problem
    (exit 2). `problems`: what a damaged backup's check found, one line each."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class RestoreFailed(BackupFailed):
    """The restore could not be completed (exit 1); the message says whether the live data
    was changed."""


@dataclass
class RestoreResult:
    backup: Path
    manifest: dict[str, Any]
    vendor: str
    target: str                     # the SQLite file or the PostgreSQL database restored into
    replaced: dict[str, int]        # what the replaced database held (empty: it held nothing)
    kept_aside: str | None          # where the replaced database is kept, when it held data
    photos_written: int
    photos_present: int
    migrations_applied: int
    audit_events: int
    counts: dict[str, int]
    seconds: float
    notes: list[str] = field(default_factory=list)


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _holds(alias: str) -> dict[str, int]:
    """The non-zero row counts of HOLDS in `alias` (tables not there count as empty)."""
    from django.apps import apps
    from django.conf import settings
    from django.db import connections

    conn = connections[alias]
    tables = set(conn.introspection.table_names())
    found = {}
    for key, model in HOLDS:
        table = apps.get_model(model or settings.AUTH_USER_MODEL)._meta.db_table
        if table not in tables:
            continue
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")
            n = cur.fetchone()[0]
        if n:
            found[key] = n
    return found


def _check_schema(manifest: dict[str, Any]) -> None:
    """Refuse a backup whose database has migrations this code does not know."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    unknown = [f"{app}.{name}" for app, name in sorted((manifest.get("migrations") or {}).items())
               if app in loader.migrated_apps and (app, name) not in loader.disk_migrations]
    if unknown:
        raise RestoreRefused(
            f"the backup was made by a newer Touchup ({manifest.get('touchup_version')}; this is "
            f"{_touchup_version()}): its database has migrations this version does not know "
            f"({', '.join(unknown)}). Install that version or a newer one, then restore; {NOTHING_CHANGED}")


# --- the target database --------------------------------------------------------------------


class _SqliteTarget:
    """The live SQLite file. The backup is copied beside it (same folder, so the final
    rename is atomic) and renamed over it at the end."""

    vendor = "sqlite"

    def __init__(self, settings_dict: dict[str, Any]):
        name = str(settings_dict["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RestoreRefused(f"the database is in memory: there is nowhere to restore to; {NOTHING_CHANGED}")
        self.path = Path(name)
        self.staged: Path | None = None

    @property
    def label(self) -> str:
        return str(self.path)

    def holds(self) -> dict[str, int]:
        if not self.path.exists():
            return {}
        from django.db import DatabaseError

        try:
            # Read-write, as the app opens it, though only read: a read-only connection
            # cannot remove the -wal and -shm files a WAL database gets when it is opened.
            with _database(self._settings(self.path)) as alias:
                return _holds(alias)
        except DatabaseError as exc:
            raise RestoreRefused(f"{self.path} is not a readable SQLite database ({exc}): move it away "
                                 f"first; {NOTHING_CHANGED}") from exc

    def _open_elsewhere(self) -> bool:
        """Whether another process has the live (WAL) database open, without writing to it:
        every open connection holds a shared lock on the -shm file's DMS byte (byte 128, SQLite's
        unix VFS), which is how SQLite itself tells whether it is the only one."""
        try:
            fd = os.open(self.path.with_name(self.path.name + "-shm"), os.O_RDWR)
        except FileNotFoundError:
            return False  # closed by every connection (a WAL database's -shm goes with the last)
        except OSError:
            return False  # cannot tell here; leaving WAL mode before the swap tells
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
        except OSError:
            return True
        else:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, 128)
            return False
        finally:
            os.close(fd)

    def check_not_in_use(self, *, settle: bool = False) -> None:
        """No other process may have the live file open. With `settle` (just before the swap)
        the file also leaves WAL mode, which SQLite allows the only connection alone, and which
        checkpoints the WAL into it: nothing beside the file belongs to the old database."""
        if not self.path.exists():
            return
        in_use = self._open_elsewhere()
        if not in_use and settle:
            try:
                con = sqlite3.connect(self.path, timeout=2)
                try:
                    in_use = con.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete"
                finally:
                    con.close()
            except sqlite3.OperationalError:
                in_use = True
            for suffix in ("-wal", "-shm", "-journal"):
                in_use = in_use or self.path.with_name(self.path.name + suffix).exists()
        if in_use:
            raise RestoreRefused(f"{self.path} is in use (the web server or the worker still has it open): stop "
                                 f"them, then restore; {NOTHING_CHANGED}")

    def stage(self, db_file: Path, sha256: str, manifest: dict[str, Any], actual: dict[str, str],
              report: VerifyReport) -> dict[str, Any]:
        """Copy the snapshot beside the live file; the settings of an alias for the copy."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.staged = self.path.with_name(f".{self.path.name}.restoring-{secrets.token_hex(4)}")
        digest = hashlib.sha256()
        fd = _new_private_file(self.staged)
        try:
            with open(db_file, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    _write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        if digest.hexdigest() != sha256:
            raise RestoreFailed(f"{db_file.name} changed after it was checked; {LIVE_UNCHANGED}")
        return self.staged_settings()

    @staticmethod
    def _settings(path: Path) -> dict[str, Any]:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {}}

    def staged_settings(self) -> dict[str, Any]:
        return self._settings(self.staged)

    @property
    def staged_name(self) -> str:
        return str(self.staged)

    def discard(self) -> None:
        if self.staged is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                self.staged.with_name(self.staged.name + suffix).unlink(missing_ok=True)
            self.staged = None

    def swap(self, keep_old: bool) -> str | None:
        assert self.staged is not None
        self.check_not_in_use(settle=True)
        for suffix in ("-journal", "-wal"):
            if self.staged.with_name(self.staged.name + suffix).exists():
                raise RestoreFailed(f"the restored database was not closed cleanly; {LIVE_UNCHANGED}")
        aside = None
        if keep_old and self.path.exists():
            aside = self.path.with_name(f"{self.path.name}.replaced-{_stamp()}")
            # A second name for the old file: until the rename below, the live name still
            # holds the old database, and afterwards the old one is still there.
            try:
                os.link(self.path, aside)
            except OSError:  # a file system without hard links
                shutil.copy2(self.path, aside)
        os.rename(self.staged, self.path)  # the restored database is live from this instant
        self.staged = None
        _fsync_path(self.path.parent)
        return str(aside) if aside else None


class _PostgresTarget:
    """The live PostgreSQL database. The backup is restored into a new database on the
    same server, which takes the live one's name at the end."""

    vendor = "postgresql"

    def __init__(self, settings_dict: dict[str, Any]):
        self.settings_dict = settings_dict
        self.name = str(settings_dict["NAME"])
        self.pg_restore, self.createdb, self.dropdb = (postgres_tool(t) for t in ("pg_restore", "createdb", "dropdb"))
        self.staged: str | None = None

    @property
    def label(self) -> str:
        return f"database {self.name}"

    @contextmanager
    def _maintenance(self) -> Iterator[str]:
        """An alias on the server's maintenance database (renames and activity are seen
        from outside the databases concerned)."""
        from django.db import OperationalError, connections

        last: Exception | None = None
        for dbname in ("postgres", "template1"):
            settings = copy.deepcopy(self.settings_dict)
            settings.update(NAME=dbname, CONN_MAX_AGE=0)
            with _database(settings) as alias:
                try:
                    connections[alias].ensure_connection()
                except OperationalError as exc:
                    last = exc
                    continue
                yield alias
                return
        raise RestoreRefused(f"could not connect to the server's maintenance database (postgres or template1): "
                             f"{last}; {NOTHING_CHANGED}")

    def _exists(self, alias: str, name: str) -> bool:
        from django.db import connections

        with connections[alias].cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cur.fetchone() is not None

    def holds(self) -> dict[str, int]:
        from django.db import connections

        with self._maintenance() as alias:
            if not self._exists(alias, self.name):
                return {}
        try:
            return _holds("default")
        finally:
            connections["default"].close()

    def check_not_in_use(self) -> None:
        from django.db import connections

        connections["default"].close()
        with self._maintenance() as alias, connections[alias].cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        [self.name])
            others = cur.fetchone()[0]
        if others:
            raise RestoreRefused(f"{others} other sessions are connected to database {self.name} (the web server, "
                                 f"the worker, a psql?): stop them, then restore; {NOTHING_CHANGED}")

    def stage(self, db_file: Path, sha256: str, manifest: dict[str, Any], actual: dict[str, str],
              report: VerifyReport) -> dict[str, Any]:
        """Restore the dump into a new database and check it as --verify does."""
        self.staged = f"{self.name[:36]}_restoring_{secrets.token_hex(4)}"
        env = libpq_env(self.settings_dict, dbname=self.staged)
        made = subprocess.run([self.createdb, "--no-password", self.staged], env=env, capture_output=True, text=True)
        if made.returncode != 0:
            self.staged = None
            raise RestoreRefused(f"could not create the database to restore into: {made.stderr.strip()} (the user "
                                 f"in DATABASE_URL needs CREATEDB); {NOTHING_CHANGED}")
        restored = subprocess.run([self.pg_restore, *PG_RESTORE_OPTIONS, f"--dbname={self.staged}", str(db_file)],
                                  env=env, capture_output=True, text=True)
        if restored.returncode != 0:
            raise RestoreRefused(f"the backup is damaged; {NOTHING_CHANGED}",
                                 [f"{db_file.name}: pg_restore failed: {restored.stderr.strip()[-800:]}"])
        with _database(self.staged_settings()) as alias:
            _check_contents(alias, manifest, actual, report)
        if report.problems:
            raise RestoreRefused(f"the backup is damaged; {NOTHING_CHANGED}", report.problems)
        return self.staged_settings()

    def staged_settings(self) -> dict[str, Any]:
        settings = copy.deepcopy(self.settings_dict)
        settings.update(NAME=self.staged, CONN_MAX_AGE=0)
        return settings

    @property
    def staged_name(self) -> str:
        return str(self.staged)

    def _drop(self, name: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.dropdb, "--no-password", "--if-exists", "--force", name],
                              env=libpq_env(self.settings_dict, dbname=name), capture_output=True, text=True)

    def discard(self) -> None:
        if self.staged is not None:
            self._drop(self.staged)
            self.staged = None

    def swap(self, keep_old: bool) -> str | None:
        from django.db import OperationalError, connections, transaction

        assert self.staged is not None
        self.check_not_in_use()
        aside = f"{self.name[:36]}_replaced_{_stamp().lower()}"
        with self._maintenance() as alias:
            quote = connections[alias].ops.quote_name
            try:
                # Both renames commit together: the live name always names one whole database.
                with transaction.atomic(using=alias), connections[alias].cursor() as cur:
                    had_one = self._exists(alias, self.name)
                    if had_one:
                        cur.execute(f"ALTER DATABASE {quote(self.name)} RENAME TO {quote(aside)}")
                    cur.execute(f"ALTER DATABASE {quote(self.staged)} RENAME TO {quote(self.name)}")
            except OperationalError as exc:
                if "being accessed by other users" in str(exc):
                    raise RestoreRefused(f"database {self.name} was opened by another session meanwhile: stop the "
                                         f"web server and the worker, then restore; {NOTHING_CHANGED}") from exc
                raise RestoreFailed(f"the restored database could not take the name {self.name}: {exc}; "
                                    f"{LIVE_UNCHANGED}") from exc
        self.staged = None
        if not had_one:
            return None
        if keep_old:
            return aside
        dropped = self._drop(aside)  # it held no data
        if dropped.returncode != 0:
            return aside
        return None


def _target_for(settings_dict: dict[str, Any], vendor: str) -> _SqliteTarget | _PostgresTarget:
    if vendor == "sqlite":
        return _SqliteTarget(settings_dict)
    if vendor == "postgresql":
        return _PostgresTarget(settings_dict)
    raise RestoreRefused(f"restores support SQLite and PostgreSQL, not {vendor}; {NOTHING_CHANGED}")


# --- photos ------------------------------------------------------------------------------


@dataclass
class _PhotoPlan:
    todo: list[tuple[str, Path, str, int]]  # (stored name, file in the backup, SHA-256, bytes)
    present: int


def _stored_sha256(name: str) -> str:
    from django.core.files.storage import default_storage

    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _plan_photos(path: Path, manifest: dict[str, Any]) -> _PhotoPlan:
    """Which of the backup's photo files storage lacks. A file already stored under the
    same name must be the same file: it is never overwritten."""
    from django.core.files.storage import default_storage

    plan, conflicts = _PhotoPlan([], 0), []
    prefix = f"{MEDIA}/"
    for rel, meta in sorted(manifest["files"].items()):
        if not rel.startswith(prefix):
            continue
        name = rel[len(prefix):]
        if default_storage.exists(name):
            if _stored_sha256(name) == meta["sha256"]:
                plan.present += 1
            else:
                conflicts.append(name)
        else:
            plan.todo.append((name, path / rel, meta["sha256"], int(meta["bytes"])))
    if conflicts:
        raise RestoreRefused(
            f"storage already holds a different file under {len(conflicts)} of the backup's photo names "
            f"(first: {conflicts[0]}); a restore never overwrites a stored file: move those files away, then "
            f"restore; {NOTHING_CHANGED}")
    return plan


def _write_photos(plan: _PhotoPlan, written: list[str]) -> None:
    """Store each missing file under its own name, through Django's storage API; the
    names written are appended to `written` as they are (so a failure can remove them)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    for name, src, sha, _size in plan.todo:
        data = src.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise RestoreFailed(f"{MEDIA}/{name} changed after it was checked; {LIVE_UNCHANGED}")
        saved = default_storage.save(name, ContentFile(data))
        written.append(saved)
        if saved != name:
            raise RestoreFailed(f"storage saved {name} as {saved} (a file of that name appeared meanwhile); "
                                f"{LIVE_UNCHANGED}")


def _check_free_space(needs: list[tuple[Path | None, int, str]]) -> None:
    """Obviously too little space, per file system: refuse before writing anything."""
    by_device: dict[int, tuple[Path, int, list[str]]] = {}
    for folder, need, what in needs:
        if folder is None or not need:
            continue
        folder = Path(folder)
        while not folder.exists():
            folder = folder.parent
        device = os.stat(folder).st_dev
        top, total, whats = by_device.get(device, (folder, 0, []))
        by_device[device] = (top, total + need, [*whats, what])
    for folder, need, whats in by_device.values():
        try:
            _check_space(folder, need, " and ".join(whats))
        except BackupRefused as exc:
            raise RestoreRefused(f"{exc}; {NOTHING_CHANGED}") from exc


# --- the restore ---------------------------------------------------------------------------


def restore_backup(path: Path, *, replace: bool = False) -> RestoreResult:
    """Restore the backup folder `path` into the configured database and photo storage.

    Raises RestoreRefused (nothing was changed) or RestoreFailed."""
    from django.core.files.storage import default_storage
    from django.db import DatabaseError, connections

    from . import audit

    started = time.monotonic()
    live = connections["default"]
    vendor = live.vendor

    # 1. The backup, as --verify checks it, before anything else.
    report = VerifyReport()
    manifest = read_manifest(path, report)
    if manifest is None:
        raise RestoreRefused(f"{path} is not a usable backup; {NOTHING_CHANGED}", report.problems)
    backup_vendor = manifest["database"].get("vendor")
    if backup_vendor != vendor:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise RestoreRefused(
            f"this is a {names.get(backup_vendor, repr(backup_vendor))} backup and the configured database is "
            f"{names.get(vendor, vendor)}: a restore goes into the same database engine only (check DATABASE_URL); "
            f"{NOTHING_CHANGED}")
    target = _target_for(live.settings_dict, vendor)
    _check_schema(manifest)
    actual, db_file = check_backup_files(path, manifest, report)
    if db_file is not None and vendor == "sqlite":
        _verify_sqlite(path, db_file, manifest, actual, report)
    if report.problems or db_file is None:
        raise RestoreRefused(f"the backup is damaged; {NOTHING_CHANGED}", report.problems)

    # 2. The target: empty, or replaced on request; closed by everyone else.
    try:
        holds = target.holds()
    except DatabaseError as exc:
        raise RestoreRefused(f"the configured database could not be read: {exc}; {NOTHING_CHANGED}") from exc
    if holds and not replace:
        held = ", ".join(f"{n} {key}" for key, n in holds.items())
        raise RestoreRefused(
            f"{target.label} already holds data ({held}). A restore replaces all of it with the backup's: run "
            f"again with --replace to do so (the current database is kept beside it, unchanged); "
            f"{NOTHING_CHANGED}")
    target.check_not_in_use()
    plan = _plan_photos(path, manifest)
    db_bytes = manifest["files"][manifest["database"]["file"]]["bytes"]
    needs: list[tuple[Path | None, int, str]] = []
    if vendor == "sqlite":
        needs.append((target.path.parent, db_bytes, "the database"))
    storage_root = getattr(default_storage, "location", None)  # a local folder; None for S3
    needs.append((Path(storage_root) if storage_root else None, sum(t[3] for t in plan.todo), "the photos"))
    _check_free_space(needs)

    # 3. Beside the live data: the database, the photos, migrations, the audit event.
    written: list[str] = []
    try:
        try:
            staged = target.stage(db_file, manifest["files"][manifest["database"]["file"]]["sha256"], manifest,
                                  actual, report)
            _write_photos(plan, written)
            with _database(staged) as alias:
                applied_before = _applied(alias)
            migrate = subprocess.run([sys.executable, "-c", MIGRATE, target.staged_name], capture_output=True,
                                     text=True)
            if migrate.returncode != 0:
                raise RestoreFailed(f"migrating the restored database failed: {_tail(migrate.stderr)}; "
                                    f"{LIVE_UNCHANGED}")
            with _database(staged) as alias:
                applied = _applied(alias) - applied_before
                chain = audit.verify(using=alias)
                if not chain.ok:
                    raise RestoreFailed(f"the restored database's audit trail does not verify after migrating: "
                                        f"{chain.problem}; {LIVE_UNCHANGED}")
                audit.record("backup.restore", using=alias, detail={
                    "backup": path.name, "backup_created_at": manifest.get("created_at"),
                    "backup_touchup_version": manifest.get("touchup_version"), "database": vendor,
                    "audit_head_id": (manifest.get("audit_head") or {}).get("id"),
                    "photos_written": len(plan.todo), "photos_present": plan.present,
                    "migrations_applied": applied, "replaced": bool(holds),
                })
        except DatabaseError as exc:
            raise RestoreFailed(f"the restored database could not be read or written: {exc}; "
                                f"{LIVE_UNCHANGED}") from exc
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise RestoreFailed(f"ran out of space: {exc}; {LIVE_UNCHANGED}") from exc
            raise RestoreFailed(f"{exc}; {LIVE_UNCHANGED}") from exc
        except KeyboardInterrupt as exc:
            raise RestoreFailed(f"stopped before the restore was complete; {LIVE_UNCHANGED}") from exc

        # 4. In one step, the restored database becomes the live one.
        kept_aside = target.swap(keep_old=bool(holds))
    except BaseException:
        target.discard()
        for name in written:
            try:
                default_storage.delete(name)
            except Exception:  # noqa: BLE001 - an unreferenced file; sweep_orphan_files removes it
                pass
        raise

    # 5. The live database now: its audit chain and what it holds.
    live.close()
    try:
        chain = audit.verify()
        facts = database_facts("default")
    except DatabaseError as exc:
        raise RestoreFailed(f"the backup was restored into {target.label}, but reading it back failed: {exc}") from exc
    if not chain.ok:
        raise RestoreFailed(f"the backup was restored into {target.label}, but its audit trail does not verify: "
                            f"{chain.problem}")
    return RestoreResult(
        backup=path, manifest=manifest, vendor=vendor, target=target.label, replaced=holds, kept_aside=kept_aside,
        photos_written=len(plan.todo), photos_present=plan.present, migrations_applied=applied,
        audit_events=chain.events, counts=facts["counts"], seconds=time.monotonic() - started, notes=report.notes)


def _applied(alias: str) -> int:
    from django.db.migrations.recorder import MigrationRecorder

    return MigrationRecorder.Migration.objects.using(alias).count()


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-3:])[-800:] or "no message"


__all__ = ["RestoreFailed", "RestoreRefused", "RestoreResult", "human_bytes", "restore_backup"]
