"""Decode an uploaded photo safely, and make the clean copy that is stored.

The file is judged by its bytes, never by its name. Before any pixel is decoded the
container is walked (JPEG segments and entropy-coded scans, PNG chunks with their CRCs):
that gives the dimensions for the decompression-bomb check, proves the file is complete,
and shows anything glued on after the picture (a ZIP, HTML or script appended to make a
"polyglot" file). Every refusal is an `ImageRejected` whose `.reason` is a sentence the
person who uploaded the photo can act on.

JPEG pixels are decoded by libjpeg-turbo through simplejpeg (its TurboJPEG API): the same
pixels as OpenCV's decoder, at full size in about 0.6 of the time. A file it will not
decode cleanly (it is strict: a corrupt-data warning is an error) goes to OpenCV, which
decoded every photo before and still decides what is refused. PNGs are decoded by OpenCV.

The stored copy (`clean_jpeg`) is re-encoded from the pixels, so no EXIF, GPS, maker
notes, XMP or comments survive.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
import simplejpeg

MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000

# Bytes tolerated after the end of the picture: some encoders pad a few bytes. Anything
# longer is refused unless it is pure zero/0xFF padding (cameras that pad to a block).
TRAILING_TOLERANCE = 16
PADDING_LIMIT = 64 * 1024

# Things that make a file another file too. Searched in metadata segments, text chunks and
# whatever follows the picture (lower-cased before the search).
_FOREIGN_SIGNATURES = (
    (b"pk\x03\x04", "a ZIP archive"),
    (b"pk\x05\x06", "a ZIP archive"),
    (b"<html", "an HTML page"),
    (b"<!doctype", "an HTML page"),
    (b"<script", "a script"),
    (b"javascript:", "a script"),
    (b"<?php", "a PHP script"),
    (b"<svg", "an SVG document"),
    (b"%pdf-", "a PDF document"),
    (b"#!/", "a script"),
    (b"rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                b"mif1", b"msf1", b"avif", b"avis"}
_OTHER_FORMATS = (
    (b"GIF87a", "a GIF"), (b"GIF89a", "a GIF"), (b"BM", "a BMP"),
    (b"II*\x00", "a TIFF"), (b"MM\x00*", "a TIFF"), (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
)

# In entropy-coded JPEG data a 0xFF is followed by 0x00 (stuffing), a restart marker
# (D0-D7) or fill bytes (FF); anything else is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_ROTATE = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}


class ImageRejected(Exception):
    """The upload is not a photo we accept; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray = field(repr=False)  # H x W x 3 uint8, EXIF orientation applied
    format: str  # "jpeg" | "png"
    width: int  # of `rgb`
    height: int
    sha256: str  # hex digest of the original bytes
    # Width and height of the full-size picture, orientation applied. They differ from
    # width/height only when `decode_image(..., reduce=N)` decoded a smaller copy.
    full_width: int = 0
    full_height: int = 0

    @property
    def reduce(self) -> float:
        """How many original pixels one pixel of `rgb` spans (1 for a full decode)."""
        return self.full_width / self.width if self.full_width else 1.0


@dataclass
class _Header:
    format: str
    width: int
    height: int
    orientation: int


def probe(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> _Header:
    """Every check that needs no pixel decoding; raises ImageRejected."""
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(
            f"The file is too large ({len(data) / 1048576:.1f} MB); the limit is "
            f"{max_bytes / 1048576:.0f} MB."
        )
    if data.startswith(_JPEG_MAGIC):
        header = _walk_jpeg(data)
    elif data.startswith(_PNG_MAGIC):
        header = _walk_png(data)
    else:
        raise ImageRejected(_not_accepted(data))
    if header.width <= 0 or header.height <= 0:
        raise ImageRejected("The picture has no size in its header; the file is damaged.")
    if header.width * header.height > max_pixels:
        raise ImageRejected(
            f"The picture is {header.width} x {header.height} pixels, more than the "
            f"{max_pixels / 1e6:.0f} megapixels accepted."
        )
    return header


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    reduce: int = 1,
) -> DecodedImage:
    """Validate and decode a JPEG or PNG photo.

    `reduce` (1, 2, 4 or 8) decodes a JPEG at that fraction of its size directly in the
    decoder, which is several times faster than decoding in full and shrinking; PNGs are
    always decoded in full and then shrunk.
    """
    rgb, header, (full_w, full_h) = _decode(data, max_bytes=max_bytes, max_pixels=max_pixels,
                                            reduce=reduce, order="RGB")
    rgb.setflags(write=False)
    return DecodedImage(
        rgb=rgb, format=header.format, width=rgb.shape[1], height=rgb.shape[0],
        sha256=hashlib.sha256(data).hexdigest(), full_width=full_w, full_height=full_h,
    )


def decode_bgr(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
               reduce: int = 1) -> tuple[np.ndarray, _Header, tuple[int, int]]:
    """The same checks and decoding as decode_image, but the pixels come in OpenCV's BGR
    order and no hash is taken: the analysis path skips a full-size colour conversion.
    Returns (bgr, header, (full width, full height) after orientation)."""
    return _decode(data, max_bytes=max_bytes, max_pixels=max_pixels, reduce=reduce,
                   order="BGR")


def _decode(data: bytes, *, max_bytes: int, max_pixels: int, reduce: int,
            order: str) -> tuple[np.ndarray, _Header, tuple[int, int]]:
    if reduce not in (1, 2, 4, 8):
        raise ValueError("reduce must be 1, 2, 4 or 8")
    header = probe(data, max_bytes=max_bytes, max_pixels=max_pixels)
    expect = (-(-header.height // reduce), -(-header.width // reduce))
    pixels = None
    # Below 8 px the next scale down can round up to the same size: OpenCV decodes those.
    if header.format == "jpeg" and max(header.width, header.height) >= 8:
        pixels = _turbo_decode(data, expect, order)
    if pixels is None:
        pixels = _opencv_decode(data, header, reduce, expect)
        if order == "RGB":
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    pixels = _orient(pixels, header.orientation)
    full_w, full_h = header.width, header.height
    if header.orientation in (5, 6, 7, 8):
        full_w, full_h = full_h, full_w
    return pixels, header, (full_w, full_h)


def _turbo_decode(data: bytes, size: tuple[int, int], order: str) -> np.ndarray | None:
    """The JPEG decoded by libjpeg-turbo at `size` (height, width: the header's size divided
    by 1, 2, 4 or 8, rounded up, as the decoder scales; it picks the smallest of its M/8
    scales that reaches that size), or None when it refuses the file or gives another size:
    OpenCV then decodes it and its checks decide.

    Accurate modes only (the default integer DCT and smooth chroma upsampling), as OpenCV,
    so both decoders give the same pixels. The fast modes save at most 3 ms and raise the
    re-shoot scatter of the index (docs/photos.md, "Speed and memory")."""
    try:
        pixels = simplejpeg.decode_jpeg(data, order, min_height=size[0], min_width=size[1])
    except (ValueError, RuntimeError, MemoryError):
        return None
    if pixels.ndim != 3 or pixels.shape[:2] != size or pixels.dtype != np.uint8:
        return None
    return pixels


def _opencv_decode(data: bytes, header: _Header, reduce: int,
                   expect: tuple[int, int]) -> np.ndarray:
    buf = np.frombuffer(data, np.uint8)
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    if header.format == "jpeg" and reduce > 1:
        flags = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                 8: cv2.IMREAD_REDUCED_COLOR_8}[reduce] | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(buf, flags)
    if bgr is None or bgr.ndim != 3 or bgr.dtype != np.uint8:
        raise ImageRejected("The picture data is damaged or uses an unsupported encoding.")
    if header.format == "jpeg" and bgr.shape[:2] != expect:
        raise ImageRejected("The picture data does not match its header; the file is damaged.")
    if header.format == "png" and reduce > 1:
        bgr = cv2.resize(bgr, (expect[1], expect[0]), interpolation=cv2.INTER_AREA)
    return bgr


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply the EXIF orientation (the same for either channel order)."""
    if orientation in _ROTATE:
        return cv2.rotate(pixels, _ROTATE[orientation])
    if orientation in (2, 4, 5, 7):
        # Mirrored orientations: flip, then rotate (EXIF 2=H flip, 4=V flip, 5/7=transpose).
        return {2: lambda a: cv2.flip(a, 1), 4: lambda a: cv2.flip(a, 0),
                5: lambda a: cv2.transpose(a),
                7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180)}[orientation](pixels)
    return pixels


def clean_jpeg(img: DecodedImage, quality: int = 92) -> bytes:
    """The copy to store: the pixels re-encoded as a baseline JPEG with no metadata at all
    (OpenCV writes only the JFIF header: no EXIF, GPS, XMP, ICC or comments)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(img.rgb), cv2.COLOR_RGB2BGR)
    ok, out = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - only on out-of-memory
        raise RuntimeError("JPEG encoding failed")
    return out.tobytes()


# --- container walking ------------------------------------------------------------------

def _not_accepted(data: bytes) -> str:
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return ("HEIC/HEIF photos are not accepted yet. Set the camera to 'Most Compatible' "
                "(JPEG) or export the photo as JPEG.")
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "This is a WebP image; only JPEG and PNG photos are accepted."
    for magic, name in _OTHER_FORMATS:
        if data.startswith(magic):
            return f"This is {name}, not a photo; only JPEG and PNG photos are accepted."
    return "The file is not a JPEG or PNG image."


def _foreign(chunk: bytes, *, short: bool = True) -> str | None:
    """The kind of foreign file whose signature `chunk` holds. `short=False` leaves out the
    3-byte "#!/", which turns up by chance in binary metadata (ICC profiles, thumbnails)."""
    low = chunk.lower()
    for sig, name in _FOREIGN_SIGNATURES:
        if (short or len(sig) > 3) and sig in low:
            return name
    return None


def _check_embedded(chunk: bytes, where: str) -> None:
    name = _foreign(chunk, short=False)
    if name:
        raise ImageRejected(
            f"The file hides {name} in its {where}; it is refused as a disguised file. "
            "Export the photo again from the camera or photo app."
        )


def _check_trailing(rest: bytes) -> None:
    if not rest:
        return
    name = _foreign(rest)
    if name:
        raise ImageRejected(
            f"The file has {name} appended after the picture; it is refused as a disguised "
            "file. Export the photo again from the camera or photo app."
        )
    if len(rest) <= TRAILING_TOLERANCE:
        return
    if len(rest) <= PADDING_LIMIT and (rest.strip(b"\x00") == b"" or rest.strip(b"\xff") == b""):
        return
    raise ImageRejected(
        f"The file carries {len(rest)} bytes of extra data after the picture (for example "
        "a motion-photo video); it is refused. Export it as a still JPEG or PNG."
    )


def _truncated() -> ImageRejected:
    return ImageRejected("The file is cut short (truncated); upload the complete photo again.")


def _walk_jpeg(data: bytes) -> _Header:
    end, width, height, orientation, has_mpf = _jpeg_extent(data, 0)
    rest = data[end:]
    # Multi-Picture Format (phones, 3D cameras) appends further complete JPEGs after the
    # first one's EOI, declared by an APP2 "MPF" segment. Those are accepted and ignored.
    while has_mpf and rest.startswith(_JPEG_MAGIC):
        sub_end = _jpeg_extent(rest, 0)[0]
        rest = rest[sub_end:]
    _check_trailing(rest)
    return _Header("jpeg", width, height, orientation)


def _jpeg_extent(data: bytes, pos: int) -> tuple[int, int, int, int, bool]:
    """Walk one JPEG starting at SOI; return (end, width, height, orientation, has_mpf)."""
    n = len(data)
    pos += 2
    width = height = 0
    orientation = 1
    has_mpf = False
    seen_sof = False
    while True:
        # Markers may be preceded by any number of 0xFF fill bytes.
        if pos >= n:
            raise _truncated()
        if data[pos] != 0xFF:
            raise ImageRejected("The JPEG structure is damaged (no marker where one must be).")
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise _truncated()
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            if not seen_sof:
                raise ImageRejected("The JPEG file has no picture in it.")
            return pos, width, height, orientation, has_mpf
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if pos + 2 > n:
            raise _truncated()
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        if length < 2:
            raise ImageRejected("The JPEG structure is damaged (a segment has a bad length).")
        seg_end = pos + length
        if seg_end > n:
            raise _truncated()
        payload = data[pos + 2:seg_end]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if len(payload) < 5:
                raise ImageRejected("The JPEG frame header is damaged.")
            if not seen_sof:
                height, width = struct.unpack(">HH", payload[1:5])
            seen_sof = True
        elif marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            orientation = _exif_orientation(payload[6:]) or orientation
        elif marker == 0xE2 and payload.startswith(b"MPF\x00"):
            has_mpf = True
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            _check_embedded(payload, "metadata" if marker != 0xFE else "comment")
        pos = seg_end
        if marker == 0xDA:  # SOS: entropy-coded data follows until the next real marker
            if not seen_sof:
                raise ImageRejected("The JPEG structure is damaged (scan before frame header).")
            m = _NEXT_MARKER.search(data, pos)
            if m is None:
                raise _truncated()
            pos = m.start()


def _exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (0x0112) from IFD0 of a TIFF/EXIF block, or None."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    bo = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack(bo + "I", tiff[4:8])
        (count,) = struct.unpack(bo + "H", tiff[ifd:ifd + 2])
        for i in range(min(count, 512)):
            entry = tiff[ifd + 2 + 12 * i: ifd + 14 + 12 * i]
            tag, typ, _cnt = struct.unpack(bo + "HHI", entry[:8])
            if tag == 0x0112 and typ == 3:
                (value,) = struct.unpack(bo + "H", entry[8:10])
                return value if 1 <= value <= 8 else None
    except struct.error:
        return None
    return None


def _walk_png(data: bytes) -> _Header:
    n = len(data)
    pos = len(_PNG_MAGIC)
    width = height = 0
    orientation = 1
    first = True
    saw_idat = False
    while True:
        if pos + 8 > n:
            raise _truncated()
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body_end = pos + 8 + length
        if length > 0x7FFFFFFF or body_end + 4 > n:
            raise _truncated()
        body = data[pos + 8:body_end]
        (crc,) = struct.unpack(">I", data[body_end:body_end + 4])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise ImageRejected("The PNG file is damaged (a checksum does not match).")
        if first:
            if ctype != b"IHDR" or length < 13:
                raise ImageRejected("The PNG file is damaged (it does not start with a header).")
            width, height = struct.unpack(">II", body[:8])
            first = False
        elif ctype == b"IDAT":
            saw_idat = True
        elif ctype == b"eXIf":
            orientation = _exif_orientation(body) or orientation
        elif ctype in (b"tEXt", b"iTXt", b"zTXt"):
            text = body
            if ctype == b"zTXt":
                key, _, rest = body.partition(b"\x00")
                try:
                    text = key + zlib.decompressobj().decompress(rest[1:], 1 << 20)
                except zlib.error:
                    text = body
            _check_embedded(text, "text metadata")
        pos = body_end + 4
        if ctype == b"IEND":
            break
    if not saw_idat:
        raise ImageRejected("The PNG file has no picture data.")
    _check_trailing(data[pos:])
    return _Header("png", width, height, orientation)


def exif_thumbnail(data: bytes) -> np.ndarray | None:
    """The small preview (BGR, EXIF orientation applied) that cameras and phones store in the
    EXIF block of a JPEG, or None. Decoding it costs well under a millisecond, so the
    analysis can see how big the face is before choosing how large to decode the photo.
    Call only on bytes that passed `probe` (the container is then known to be sound)."""
    if not data.startswith(_JPEG_MAGIC):
        return None
    pos, n = 2, len(data)
    tiff = None
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xDA, 0xD9):  # image data starts: no EXIF before it
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\x00\x00":
            tiff = data[pos + 10:pos + 2 + length]
            break
        pos += 2 + length
    if not tiff or tiff[:2] not in (b"II", b"MM"):
        return None
    bo = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack(bo + "I", tiff[4:8])
        (count,) = struct.unpack(bo + "H", tiff[ifd0:ifd0 + 2])
        (ifd1,) = struct.unpack(bo + "I", tiff[ifd0 + 2 + 12 * count: ifd0 + 6 + 12 * count])
        if not ifd1:
            return None
        (count1,) = struct.unpack(bo + "H", tiff[ifd1:ifd1 + 2])
        offset = size = None
        orientation = _exif_orientation(tiff) or 1
        for i in range(min(count1, 64)):
            tag, _typ, _cnt, value = struct.unpack(bo + "HHII", tiff[ifd1 + 2 + 12 * i: ifd1 + 14 + 12 * i])
            if tag == 0x0201:
                offset = value
            elif tag == 0x0202:
                size = value
    except struct.error:
        return None
    if not offset or not size or offset + size > len(tiff) or size > 512 * 1024:
        return None
    thumb = cv2.imdecode(np.frombuffer(tiff[offset:offset + size], np.uint8),
                         cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if thumb is None:
        return None
    if orientation in _ROTATE:
        thumb = cv2.rotate(thumb, _ROTATE[orientation])
    return thumb
