"""Real face photos that ship with installed libraries (public domain), for the tests.

- skimage.data.astronaut(): NASA portrait of Eileen Collins, 512x512. Bangs cover the
  forehead, the space suit covers the neck. Upscaled 4x so the eye corners are ~250 px apart.
- matplotlib's grace_hopper.jpg: US Navy portrait, 512x600. Glasses cover the crow's feet,
  a collar part of the neck. Upscaled 2x (eye corners ~250 px apart).
"""

from functools import lru_cache
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import skimage.data

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@lru_cache(maxsize=None)
def astronaut() -> np.ndarray:
    img = cv2.resize(skimage.data.astronaut(), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    img.setflags(write=False)
    return img


@lru_cache(maxsize=None)
def grace_hopper() -> np.ndarray:
    bgr = cv2.imread(str(GRACE_HOPPER))
    img = cv2.cvtColor(cv2.resize(bgr, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                       cv2.COLOR_BGR2RGB)
    img.setflags(write=False)
    return img


def no_face() -> np.ndarray:
    return skimage.data.coffee()


def jpeg_bytes(rgb: np.ndarray, quality: int = 92) -> bytes:
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return enc.tobytes()
