"""Each CIFAR-10-C corruption against a straightforward reference computation of its formula.

The references follow make_cifar_c.py (hendrycks/robustness) one image at a time, with plain loops where
the original calls a library we do not ship (ImageMagick's motion blur, OpenCV's warpAffine and
filter2D), and with the library the original calls where we have it (scipy.ndimage, PIL). Random
corruptions draw from a generator seeded like the implementation's, in the same order and shapes, so the
references see the same noise and the comparison is of the formula.
"""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from cifarlab.core.errors import ConfigError
from cifarlab.data import corruptions as C

SEED = 7


def images(n: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth images with edges (blurs must have something to blur), float in [0, 1], NHWC, on 8-bit levels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    out = []
    for _ in range(n):
        a, b, c = rng.random(3)
        img = np.stack([a * xx + (1 - a) * yy, b * yy, c * (1 - xx)], axis=-1)
        r0, c0 = rng.integers(4, 20, 2)
        img[r0 : r0 + 9, c0 : c0 + 7] = rng.random(3)
        img += rng.normal(scale=0.05, size=img.shape)
        out.append(np.clip(img, 0, 1))
    return np.round(np.stack(out) * 255) / 255


def rng():
    return np.random.default_rng(SEED)


def run(name, x, severity):
    return C.FUNCTIONS[name](x.copy(), severity, rng())


# ------------------------------------------------------------------------------------------------ references


def ref_gauss_nearest(img: np.ndarray, sigma: float) -> np.ndarray:
    """skimage.filters.gaussian(img, sigma, multichannel=True): per channel, edges repeated, 4 sigma."""
    return np.stack([ndimage.gaussian_filter(img[..., ch], sigma, mode="nearest", truncate=4.0) for ch in range(3)], -1)


def ref_motion_blur(img: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's MotionBlurImage (effect.c) pixel by pixel, then 8-bit rounding."""
    width = 2 * math.ceil(radius) + 1
    kernel = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(width)]
    total = sum(kernel)
    kernel = [k / total for k in kernel]
    px, py = width * math.sin(math.radians(angle)), width * math.cos(math.radians(angle))
    offsets = [
        (math.ceil(i * py / math.hypot(px, py) - 0.5), math.ceil(i * px / math.hypot(px, py) - 0.5))
        for i in range(width)
    ]
    h, w = img.shape[:2]
    out = np.zeros_like(img, dtype=np.float64)
    for y in range(h):
        for x in range(w):
            acc = np.zeros(img.shape[2])
            for k, (ox, oy) in zip(kernel, offsets):
                acc += k * img[min(max(y + oy, 0), h - 1), min(max(x + ox, 0), w - 1)]
            out[y, x] = acc
    return np.round(np.clip(out, 0, 1) * 255) / 255


def ref_clipped_zoom(img: np.ndarray, factor: float) -> np.ndarray:
    """The original's clipped_zoom, with scipy.ndimage.zoom as it calls it."""
    h = img.shape[0]
    ch = int(np.ceil(h / factor))
    top = (h - ch) // 2
    img = ndimage.zoom(img[top : top + ch, top : top + ch], (factor, factor, 1), order=1)
    trim = (img.shape[0] - h) // 2
    return img[trim : trim + h, trim : trim + h]


def reflect101(i: int, n: int) -> int:
    while i < 0 or i >= n:
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


def ref_bilinear_reflect101(img: np.ndarray, y: float, x: float) -> np.ndarray:
    h, w = img.shape[:2]
    y0, x0 = math.floor(y), math.floor(x)
    fy, fx = y - y0, x - x0
    px = lambda r, c: img[reflect101(r, h), reflect101(c, w)]
    return (
        px(y0, x0) * (1 - fy) * (1 - fx)
        + px(y0, x0 + 1) * (1 - fy) * fx
        + px(y0 + 1, x0) * fy * (1 - fx)
        + px(y0 + 1, x0 + 1) * fy * fx
    )


class Draws:
    """Hands one image its slice of the implementation's batched draws, in the order they were drawn."""

    def __init__(self, arrays, i):
        self.arrays, self.i = list(arrays), i

    def next(self):
        return self.arrays.pop(0)[self.i]


def ref_plasma(draws: Draws, mapsize: int = 32, wibbledecay: float = 3) -> np.ndarray:
    """The original's plasma_fractal for one image, its U(-wibble, wibble) draws taken from ``draws``."""
    maparray = np.zeros((mapsize, mapsize))
    stepsize, wibble = mapsize, 100.0

    def wibbledmean(array):
        return array / 4 + wibble * draws.next()  # sic: wibble * U(-wibble, wibble)

    while stepsize >= 2:
        half = stepsize // 2
        cornerref = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        squareaccum = cornerref + np.roll(cornerref, shift=-1, axis=0)
        squareaccum += np.roll(squareaccum, shift=-1, axis=1)
        maparray[half:mapsize:stepsize, half:mapsize:stepsize] = wibbledmean(squareaccum)
        drgrid = maparray[half:mapsize:stepsize, half:mapsize:stepsize]
        ulgrid = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        ltsum = drgrid + np.roll(drgrid, 1, axis=0) + ulgrid + np.roll(ulgrid, -1, axis=1)
        maparray[0:mapsize:stepsize, half:mapsize:stepsize] = wibbledmean(ltsum)
        ttsum = drgrid + np.roll(drgrid, 1, axis=1) + ulgrid + np.roll(ulgrid, -1, axis=0)
        maparray[half:mapsize:stepsize, 0:mapsize:stepsize] = wibbledmean(ttsum)
        stepsize //= 2
        wibble /= wibbledecay
    maparray -= maparray.min()
    return maparray / maparray.max()


def plasma_draws(n: int, wibbledecay: float, g: np.random.Generator, mapsize: int = 32) -> list[np.ndarray]:
    """The U(-wibble, wibble) draws of image_ops.plasma_fractal, level by level, in its shapes and order."""
    out, step, wibble = [], mapsize, 100.0
    while step >= 2:
        k = mapsize // step
        for _ in range(3):
            out.append(g.uniform(-wibble, wibble, (n, k, k)))
        step //= 2
        wibble /= wibbledecay
    return out


# ------------------------------------------------------------------------------------------------ noise


@pytest.mark.parametrize("severity", [1, 5])
def test_gaussian_noise(severity):
    x = images()
    c = C.PARAMS["gaussian_noise"][severity - 1]
    noise = rng().normal(size=x.shape, scale=c)
    ref = np.stack([np.clip(x[i] + noise[i], 0, 1) for i in range(len(x))])
    np.testing.assert_allclose(run("gaussian_noise", x, severity), ref, atol=1e-12)
    assert c == [0.04, 0.06, 0.08, 0.09, 0.10][severity - 1]


@pytest.mark.parametrize("severity", [1, 5])
def test_shot_noise(severity):
    x = images()
    c = C.PARAMS["shot_noise"][severity - 1]
    counts = rng().poisson(x * c)
    ref = np.clip(counts / c, 0, 1)
    np.testing.assert_allclose(run("shot_noise", x, severity), ref, atol=1e-12)
    assert set(np.unique(np.round(run("shot_noise", x, severity) * c, 6))) <= set(range(0, 10 * c))


def test_impulse_noise():
    x = images()
    c = C.PARAMS["impulse_noise"][4]
    g = rng()
    flipped, salted = g.random(x.shape) <= c, g.random(x.shape) <= 0.5
    ref = x.copy()
    for idx in np.ndindex(x.shape):
        if flipped[idx]:
            ref[idx] = 1.0 if salted[idx] else 0.0
    out = run("impulse_noise", x, 5)
    np.testing.assert_array_equal(out, ref)
    assert abs((out != x).mean() - c) < 0.02  # about a share c of values changed


# ------------------------------------------------------------------------------------------------ blur


@pytest.mark.parametrize("severity", [1, 4, 5])
def test_defocus_blur(severity):
    radius, alias = C.PARAMS["defocus_blur"][severity - 1]
    # the anti-aliased disk, written out: indicator on a 17x17 grid, normalised, 3x3 Gaussian (sum 1)
    disk = np.array([[1.0 if i * i + j * j <= radius * radius else 0.0 for j in range(-8, 9)] for i in range(-8, 9)])
    disk /= disk.sum()
    g = np.array([math.exp(-(t * t) / (2 * alias * alias)) for t in (-1, 0, 1)])
    g /= g.sum()
    k = np.zeros_like(disk)
    for r in range(17):
        for c in range(17):
            k[r, c] = sum(
                g[a + 1] * g[b + 1] * disk[reflect101(r + a, 17), reflect101(c + b, 17)]
                for a in (-1, 0, 1)
                for b in (-1, 0, 1)
            )
    np.testing.assert_allclose(C.disk_kernel(radius, alias), k, atol=1e-12)
    x = images(2)
    ref = np.zeros_like(x)
    support = [(dr, dc) for dr in range(-8, 9) for dc in range(-8, 9) if k[dr + 8, dc + 8] > 0]
    for i in range(2):
        for r in range(32):
            for c in range(32):
                ref[i, r, c] = sum(
                    k[dr + 8, dc + 8] * x[i, reflect101(r + dr, 32), reflect101(c + dc, 32)] for dr, dc in support
                )
    np.testing.assert_allclose(run("defocus_blur", x, severity), np.clip(ref, 0, 1), atol=1e-12)


@pytest.mark.parametrize("severity", [2, 5])
def test_glass_blur_follows_the_original_loop(severity):
    """The original's loop, including its view-"swap" (a copy), against our one-gather-per-pass version."""
    sigma, delta, iterations = C.PARAMS["glass_blur"][severity - 1]
    x = images()
    draws = rng().integers(-delta, delta, size=(iterations, 32 - 2 * delta, 32 - 2 * delta, len(x), 2))
    refs = []
    for i in range(len(x)):
        img = np.uint8(ref_gauss_nearest(x[i], sigma) * 255)
        for it in range(iterations):
            for h in range(32 - delta, delta, -1):
                for w in range(32 - delta, delta, -1):
                    dx, dy = draws[it, 32 - delta - h, 32 - delta - w, i]
                    hp, wp = h + dy, w + dx
                    img[h, w], img[hp, wp] = img[hp, wp], img[h, w]
        refs.append(np.clip(ref_gauss_nearest(img / 255.0, sigma), 0, 1))
    np.testing.assert_allclose(run("glass_blur", x, severity), np.stack(refs), atol=1e-12)


@pytest.mark.parametrize("severity", [1, 5])
def test_motion_blur(severity):
    radius, sigma = C.PARAMS["motion_blur"][severity - 1]
    x = images(2)
    angles = rng().uniform(-45, 45, size=2)
    ref = np.stack([ref_motion_blur(x[i], radius, sigma, angles[i]) for i in range(2)])
    np.testing.assert_allclose(run("motion_blur", x, severity), ref, atol=1e-12)


@pytest.mark.parametrize("severity", [1, 5])
def test_zoom_blur(severity):
    x = images(2).astype(np.float32)
    factors = np.arange(1, C.PARAMS["zoom_blur"][severity - 1], 0.01)
    refs = []
    for img in x:
        out = np.zeros_like(img)
        for f in factors:
            out += ref_clipped_zoom(img, f)
        refs.append(np.clip((img + out) / (len(factors) + 1), 0, 1))
    # np.arange's float steps: severity 1 runs to 1.06 inclusive (7 zooms), as in the original
    assert len(factors) == [7, 11, 16, 21, 26][severity - 1]
    np.testing.assert_allclose(run("zoom_blur", x, severity), np.stack(refs), atol=2e-6)


# ------------------------------------------------------------------------------------------------ weather


@pytest.mark.parametrize("severity", [1, 5])
def test_snow(severity):
    mean, std, zoom, threshold, radius, sigma, keep = C.PARAMS["snow"][severity - 1]
    x = images(2).astype(np.float32)
    g = rng()
    layers = g.normal(size=(2, 32, 32), loc=mean, scale=std)
    angles = g.uniform(-135, -45, size=2)
    refs = []
    for i in range(2):
        layer = ref_clipped_zoom(layers[i][..., None], zoom)
        layer[layer < threshold] = 0
        layer = (np.clip(layer.squeeze(), 0, 1) * 255).astype(np.uint8) / 255.0
        layer = ref_motion_blur(layer[..., None], radius, sigma, angles[i])
        img = x[i]
        gray = (0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2])[..., None]
        img = keep * img + (1 - keep) * np.maximum(img, gray * 1.5 + 0.5)
        refs.append(np.clip(img + layer + np.rot90(layer, k=2), 0, 1))
    np.testing.assert_allclose(run("snow", x, severity), np.stack(refs), atol=1e-5)


@pytest.mark.parametrize("severity", [1, 5])
def test_fog_and_its_plasma_fractal(severity):
    strength, decay = C.PARAMS["fog"][severity - 1]
    x = images(2)
    draws = plasma_draws(2, decay, rng())
    refs = []
    for i in range(2):
        fractal = ref_plasma(Draws(draws, i), 32, decay)
        img = x[i].copy()
        max_val = img.max()
        img += strength * fractal[:32, :32][..., None]
        refs.append(np.clip(img * max_val / (max_val + strength), 0, 1))
    np.testing.assert_allclose(run("fog", x, severity), np.stack(refs), atol=1e-9)


def test_frost_star_blends_a_procedural_texture_with_the_published_weights():
    x = images(4)
    weight, frost_weight = C.PARAMS["frost*"][4]
    tex = C.frost_texture(4, rng())
    np.testing.assert_allclose(run("frost*", x, 5), np.clip(weight * x + frost_weight * tex / 255, 0, 1))
    assert tex.min() >= 0 and tex.max() <= 255
    assert 110 < tex.mean() < 190  # pale, like the original's frost crops
    means = tex.mean(axis=(0, 1, 2))
    assert means[0] < means[1] < means[2]  # blue-white
    assert tex.std(axis=(1, 2)).mean() > 10  # a texture, not a flat veil
    assert C.resolve_names(["frost"]) == ["frost*"]  # the star is never dropped silently


# ------------------------------------------------------------------------------------------------ digital


@pytest.mark.parametrize("severity", [1, 5])
def test_brightness_is_an_hsv_round_trip(severity):
    c = C.PARAMS["brightness"][severity - 1]
    x = images(2)
    x[0, :3, :3] = 0  # black pixels: V = 0 becomes a grey of value c
    ref = np.zeros_like(x)
    for idx in np.ndindex(x.shape[:3]):
        h, s, v = colorsys.rgb_to_hsv(*x[idx])
        ref[idx] = colorsys.hsv_to_rgb(h, s, min(max(v + c, 0), 1))
    np.testing.assert_allclose(run("brightness", x, severity), np.clip(ref, 0, 1), atol=1e-9)


@pytest.mark.parametrize("severity", [1, 5])
def test_contrast(severity):
    c = C.PARAMS["contrast"][severity - 1]
    x = images(2)
    ref = np.zeros_like(x)
    for i in range(2):
        for ch in range(3):
            m = x[i, :, :, ch].mean()
            ref[i, :, :, ch] = np.clip((x[i, :, :, ch] - m) * c + m, 0, 1)
    np.testing.assert_allclose(run("contrast", x, severity), ref, atol=1e-12)


@pytest.mark.parametrize("severity", [2, 5])
def test_elastic_transform(severity):
    alpha, sigma, jitter = (p * 32 for p in C.PARAMS["elastic_transform"][severity - 1])
    x = images(2).astype(np.float32)
    g = rng()
    pts1 = np.float32([[26, 26], [26, 6], [6, 6]])
    pts2 = pts1 + g.uniform(-jitter, jitter, size=(2, 3, 2)).astype(np.float32)
    us = [g.uniform(-1, 1, size=(2, 32, 32)) for _ in range(2)]
    refs = []
    for i in range(2):
        # getAffineTransform: M with M @ (x, y, 1) = pts2 for the three points; warpAffine samples at M^-1
        a = np.array([[p[0], p[1], 1.0] for p in pts1])
        m = np.vstack([np.linalg.solve(a, pts2[i].astype(np.float64)).T, [0, 0, 1]])
        inv = np.linalg.inv(m)
        warped = np.zeros_like(x[i])
        for r in range(32):
            for c in range(32):
                sx, sy, _ = inv @ np.array([c, r, 1.0])
                warped[r, c] = ref_bilinear_reflect101(x[i], sy, sx)
        dx = (ndimage.gaussian_filter(us[0][i], sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
        dy = (ndimage.gaussian_filter(us[1][i], sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
        xx, yy, zz = np.meshgrid(np.arange(32), np.arange(32), np.arange(3))
        coords = (yy + dy[..., None]).reshape(-1), (xx + dx[..., None]).reshape(-1), zz.reshape(-1)
        out = ndimage.map_coordinates(warped, coords, order=1, mode="reflect").reshape(32, 32, 3)
        refs.append(np.clip(out, 0, 1))
    np.testing.assert_allclose(run("elastic_transform", x, severity), np.stack(refs), atol=1e-4)


def test_pixelate_and_jpeg_are_pils_round_trips():
    x = images(2)
    u8 = np.round(x * 255).astype(np.uint8)
    for severity in (1, 5):
        size = int(32 * C.PARAMS["pixelate"][severity - 1])
        ref = [np.asarray(Image.fromarray(im).resize((size, size), Image.BOX).resize((32, 32), Image.BOX)) for im in u8]
        np.testing.assert_array_equal(np.round(run("pixelate", x, severity) * 255), np.stack(ref))
        refs = []
        for im in u8:
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, "JPEG", quality=C.PARAMS["jpeg_compression"][severity - 1])
            refs.append(np.asarray(Image.open(io.BytesIO(buf.getvalue()))))
        np.testing.assert_array_equal(np.round(run("jpeg_compression", x, severity) * 255), np.stack(refs))
    assert [int(32 * c) for c in C.PARAMS["pixelate"]] == [30, 28, 27, 24, 20]


# ------------------------------------------------------------------------------------------------ the batch


def test_corrupt_is_seeded_quantised_and_prefix_stable():
    u8 = np.round(images(2500, seed=1) * 255).astype(np.uint8)
    a = C.corrupt(u8, "gaussian_noise", 3, seed=0)
    assert a.dtype == np.uint8 and a.shape == u8.shape
    np.testing.assert_array_equal(a, C.corrupt(u8, "gaussian_noise", 3, seed=0))
    assert (a != C.corrupt(u8, "gaussian_noise", 3, seed=1)).mean() > 0.5
    # the first N images do not depend on how many were generated (seeded per chunk of 1,000)
    np.testing.assert_array_equal(C.corrupt(u8[:1000], "gaussian_noise", 3, seed=0), a[:1000])
    # quantised by truncation, as the original's np.uint8
    x = u8[:1000].astype(np.float64) / 255
    expect = np.floor(np.clip(C.gaussian_noise(x, 3, C.chunk_rng(0, "gaussian_noise", 3, 0)), 0, 1) * 255 + 1e-6)
    np.testing.assert_array_equal(a[:1000], expect.astype(np.uint8))
    # 8-bit values that pass through unchanged stay the same value (no off-by-one from float round trips)
    np.testing.assert_array_equal(C._to_u8(u8.astype(np.float64) / 255), u8)


def test_every_corruption_gets_stronger_with_severity():
    u8 = np.round(images(40, seed=3) * 255).astype(np.uint8)
    # elastic_transform is the exception, in the original too: severity 1 has the largest affine jitter
    # (0.08 x 32 px) and no displacement field, so it moves pixels further than severity 5 does
    for name in [n for n in C.NAMES if n != "elastic_transform"]:
        diffs = [np.abs(C.corrupt(u8, name, s, 0).astype(float) - u8).mean() for s in (1, 3, 5)]
        assert diffs[0] < diffs[2], (name, diffs)
        assert diffs[2] > 1.0, (name, diffs)


def test_names_and_parameters_are_the_published_ones():
    assert C.NAMES == (
        "gaussian_noise",
        "shot_noise",
        "impulse_noise",
        "defocus_blur",
        "glass_blur",
        "motion_blur",
        "zoom_blur",
        "snow",
        "frost*",
        "fog",
        "brightness",
        "contrast",
        "elastic_transform",
        "pixelate",
        "jpeg_compression",
    )
    assert all(len(v) == 5 for v in C.PARAMS.values())
    assert C.PARAMS["snow"][4] == (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)
    assert C.PARAMS["glass_blur"][3] == (0.25, 1, 2)
    assert C.resolve_names(["JPEG", "fog", "gaussian-noise"]) == ["gaussian_noise", "fog", "jpeg_compression"]
    with pytest.raises(ConfigError, match="Did you mean 'gaussian_noise'"):
        C.resolve_names(["gausian_noise"])
    with pytest.raises(ValueError, match="severity"):
        C.corrupt(np.zeros((1, 32, 32, 3), np.uint8), "fog", 6)
