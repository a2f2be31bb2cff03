"""decode_image / clean_jpeg on real bytes: every refusal, orientation, metadata removal.
HEIC files are real ones, written by pillow-heif's encoder (x265) as a phone would."""

import hashlib
import io
import struct
import zipfile
import zlib

import cv2
import numpy as np
import pillow_heif
import pytest
import simplejpeg
from PIL import Image, ImageOps

from touchup.vision.decode import (
    DecodedImage, ImageRejected, _turbo_decode, clean_jpeg, decode_bgr, decode_image,
)


def jpeg(im: Image.Image | None = None, **save) -> bytes:
    im = im or pattern()
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92, **save)
    return buf.getvalue()


def png(im: Image.Image | None = None, **save) -> bytes:
    buf = io.BytesIO()
    (im or pattern()).save(buf, "PNG", **save)
    return buf.getvalue()


def heic(im: Image.Image | None = None, quality=90, **save) -> bytes:
    """A real HEIC file. An EXIF orientation in `exif=` is written as the encoder (and an
    iPhone) does: the pixels as shot, the turn as an irot/imir property, and the tag kept."""
    buf = io.BytesIO()
    pillow_heif.from_pillow(im or pattern()).save(buf, quality=quality, **save)
    return buf.getvalue()


def pattern(w=64, h=32) -> Image.Image:
    """Left half red, right half blue: orientation mistakes are visible."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (220, 20, 20)
    a[:, w // 2:] = (20, 20, 220)
    return Image.fromarray(a)


def exif_with_gps(orientation=1) -> Image.Exif:
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "PhoneMaker"  # Make
    gps = ex.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 22.0, 7.5), "E", (4.0, 53.0, 1.0)
    return ex


def chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def rejected(data: bytes, **kw) -> str:
    with pytest.raises(ImageRejected) as info:
        decode_image(data, **kw)
    assert isinstance(info.value, Exception)
    assert info.value.reason and info.value.reason.endswith(".")
    return info.value.reason


# --- accepted -----------------------------------------------------------------------------

def test_jpeg_decodes_to_rgb_with_size_format_and_hash():
    data = jpeg()
    img = decode_image(data)
    assert isinstance(img, DecodedImage)
    assert (img.format, img.width, img.height) == ("jpeg", 64, 32)
    assert img.rgb.shape == (32, 64, 3) and img.rgb.dtype == np.uint8
    assert img.sha256 == hashlib.sha256(data).hexdigest()
    left, right = img.rgb[:, :20].mean(axis=(0, 1)), img.rgb[:, 44:].mean(axis=(0, 1))
    assert left[0] > 180 and left[2] < 60  # RGB order, not OpenCV's BGR
    assert right[2] > 180 and right[0] < 60


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16"])
def test_png_in_any_mode_becomes_rgb(mode):
    im = pattern().convert(mode) if mode != "I;16" else Image.fromarray(
        (np.arange(64 * 32).reshape(32, 64) * 16).astype(np.uint16))
    img = decode_image(png(im))
    assert (img.format, img.rgb.shape, img.rgb.dtype) == ("png", (32, 64, 3), np.uint8)


def test_format_is_judged_by_content_not_name():
    # A PNG is a PNG whatever it was called; the function never sees a name at all.
    assert decode_image(png()).format == "png"
    assert decode_image(jpeg()).format == "jpeg"


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_is_applied_like_pil(orientation):
    data = jpeg(exif=exif_with_gps(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    img = decode_image(data)
    assert img.rgb.shape == expected.shape
    assert np.abs(img.rgb.astype(int) - expected).mean() < 3


def test_png_exif_orientation_is_applied():
    data = png(exif=exif_with_gps(6))
    img = decode_image(data)
    assert (img.width, img.height) == (32, 64)
    assert img.rgb[:20, :, 0].mean() > 180  # the red left half is now on top


def test_reduced_decode_is_smaller_and_remembers_full_size():
    data = jpeg(pattern(640, 480), exif=exif_with_gps(6))
    img = decode_image(data, reduce=4)
    assert (img.width, img.height) == (120, 160)
    assert (img.full_width, img.full_height) == (480, 640)
    assert img.reduce == 4


def test_a_few_padding_bytes_after_the_picture_are_tolerated():
    assert decode_image(jpeg() + b"\x00" * 8).format == "jpeg"
    assert decode_image(jpeg() + b"\x00" * 4000).format == "jpeg"  # zero padding
    assert decode_image(png() + b"\r\n").format == "png"


def test_multi_picture_format_jpeg_is_accepted():
    main, preview = jpeg(pattern(64, 32)), jpeg(pattern(16, 8))
    mpf = b"\xff\xe2" + struct.pack(">H", 2 + 8) + b"MPF\x00MM\x00*"
    assert decode_image(main[:2] + mpf + main[2:] + preview).width == 64


# --- refused ------------------------------------------------------------------------------

def test_empty_file():
    assert "empty" in rejected(b"")


def test_too_many_bytes():
    assert "too large" in rejected(jpeg(), max_bytes=100)


@pytest.mark.parametrize("data,words", [
    (b"hello, this is a text file\n", "not a JPEG, PNG or HEIC"),
    (b"GIF89a" + b"\x00" * 30, "GIF"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC photo is cut short"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64, "AVIF"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64, "video"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
    (b"<html><body>hi</body></html>", "not a JPEG, PNG or HEIC"),
])
def test_not_a_photo(data, words):
    assert words in rejected(data)


def test_jpeg_decompression_bomb_is_refused_from_the_header():
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)  # 3.6 gigapixels claimed
    assert "megapixels" in rejected(bytes(data))


def test_png_decompression_bomb_is_refused_before_inflating():
    # 50000 x 50000 declared; the IDAT holds a little of a stream that would inflate to 7.5 GB.
    ihdr = struct.pack(">IIBBBBB", 50000, 50000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1_000_000, 9)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    assert "50000 x 50000" in rejected(data)


def test_max_pixels_is_configurable():
    assert "megapixels" in rejected(jpeg(pattern(64, 32)), max_pixels=1000)


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.98])
def test_truncated_jpeg(cut):
    data = jpeg(pattern(256, 256))
    assert "truncated" in rejected(data[: int(len(data) * cut)])


def test_truncated_jpeg_missing_only_its_end_marker():
    data = jpeg()
    assert data.endswith(b"\xff\xd9")
    assert "truncated" in rejected(data[:-2])


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_truncated_png(cut):
    data = png(Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)))
    assert "truncated" in rejected(data[: int(len(data) * cut)])


def test_png_missing_iend_is_truncated():
    data = png()
    assert "truncated" in rejected(data[:-12])


def test_corrupted_png_chunk_is_refused():
    data = bytearray(png())
    data[40] ^= 0xFF
    assert "damaged" in rejected(bytes(data))


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.js", "alert(1)")
    return buf.getvalue()


@pytest.mark.parametrize("make", [jpeg, png, heic])
@pytest.mark.parametrize("tail,words", [
    (zip_bytes(), "ZIP"),
    (b"<html><script>alert(1)</script></html>", "HTML"),
    (b"<?php system($_GET['c']); ?>", "PHP"),
    (bytes(np.random.default_rng(2).integers(0, 255, 5000, np.uint8)), "extra data"),
])
def test_polyglot_with_data_after_the_picture(make, tail, words):
    assert words in rejected(make() + tail)


def test_script_hidden_in_a_jpeg_comment():
    data = jpeg()
    com = b"<script>alert(1)</script>"
    data = data[:2] + b"\xff\xfe" + struct.pack(">H", len(com) + 2) + com + data[2:]
    assert "script" in rejected(data)


def test_php_hidden_in_png_text_chunk():
    data = png()
    text = chunk(b"tEXt", b"Comment\x00<?php echo 1; ?>")
    data = data[:33] + text + data[33:]  # after the 8-byte signature and 25-byte IHDR chunk
    assert "PHP" in rejected(data)


def test_exception_is_plain_and_carries_the_reason():
    err = ImageRejected("The file is empty.")
    assert str(err) == err.reason == "The file is empty."


# --- the stored copy --------------------------------------------------------------------

def test_clean_jpeg_has_no_exif_or_gps_and_keeps_the_upright_pixels():
    original = jpeg(pattern(64, 32), exif=exif_with_gps(6))
    assert b"Exif" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    img = decode_image(original)
    clean = clean_jpeg(img)

    assert b"Exif" not in clean and b"PhoneMaker" not in clean and b"\xff\xe1" not in clean
    reread = Image.open(io.BytesIO(clean))
    assert len(reread.getexif()) == 0
    assert not reread.getexif().get_ifd(0x8825)
    assert reread.info.get("exif") is None and "xmp" not in reread.info and "icc_profile" not in reread.info
    # Orientation is baked into the pixels: no tag needed, the picture is already upright.
    back = decode_image(clean)
    assert (back.width, back.height) == (32, 64)
    assert np.abs(back.rgb.astype(int) - img.rgb).mean() < 4


def test_clean_jpeg_from_png_is_a_jpeg():
    clean = clean_jpeg(decode_image(png(exif=exif_with_gps(3))), quality=80)
    assert clean.startswith(b"\xff\xd8\xff") and decode_image(clean).format == "jpeg"
    assert b"Exif" not in clean


def test_binary_metadata_that_happens_to_hold_a_short_signature_is_accepted():
    # An ICC profile is binary; three bytes like "#!/" occur in such data by chance.
    icc = b"ICC_PROFILE\x00\x01\x01" + b"\x00\x10#!/\x7f" * 20
    data = jpeg()
    data = data[:2] + b"\xff\xe2" + struct.pack(">H", len(icc) + 2) + icc + data[2:]
    assert decode_image(data).format == "jpeg"


def test_real_camera_style_metadata_is_accepted():
    # EXIF with GPS and a thumbnail-sized maker note, plus XMP: ordinary phone output.
    ex = exif_with_gps(1)
    ex[0x927C] = bytes(range(256)) * 8  # MakerNote: opaque binary
    xmp = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
           b'</x:xmpmeta><?xpacket end="w"?>')
    data = jpeg(exif=ex, xmp=xmp)
    assert decode_image(data).format == "jpeg"


def test_exif_preview_is_found_and_oriented():
    from touchup.vision.decode import exif_thumbnail
    from touchup.vision.synthetic import with_exif_preview

    assert exif_thumbnail(jpeg()) is None
    data = with_exif_preview(jpeg(pattern(640, 480)), width=160, orientation=6)
    thumb = exif_thumbnail(data)
    assert thumb is not None and thumb.shape[:2] == (160, 120)  # rotated like the photo
    img = decode_image(data)  # the preview does not disturb decoding or the checks
    assert (img.width, img.height) == (480, 640)


@pytest.mark.parametrize("mode,save", [
    ("RGB", {"progressive": True}), ("RGB", {"optimize": True}),
    ("RGB", {"restart_marker_blocks": 4}), ("RGB", {"subsampling": 0}),
    ("L", {}), ("CMYK", {}),
])
def test_jpeg_variants_cameras_write_are_accepted(mode, save):
    # Progressive scans, restart markers and CMYK all pass the container walk.
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
    img = decode_image(jpeg(noisy.convert(mode), **save))
    assert img.rgb.shape == (120, 160, 3)


# --- the two JPEG decoders ------------------------------------------------------------------
# JPEGs are decoded by libjpeg-turbo's TurboJPEG API (simplejpeg); what it will not decode
# cleanly goes to OpenCV, which decoded everything before. Both must give the same pixels.

_CV2_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
# PIL's table for EXIF orientations (ImageOps.exif_transpose), applied to unrotated pixels.
_PIL_ORIENT = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_90}


def odd_photo(w=1001, h=667) -> Image.Image:
    """Colour gradients, an edge and noise, in a size that is no multiple of the 8/16 px
    blocks (the decoder's scaled sizes round up)."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h) + 64], axis=-1)
    a[:, w // 3: w // 3 + 40] = (230, 30, 30)
    a = a + np.random.default_rng(1).normal(0, 6, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def opencv_rgb(data: bytes, reduce: int = 1) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), _CV2_REDUCED[reduce] | cv2.IMREAD_IGNORE_ORIENTATION)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("save", [{}, {"subsampling": 0}, {"progressive": True},
                                  {"restart_marker_blocks": 4}],
                         ids=["420", "444", "progressive", "restarts"])
@pytest.mark.parametrize("reduce", [1, 2, 4, 8])
def test_jpeg_pixels_are_exactly_opencvs_at_every_scale(save, reduce):
    data = jpeg(odd_photo(), **save)
    size = (-(-667 // reduce), -(-1001 // reduce))
    assert _turbo_decode(data, size, "RGB") is not None  # libjpeg-turbo decoded it, not OpenCV
    expected = opencv_rgb(data, reduce)
    img = decode_image(data, reduce=reduce)
    assert img.rgb.shape == (*size, 3)
    assert np.array_equal(img.rgb, expected)
    assert (img.full_width, img.full_height) == (1001, 667)
    bgr, header, full = decode_bgr(data, reduce=reduce)
    assert np.array_equal(bgr, expected[..., ::-1]) and full == (1001, 667)


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_jpegs_decode_to_opencvs_rgb(mode):
    data = jpeg(odd_photo(161, 121).convert(mode))
    assert _turbo_decode(data, (121, 161), "RGB") is not None
    assert np.array_equal(decode_image(data).rgb, opencv_rgb(data))
    assert np.array_equal(decode_image(data, reduce=2).rgb, opencv_rgb(data, 2))


@pytest.mark.parametrize("w,h", [(1, 1), (3, 1), (3, 3), (5, 2), (7, 7), (8, 1), (9, 17),
                                 (33, 65)])
@pytest.mark.parametrize("reduce", [1, 2, 4, 8])
def test_tiny_and_odd_jpegs_decode_at_the_requested_scale(w, h, reduce):
    # The scale is chosen by size; under 8 px a smaller scale could reach the same size.
    noise = np.random.default_rng(w * 100 + h).integers(0, 255, (h, w, 3), np.uint8)
    data = jpeg(Image.fromarray(noise))
    img = decode_image(data, reduce=reduce)
    assert img.rgb.shape == (-(-h // reduce), -(-w // reduce), 3)
    assert np.array_equal(img.rgb, opencv_rgb(data, reduce))


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("reduce", [1, 2])
def test_exif_orientation_is_applied_to_scaled_decodes_of_odd_sizes(orientation, reduce):
    data = jpeg(odd_photo(), exif=exif_with_gps(orientation))
    unrotated = Image.fromarray(opencv_rgb(data, reduce))
    method = _PIL_ORIENT[orientation]
    expected = np.asarray(unrotated if method is None else unrotated.transpose(method))
    img = decode_image(data, reduce=reduce)
    assert np.array_equal(img.rgb, expected)
    upright = (667, 1001) if orientation in (5, 6, 7, 8) else (1001, 667)
    assert (img.full_width, img.full_height) == upright
    assert (img.width, img.height) == (-(-upright[0] // reduce), -(-upright[1] // reduce))
    bgr = decode_bgr(data, reduce=reduce)[0]
    assert np.array_equal(bgr, expected[..., ::-1])


def _damaged_scan(data: bytes) -> bytes | None:
    """The JPEG with one byte of its entropy-coded data changed so that libjpeg-turbo
    warns (corrupt data) but still decodes: the container stays intact."""
    sos = data.index(b"\xff\xda")
    start = sos + 2 + struct.unpack(">H", data[sos + 2:sos + 4])[0]
    for pos in range(start + 100, len(data) - 100, 97):
        bad = bytearray(data)
        bad[pos] ^= 0x55 if data[pos] ^ 0x55 != 0xFF else 0x11
        bad = bytes(bad)
        try:
            simplejpeg.decode_jpeg(bad, "RGB")
        except ValueError:
            if cv2.imdecode(np.frombuffer(bad, np.uint8), cv2.IMREAD_COLOR) is not None:
                return bad
    return None


def test_a_jpeg_libjpeg_turbo_refuses_is_decoded_by_opencv_as_before():
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
    data = _damaged_scan(jpeg(noisy))
    assert data is not None
    with pytest.raises(ValueError):  # strict: a corrupt-data warning is an error there
        simplejpeg.decode_jpeg(data, "RGB")
    assert _turbo_decode(data, (120, 160), "RGB") is None
    for reduce in (1, 2):
        img = decode_image(data, reduce=reduce)  # accepted, as OpenCV alone accepted it
        assert np.array_equal(img.rgb, opencv_rgb(data, reduce))
        assert np.array_equal(decode_bgr(data, reduce=reduce)[0], opencv_rgb(data, reduce)[..., ::-1])


def test_a_jpeg_neither_decoder_reads_is_refused():
    data = bytearray(jpeg())
    dht = data.index(b"\xff\xc4")
    data[dht + 5:dht + 21] = bytes(16)  # a Huffman table with no codes
    assert "damaged or uses an unsupported encoding" in rejected(bytes(data))


# --- HEIC ---------------------------------------------------------------------------------
# Written by pillow-heif's encoder (x265) as a phone writes them: ftyp, a meta box with the
# items and their properties, the HEVC data in mdat; tile_size= gives the grid of tiles an
# iPhone writes, and an EXIF orientation becomes an irot/imir property with the tag kept.

def marked(w=96, h=64) -> Image.Image:
    """Colour gradients and a white top-left corner: every turn and mirror changes it."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 60)], axis=-1).astype(np.uint8)
    a[: h // 4, : w // 4] = 250
    return Image.fromarray(a)


def upright(im: Image.Image, orientation: int) -> np.ndarray:
    method = _PIL_ORIENT[orientation]
    return np.asarray(im if method is None else im.transpose(method)).astype(int)


def exif_orientation_in(data: bytes) -> int | None:
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(data).info["exif"])
    return exif.get(0x0112)


def with_exif_orientation(data: bytes, orientation: int) -> bytes:
    """The file with the value of its EXIF orientation tag changed in place (same length)."""
    for entry in (b"\x01\x12\x00\x03\x00\x00\x00\x01\x00", b"\x12\x01\x03\x00\x01\x00\x00\x00"):
        at = data.find(entry)
        if at >= 0:
            value = struct.pack(">H" if entry[0] == 1 else "<H", orientation)
            at += len(entry) - (1 if entry[0] == 1 else 0)
            return data[:at] + value + data[at + 2:]
    raise AssertionError("no EXIF orientation tag")


def patched_ispe(data: bytes, size: tuple[int, int], *, only: tuple[int, int] | None = None) -> bytes:
    """Every ispe property (or those that read `only`) made to claim `size`."""
    out = bytearray(data)
    at = out.find(b"ispe")
    while at >= 0:
        if only is None or struct.unpack(">II", out[at + 8:at + 16]) == only:
            out[at + 8:at + 16] = struct.pack(">II", *size)
        at = out.find(b"ispe", at + 4)
    return bytes(out)


def test_heic_decodes_to_rgb_with_size_format_and_hash():
    data = heic()
    assert data[4:12] == b"ftypheic"
    img = decode_image(data)
    assert (img.format, img.width, img.height) == ("heic", 64, 32)
    assert img.rgb.shape == (32, 64, 3) and img.rgb.dtype == np.uint8
    assert img.sha256 == hashlib.sha256(data).hexdigest()
    left, right = img.rgb[:, :20].mean(axis=(0, 1)), img.rgb[:, 44:].mean(axis=(0, 1))
    assert left[0] > 180 and left[2] < 60  # RGB order
    assert right[2] > 180 and right[0] < 60


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_iphone_style_heic_is_turned_upright_exactly_once(orientation):
    # As an iPhone writes it: the pixels as shot, the turn as irot/imir AND as the EXIF tag.
    # libheif applies irot/imir; applying the tag as well would turn the photo twice.
    data = heic(marked(), exif=exif_with_gps(orientation).tobytes())
    assert exif_orientation_in(data) == orientation
    assert (b"irot" in data or b"imir" in data) == (orientation != 1)
    expected = upright(marked(), orientation)
    img = decode_image(data)
    assert img.rgb.shape == expected.shape
    assert np.abs(img.rgb - expected).mean() < 3
    assert (img.full_width, img.full_height) == (img.width, img.height)
    bgr, header, full = decode_bgr(data)
    assert np.array_equal(bgr, img.rgb[..., ::-1]) and full == (img.width, img.height)


@pytest.mark.parametrize("orientation", [2, 3, 6, 8])
def test_heic_with_only_an_exif_orientation_is_turned_by_it(orientation):
    # Some Android phones write the turn only as the EXIF tag: then the tag is applied.
    data = with_exif_orientation(heic(marked(), exif=exif_with_gps(1).tobytes()), orientation)
    assert b"irot" not in data and b"imir" not in data
    assert exif_orientation_in(data) == orientation
    expected = upright(marked(), orientation)
    img = decode_image(data)
    assert img.rgb.shape == expected.shape
    assert np.abs(img.rgb - expected).mean() < 3
    assert (img.full_width, img.full_height) == (expected.shape[1], expected.shape[0])


def test_heic_reduced_decode_is_smaller_and_remembers_full_size():
    data = heic(marked(192, 128), exif=exif_with_gps(6).tobytes())
    img = decode_image(data, reduce=2)
    assert (img.width, img.height, img.full_width, img.full_height) == (64, 96, 128, 192)
    assert img.reduce == 2
    small = cv2.resize(decode_image(data).rgb, (64, 96), interpolation=cv2.INTER_AREA)
    assert np.array_equal(img.rgb, small)


def test_ten_bit_hdr_heic_becomes_8_bit_rgb():
    # iPhones shoot 10-bit HDR HEICs; libheif scales them to 8 bits.
    rgb16 = np.asarray(marked()).astype(np.uint16) * 257
    buf = io.BytesIO()
    pillow_heif.from_bytes("RGB;16", (96, 64), rgb16.tobytes()).save(buf, quality=90)
    data = buf.getvalue()
    assert pillow_heif.open_heif(data, convert_hdr_to_8bit=False).info["bit_depth"] == 10
    img = decode_image(data)
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == (64, 96, 3)
    assert np.abs(img.rgb - upright(marked(), 1)).mean() < 3


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grey_and_alpha_heic_become_rgb(mode):
    img = decode_image(heic(marked().convert(mode)))
    assert img.rgb.shape == (64, 96, 3) and img.rgb.dtype == np.uint8
    expected = np.asarray(marked().convert(mode).convert("RGB")).astype(int)
    assert np.abs(img.rgb - expected).mean() < 3


def test_iphone_style_grid_of_tiles_is_one_picture():
    data = heic(odd_photo(320, 240), tile_size=64)  # 5 x 4 tiles of 64 px
    assert b"grid" in data
    img = decode_image(data)
    assert img.rgb.shape == (240, 320, 3)
    assert np.abs(img.rgb.astype(int) - np.asarray(odd_photo(320, 240))).mean() < 6


def test_a_heic_holding_several_pictures_gives_the_primary_one():
    heif = pillow_heif.from_pillow(pattern(64, 32))
    heif.add_from_pillow(marked())
    buf = io.BytesIO()
    heif.save(buf, quality=90, primary_index=1)
    img = decode_image(buf.getvalue())
    assert (img.width, img.height) == (96, 64)
    assert np.abs(img.rgb - upright(marked(), 1)).mean() < 3


def test_clean_jpeg_from_an_iphone_heic_has_no_exif_or_gps_and_is_upright():
    original = heic(marked(), exif=exif_with_gps(6).tobytes())
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(original).info["exif"])
    assert exif.get_ifd(0x8825) and b"PhoneMaker" in original  # GPS and maker in the upload
    img = decode_image(original)
    clean = clean_jpeg(img)
    assert clean.startswith(b"\xff\xd8\xff")
    assert b"Exif" not in clean and b"PhoneMaker" not in clean and b"\xff\xe1" not in clean
    reread = Image.open(io.BytesIO(clean))
    assert reread.format == "JPEG" and len(reread.getexif()) == 0
    assert reread.info.get("exif") is None and "icc_profile" not in reread.info
    back = decode_image(clean)
    assert (back.format, back.width, back.height) == ("jpeg", 64, 96)
    assert np.abs(back.rgb.astype(int) - img.rgb).mean() < 4


@pytest.mark.parametrize("cut", [0.02, 0.3, 0.7, 0.99])
def test_truncated_heic(cut):
    data = heic(odd_photo(160, 120))
    assert "HEIC photo is cut short (truncated)" in rejected(data[: int(len(data) * cut)])


def test_heic_cut_where_its_picture_data_starts():
    data = heic(odd_photo(160, 120))
    assert "truncated" in rejected(data[: data.index(b"mdat") - 4])


def test_heic_whose_decoder_set_up_is_damaged():
    data = bytearray(heic(odd_photo(160, 120)))
    at = data.index(b"hvcC")
    data[at + 30:at + 42] = bytes(b ^ 0xFF for b in data[at + 30:at + 42])
    assert "This HEIC photo is damaged or incomplete" in rejected(bytes(data))


def test_heic_naming_a_primary_picture_it_does_not_have():
    data = bytearray(heic())
    at = data.index(b"pitm")
    data[at + 8:at + 10] = struct.pack(">H", 999)
    assert "This HEIC photo is damaged or incomplete" in rejected(bytes(data))


@pytest.mark.parametrize("tile_size", [0, 64])
def test_heic_decompression_bomb_is_refused_from_the_header(tile_size):
    data = patched_ispe(heic(odd_photo(160, 128), tile_size=tile_size), (60000, 60000))
    assert "60000 x 60000" in rejected(data) and "megapixels" in rejected(data)


def test_heic_max_pixels_is_configurable():
    assert "megapixels" in rejected(heic(pattern(64, 32)), max_pixels=1000)


def test_heic_whose_tiles_add_up_to_far_more_than_its_picture():
    # A 64 x 64 picture (header and grid) made of four 64 x 64 tiles: four times the
    # pixels to decode. Within the limit each, refused together.
    data = patched_ispe(heic(odd_photo(128, 128), tile_size=64), (64, 64), only=(128, 128))
    at = data.index(b"idat") + 4
    data = data[:at + 4] + struct.pack(">HH", 64, 64) + data[at + 8:]
    assert "megapixels of tiles" in rejected(data, max_pixels=10_000)


def exif_description(text: str) -> bytes:
    ex = exif_with_gps(1)
    ex[0x010E] = text  # ImageDescription
    return ex.tobytes()


@pytest.mark.parametrize("save,words", [
    ({"exif": exif_description("<script>alert(1)</script>")}, "script"),
    ({"xmp": b"<x:xmpmeta><?php system($_GET['c']); ?></x:xmpmeta>"}, "PHP"),
])
def test_something_hidden_in_heic_metadata(save, words):
    reason = rejected(heic(**save))
    assert words in reason and "metadata" in reason


def test_html_in_a_box_after_the_picture_is_refused_and_zero_padding_is_not():
    def free(body: bytes) -> bytes:
        return struct.pack(">I", 8 + len(body)) + b"free" + body

    assert "HTML page in its metadata" in rejected(heic() + free(b"<html><script>1</script></html>"))
    assert decode_image(heic() + free(b"\x00" * 100)).format == "heic"


def test_avif_is_refused_with_what_to_do():
    # This pillow-heif wheel has no AV1 decoder: an AV1-coded picture is refused by name.
    data = bytearray(heic())
    at = data.index(b"hvc1")
    data[at:at + 4] = b"av01"
    reason = rejected(bytes(data))
    assert "AVIF" in reason and "Export the photo as JPEG" in reason


def test_a_heif_picture_coded_otherwise_is_refused_by_name():
    data = bytearray(heic())
    at = data.index(b"hvc1")
    data[at:at + 4] = b"jpeg"
    assert "coded as 'jpeg', which cannot be read here" in rejected(bytes(data))


def test_a_heif_image_sequence_without_a_still_picture():
    data = b"\x00\x00\x00\x18ftypmsf1\x00\x00\x00\x00msf1hevs" + b"\x00\x00\x00\x10moov" + bytes(8)
    assert "image sequence" in rejected(data)
