"""Accuracy of the wrinkle index: graded synthetic lines on real face photos, re-shot.

    python -m benchmarks photo_accuracy [--reshoots N] [--seed S] [--via-bytes]

For each real face photo that ships with an installed library (Grace Hopper from
matplotlib, Eileen Collins from scikit-image; both public domain) and each region visible in
it, three lines of depth 0, 3, 6, 10, 15, 20, 30 % are painted in (touchup.vision.synthetic).
Every painted photo is then re-shot N times (random shift ±2 % of the width, scale ±5 %,
tilt ±3°, exposure ±5 %, sensor noise, JPEG quality 85-95) and analysed from scratch
(landmarks found again each time), twice: alone, and against the unpainted photo as the
patient's baseline (as the clinic does: follow-ups are aligned to the pre-treatment photo,
landmark fit plus dense ECC refinement). Reported per region and mode:

- Spearman correlation between depth and index over all shots (target >= 0.95), and
  between depth and the mean index of each depth;
- whether the mean index rises at every depth step;
- the re-shoot coefficient of variation at each depth (target <= 3 %);
- the smallest depth step the index resolves: the mean change per step divided by the
  re-shoot standard deviation.

With --via-bytes every re-shot JPEG is analysed from its file bytes (`analyze_bytes`: the
checked decode at the size the analysis picks, as an upload is) instead of from pixels that
OpenCV decoded; the baseline stays the unpainted photo's pixels. That is the run to compare
when the decoder changes.

A second table shows how far each kind of re-shoot alone moves the index, in units of one
3 %-depth step, so a change can be read against the capture noise.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import spearmanr

DEPTHS = (0.0, 0.03, 0.06, 0.10, 0.15, 0.20, 0.30)
TARGET_SPEARMAN = 0.95
TARGET_CV = 0.03


def photos():
    import cv2
    import matplotlib
    import skimage.data
    from pathlib import Path

    gh = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    gh = cv2.cvtColor(cv2.resize(gh, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                      cv2.COLOR_BGR2RGB)
    ec = cv2.resize(skimage.data.astronaut(), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    return {"grace_hopper (x2)": gh, "astronaut (x4)": ec}


NUISANCES = {
    "shift only": dict(shift_px=0.02, scale=0, tilt_deg=0, exposure=0, noise=0, jpeg_quality=(95, 95)),
    "scale only": dict(shift_px=0, scale=0.05, tilt_deg=0, exposure=0, noise=0, jpeg_quality=(95, 95)),
    "tilt only": dict(shift_px=0, scale=0, tilt_deg=3, exposure=0, noise=0, jpeg_quality=(95, 95)),
    "exposure only": dict(shift_px=0, scale=0, tilt_deg=0, exposure=0.10, noise=0, jpeg_quality=(95, 95)),
    "JPEG q60-95": dict(shift_px=0, scale=0, tilt_deg=0, exposure=0, noise=0, jpeg_quality=(60, 95)),
    "all together": dict(),
}


MODES = ("alone", "vs baseline")


def _table(title: str, regions, shots, reshoots: int) -> bool:
    ok = True
    print(f"  {title}")
    print(f"    {'region':17} {'spearman':>8} {'(means)':>7} {'rises':>5} {'CV% min/med/max':>16} "
          f"{'step/SD':>7}  mean index by depth " + " ".join(f"{d:.2f}" for d in DEPTHS))
    for n in regions:
        xs, ys = [], []
        for d in DEPTHS:
            xs += [d] * len(shots[n][d])
            ys += shots[n][d]
        rho = spearmanr(xs, ys).statistic
        means = np.array([np.mean(shots[n][d]) if shots[n][d] else np.nan for d in DEPTHS])
        rho_means = spearmanr(DEPTHS, means).statistic
        sds = np.array([np.std(shots[n][d], ddof=1) if len(shots[n][d]) > 1 else np.nan
                        for d in DEPTHS])
        cvs = sds / means
        rises = bool(np.all(np.diff(means) > 0))
        resolve = np.nanmean(np.diff(means) / np.diff(DEPTHS)) * 0.03 / np.nanmedian(sds)
        missing = sum(reshoots - len(shots[n][d]) for d in DEPTHS)
        ok &= bool(rho >= TARGET_SPEARMAN and rises and np.nanmax(cvs) <= TARGET_CV)
        print(f"    {n:17} {rho:8.3f} {rho_means:7.3f} {'yes' if rises else 'NO':>5} "
              f"{100 * np.nanmin(cvs):5.1f}/{100 * np.nanmedian(cvs):4.1f}/"
              f"{100 * np.nanmax(cvs):4.1f}  {resolve:7.1f}  "
              + " ".join(f"{m:.3f}" for m in means)
              + (f"  ({missing} shots found it not visible)" if missing else ""))
    return ok


def main(argv: list[str]) -> int:
    from touchup.vision.analyze import analyze, analyze_bytes, prepare
    from touchup.vision.landmarks import default_detector
    from touchup.vision.synthetic import paint_lines, reshoot, reshoot_jpeg

    ap = argparse.ArgumentParser(prog="python -m benchmarks photo_accuracy")
    ap.add_argument("--reshoots", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--via-bytes", action="store_true",
                    help="analyse each re-shot JPEG from its bytes (analyze_bytes)")
    args = ap.parse_args(argv)
    # A re-shot photo as the analysis receives it: decoded pixels, or the JPEG file.
    shoot, measure = reshoot, analyze
    if args.via_bytes:
        shoot, measure = reshoot_jpeg, analyze_bytes
    rng = np.random.default_rng(args.seed)
    detector = default_detector()
    started = time.perf_counter()
    ok = {m: True for m in MODES}

    print(f"photo_accuracy: {len(DEPTHS)} depths x {args.reshoots} re-shoots, seed {args.seed}; "
          "each shot analysed alone and against the unpainted photo as the baseline"
          + ("; shots analysed from their JPEG bytes" if args.via_bytes else ""))
    for title, rgb in photos().items():
        lm = detector.detect(rgb)
        base = prepare(rgb)  # the "before" photo, as the clinic's baseline
        clean = analyze(rgb)["regions"]
        names = ("forehead", "glabella", "crows_feet_left", "crows_feet_right", "platysma")
        regions = [n for n in names if clean[n] is not None]
        hidden = [n for n in names if clean[n] is None]
        # shots[mode][region][depth] -> list of indices
        shots = {m: {n: {d: [] for d in DEPTHS} for n in regions} for m in MODES}
        for depth in DEPTHS:
            painted = paint_lines(rgb, lm, {n: depth for n in regions})
            for _ in range(args.reshoots):
                shot = shoot(painted, rng)
                for mode, r in (("alone", measure(shot)), ("vs baseline", measure(shot, base))):
                    for n in regions:
                        if r["regions"][n] is not None:
                            shots[mode][n][depth].append(r["regions"][n]["wrinkle_index"])
        print(f"\n{title}: regions measured {', '.join(regions)}; not visible: "
              f"{', '.join(hidden) or 'none'}")
        for mode in MODES:
            ok[mode] &= _table(f"analysed {mode}:", regions, shots[mode], args.reshoots)

        # Which capture changes matter: each nuisance alone, 10 % lines.
        painted = paint_lines(rgb, lm, {n: 0.10 for n in regions})
        print(f"  re-shoot effect alone, mean |change| in 3%-depth steps (10 % lines, "
              f"{args.reshoots} shots each; alone / vs baseline):")
        print("    " + f"{'':15}" + "".join(f"{n:>18}" for n in regions))
        refs = {"alone": analyze(painted)["regions"], "vs baseline": analyze(painted, base)["regions"]}
        # One 3 %-depth step: the mean slope from no lines to 30 % lines, times 3 %.
        step = {m: {n: (np.mean(shots[m][n][0.30]) - np.mean(shots[m][n][0.0])) / 10
                    for n in regions} for m in MODES}
        for label, kw in NUISANCES.items():
            vals = {m: {n: [] for n in regions} for m in MODES}
            for _ in range(args.reshoots):
                shot = shoot(painted, rng, **kw)
                for mode, r in (("alone", measure(shot)), ("vs baseline", measure(shot, base))):
                    for n in regions:
                        a, b = r["regions"][n], refs[mode][n]
                        if a is not None and b is not None:
                            vals[mode][n].append(abs(a["wrinkle_index"] - b["wrinkle_index"]))
            cells = []
            for n in regions:
                parts = [f"{np.mean(vals[m][n]) / step[m][n]:.2f}" if vals[m][n] and step[m][n] > 0
                         else "-" for m in MODES]
                cells.append(f"{' / '.join(parts):>18}")
            print(f"    {label:15}" + "".join(cells))

    for mode in MODES:
        verdict = "meets" if ok[mode] else "DOES NOT meet"
        print(f"\nphoto_accuracy ({mode}): {verdict} the targets (Spearman >= {TARGET_SPEARMAN}, "
              f"rising every step, re-shoot CV <= {TARGET_CV:.0%}) in every measured region")
    print(f"{time.perf_counter() - started:.0f} s")
    return 0
