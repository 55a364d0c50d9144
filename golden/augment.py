"""Training-set augmentation for the BPTT trainer: small random affine moves of each image.

Every training image is moved, as it is drawn into a mini-batch, by a random translation of
``dy, dx`` whole pixels (each uniform in ``-shift .. shift``) plus ``ty, tx`` pixels (each
uniform in ``+-translate``, fractions included), a rotation by an angle uniform in
``+-rotate`` degrees and a scaling by a factor uniform in ``1 +- scale``, both about the
image centre, then resampled bilinearly (pixels outside the image are 0) and rounded to the
nearest pixel value.  A translation by whole pixels alone is exact (no interpolation).  The
draws come from the trainer's generator, so a seed gives the same images.

On the 8x8 digits, whose strokes fill the frame, whole-pixel shifts cut strokes off and cost
accuracy; moves of a fraction of a pixel with small rotations and scalings help
(``docs/numerics.md``, "Supervised training (BPTT)").
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["affine_images", "augment"]

Array = Any


def affine_images(images: Array, shape: tuple[int, int], dy: Array, dx: Array,
                  angle: Array | None = None, factor: Array | None = None) -> Array:
    """Images ``(B, H*W)`` moved by ``(dy[b], dx[b])`` pixels, rotated by ``angle[b]``
    radians and scaled by ``factor[b]`` about their centre (bilinear, zeros outside,
    rounded to the nearest integer, same dtype)."""
    n = len(images)
    H, W = shape
    angle = np.zeros(n) if angle is None else np.asarray(angle, dtype=np.float64)
    factor = np.ones(n) if factor is None else np.asarray(factor, dtype=np.float64)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    y0, x0 = yy[None] - cy, xx[None] - cx
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    k = factor[:, None, None]
    # where each output pixel comes from (the inverse map), +1 for the zero border
    sy = (cos * y0 - sin * x0) / k + cy - np.asarray(dy, np.float64)[:, None, None] + 1
    sx = (sin * y0 + cos * x0) / k + cx - np.asarray(dx, np.float64)[:, None, None] + 1
    pad = np.zeros((n, H + 2, W + 2))
    pad[:, 1:-1, 1:-1] = images.reshape(n, H, W)
    iy, ix = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = sy - iy, sx - ix
    rows = np.arange(n)[:, None, None]

    def at(y: Array, x: Array) -> Array:
        inside = (y >= 0) & (y < H + 2) & (x >= 0) & (x < W + 2)
        return pad[rows, np.clip(y, 0, H + 1), np.clip(x, 0, W + 1)] * inside

    out = (at(iy, ix) * (1 - fy) * (1 - fx) + at(iy + 1, ix) * fy * (1 - fx)
           + at(iy, ix + 1) * (1 - fy) * fx + at(iy + 1, ix + 1) * fy * fx)
    return np.rint(out).astype(images.dtype).reshape(n, H * W)


def augment(images: Array, shape: tuple[int, int], rng: np.random.Generator, shift: int,
            translate: float, rotate: float, scale: float) -> Array:
    """The images moved at random (module docstring); unchanged when all four are 0."""
    n = len(images)
    if not (shift or translate or rotate or scale):
        return images
    dy, dx = rng.integers(-shift, shift, size=(2, n), endpoint=True).astype(np.float64)
    if translate:
        dy, dx = dy + rng.uniform(-translate, translate, n), dx + rng.uniform(
            -translate, translate, n)
    angle = np.deg2rad(rng.uniform(-rotate, rotate, n)) if rotate else None
    factor = 1.0 + rng.uniform(-scale, scale, n) if scale else None
    return affine_images(images, shape, dy, dx, angle, factor)
