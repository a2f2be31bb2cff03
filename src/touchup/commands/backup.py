"""`touchup backup DEST_DIR`: a consistent copy of the database and the photos, while the
app keeps running; `touchup backup --verify BACKUP`: check one without the live database.
What is in a backup, why it is consistent, and how to restore it: docs/backups.md."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ._django import setup


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup", help="back up the database and photos (--verify: check a backup)",
        description="Write a new touchup-backup-<UTC time> folder into DEST_DIR (database snapshot, "
                    "photos, manifest.json), or check a backup with --verify. See docs/backups.md.")
    p.add_argument("dest", nargs="?", metavar="DEST_DIR", help="an existing folder to write the backup into")
    p.add_argument("--verify", metavar="BACKUP",
                   help="check this backup folder instead (the live database is not read)")
    p.set_defaults(func=run)


def _stop(signum, frame) -> None:
    # `kill` and a closed terminal stop a backup as Ctrl+C does: the partial folder is removed.
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    if (args.dest is None) == (args.verify is None):
        print("touchup backup: give DEST_DIR to make a backup, or --verify BACKUP to check one",
              file=sys.stderr)
        return 2
    setup()
    from touchup.clinic import backup

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        if args.verify is not None:
            return _verify(backup, Path(args.verify))
        return _create(backup, Path(args.dest))
    except backup.BackupRefused as exc:
        print(f"touchup backup: {exc}", file=sys.stderr)
        return 2
    except backup.BackupFailed as exc:
        print(f"touchup backup: FAILED: {exc}", file=sys.stderr)
        return 1


def _create(backup, dest: Path) -> int:
    result = backup.create_backup(dest)
    m = result.manifest
    c = m["counts"]
    files = m["files"]
    photo_bytes = sum(f["bytes"] for name, f in files.items() if name.startswith(backup.MEDIA + "/"))
    # Counts only: nothing here names a patient.
    print(f"backup written: {result.path}")
    print(f"  database ({m['database']['vendor']}): {backup.human_bytes(files[m['database']['file']]['bytes'])}; "
          f"photos: {len(files) - 1} files, {backup.human_bytes(photo_bytes)}; {result.seconds:.2f} s")
    print(f"  {c['patients']} patients, {c['treatments']} treatments ({c['treatments_signed']} signed), "
          f"{c['photos_kept']} photos kept, {c['audit_events']} audit events")
    if result.photo_problems:
        print(f"touchup backup: WARNING: {len(result.photo_problems)} photo rows have no usable stored file; "
              "the backup has everything else (their ids are in manifest.json, photo_problems)", file=sys.stderr)
        return 1
    return 0


def _verify(backup, path: Path) -> int:
    report = backup.verify_backup(path)
    for note in report.notes:
        print(f"  {note}")
    if report.ok:
        print(f"backup OK: {path}")
        return 0
    for problem in report.problems:
        print(f"  PROBLEM: {problem}", file=sys.stderr)
    print(f"backup NOT OK: {path} ({len(report.problems)} problems)", file=sys.stderr)
    return 1
