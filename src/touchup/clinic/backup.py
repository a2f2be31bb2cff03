"""Backups: a consistent copy of the database and of every kept photo, with a manifest
that lets the copy be checked later without the live system (docs/backups.md).

A backup is one folder, `touchup-backup-<UTC time>`, holding

    manifest.json        what is in it, and the SHA-256 of every other file
    database.sqlite3     SQLite: the snapshot (VACUUM INTO), or
    database.pgdump      PostgreSQL: pg_dump --format=custom
    media/photos/...     the stored file of every photo the snapshot keeps

The database is copied while the web server and the worker keep writing: SQLite's
VACUUM INTO reads inside one read transaction (in WAL mode writers are not blocked), and
pg_dump reads inside one exported REPEATABLE READ snapshot, in which the manifest's
counts and the list of photos are read too. Photos are copied after the snapshot,
exactly those its rows keep: a photo file is written before its row commits and deleted
only after its removal commits, so each kept row's file is still there, unless the photo
was removed in the seconds between; then the snapshot is taken again. Files no row in the
snapshot refers to (an upload in flight, a removed photo awaiting deletion) are left out
on purpose: a photo erased at the patient's request must not come back from a backup.

Everything is written under a hidden `.partial` name and renamed at the end, so an
interrupted backup never looks complete. Folders are 0700 and files 0600: it is health
data. Nothing printed or logged names a patient; only counts.
"""

from __future__ import annotations

import copy
import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

FORMAT = "touchup-backup"
FORMAT_VERSION = 1
PREFIX = "touchup-backup-"
PARTIAL_SUFFIX = ".partial"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
MEDIA = "media"

# A photo removed between the snapshot and the copy of its file: take the snapshot again,
# at most this many times in all (each retake is seconds apart; more than two is a sign of
# a storage that lost files, which the manifest then records).
SNAPSHOT_ATTEMPTS = 3
# "Obviously too little space": less than the estimate plus 5% and 16 MiB.
SPACE_MARGIN = 1.05
SPACE_SLACK = 16 << 20
CHUNK = 1 << 20
# A dump restored by --verify and by `touchup restore`: stop at the first error; every
# object owned by the user that restores it, with no grants of the source server's roles.
PG_RESTORE_OPTIONS = ("--exit-on-error", "--no-owner", "--no-privileges", "--no-password")


class BackupRefused(Exception):
    """Nothing was kept: the destination, the disk space or a missing tool is the problem
    (the command exits 2 with this message)."""


class BackupFailed(Exception):
    """The backup could not be completed; nothing was kept (exit 1)."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    seconds: float

    @property
    def photo_problems(self) -> list[dict[str, str]]:
        return self.manifest["photo_problems"]


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- small helpers ------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover - unreachable


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is cut by the umask


def _private_dirs(path: Path, top: Path) -> None:
    """Create `path` and its missing parents below `top`, each 0700."""
    missing = []
    while path != top and not path.exists():
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        _private_dir(p)


def _new_private_file(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _safe_relative(name: str) -> PurePosixPath | None:
    """A stored name or manifest entry as a path that stays inside the backup, else None."""
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts):
        return None
    return rel


def _sqlite_readonly(path: Path) -> str:
    # A URI: mode=ro never writes to the file, whatever a connection's pragmas ask.
    return f"file:{quote(str(path))}?mode=ro"


@contextmanager
def _database(settings_dict: dict[str, Any]) -> Iterator[str]:
    """A Django database alias for `settings_dict` (a snapshot, a throwaway database) for
    as long as the block runs; the models are then read with `.using(alias)`."""
    from django.db import connections

    alias = f"touchup_backup_{secrets.token_hex(4)}"
    configured = connections.configure_settings(
        {"default": connections.settings["default"], alias: settings_dict})
    connections.settings[alias] = configured[alias]
    try:
        yield alias
    finally:
        try:
            connections[alias].close()
            del connections[alias]
        finally:
            del connections.settings[alias]


def _sqlite_alias_settings(path: Path) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": _sqlite_readonly(path), "OPTIONS": {}}


# --- what the manifest says about a database ------------------------------------------------

# The counts a backup records and a verification compares: (name, app.Model, filter).
COUNTED = (
    ("clinics", "clinic.Clinic", {}),
    ("memberships", "clinic.Membership", {}),
    ("patients", "clinic.Patient", {}),
    ("screenings", "clinic.Screening", {}),
    ("treatments", "clinic.Treatment", {}),
    ("treatments_signed", "clinic.Treatment", {"status": "signed"}),
    ("injection_points", "clinic.InjectionPoint", {}),
    ("observations", "clinic.Observation", {}),
    ("photos_kept", "clinic.Photo", {"removed_at__isnull": True}),
    ("photos_removed", "clinic.Photo", {"removed_at__isnull": False}),
    ("appointments", "maintenance.Appointment", {}),
    ("reminders", "maintenance.Reminder", {}),
    ("audit_events", "clinic.AuditEvent", {}),
)


def database_facts(alias: str) -> dict[str, Any]:
    """Migrations, counts and the audit chain head, read through `alias`. Only COUNT(*)
    and named columns, so a database a migration behind the code is still described."""
    from django.apps import apps
    from django.db.migrations.recorder import MigrationRecorder

    from .models import AuditChainHead

    migrations: dict[str, str] = {}
    # Migration names are numbered, so the greatest name of an app is its last one.
    for app, name in MigrationRecorder.Migration.objects.using(alias).order_by("app", "name").values_list(
            "app", "name"):
        migrations[app] = name
    counts = {
        key: apps.get_model(model).objects.using(alias).filter(**where).count()
        for key, model, where in COUNTED
    }
    head = AuditChainHead.objects.using(alias).filter(pk=1).values_list("last_id", "last_hash").first()
    return {
        "migrations": migrations,
        "counts": counts,
        "audit_head": {"id": head[0], "hash": head[1]} if head else None,
    }


def kept_photos(alias: str) -> list[tuple[str, str, str]]:
    """(public id, stored name, SHA-256 of the stored file) of every photo not removed."""
    from .models import Photo

    return [
        (str(public_id), name, sha)
        for public_id, name, sha in Photo.objects.using(alias).kept().order_by("pk").values_list(
            "public_id", "file", "file_sha256")
    ]


# --- the database snapshot ---------------------------------------------------------------------


class _SqliteSnapshot:
    vendor = "sqlite"
    file = SQLITE_FILE

    def __init__(self, settings_dict: dict[str, Any]):
        self.path = Path(settings_dict["NAME"])
        self.info: dict[str, Any] = {"vendor": self.vendor, "file": self.file, "sqlite_version": sqlite3.sqlite_version}

    def _connect(self) -> sqlite3.Connection:
        # Read-only: the live file is never written by a backup. A long busy timeout: the
        # read transaction only waits out a checkpoint in progress.
        return sqlite3.connect(_sqlite_readonly(self.path), uri=True, timeout=60)

    def estimate(self) -> int:
        if not self.path.is_file():
            raise BackupRefused(f"no database file at {self.path} (is TOUCHUP_DATA_DIR right?)")
        con = self._connect()
        try:
            pages = con.execute("PRAGMA page_count").fetchone()[0]
            free = con.execute("PRAGMA freelist_count").fetchone()[0]
            size = con.execute("PRAGMA page_size").fetchone()[0]
        finally:
            con.close()
        return (pages - free) * size

    @contextmanager
    def take(self, target: Path) -> Iterator[str]:
        """Write the snapshot to `target`; yield an alias that reads that same snapshot."""
        os.close(_new_private_file(target))  # VACUUM INTO fills an empty file, keeping its mode
        con = self._connect()
        try:
            # One read transaction: a transactionally consistent copy, and in WAL mode the
            # web server and the worker keep committing meanwhile.
            con.execute("VACUUM INTO ?", (str(target),))
        finally:
            con.close()
        _fsync_path(target)
        with _database(_sqlite_alias_settings(target)) as alias:
            yield alias


def libpq_env(settings_dict: dict[str, Any], dbname: str | None = None) -> dict[str, str]:
    """The environment for pg_dump, pg_restore, createdb and dropdb: the server and user of
    `settings_dict`, the password in PGPASSWORD (never on a command line, where `ps` shows it)."""
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    env["PGDATABASE"] = dbname or str(settings_dict.get("NAME") or "")
    options = settings_dict.get("OPTIONS") or {}
    for opt, var in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcert", "PGSSLCERT"),
                     ("sslkey", "PGSSLKEY"), ("passfile", "PGPASSFILE"), ("service", "PGSERVICE"),
                     ("connect_timeout", "PGCONNECT_TIMEOUT"), ("options", "PGOPTIONS")):
        if options.get(opt) not in (None, ""):
            env[var] = str(options[opt])
    return env


def postgres_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupRefused(
            f"{name} was not found: install the PostgreSQL client tools of the server's major version "
            "(Debian/Ubuntu: apt install postgresql-client)")
    return path


def tool_major(path: str) -> tuple[int, str]:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:  # pragma: no cover - every release prints its version
        raise BackupRefused(f"could not read the version of {path}: {out.strip()!r}")
    return int(match.group(1)), match.group(0)


class _PostgresSnapshot:
    vendor = "postgresql"
    file = POSTGRES_FILE

    def __init__(self, settings_dict: dict[str, Any]):
        from django.db import connections

        self.settings_dict = settings_dict
        self.pg_dump = postgres_tool("pg_dump")
        major, version = tool_major(self.pg_dump)
        live = connections["default"]
        live.ensure_connection()
        server_major = live.pg_version // 10000
        server = f"{server_major}.{live.pg_version % 10000}"
        # pg_dump refuses a newer server; a newer pg_dump reads an older server fine.
        if major < server_major:
            raise BackupRefused(
                f"pg_dump {version} cannot dump this PostgreSQL {server} server: install "
                f"postgresql-client-{server_major} (or newer)")
        self.info = {"vendor": self.vendor, "file": self.file, "server_version": server,
                     "pg_dump_version": version}

    def estimate(self) -> int:
        from django.db import connections

        with connections["default"].cursor() as cur:
            # Tables and their TOAST without indexes: the dump holds the rows, compressed,
            # and only the definitions of the indexes.
            cur.execute("SELECT COALESCE(sum(pg_table_size(c.oid)), 0) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')")
            return int(cur.fetchone()[0])

    @contextmanager
    def take(self, target: Path) -> Iterator[str]:
        from django.db import connections, transaction

        os.close(_new_private_file(target))  # pg_dump truncates it, keeping its mode
        settings = copy.deepcopy(self.settings_dict)
        settings["CONN_MAX_AGE"] = 0
        with _database(settings) as alias, transaction.atomic(using=alias):
            with connections[alias].cursor() as cur:
                # The snapshot pg_dump reads is this transaction's: the counts, the audit
                # head and the photo list below describe exactly the rows in the dump.
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
            done = subprocess.run(
                [self.pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password",
                 f"--file={target}"],
                env=libpq_env(self.settings_dict), capture_output=True, text=True)
            if done.returncode != 0:
                raise BackupFailed(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
            _fsync_path(target)
            yield alias


def _snapshot_for(settings_dict: dict[str, Any], vendor: str) -> _SqliteSnapshot | _PostgresSnapshot:
    if vendor == "sqlite":
        if str(settings_dict["NAME"]) == ":memory:" or "mode=memory" in str(settings_dict["NAME"]):
            raise BackupRefused("the database is in memory: there is nothing on disk to back up")
        return _SqliteSnapshot(settings_dict)
    if vendor == "postgresql":
        return _PostgresSnapshot(settings_dict)
    raise BackupRefused(f"backups support SQLite and PostgreSQL, not {vendor}")


# --- making a backup -------------------------------------------------------------------------


def check_destination(dest: Path) -> Path:
    if not dest.exists():
        raise BackupRefused(f"destination {dest} does not exist (create it first, owned by the user that "
                            "runs Touchup, mode 0700)")
    if not dest.is_dir():
        raise BackupRefused(f"destination {dest} is not a folder")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise BackupRefused(f"destination {dest} is not writable by this user")
    return dest.resolve()


def _check_space(dest: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(dest).free
    if free < need * SPACE_MARGIN + SPACE_SLACK:
        raise BackupRefused(f"not enough free space in {dest}: {what} needs about {human_bytes(need)} "
                            f"and {human_bytes(free)} is free")


def _copy_stored(name: str, target: Path) -> tuple[str, int]:
    """Copy one stored file out of Django's storage (local disk or S3 alike), hashing it."""
    from django.core.files.storage import default_storage

    digest, size = hashlib.sha256(), 0
    with default_storage.open(name, "rb") as src:
        fd = _new_private_file(target)
        try:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                _write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
    return digest.hexdigest(), size


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _final_path(dest: Path, stamp: str) -> Path:
    path, n = dest / f"{PREFIX}{stamp}", 2
    while path.exists():
        path, n = dest / f"{PREFIX}{stamp}-{n}", n + 1
    return path


def create_backup(dest: Path) -> BackupResult:
    """Back up the database and the kept photos into a new folder in `dest`.

    Raises BackupRefused (nothing was written: bad destination, too little space, no
    pg_dump) or BackupFailed. Records one `backup.create` audit event once the folder is
    complete."""
    from django.db import DatabaseError, connections

    from . import audit

    started = time.monotonic()
    dest = check_destination(dest)
    live = connections["default"]
    snapshot = _snapshot_for(live.settings_dict, live.vendor)
    database_estimate = snapshot.estimate()
    _check_space(dest, database_estimate, "the database")

    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    tmp = dest / f".{PREFIX}{stamp}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
    _private_dir(tmp)
    try:
        database_file = tmp / snapshot.file
        copied: dict[str, tuple[str, int]] = {}  # stored name -> (SHA-256, bytes)
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            database_file.unlink(missing_ok=True)
            try:
                with snapshot.take(database_file) as alias:
                    facts = database_facts(alias)
                    kept = kept_photos(alias)
            except DatabaseError as exc:
                raise BackupFailed(f"the database could not be read: {exc}") from exc
            missing = _copy_photos(kept, copied, tmp, dest)
            if not missing:
                break
            # Most likely removed since the snapshot (its file is deleted once the removal
            # commits): a new snapshot no longer keeps it.
        referenced = {name for _pid, name, _sha in kept}
        for name in set(copied) - referenced:
            # Copied for an earlier snapshot, removed before the last one: not kept.
            (tmp / MEDIA / name).unlink()
            del copied[name]
        photo_problems = [{"photo": pid, "problem": "no stored file"} for pid, _name, _sha in missing]
        photo_problems += [
            {"photo": pid, "problem": "stored file does not match its SHA-256"}
            for pid, name, sha in kept if name in copied and copied[name][0] != sha
        ]
        db_sha, db_bytes = sha256_file(database_file)
        files = {snapshot.file: {"sha256": db_sha, "bytes": db_bytes}}
        for name in sorted(copied):
            sha, size = copied[name]
            files[f"{MEDIA}/{name}"] = {"sha256": sha, "bytes": size}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "touchup_version": _touchup_version(),
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "database": snapshot.info,
            "snapshot_attempts": attempt,
            **facts,
            "photo_problems": photo_problems,
            "files": files,
        }
        fd = _new_private_file(tmp / MANIFEST)
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        for folder in sorted({(tmp / MEDIA / n).parent for n in copied} | {tmp}, reverse=True):
            _fsync_path(folder)
        final = _final_path(dest, stamp)
        os.rename(tmp, final)  # the backup is complete from this instant, never before
        _fsync_path(dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise BackupRefused(f"{dest} ran out of space while the backup was written; the partial "
                                "backup was removed") from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    try:
        audit.record("backup.create", detail={
            "backup": final.name, "database": snapshot.vendor, "photos": len(copied),
            "bytes": sum(f["bytes"] for f in files.values()),
            "audit_head_id": (facts["audit_head"] or {}).get("id"), "photo_problems": len(photo_problems),
        })
    except DatabaseError as exc:
        # The folder is complete and usable; only its audit event is missing.
        raise BackupFailed(f"the backup {final} is complete, but recording it in the audit trail failed: "
                           f"{exc}") from exc
    return BackupResult(final, manifest, seconds)


def _copy_photos(kept: list[tuple[str, str, str]], copied: dict[str, tuple[str, int]], tmp: Path,
                 dest: Path) -> list[tuple[str, str, str]]:
    """Copy the files of `kept` not copied yet; return the rows whose file is missing."""
    from django.core.files.storage import default_storage

    todo = [row for row in kept if row[1] not in copied]
    need = 0
    for _pid, name, _sha in todo:
        try:
            need += default_storage.size(name)
        except (FileNotFoundError, OSError):
            pass  # found missing below
    _check_space(dest, need, "the photos")
    missing = []
    for row in todo:
        rel = _safe_relative(row[1])
        if rel is None:
            missing.append(row)
            continue
        target = tmp / MEDIA / rel
        _private_dirs(target.parent, tmp)
        try:
            copied[row[1]] = _copy_stored(row[1], target)
        except FileNotFoundError:
            target.unlink(missing_ok=True)
            missing.append(row)
    return missing


def _touchup_version() -> str:
    from touchup import __version__

    return __version__


# --- verifying a backup ----------------------------------------------------------------------


def read_manifest(path: Path, report: VerifyReport) -> dict[str, Any] | None:
    """The manifest of the backup folder `path`, or None with the reason in `report`.
    Raises BackupRefused when `path` is not a folder at all."""
    if not path.exists():
        raise BackupRefused(f"{path} does not exist")
    if not path.is_dir():
        raise BackupRefused(f"{path} is not a backup folder")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        report.problems.append(f"{MANIFEST} is missing: not a complete backup (an interrupted one is "
                               f"named .{PREFIX}...{PARTIAL_SUFFIX})")
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if not isinstance(manifest["files"], dict) or not isinstance(manifest["database"], dict):
            raise TypeError("'files' and 'database' must be objects")
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{MANIFEST} is not a readable manifest ({exc.__class__.__name__}: {exc})")
        return None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("format_version"), int):
        report.problems.append(f"{MANIFEST} is not a Touchup backup manifest")
        return None
    if manifest["format_version"] > FORMAT_VERSION:
        report.problems.append(f"{MANIFEST} is format {manifest['format_version']}, newer than this Touchup "
                               f"reads ({FORMAT_VERSION}): verify it with the version that made it")
        return None
    return manifest


def check_backup_files(path: Path, manifest: dict[str, Any],
                       report: VerifyReport) -> tuple[dict[str, str], Path | None]:
    """Every file against the manifest (problems into `report`). Returns the SHA-256 read
    per relative path, and the database file (None when the manifest names none there)."""
    files: dict[str, dict[str, Any]] = manifest["files"]
    actual = _check_files(path, files, report)
    db_rel = manifest["database"].get("file", "")
    db_path = path / db_rel if _safe_relative(db_rel) else None
    if db_path is None or not db_path.is_file():
        if db_rel not in files:
            report.problems.append(f"the manifest names no database file ({db_rel!r})")
        return actual, None
    return actual, db_path


def verify_backup(path: Path) -> VerifyReport:
    """Check a backup folder without the live database: every file against the manifest,
    then the database itself (SQLite: the snapshot read-only; PostgreSQL: restored into a
    throwaway database on the configured server, dropped afterwards)."""
    report = VerifyReport()
    manifest = read_manifest(path, report)
    if manifest is None:
        return report
    actual, db_path = check_backup_files(path, manifest, report)
    if db_path is None:
        return report
    database = manifest["database"]
    if database.get("vendor") == "sqlite":
        _verify_sqlite(path, db_path, manifest, actual, report)
    elif database.get("vendor") == "postgresql":
        _verify_postgres(path, db_path, manifest, actual, report)
    else:
        report.problems.append(f"unknown database vendor in the manifest: {database.get('vendor')!r}")
    return report


def _check_files(path: Path, files: dict[str, dict[str, Any]], report: VerifyReport) -> dict[str, str]:
    """Every file the manifest lists, hashed; every file there not listed. Returns the
    SHA-256 actually read per relative path."""
    actual: dict[str, str] = {}
    bad = 0
    for rel in sorted(files):
        meta = files[rel]
        safe = _safe_relative(rel)
        if safe is None:
            report.problems.append(f"the manifest names a path outside the backup: {rel!r}")
            bad += 1
            continue
        target = path / safe
        if not target.is_file():
            report.problems.append(f"{rel}: missing")
            bad += 1
            continue
        sha, size = sha256_file(target)
        actual[rel] = sha
        if size != meta.get("bytes"):
            report.problems.append(f"{rel}: {size} bytes, the manifest says {meta.get('bytes')} "
                                   "(truncated or altered)")
            bad += 1
        elif sha != meta.get("sha256"):
            report.problems.append(f"{rel}: its SHA-256 does not match the manifest (altered)")
            bad += 1
    for found in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = found.relative_to(path).as_posix()
        if rel != MANIFEST and rel not in files:
            report.problems.append(f"{rel}: not in the manifest")
            bad += 1
    if not bad:
        report.notes.append(f"{len(files)} files match their SHA-256 in the manifest")
    return actual


def _verify_sqlite(path: Path, db_path: Path, manifest: dict[str, Any], actual: dict[str, str],
                   report: VerifyReport) -> None:
    rel = db_path.relative_to(path).as_posix()
    try:
        con = sqlite3.connect(_sqlite_readonly(db_path), uri=True)
        try:
            integrity = [row[0] for row in con.execute("PRAGMA integrity_check").fetchall()]
            dangling = con.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"{rel}: not a readable SQLite database ({exc})")
        return
    if integrity != ["ok"]:
        report.problems.append(f"{rel}: integrity check failed: {'; '.join(integrity[:3])}")
        return
    if dangling:
        report.problems.append(f"{rel}: {len(dangling)} rows point at rows that are not there (foreign keys)")
    report.notes.append(f"{rel}: integrity check ok")
    with _database(_sqlite_alias_settings(db_path)) as alias:
        _check_contents(alias, manifest, actual, report)


def _verify_postgres(path: Path, db_path: Path, manifest: dict[str, Any], actual: dict[str, str],
                     report: VerifyReport) -> None:
    from django.db import connections

    live = connections["default"].settings_dict
    if connections["default"].vendor != "postgresql":
        raise BackupRefused(
            "this is a PostgreSQL backup: it is checked by restoring it into a throwaway database, so run "
            "the check with DATABASE_URL naming a PostgreSQL server (its user needs CREATEDB)")
    pg_restore, createdb, dropdb = (postgres_tool(t) for t in ("pg_restore", "createdb", "dropdb"))
    rel = db_path.relative_to(path).as_posix()
    name = f"touchup_verify_{secrets.token_hex(6)}"
    env = libpq_env(live, dbname=name)
    made = subprocess.run([createdb, "--no-password", name], env=env, capture_output=True, text=True)
    if made.returncode != 0:
        raise BackupRefused(f"could not create the throwaway database to restore into: {made.stderr.strip()}")
    try:
        restored = subprocess.run([pg_restore, *PG_RESTORE_OPTIONS, f"--dbname={name}", str(db_path)],
                                  env=env, capture_output=True, text=True)
        if restored.returncode != 0:
            report.problems.append(f"{rel}: pg_restore failed: {restored.stderr.strip()[-800:]}")
            return
        report.notes.append(f"{rel}: restores cleanly (pg_restore into a throwaway database)")
        settings = copy.deepcopy(live)
        settings.update(NAME=name, CONN_MAX_AGE=0)
        with _database(settings) as alias:
            _check_contents(alias, manifest, actual, report)
    finally:
        subprocess.run([dropdb, "--no-password", "--if-exists", "--force", name], env=env,
                       capture_output=True, text=True)


def _check_contents(alias: str, manifest: dict[str, Any], actual: dict[str, str], report: VerifyReport) -> None:
    """The same checks for either database: the audit chain, the manifest's facts, and
    every kept photo row's file in the backup with the SHA-256 the row holds."""
    from django.db import DatabaseError

    from .audit import verify as verify_chain

    try:
        chain = verify_chain(using=alias)
        facts = database_facts(alias)
        kept = kept_photos(alias)
    except DatabaseError as exc:
        report.problems.append(f"the database could not be read: {exc}")
        return
    if chain.ok:
        report.notes.append(f"audit trail intact: {chain.events} events")
    else:
        report.problems.append(f"audit trail BROKEN in the backup: {chain.problem}")
    if facts["audit_head"] != manifest.get("audit_head"):
        report.problems.append("the audit chain head differs from the manifest's")
    for key, expected in (manifest.get("counts") or {}).items():
        found = facts["counts"].get(key)
        if found != expected:
            report.problems.append(f"{key}: {found} rows in the database, the manifest says {expected}")
    if facts["migrations"] != manifest.get("migrations"):
        report.problems.append("the applied migrations differ from the manifest's")
    known = {p.get("photo") for p in manifest.get("photo_problems") or []}
    bad = 0
    for public_id, name, sha in kept:
        if public_id in known:
            continue
        rel = f"{MEDIA}/{name}"
        if rel not in manifest["files"]:
            report.problems.append(f"photo {public_id}: its file {rel} is not in the backup")
            bad += 1
        elif rel in actual and actual[rel] != sha:
            report.problems.append(f"photo {public_id}: {rel} is not the file its row was stored with")
            bad += 1
    if not bad:
        report.notes.append(f"{len(kept) - len(known)} kept photos, each with its file")
    if known:
        report.notes.append(f"{len(known)} photos had no usable stored file when the backup was taken "
                            "(manifest: photo_problems)")
