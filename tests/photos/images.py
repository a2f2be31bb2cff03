"""Real image files for the photo tests, made from a real face photo that ships inside
scikit-image (the astronaut portrait), written with Pillow like a camera would: with
EXIF orientation and a GPS position that must not survive storage."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def face_rgb() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def jpeg(rgb: np.ndarray | None = None, *, orientation: int | None = None, gps: bool = True,
         quality: int = 92, comment: bytes | None = None) -> bytes:
    img = Image.fromarray(face_rgb() if rgb is None else rgb)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        # GPSInfo IFD: 48°51'N 2°21'E, the kind of thing a phone writes.
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    out = io.BytesIO()
    kwargs = {"quality": quality, "exif": exif.tobytes()}
    if comment is not None:
        kwargs["comment"] = comment
    img.save(out, "JPEG", **kwargs)
    return out.getvalue()


def png(rgb: np.ndarray | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(face_rgb() if rgb is None else rgb).save(out, "PNG")
    return out.getvalue()


def shifted(dx: int = 0, brightness: float = 1.0) -> np.ndarray:
    """The face, re-shot a little to the side and brighter or darker: another real photo."""
    rgb = np.roll(face_rgb(), dx, axis=1).astype(np.float32) * brightness
    return np.clip(rgb, 0, 255).astype(np.uint8)


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return out.getvalue()


def polyglot() -> bytes:
    """A real JPEG with a ZIP archive appended: opens as a photo and as an archive."""
    return jpeg() + zip_bytes()


def truncated() -> bytes:
    data = jpeg()
    return data[: len(data) // 2]


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid, tiny PNG whose header claims 900 megapixels (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width * 3)
    idat = zlib.compress(row * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


NOT_AN_IMAGE = b"Patient notes.txt: this is not a photo at all\n"


def usable_face(dx: int = 0) -> np.ndarray:
    """The astronaut at phone-photo scale: enlarged 4x (Lanczos, lightly sharpened as a
    phone does) and a little darker, so the face is big and sharp enough and unclipped."""
    import cv2

    big = cv2.resize(np.roll(face_rgb(), dx, axis=1), None, fx=4, fy=4,
                     interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    blur = cv2.GaussianBlur(big, (0, 0), 3)
    return np.clip((big + (big - blur)) * 0.9, 0, 255).astype(np.uint8)


def neutral_face(dx: int = 0) -> np.ndarray:
    """Grace Hopper's portrait (matplotlib's sample photo, public domain), not smiling, at
    phone-photo scale like `usable_face`: a usable photo for the views that ask for a still
    mouth (the astronaut smiles broadly, which the expression check refuses there)."""
    from pathlib import Path

    import cv2
    import matplotlib

    bgr = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    rgb = cv2.cvtColor(np.roll(bgr, dx, axis=1), cv2.COLOR_BGR2RGB)
    big = cv2.resize(rgb, None, fx=3, fy=3, interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    blur = cv2.GaussianBlur(big, (0, 0), 3)
    return np.clip((big + (big - blur)) * 0.9, 0, 255).astype(np.uint8)
