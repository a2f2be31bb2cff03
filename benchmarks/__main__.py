"""`python -m benchmarks [NAME [ARGS...]]`: run one benchmark, or all of them.

Each benchmark is a module here with `main(argv) -> int`; add yours to BENCHMARKS.
"""

import importlib
import sys

BENCHMARKS = {
    "forecast": "benchmarks.forecast_sim",
    "photo_accuracy": "benchmarks.photo_accuracy",
    "photo_speed": "benchmarks.photo_speed",
    "heic_speed": "benchmarks.heic_speed",
    "pages": "benchmarks.pages",
    "worklist": "benchmarks.worklist",
    "worker_throughput": "benchmarks.worker_throughput",
    "calibration": "benchmarks.calibration",
    "track_record": "benchmarks.track_record",
    "crash": "benchmarks.crash",
    "fhir_export": "benchmarks.fhir_export",
    "serving": "benchmarks.serving",
    "audit_page": "benchmarks.audit_page",
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nbenchmarks: " + ", ".join(BENCHMARKS))
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names, rest = ([argv[0]], argv[1:]) if argv else (list(BENCHMARKS), [])
    status = 0
    for name in names:
        status |= importlib.import_module(BENCHMARKS[name]).main(rest)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
