"""The forecast track record (touchup.core.track_record) on a simulated clinic: what the
manager's Track record page would show, and how far its yardstick (the *observed*
wear-off: a confirmed check-in or a reading at half the measured peak) is from the true
wear-off day, which only the simulator knows.

    python -m benchmarks track_record [--patients 3000] [--seed 1] [--variants base,watch]

Histories from benchmarks.forecast_sim (its assumptions apply). Each cycle's true day is
the treatment day + ceil(D), as the forecast benchmark scores it.
"""

from __future__ import annotations

import argparse
import time

from touchup.core.history import parse_history
from touchup.core.track_record import track_record

from .forecast_sim import VARIANTS, simulate


def run(n: int, seed: int, name: str) -> dict:
    sims = simulate(n, seed, VARIANTS[name])
    t0 = time.process_time()
    report = track_record([parse_history(s.history) for s in sims])
    spent = time.process_time() - t0
    true_day = {}
    for i, s in enumerate(sims):
        for start, Ds in s.cycles:
            for area, D in Ds.items():
                true_day[(i, area, start)] = start + int(-(-D // 1))
    gaps, model_true, fixed_true = [], [], []
    by_source: dict[str, list[int]] = {}
    for c in report.cycles:
        truth = true_day[(c.history, c.area, c.treatment_date.toordinal())]
        gaps.append(c.observed.toordinal() - truth)
        by_source.setdefault(c.source, []).append(c.observed.toordinal() - truth)
        model_true.append(abs(c.wear_off_date.toordinal() - truth))
        fixed_true.append(abs(c.fixed_date.toordinal() - truth))
    all_cycles = sum(len(s.cycles) * len(s.cycles[0][1]) for s in sims)
    return {"report": report, "cycles": all_cycles, "seconds": spent, "gaps": gaps, "model_true": model_true,
            "fixed_true": fixed_true, "by_source": by_source}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks track_record")
    ap.add_argument("--patients", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default="base,watch")
    args = ap.parse_args(argv)
    print(f"Track record on simulated clinics of {args.patients} patients (seed {args.seed})\n")
    print("| variant | area | cycles scored | not measured | before cut | MAE model (d) | MAE fixed (d) | ratio"
          " | best fixed (d) | 80% coverage | observed - true, median (d) | vs true: MAE model / fixed (d), ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.variants.split(","):
        r = run(args.patients, args.seed, name)
        rep = r["report"]
        for a in (*rep.areas, rep.overall):
            f = lambda x, k=1: "" if x is None else f"{x:.{k}f}"  # noqa: E731
            extra = ["", ""]
            if a.area == "all" and r["gaps"]:
                g = sorted(r["gaps"])
                m, x = (sum(v) / len(v) for v in (r["model_true"], r["fixed_true"]))
                extra = [f"{g[len(g) // 2]:+d}", f"{m:.1f} / {x:.1f}, {m / x:.2f}"]
            print(f"| {name} | {a.area} | {a.cycles} | {a.not_measured} | {a.before_cut} | {f(a.mae_model)}"
                  f" | {f(a.mae_fixed)} | {f(a.ratio, 2)} | {f(a.mae_best_fixed)}"
                  f" | {'' if a.coverage is None else f'{100 * a.coverage:.1f}%'} | {extra[0]} | {extra[1]} |")
        sources = ", ".join(f"{k} {len(v)} cycles, median {sorted(v)[len(v) // 2]:+d} d"
                            for k, v in sorted(r["by_source"].items()))
        print(f"<!-- {name}: {r['cycles']} area cycles simulated, track_record {r['seconds']:.1f} CPU s;"
              f" observed - true by source: {sources} -->")
    return 0
