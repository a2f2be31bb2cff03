"""`touchup restore BACKUP_DIR [--replace]`: put a backup made by `touchup backup` back into
the configured database and photo storage, after checking it as `--verify` does. Stop the
web server and the worker first. How it keeps the live data safe: docs/backups.md."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ._django import setup


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore", help="restore a backup into the configured database and photo storage",
        description="Check BACKUP_DIR as `touchup backup --verify` does, then restore its database into the "
                    "configured one and its photos into the configured storage, migrate, and check the audit "
                    "trail. Stop the web server and the worker first. See docs/backups.md.")
    p.add_argument("backup", metavar="BACKUP_DIR", help="a touchup-backup-<UTC time> folder")
    p.add_argument("--replace", action="store_true",
                   help="replace a database that already holds data (it is kept beside the restored one)")
    p.set_defaults(func=run)


def _stop(signum, frame) -> None:
    # `kill` and a closed terminal stop a restore as Ctrl+C does: what it wrote is removed.
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    setup()
    from touchup.clinic import backup, restore

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        result = restore.restore_backup(Path(args.backup), replace=args.replace)
    except backup.BackupRefused as exc:
        for problem in getattr(exc, "problems", []):
            print(f"  PROBLEM: {problem}", file=sys.stderr)
        print(f"touchup restore: {exc}", file=sys.stderr)
        return 2
    except backup.BackupFailed as exc:
        print(f"touchup restore: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("touchup restore: stopped", file=sys.stderr)
        return 1
    m, c = result.manifest, result.counts
    # Counts only: nothing here names a patient.
    print(f"restored: {result.backup} (taken {m.get('created_at')}, Touchup {m.get('touchup_version')})")
    for note in result.notes:
        print(f"  checked: {note}")
    n = result.migrations_applied
    migrations = f"{n} migration{'' if n == 1 else 's'} applied" if n else "no migrations to apply"
    print(f"  into {result.target} ({result.vendor}); photos: {result.photos_written} written, "
          f"{result.photos_present} already in storage; {migrations}; {result.seconds:.2f} s")
    print(f"  {c['patients']} patients, {c['treatments']} treatments ({c['treatments_signed']} signed), "
          f"{c['photos_kept']} photos kept; audit trail intact: {result.audit_events} events")
    if result.kept_aside:
        held = ", ".join(f"{n} {key}" for key, n in result.replaced.items())
        print(f"  the database it replaced ({held}) is kept as {result.kept_aside}: delete it once you no "
              "longer need it")
    if m.get("photo_problems"):
        print(f"touchup restore: WARNING: {len(m['photo_problems'])} photo rows had no usable stored file when the "
              "backup was taken; they are restored without it (their ids are in manifest.json, photo_problems)",
              file=sys.stderr)
    return 0
