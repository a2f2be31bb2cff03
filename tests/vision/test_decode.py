"""decode_image / clean_jpeg on real bytes: every refusal, orientation, metadata removal."""

import hashlib
import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from touchup.vision.decode import DecodedImage, ImageRejected, clean_jpeg, decode_image


def jpeg(im: Image.Image | None = None, **save) -> bytes:
    im = im or pattern()
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92, **save)
    return buf.getvalue()


def png(im: Image.Image | None = None, **save) -> bytes:
    buf = io.BytesIO()
    (im or pattern()).save(buf, "PNG", **save)
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
    (b"hello, this is a text file\n", "not a JPEG or PNG"),
    (b"GIF89a" + b"\x00" * 30, "GIF"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
    (b"<html><body>hi</body></html>", "not a JPEG or PNG"),
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


@pytest.mark.parametrize("make", [jpeg, png])
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
