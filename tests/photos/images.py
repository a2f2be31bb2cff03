"""Real image files for the photo tests, made from a real face photo that ships inside
scikit-image (the astronaut portrait), written with Pillow like a camera would: with
EXIF orientation and a GPS position that must not survive storage. HEIC files are
written by pillow-heif's encoder (x265) as an iPhone writes them."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from functools import lru_cache

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


def heic(rgb: np.ndarray | None = None, *, orientation: int | None = None, gps: bool = True,
         quality: int = 90, tile_size: int = 0) -> bytes:
    """A HEIC as an iPhone writes one: `rgb` are the pixels as shot, an orientation is
    written as the HEIF rotation (irot/imir) and as the EXIF tag, with a GPS position."""
    import pillow_heif

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(face_rgb() if rgb is None else rgb)).save(
        out, quality=quality, exif=exif.tobytes(), tile_size=tile_size)
    return out.getvalue()


@lru_cache(maxsize=None)
def heic_face() -> bytes:
    """The astronaut as a HEIC (512 x 512, with GPS), written once per test run."""
    return heic()


@lru_cache(maxsize=None)
def heic_phone_photo() -> bytes:
    """A usable, not smiling face at phone-photo scale (`neutral_face`) as an iPhone HEIC
    held upright: the pixels lie on their side and the file says to turn them (orientation
    6). Decoded upright it is `neutral_face()`. Encoding takes a few seconds: written once."""
    return heic(np.ascontiguousarray(np.rot90(neutral_face())), orientation=6, tile_size=512)


def heic_truncated() -> bytes:
    data = heic_face()
    return data[: len(data) // 2]


def heic_polyglot() -> bytes:
    """A real HEIC with a ZIP archive appended."""
    return heic_face() + zip_bytes()


def heic_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A real HEIC whose header (ispe) claims 900 megapixels: refused before decoding."""
    data = bytearray(heic_face())
    at = data.index(b"ispe")
    data[at + 8:at + 16] = struct.pack(">II", width, height)
    return bytes(data)


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
