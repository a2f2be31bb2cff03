"""`touchup photo analyze` end to end: the installed command on real files (DESIGN.md)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vision.photos import astronaut, grace_hopper, jpeg_bytes, no_face

TOUCHUP = Path(sys.executable).parent / "touchup"
REGION_KEYS = ["forehead", "glabella", "crows_feet_left", "crows_feet_right", "crows_feet",
               "platysma"]


def touchup(*args):
    return subprocess.run([str(TOUCHUP), "photo", "analyze", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    paths = {
        "gh": d / "hopper.jpg", "ec": d / "collins.jpg", "coffee": d / "coffee.jpg",
        "text": d / "notes.jpg", "cut": d / "cut.jpg",
    }
    paths["gh"].write_bytes(jpeg_bytes(grace_hopper()))
    paths["ec"].write_bytes(jpeg_bytes(astronaut()))
    paths["coffee"].write_bytes(jpeg_bytes(no_face()))
    paths["text"].write_text("not a photo, despite the name\n")
    data = jpeg_bytes(grace_hopper())
    paths["cut"].write_bytes(data[: len(data) // 2])
    # Grace Hopper as an iPhone HEIC held upright: laid on her side, orientation 6.
    from tests.photos.images import heic

    paths["heic"] = d / "IMG_0042.HEIC"
    paths["heic"].write_bytes(heic(np.ascontiguousarray(np.rot90(grace_hopper())), orientation=6))
    data = paths["heic"].read_bytes()
    paths["heic_cut"] = d / "IMG_0043.HEIC"
    paths["heic_cut"].write_bytes(data[: len(data) // 2])
    return {k: str(v) for k, v in paths.items()}


def test_one_photo_prints_one_object(files):
    r = touchup(files["gh"], "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == ["file", "face_found", "quality", "regions"]
    assert out["file"] == files["gh"] and out["face_found"] is True
    assert list(out["quality"]) == ["sharpness", "exposure", "pose_deg", "usable", "problems"]
    assert list(out["regions"]) == REGION_KEYS
    assert out["regions"]["glabella"]["grade"] in (0, 1, 2, 3)
    assert out["regions"]["crows_feet"] is None  # her glasses


def test_several_photos_print_an_array_in_order_and_bad_files_get_an_error(files):
    order = [files["ec"], files["text"], files["gh"], files["cut"], files["coffee"],
             "/no/such/photo.jpg"]
    r = touchup(*order, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["file"] for o in out] == order
    assert out[0]["face_found"] and out[2]["face_found"]
    assert set(out[1]) == {"file", "error"} and "not a JPEG, PNG or HEIC" in out[1]["error"]
    assert "truncated" in out[3]["error"]
    assert out[4]["face_found"] is False
    assert "does not exist" in out[5]["error"]


def test_an_iphone_heic_is_analysed_like_the_same_photo_as_jpeg(files):
    r = touchup(files["heic"], files["gh"], files["heic_cut"], "--json")
    assert r.returncode == 0, r.stderr
    heic, jpeg, cut = json.loads(r.stdout)
    assert heic["file"] == files["heic"] and heic["face_found"] is True  # upright, found
    assert heic["regions"]["crows_feet"] is None  # her glasses, as in the JPEG
    assert abs(heic["quality"]["pose_deg"][2] - jpeg["quality"]["pose_deg"][2]) < 3  # not on her side
    for area in ("forehead", "glabella"):
        assert abs(heic["regions"][area]["wrinkle_index"] - jpeg["regions"][area]["wrinkle_index"]) < 0.05
    assert set(cut) == {"file", "error"} and "HEIC photo is cut short" in cut["error"]


def test_baseline_adds_the_pose_change(files):
    r = touchup(files["gh"], "--baseline", files["gh"], "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["quality"]["pose_change_deg"] == [0.0, 0.0, 0.0]


def test_unreadable_baseline_is_a_usage_error(files):
    r = touchup(files["gh"], "--baseline", files["text"], "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert "notes.jpg" in r.stderr and "not a JPEG, PNG or HEIC" in r.stderr


def test_plain_text_output(files):
    r = touchup(files["gh"], files["text"])
    assert r.returncode == 0, r.stderr
    assert "glabella" in r.stdout and "not visible" in r.stdout and "notes.jpg:" in r.stdout


def test_view_adds_the_expression_check(files):
    # The astronaut smiles broadly: wrong for the frown photo, right for smile-and-squint.
    r = touchup(files["ec"], files["gh"], "--view", "frown", "--json")
    assert r.returncode == 0, r.stderr
    ec, gh = json.loads(r.stdout)
    assert "The mouth is smiling; for this view relax the mouth (no smile)." in ec["quality"]["problems"]
    assert ec["quality"]["usable"] is False
    assert not any("smil" in p for p in gh["quality"]["problems"])
    assert list(ec["quality"]) == ["sharpness", "exposure", "pose_deg", "usable", "problems"]

    r = touchup(files["gh"], "--view", "smile_squint", "--json")
    assert "The face is not smiling; for this view smile broadly and squint." in json.loads(r.stdout)["quality"]["problems"]
    # Without --view the expression is not checked.
    plain = json.loads(touchup(files["ec"], "--json").stdout)
    assert not any("smil" in p for p in plain["quality"]["problems"])
    assert plain["regions"] == ec["regions"]


def test_an_unknown_view_is_a_usage_error(files):
    r = touchup(files["gh"], "--view", "pout", "--json")
    assert r.returncode == 2 and r.stdout == "" and "--view" in r.stderr
