"""Batched numpy image operations that the CIFAR-10-C corruptions are built from: a Gaussian filter,
bilinear zoom and sampling with OpenCV's and scipy's borders, ImageMagick's motion blur, and the
diamond-square plasma fractal.

Written here rather than called from scikit-image, OpenCV or ImageMagick (what the published generator
uses), because those are not dependencies of the lab and because each runs one image per call: these run
over a whole (N, H, W, C) batch in one numpy expression. Each docstring names the operation it
reproduces; tests/test_corruptions.py checks them against scipy's reference functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage


def gaussian_filter_nearest(x: np.ndarray, sigma: float) -> np.ndarray:
    """skimage.filters.gaussian(x, sigma, multichannel=True) per image: scipy's gaussian_filter over H and W,
    edges repeated, truncated at 4 sigma."""
    return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=4.0)


def zoom_linear(x: np.ndarray, factor: float, axes=(1, 2)) -> np.ndarray:
    """scipy.ndimage.zoom(x, factor on ``axes``, order=1), computed one axis at a time (scipy interpolates
    over all four axes of a batch, ~30x slower here). Output size round(n * factor); output index o reads
    input position o (n - 1) / (out - 1), as scipy's default (grid_mode=False)."""
    for axis in axes:
        n_in = x.shape[axis]
        n_out = int(round(n_in * factor))
        pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1))
        lo = np.minimum(np.floor(pos).astype(np.int64), n_in - 2)
        shape = [1] * x.ndim
        shape[axis] = n_out
        frac = (pos - lo).reshape(shape)
        x = np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, lo + 1, axis=axis) * frac
    return x


def clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """Zoom into the centre of (N, H, H, C) images by ``factor`` (bilinear), cropped back to H x H."""
    h = x.shape[1]
    ch = int(np.ceil(h / factor))
    top = (h - ch) // 2
    out = zoom_linear(x[:, top : top + ch, top : top + ch], factor).astype(x.dtype)
    trim = (out.shape[1] - h) // 2
    return out[:, trim : trim + h, trim : trim + h]


def motion_blur_kernel(radius: float, sigma: float) -> np.ndarray:
    """ImageMagick's MotionBlurImage kernel: 2*ceil(radius)+1 one-sided Gaussian taps, normalised."""
    i = np.arange(2 * int(np.ceil(radius)) + 1, dtype=np.float64)
    k = np.exp(-(i * i) / (2 * sigma * sigma))
    return k / k.sum()


def motion_blur_images(x: np.ndarray, radius: float, sigma: float, angles: np.ndarray) -> np.ndarray:
    """ImageMagick's motion blur (what the original calls through Wand), one angle per image in degrees.

    Tap j reads the pixel at offset (ceil(j cos a - 0.5), ceil(j sin a - 0.5)) in (column, row), edge pixels
    repeated outside the image; the result is rounded to 8 bits as the original's PNG round trip does.
    """
    n, h, w, _ = x.shape
    k = motion_blur_kernel(radius, sigma)
    a = np.deg2rad(angles)[:, None]
    j = np.arange(len(k))[None, :]
    ox = np.ceil(j * np.cos(a) - 0.5).astype(np.int64)  # (N, taps)
    oy = np.ceil(j * np.sin(a) - 0.5).astype(np.int64)
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    idx = np.arange(n)[:, None, None]
    out = np.zeros_like(x, dtype=np.float64)
    for t in range(len(k)):
        r = np.clip(rows + oy[:, t, None, None], 0, h - 1)
        c = np.clip(cols + ox[:, t, None, None], 0, w - 1)
        out += k[t] * x[idx, r, c]
    return np.round(np.clip(out, 0, 1) * 255) / 255


def plasma_fractal(n: int, rng: np.random.Generator, mapsize: int = 32, wibbledecay: float = 3) -> np.ndarray:
    """(n, mapsize, mapsize) diamond-square height maps in [0, 1], the original's ``plasma_fractal`` batched.

    Each level draws its noise as ``wibble * U(-wibble, wibble)`` (sic: the original scales twice).
    """
    m = np.zeros((n, mapsize, mapsize))
    step, wibble = mapsize, 100.0
    while step >= 2:
        half = step // 2
        corners = m[:, 0:mapsize:step, 0:mapsize:step]
        squares = corners + np.roll(corners, -1, axis=1)
        squares = squares + np.roll(squares, -1, axis=2)
        m[:, half::step, half::step] = squares / 4 + wibble * rng.uniform(-wibble, wibble, squares.shape)
        centres, corners = m[:, half::step, half::step], m[:, 0::step, 0::step]
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
        m[:, 0::step, half::step] = left / 4 + wibble * rng.uniform(-wibble, wibble, left.shape)
        top = centres + np.roll(centres, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
        m[:, half::step, 0::step] = top / 4 + wibble * rng.uniform(-wibble, wibble, top.shape)
        step //= 2
        wibble /= wibbledecay
    m -= m.min(axis=(1, 2), keepdims=True)
    return m / m.max(axis=(1, 2), keepdims=True)


def mirror_index(i: np.ndarray, n: int) -> np.ndarray:
    """Index map for OpenCV's BORDER_REFLECT_101 / scipy's 'mirror' (d c b | a b c d | c b a)."""
    period = 2 * n - 2
    i = np.mod(i, period)
    return np.where(i >= n, period - i, i)


def reflect_index(i: np.ndarray, n: int) -> np.ndarray:
    """Index map for scipy's 'reflect' (d c b a | a b c d | d c b a)."""
    i = np.mod(i, 2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


def bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, border: Callable) -> np.ndarray:
    """Sample (N, H, W, C) images at float (rows, cols) of shape (N, H, W), bilinearly, ``border`` mapping
    indices outside the image (as scipy's map_coordinates with order=1)."""
    n, h, w, _ = x.shape
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    idx = np.arange(n)[:, None, None]
    at = lambda r, c: x[idx, border(r, h), border(c, w)]
    top = at(r0, c0) * (1 - fc) + at(r0, c0 + 1) * fc
    bottom = at(r0 + 1, c0) * (1 - fc) + at(r0 + 1, c0 + 1) * fc
    return top * (1 - fr) + bottom * fr
