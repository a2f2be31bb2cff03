"""Decode an uploaded photo safely, and make the clean copy that is stored.

The file is judged by its bytes, never by its name. Before any pixel is decoded the
container is walked (JPEG segments and entropy-coded scans, PNG chunks with their CRCs,
HEIF boxes with their item locations): that gives the dimensions for the decompression-bomb
check, proves the file is complete, and shows anything glued on after the picture (a ZIP,
HTML or script appended to make a "polyglot" file). Every refusal is an `ImageRejected`
whose `.reason` is a sentence the person who uploaded the photo can act on.

JPEG pixels are decoded by libjpeg-turbo through simplejpeg (its TurboJPEG API): the same
pixels as OpenCV's decoder, at full size in about 0.6 of the time. A file it will not
decode cleanly (it is strict: a corrupt-data warning is an error) goes to OpenCV, which
decoded every photo before and still decides what is refused. PNGs are decoded by OpenCV.
HEIC (HEIF with HEVC-coded pictures: what iPhones shoot) is decoded by libheif through
pillow-heif, only after the box walk here has checked it; AVIF is refused (the wheel has no
AV1 decoder).

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
_AVIF_BRANDS = {b"avif", b"avis"}
_HEVC_BRANDS = _HEIF_BRANDS - _AVIF_BRANDS - {b"mif1", b"msf1"}
# Boxes that may stand at the top level of a HEIF file. Anything else where a box should
# start is taken as data after the picture (a ZIP's "PK\3\4" or "<html" read as a box).
_HEIF_TOP_BOXES = {b"ftyp", b"meta", b"mdat", b"free", b"skip", b"uuid", b"wide", b"moov",
                   b"moof", b"mfra", b"meco", b"pdin", b"styp", b"sidx", b"prft", b"etyp"}
# Item types that are pictures (their ispe counts for the decompression-bomb check), and
# the derived ones libheif assembles from other pictures (the tiles of an iPhone photo).
_HEIF_IMAGE_ITEMS = {b"hvc1", b"av01", b"grid", b"iden", b"iovl", b"jpeg", b"unci", b"j2k1",
                     b"avc1", b"vvc1", b"mski", b"tmap", b"evc1"}
_HEIF_DERIVED = {b"grid", b"iden", b"iovl"}
# Items that hold text or metadata: searched for foreign files like JPEG metadata segments.
_HEIF_META_ITEMS = {b"Exif", b"mime", b"uri "}
# The pixels libheif may have to decode for one picture (its tiles, alpha and gain map), as a
# multiple of the picture's size limit: tiles overhang the edges, a gain map adds a quarter.
_HEIF_DECODE_BUDGET = 1.5
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
    format: str  # "jpeg" | "png" | "heic"
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
    elif _heif_brands(data) & _HEIF_BRANDS:
        header = _walk_heif(data, max_pixels)
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
    """Validate and decode a JPEG, PNG or HEIC photo.

    `reduce` (1, 2, 4 or 8) decodes a JPEG at that fraction of its size directly in the
    decoder, which is several times faster than decoding in full and shrinking; PNGs and
    HEICs are always decoded in full and then shrunk.
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
    if header.format == "heic":
        pixels = _heif_decode(data, header, order)
        if reduce > 1:
            pixels = cv2.resize(pixels, (expect[1], expect[0]), interpolation=cv2.INTER_AREA)
    elif pixels is None:
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
    if data[4:8] == b"ftyp":
        # ISO media that is not HEIF: a video (MP4, a Live Photo's MOV) or a raw file.
        return ("This is a video or another kind of media file, not a still photo; only JPEG, "
                "PNG and HEIC photos are accepted.")
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "This is a WebP image; only JPEG, PNG and HEIC photos are accepted."
    for magic, name in _OTHER_FORMATS:
        if data.startswith(magic):
            return f"This is {name}, not a photo; only JPEG, PNG and HEIC photos are accepted."
    return "The file is not a JPEG, PNG or HEIC image."


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
        "a motion-photo video); it is refused. Export it as a still JPEG, PNG or HEIC."
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


# --- HEIF (HEIC) -------------------------------------------------------------------------
# An ISO base media file: top-level boxes (ftyp, meta, mdat), and in `meta` the items (the
# primary picture, its tiles, thumbnails, EXIF), where their bytes are (iloc) and their
# properties (size ispe, rotation irot, mirror imir). libheif reads all that again to decode;
# it is walked here first so that the size limits, completeness and polyglot checks hold
# before any of the file reaches the decoder, as for JPEG and PNG.

def _heif_damaged() -> ImageRejected:
    return ImageRejected(
        "This HEIC photo is damaged or incomplete; export it again from the phone or photo "
        "app, or send it as JPEG."
    )


def _heif_truncated() -> ImageRejected:
    return ImageRejected("This HEIC photo is cut short (truncated); upload the complete photo again.")


def _avif() -> ImageRejected:
    return ImageRejected(
        "This is an AVIF image; only JPEG, PNG and HEIC photos are accepted. Export the photo "
        "as JPEG."
    )


def _heif_brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of the leading ftyp box; empty when there is none."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    (size,) = struct.unpack(">I", data[:4])
    end = min(size, len(data), 16 + 4 * 64)
    return {data[8:12]} | {data[i:i + 4] for i in range(16, end - 3, 4)}


class _Reader:
    """Big-endian integers from data[pos:end]; running past `end` means a damaged box."""

    def __init__(self, data: bytes, pos: int, end: int):
        self.data, self.pos, self.end = data, pos, end

    def u(self, size: int) -> int:
        if self.pos + size > self.end:
            raise _heif_damaged()
        value = int.from_bytes(self.data[self.pos:self.pos + size], "big")
        self.pos += size
        return value

    def four(self) -> bytes:
        if self.pos + 4 > self.end:
            raise _heif_damaged()
        self.pos += 4
        return self.data[self.pos - 4:self.pos]


def _heif_children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, body start, body end) of each box inside data[start:end]. The outer box is
    complete, so a child running past it is damage, not truncation."""
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if size == 1:
            if pos + 16 > end:
                raise _heif_damaged()
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise _heif_damaged()
        out.append((kind, pos + head, pos + size))
        pos += size
    return out


@dataclass
class _HeifMeta:
    primary: int | None = None
    types: dict[int, bytes] = field(default_factory=dict)
    # (construction method, extents): file offsets for method 0, idat offsets for 1. Read as
    # (offset, length); _walk_heif checks them and turns them into (start, end).
    locations: dict[int, tuple[int, list[tuple[int, int]]]] = field(default_factory=dict)
    properties: list[tuple[bytes, int, int]] = field(default_factory=list)
    associations: dict[int, list[int]] = field(default_factory=dict)  # 1-based into properties
    refs: dict[bytes, dict[int, list[int]]] = field(default_factory=dict)
    idat: tuple[int, int] | None = None

    def prop(self, item: int, kind: bytes) -> tuple[int, int] | None:
        for index in self.associations.get(item, ()):
            if 1 <= index <= len(self.properties) and self.properties[index - 1][0] == kind:
                return self.properties[index - 1][1:]
        return None

    def ispe(self, data: bytes, item: int) -> tuple[int, int] | None:
        span = self.prop(item, b"ispe")
        if span is None:
            return None
        r = _Reader(data, *span)
        r.u(4)  # version, flags
        return r.u(4), r.u(4)

    def item_bytes(self, data: bytes, item: int) -> bytes:
        method, extents = self.locations.get(item, (0, []))
        base = 0
        if method == 1:
            if self.idat is None:
                raise _heif_damaged()
            base = self.idat[0]
        elif method != 0:
            return b""
        return b"".join(data[base + a:base + b] for a, b in extents)


def _heif_meta(data: bytes, start: int, end: int) -> _HeifMeta:
    meta = _HeifMeta()
    for kind, a, b in _heif_children(data, start + 4, end):  # meta is a full box
        r = _Reader(data, a, b)
        if kind == b"pitm":
            version = r.u(1)
            r.u(3)
            meta.primary = r.u(2 if version == 0 else 4)
        elif kind == b"iinf":
            version = r.u(1)
            r.u(3)
            r.u(2 if version == 0 else 4)  # entry count: the infe boxes follow
            for sub, sa, sb in _heif_children(data, r.pos, b):
                if sub != b"infe":
                    continue
                e = _Reader(data, sa, sb)
                version = e.u(1)
                e.u(3)
                if version >= 2:
                    item = e.u(2 if version == 2 else 4)
                    e.u(2)  # protection index
                    meta.types[item] = e.four()
        elif kind == b"iloc":
            _heif_iloc(data, r, meta)
        elif kind == b"iprp":
            for sub, sa, sb in _heif_children(data, a, b):
                if sub == b"ipco":
                    meta.properties = _heif_children(data, sa, sb)
                elif sub == b"ipma":
                    e = _Reader(data, sa, sb)
                    version = e.u(1)
                    flags = e.u(3)
                    for _ in range(e.u(4)):
                        item = e.u(2 if version < 1 else 4)
                        wide = flags & 1
                        meta.associations.setdefault(item, []).extend(
                            e.u(2 if wide else 1) & (0x7FFF if wide else 0x7F)
                            for _ in range(e.u(1)))
        elif kind == b"iref":
            version = r.u(1)
            r.u(3)
            id_size = 2 if version == 0 else 4
            for sub, sa, sb in _heif_children(data, r.pos, b):
                e = _Reader(data, sa, sb)
                source = e.u(id_size)
                targets = [e.u(id_size) for _ in range(e.u(2))]
                meta.refs.setdefault(sub, {}).setdefault(source, []).extend(targets)
        elif kind == b"idat":
            meta.idat = (a, b)
    return meta


def _heif_iloc(data: bytes, r: _Reader, meta: _HeifMeta) -> None:
    version = r.u(1)
    r.u(3)
    sizes = r.u(1)
    offset_size, length_size = sizes >> 4, sizes & 15
    sizes = r.u(1)
    base_size, index_size = sizes >> 4, (sizes & 15) if version in (1, 2) else 0
    if version > 2 or not {offset_size, length_size, base_size, index_size} <= {0, 4, 8}:
        raise _heif_damaged()
    for _ in range(r.u(2 if version < 2 else 4)):
        item = r.u(2 if version < 2 else 4)
        method = r.u(2) & 15 if version in (1, 2) else 0
        r.u(2)  # data reference index: 0, this file
        base = r.u(base_size)
        extents = []
        for _ in range(r.u(2)):
            r.u(index_size)
            offset, length = base + r.u(offset_size), r.u(length_size)
            extents.append((offset, length))
        meta.locations[item] = (method, extents)


def _walk_heif(data: bytes, max_pixels: int) -> _Header:
    n = len(data)
    brands = _heif_brands(data)
    if data[8:12] in _AVIF_BRANDS and not brands & _HEVC_BRANDS:
        raise _avif()
    # Top-level boxes. Where no box of a known kind starts, the picture has ended.
    pos = 0
    meta_box = None
    mdats: list[tuple[int, int]] = []
    saw_moov = False
    while pos + 8 <= n:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind not in _HEIF_TOP_BOXES:
            break
        head = 8
        if size == 1:
            if pos + 16 > n:
                raise _heif_truncated()
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
            head = 16
        elif size == 0:  # the last box runs to the end of the file
            size = n - pos
        if size < head:
            raise _heif_damaged()
        if pos + size > n:
            raise _heif_truncated()
        body = (pos + head, pos + size)
        if kind == b"meta":
            if meta_box is not None:
                raise _heif_damaged()
            meta_box = body
        elif kind == b"mdat":
            mdats.append(body)
        elif kind == b"moov":
            saw_moov = True
        elif kind in (b"free", b"skip", b"uuid", b"wide"):
            _check_embedded(data[body[0]:body[1]], "metadata")
        pos += size
    _check_trailing(data[pos:])
    if meta_box is None:
        if saw_moov:
            raise ImageRejected(
                "This HEIF file is an image sequence (a burst or an animation) with no still "
                "picture; export the photo as a still HEIC or JPEG."
            )
        raise _heif_truncated()
    meta = _heif_meta(data, *meta_box)
    if meta.primary is None or meta.primary not in meta.types:
        raise _heif_damaged()

    # Where every item's bytes are: inside the file (else it was cut short) or inside idat.
    file_spans = []
    for item, (method, extents) in meta.locations.items():
        spans = []
        for offset, length in extents:
            if method == 0:
                end = n if length == 0 else offset + length
                if end > n:
                    raise _heif_truncated()
                file_spans.append((offset, end))
            elif method == 1:
                idat_len = meta.idat[1] - meta.idat[0] if meta.idat else 0
                end = idat_len if length == 0 else offset + length
                if end > idat_len:
                    raise _heif_damaged()
            else:
                end = offset + length
            spans.append((offset, end))
        meta.locations[item] = (method, spans)

    # The pictures libheif decodes for the primary one: it, the inputs of a derived picture
    # (an iPhone photo is a grid of 512 px tiles), and their auxiliary images (alpha, a gain
    # map). Only HEVC-coded pictures can be decoded by this build of libheif.
    coded, seen, todo = [], set(), [meta.primary]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        kind = meta.types.get(item)
        if kind in _HEIF_DERIVED:
            inputs = meta.refs.get(b"dimg", {}).get(item)
            if not inputs or len(seen) > 4096:
                raise _heif_damaged()
            todo.extend(inputs)
            if kind == b"grid":
                grid_data = meta.item_bytes(data, item)
                grid = _Reader(grid_data, 0, len(grid_data))
                grid.u(1)
                wide = grid.u(1) & 1
                grid.u(2)  # rows and columns, minus one each
                gw, gh = grid.u(4 if wide else 2), grid.u(4 if wide else 2)
                if gw * gh > max_pixels:
                    raise ImageRejected(
                        f"The picture is {gw} x {gh} pixels, more than the "
                        f"{max_pixels / 1e6:.0f} megapixels accepted."
                    )
        elif kind == b"hvc1":
            method, spans = meta.locations.get(item, (0, []))
            if not any(b > a for a, b in spans):
                raise _heif_damaged()
            coded.append(item)
        elif kind == b"av01":
            raise _avif()
        else:
            name = (kind or b"?").decode("latin-1").strip()
            raise ImageRejected(
                f"This HEIF file holds a picture coded as '{name}', which cannot be read here; "
                "export the photo as JPEG."
            )
    auxiliary = [source for source, targets in meta.refs.get(b"auxl", {}).items()
                 if seen.intersection(targets)]

    # Decompression bombs, from the headers: no picture in the file may be larger than the
    # limit, and the pictures decoded for the primary one may not add up to much more.
    for item, kind in meta.types.items():
        size = meta.ispe(data, item) if kind in _HEIF_IMAGE_ITEMS else None
        if size and size[0] * size[1] > max_pixels:
            raise ImageRejected(
                f"The picture is {size[0]} x {size[1]} pixels, more than the "
                f"{max_pixels / 1e6:.0f} megapixels accepted."
            )
    total = sum(w * h for w, h in (meta.ispe(data, i) or (0, 0) for i in {*coded, *auxiliary}))
    if total > _HEIF_DECODE_BUDGET * max_pixels:
        raise ImageRejected(
            f"The picture is stored as {total / 1e6:.0f} megapixels of tiles and layers, more "
            f"than the {max_pixels / 1e6:.0f} megapixels accepted."
        )

    # Polyglots: text and metadata items are searched like JPEG metadata segments, and so
    # is any part of the picture data that no item uses.
    for item, kind in meta.types.items():
        if kind in _HEIF_META_ITEMS:
            _check_embedded(meta.item_bytes(data, item), "metadata")
    file_spans.sort()
    for start, end in mdats:
        gaps, at = [], start
        for a, b in file_spans:
            if b <= at or a >= end:
                continue
            if a > at:
                gaps.append(data[at:a])
            at = max(at, b)
        if at < end:
            gaps.append(data[at:end])
        for gap in gaps:
            _check_embedded(gap, "picture data")

    if meta.ispe(data, meta.primary) is None:  # the standard requires it on every picture
        raise ImageRejected("The picture has no size in its header; the file is damaged.")
    # Upright exactly once. libheif applies the rotation, mirroring and crop the file asks
    # for (irot, imir, clap) when it decodes, and reports the size after them. iPhones write
    # the same turn as irot and as an EXIF orientation tag, so the tag is then ignored (the
    # HEIF standard makes irot/imir the rule; applying both would turn the photo twice).
    # Some Android phones write only the EXIF tag: with no irot/imir it is applied, as for
    # a JPEG, after libheif's decode.
    orientation = 1
    if meta.prop(meta.primary, b"irot") is None and meta.prop(meta.primary, b"imir") is None:
        orientation = _heif_exif_orientation(data, meta) or 1
    width, height = _heif_open(data).size
    return _Header("heic", width, height, orientation)


def _heif_exif_orientation(data: bytes, meta: _HeifMeta) -> int | None:
    """The EXIF orientation of the primary picture: from the Exif item that describes it
    (cdsc), whose bytes start with the offset of the TIFF header."""
    for item, kind in meta.types.items():
        targets = meta.refs.get(b"cdsc", {}).get(item)
        if kind != b"Exif" or (targets and meta.primary not in targets):
            continue
        raw = meta.item_bytes(data, item)
        if len(raw) < 4:
            continue
        tiff = raw[4 + struct.unpack(">I", raw[:4])[0]:]
        if tiff.startswith(b"Exif\x00\x00"):
            tiff = tiff[6:]
        return _exif_orientation(tiff)
    return None


def _heif_open(data: bytes, *, bgr: bool = False):
    """The file opened by libheif (pillow-heif); nothing is decoded until pixels are read.
    Imported here: only HEIC uploads need it."""
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True, bgr_mode=bgr)
        heif.size  # noqa: B018 - raises when there is no picture
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError, IndexError):
        raise _heif_damaged() from None
    return heif


def _heif_decode(data: bytes, header: _Header, order: str) -> np.ndarray:
    """The primary picture with irot/imir/clap applied by libheif, as 8-bit RGB or BGR:
    10- and 12-bit HDR pictures are scaled to 8 bits by libheif, grey ones are expanded and
    an alpha channel is dropped (as OpenCV does for a PNG)."""
    heif = _heif_open(data, bgr=order == "BGR")
    try:
        image = heif[heif.primary_index]
        pixels = np.array(image)  # a copy: libheif's buffer is read-only
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError, IndexError):
        raise _heif_damaged() from None
    if pixels.dtype == np.uint16:  # grey pictures above 8 bits come scaled to 16 bits
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey with alpha
        pixels = pixels[..., 0]
    if pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = np.ascontiguousarray(pixels[..., :3])
    if (pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8
            or pixels.shape[:2] != (header.height, header.width)):
        raise ImageRejected("The picture data does not match its header; the file is damaged.")
    return pixels


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
