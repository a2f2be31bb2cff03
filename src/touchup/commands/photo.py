"""`touchup photo analyze PHOTO [PHOTO ...] [--baseline PHOTO] [--view VIEW] [--json]`: face
found, photo quality and a wrinkle index per treatment region (DESIGN.md, "Contracts";
docs/photos.md). `--view` names the view the photos were taken for and adds the expression
check (a smile where none belongs or none where one is asked for, both eyes closed);
without it the expression is not checked.

One photo prints one result object, several print a JSON array in the same order. A file
that cannot be read as a photo gets {"file": ..., "error": reason} and the others are still
analysed: that is a result, not a failure, so the exit status stays 0. A baseline that
cannot be read is a usage error (exit 2, nothing printed on stdout).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

# touchup.vision (OpenCV, MediaPipe) is imported only when the command runs; the view names
# are repeated here so that `--help` does not load it (tests/test_cli_photo.py keeps them equal
# to touchup.vision.expression.VIEWS).
VIEWS = ("at_rest", "frown", "brows_raised", "smile_squint", "neck_tensed")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("photo", help="analyse follow-up photos",
                       description="Work with patient photos.")
    photo_sub = p.add_subparsers(dest="photo_command", metavar="SUBCOMMAND")
    photo_sub.required = True
    a = photo_sub.add_parser(
        "analyze",
        help="face found, quality and wrinkle index per region, as JSON",
        description="Analyse photos: whether a face is found, capture quality (sharpness, "
        "exposure, head pose) and a wrinkle index and 0-3 grade for the forehead, glabella, "
        "crow's feet and platysma. A region that is not visible is null.",
    )
    a.add_argument("photos", nargs="+", metavar="PHOTO", help="JPEG, PNG or HEIC photo")
    a.add_argument("--baseline", metavar="PHOTO",
                   help="the patient's baseline photo: align to it and compare the head pose")
    a.add_argument("--view", choices=VIEWS, metavar="VIEW",
                   help="the view the photos were taken for (" + ", ".join(VIEWS) + "): also check "
                   "the expression it asks for (the baseline is taken to be of the same view); "
                   "without it the expression is not checked")
    a.add_argument("--json", action="store_true", help="print JSON (the stable contract)")
    a.set_defaults(func=run_analyze)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _read_error(path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "The file does not exist."
    if isinstance(exc, IsADirectoryError):
        return "This is a folder, not a photo."
    if isinstance(exc, PermissionError):
        return "The file cannot be read (permission denied)."
    return f"The file cannot be read ({exc.strerror or exc})."


@contextlib.contextmanager
def _quiet_native_stderr():
    """MediaPipe's C++ side prints start-up chatter straight to file descriptor 2; hide it
    while the model runs (set TOUCHUP_VERBOSE=1 to see it). Our own messages come after."""
    if os.environ.get("TOUCHUP_VERBOSE"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def run_analyze(args: argparse.Namespace) -> int:
    from touchup.vision.analyze import analyze_bytes, prepare_bytes
    from touchup.vision.decode import ImageRejected

    baseline_error = None
    results = []
    with _quiet_native_stderr():
        baseline = None
        if args.baseline:
            try:
                baseline = prepare_bytes(_read(args.baseline))
            except OSError as exc:
                baseline_error = _read_error(args.baseline, exc)
            except ImageRejected as exc:
                baseline_error = exc.reason
        if baseline_error is None:
            for path in args.photos:
                try:
                    result = analyze_bytes(_read(path), baseline, view=args.view)
                except OSError as exc:
                    result = {"error": _read_error(path, exc)}
                except ImageRejected as exc:
                    result = {"error": exc.reason}
                results.append({"file": path, **result})
    if baseline_error is not None:
        print(f"touchup photo analyze: {args.baseline}: {baseline_error}", file=sys.stderr)
        return 2

    if args.json:
        json.dump(results[0] if len(results) == 1 else results, sys.stdout, indent=2,
                  ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for r in results:
            print(_summary(r))
    return 0


def _summary(r: dict) -> str:
    if "error" in r:
        return f"{r['file']}: {r['error']}"
    if not r["face_found"]:
        return f"{r['file']}: no face found"
    q = r["quality"]
    lines = [f"{r['file']}: {'usable' if q['usable'] else 'NOT usable'}, sharpness "
             f"{q['sharpness']}, exposure {q['exposure']}, pose (yaw, pitch, roll) {q['pose_deg']}"]
    lines += [f"  ! {p}" for p in q["problems"]]
    for name, v in r["regions"].items():
        lines.append(f"  {name:17} " + ("not visible" if v is None else
                                        f"index {v['wrinkle_index']:.3f}  grade {v['grade']}"))
    return "\n".join(lines)
