"""The similarity fit and the canonical frame (pure geometry, no model)."""

import numpy as np
import pytest

from touchup.vision.align import (
    CANONICAL_IOD, CANVAS_X, CANVAS_Y, apply, canonical_transform, compose, scale_of, similarity,
    to_baseline,
)
from touchup.vision.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, STABLE, Landmarks


def rotation(deg, s=1.0, t=(0.0, 0.0)):
    a = np.deg2rad(deg)
    return np.array([[s * np.cos(a), -s * np.sin(a), t[0]], [s * np.sin(a), s * np.cos(a), t[1]]])


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 500, (20, 2))
    m = rotation(7.0, 1.3, (40.0, -12.0))
    fit = similarity(pts, apply(m, pts))
    assert np.allclose(fit, m, atol=1e-9)
    assert scale_of(fit) == pytest.approx(1.3)


def test_similarity_is_least_squares_under_noise():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 500, (200, 2))
    m = rotation(-4.0, 0.9, (5.0, 8.0))
    fit = similarity(pts, apply(m, pts) + rng.normal(0, 1.0, pts.shape))
    assert np.abs(fit - m).max() < 0.6


def test_compose_applies_inner_first():
    a, b = rotation(10, 2.0, (1, 2)), rotation(-3, 0.5, (7, -1))
    p = np.array([[3.0, 4.0], [10.0, -2.0]])
    assert np.allclose(apply(compose(a, b), p), apply(a, apply(b, p)))


def face(m=None):
    """A fake 468-point face: random points, with the eye corners placed on a level line."""
    rng = np.random.default_rng(2)
    xy = rng.uniform(100, 300, (468, 2))
    xy[RIGHT_EYE_OUTER], xy[133] = (100, 200), (160, 200)
    xy[362], xy[LEFT_EYE_OUTER] = (240, 200), (300, 200)
    if m is not None:
        xy = apply(m, xy)
    return Landmarks(xy, np.zeros(468))


def test_canonical_frame_levels_centres_and_scales_the_eyes():
    tilted = face(rotation(12, 1.7, (30, 60)))
    m = canonical_transform(tilted)
    right, left = apply(m, tilted.xy[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER]])
    assert left[1] == pytest.approx(right[1])  # level
    assert left[0] - right[0] == pytest.approx(CANONICAL_IOD)
    centre = (right + left) / 2
    assert centre == pytest.approx(np.array([-CANVAS_X[0], -CANVAS_Y[0]]) * CANONICAL_IOD)


def test_to_baseline_maps_stable_points_onto_the_baseline():
    base = face()
    moved = face(rotation(-6, 0.8, (-20, 15)))
    fit = to_baseline(moved, base)
    idx = list(STABLE)
    assert np.allclose(apply(fit, moved.xy[idx]), base.xy[idx], atol=1e-6)
