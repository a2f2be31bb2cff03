"""Decoding a 12-megapixel HEIC against the same photo as JPEG, as the upload does it.

    python -m benchmarks heic_speed [--runs N] [--quality Q]

One real face (Grace Hopper, matplotlib) upscaled to 4032 x 3024 with a little sensor
noise, written twice: as a JPEG (quality 92, as `photo_speed` writes them) and as a HEIC the
way an iPhone writes one (HEVC by x265 through pillow-heif, 512 px grid tiles, quality
--quality). Medians of N interleaved runs in one process after one warm-up:

- `probe`: every check before decoding (for a HEIC the box walk and libheif's parse);
- `decode_image`: the checked full-size decode the upload uses (RGB, SHA-256);
- `upload`: decode_image + clean_jpeg, the work `photo_upload` does on the file;
- `analyze_bytes`: the quality check of the capture page and the portal on the uploaded
  file (a JPEG is decoded at half size there; a HEIC always in full).

The worker analyses the stored clean JPEG, so a HEIC costs more only at upload and check.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np


def make_files(quality: int) -> tuple[bytes, bytes]:
    from pathlib import Path

    import cv2
    import matplotlib
    import pillow_heif
    from PIL import Image

    rng = np.random.default_rng(0)
    gh = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    big = cv2.resize(gh, (3440, 4032), interpolation=cv2.INTER_CUBIC)[:, 208:208 + 3024]
    noisy = np.clip(big + rng.normal(0, 2.0, big.shape), 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    out = io.BytesIO()
    rgb = Image.fromarray(cv2.cvtColor(noisy, cv2.COLOR_BGR2RGB))
    pillow_heif.from_pillow(rgb).save(out, quality=quality, tile_size=512)
    return enc.tobytes(), out.getvalue()


def _timed(fn, runs: list[float]) -> None:
    t0 = time.perf_counter()
    fn()
    runs.append((time.perf_counter() - t0) * 1000)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks heic_speed")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--quality", type=int, default=80)
    args = ap.parse_args(argv)

    import os

    from touchup.vision.analyze import analyze_bytes
    from touchup.vision.decode import clean_jpeg, decode_image, probe

    t0 = time.perf_counter()
    jpeg, heic = make_files(args.quality)
    print(f"files written in {time.perf_counter() - t0:.1f} s: JPEG {len(jpeg) / 1e6:.2f} MB, "
          f"HEIC {len(heic) / 1e6:.2f} MB (4032 x 3024)")
    steps = {
        "probe": lambda d: probe(d),
        "decode_image": lambda d: decode_image(d),
        "upload (decode_image + clean_jpeg)": lambda d: clean_jpeg(decode_image(d)),
        "analyze_bytes": lambda d: analyze_bytes(d),
    }
    for step in steps.values():  # warm-up: imports, the landmark model, libheif
        step(jpeg), step(heic)
    times = {(name, kind): [] for name in steps for kind in ("jpeg", "heic")}
    for _ in range(args.runs):
        for name, step in steps.items():
            for kind, data in (("jpeg", jpeg), ("heic", heic)):
                _timed(lambda: step(data), times[(name, kind)])
    load = os.getloadavg()[0]
    print(f"medians of {args.runs} interleaved runs (load average {load:.1f}, "
          f"{os.cpu_count()} CPUs)")
    print("| step | JPEG | HEIC | HEIC / JPEG |\n|---|---|---|---|")
    for name in steps:
        j = statistics.median(times[(name, "jpeg")])
        h = statistics.median(times[(name, "heic")])
        print(f"| {name} | {j:.1f} ms | {h:.1f} ms | {h / j:.1f}x |")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
