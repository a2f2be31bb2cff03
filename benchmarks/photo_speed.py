"""Speed and memory of `analyze_bytes` on 12-megapixel phone-size JPEGs, against the time it
takes just to decode the same JPEG, measured side by side in one run.

    python -m benchmarks photo_speed [--runs N]

The photos are real faces (Grace Hopper, matplotlib; Eileen Collins, scikit-image) upscaled
to 4032 x 3024 with a little sensor noise so they compress like camera JPEGs (quality 92):

- "portrait": the face fills the frame, as in a clinic photo (eye corners ~840 px apart);
- "landscape": a smaller face (eye corners ~370 px apart), still analysed from a half-size
  decode;
- "small-face": eye corners ~300 px apart, which needs a second, full-size decode (the
  worst case);
- "small-face + EXIF preview": the same file with a 160 px EXIF preview, as phones and
  cameras write one: the face size is read from the preview and the photo decoded once.

Timings are medians of N interleaved runs (decode, full pipeline, decode, ...) in one
process after one warm-up, so both see the same machine load. The floor is OpenCV's plain
`cv2.imdecode` of the whole JPEG. "vs a prepared baseline" adds the alignment to a baseline
whose landmarks and canvas are already known (landmark fit, dense ECC refinement, second
warp). "with OpenCV's decoder" is the same analysis with every JPEG handed to OpenCV, as
before libjpeg-turbo's TurboJPEG API (simplejpeg) decoded them, in the same interleaved
run. Peak memory is the peak resident set size (VmHWM) of a
fresh subprocess that imports everything and analyses one photo, next to one that only
imports (the libraries alone).
Targets: pipeline <= 2x the decode floor; peak RSS <= 400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGET_RATIO = 2.0
TARGET_RSS_MB = 400


def make_jpegs(directory: str) -> dict[str, str]:
    import cv2
    import matplotlib
    import skimage.data
    from pathlib import Path

    from touchup.vision.synthetic import with_exif_preview

    rng = np.random.default_rng(0)
    out = {}
    gh = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    big = cv2.resize(gh, (3440, 4032), interpolation=cv2.INTER_CUBIC)[:, 208:208 + 3024]
    ec = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    wide = cv2.resize(ec, (3024, 3024), interpolation=cv2.INTER_CUBIC)
    wide = cv2.copyMakeBorder(wide, 0, 0, 504, 504, cv2.BORDER_REFLECT)
    small = cv2.resize(ec, (2480, 2480), interpolation=cv2.INTER_CUBIC)
    small = cv2.copyMakeBorder(small, 272, 272, 776, 776, cv2.BORDER_REFLECT)
    for name, img in (("portrait", big), ("landscape", wide), ("small-face", small)):
        noisy = np.clip(img + rng.normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)
        ok, enc = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 92])
        path = os.path.join(directory, f"{name}.jpg")
        with open(path, "wb") as fh:
            fh.write(enc.tobytes())
        out[name] = path
    # As phones write it: the same small-face photo with a 160 px EXIF preview.
    path = os.path.join(directory, "small-face+preview.jpg")
    with open(out["small-face"], "rb") as fh, open(path, "wb") as dst:
        dst.write(with_exif_preview(fh.read(), width=160))
    out["small-face + EXIF preview"] = path
    return out


_CHILD = r"""
import json, sys
mode, path = sys.argv[1], sys.argv[2]
import cv2, numpy
from touchup.vision.analyze import analyze_bytes
from touchup.vision.landmarks import default_detector
default_detector().detect(numpy.zeros((64, 64, 3), numpy.uint8))  # build the model graph
if mode == "analyze":
    with open(path, "rb") as fh:
        analyze_bytes(fh.read())
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"maxrss_mb": int(hwm.split()[1]) / 1024}))
"""


def peak_rss(mode: str, path: str) -> float:
    env = dict(os.environ, GLOG_minloglevel="2")
    r = subprocess.run([sys.executable, "-c", _CHILD, mode, path], capture_output=True,
                       text=True, timeout=300, env=env)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])["maxrss_mb"]


def main(argv: list[str]) -> int:
    import cv2

    from touchup.vision import decode as decode_module
    from touchup.vision.analyze import Prepared, _measure, analyze_bytes, prepare_bytes
    from touchup.vision.decode import decode_image

    turbo = decode_module._turbo_decode

    def with_opencv_decoder(data):
        # What simplejpeg does not decode goes to OpenCV; here nothing is decoded by it.
        decode_module._turbo_decode = lambda *a: None
        try:
            return analyze_bytes(data)
        finally:
            decode_module._turbo_decode = turbo

    def analyze(_rgb, prepared: Prepared):
        return _measure(prepared, None)

    ap = argparse.ArgumentParser(prog="python -m benchmarks photo_speed")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    print(f"photo_speed: {args.runs} interleaved runs, cv2 threads {cv2.getNumThreads()}, "
          f"{os.cpu_count()} CPUs")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        files = make_jpegs(tmp)
        for name, path in files.items():
            with open(path, "rb") as fh:
                data = fh.read()
            buf = np.frombuffer(data, np.uint8)
            prepared = prepare_bytes(data)
            # A re-shot copy of the same photo as its baseline, prepared once (as a worker
            # analysing several follow-ups of one patient would keep it).
            baseline = prepare_bytes(data)
            _ = baseline.canvas
            stages = {
                "cv2.imdecode (floor)": lambda: cv2.imdecode(buf, cv2.IMREAD_COLOR),
                "decode_image (checked, full size)": lambda: decode_image(data),
                "  of which: prepare_bytes (decode+landmarks)": lambda: prepare_bytes(data),
                "  of which: measure (align..quality)": lambda: analyze(prepared.rgb, prepared),
                "analyze_bytes (end to end)": lambda: analyze_bytes(data),
                "analyze_bytes vs a prepared baseline": lambda: analyze_bytes(data, baseline),
                "analyze_bytes with OpenCV's decoder": lambda: with_opencv_decoder(data),
            }
            result = analyze_bytes(data)  # warm-up (model graph, kernel spectra)
            times = {k: [] for k in stages}
            for _ in range(args.runs):
                for k, fn in stages.items():
                    t = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t)
            med = {k: 1000 * float(np.median(v)) for k, v in times.items()}
            floor = med["cv2.imdecode (floor)"]
            ratio = med["analyze_bytes (end to end)"] / floor
            h, w = cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_8).shape
            print(f"\n{name}: {len(data) / 1e6:.1f} MB JPEG, ~{w * 8} x {h * 8}, decoded at "
                  f"1/{prepared.reduce:.0f}, face found: {result['face_found']}, regions "
                  f"measured: {sum(v is not None for v in result['regions'].values())}")
            for k, v in med.items():
                p90 = 1000 * float(np.percentile(times[k], 90))
                print(f"  {k:44} median {v:7.1f} ms   p90 {p90:7.1f} ms   {v / floor:4.2f}x floor")
            ok &= ratio <= TARGET_RATIO
            rss_import = peak_rss("import", path)
            rss = peak_rss("analyze", path)
            ok &= rss <= TARGET_RSS_MB
            print(f"  peak RSS: {rss:.0f} MB analysing (libraries and model alone: "
                  f"{rss_import:.0f} MB)")
    verdict = "meets" if ok else "DOES NOT meet"
    print(f"\nphoto_speed: {verdict} the targets (<= {TARGET_RATIO:.0f}x decode, "
          f"<= {TARGET_RSS_MB} MB peak RSS)")
    return 0
