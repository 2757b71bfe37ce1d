"""AugMix (Hendrycks et al., ICLR 2020): train on convex mixes of augmentation chains, for robustness to
corruptions the model never saw (``--augmix``; docs/robustness.md measures it).

Each image gets ``width`` chains of 1-3 operations drawn from the paper's CIFAR set -- autocontrast,
equalize, posterize, rotate, solarize, shear x/y, translate x/y; none of them is one of the CIFAR-10-C
corruptions -- at the paper's severity 3. The chains are mixed with Dirichlet(1) weights and the mix
blended with the clean image by a Beta(1, 1) weight. With ``--augmix-jsd L`` the batch holds the clean
image and two independent mixes, and the loss adds L times the Jensen-Shannon divergence between the
three predictions (the paper's consistency loss, L = 12; three forward passes per image).

Written by hand, batched, rather than with a per-image PIL pipeline (the paper's code) for the reason
augment.py gives: one Python call per image costs more than a CIFAR training step. Operations act on
float images in [0, 1]; the 8-bit ones (posterize, solarize, equalize) on the 8-bit values, as PIL does.
Geometric operations turn about the image centre with bilinear sampling and black outside, as PIL's
transforms. All draws come from the caller's host generator, so a seeded run is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .augment import to_device

OPS = (
    "autocontrast",
    "equalize",
    "posterize",
    "rotate",
    "solarize",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)
GEOMETRIC = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch each channel of each image to the full [0, 1] range (unchanged where it is flat)."""
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    scale = torch.where(hi > lo, 1.0 / (hi - lo).clamp_min(1e-12), torch.ones_like(hi))
    return torch.where(hi > lo, (x - lo) * scale, x)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """PIL's ImageOps.equalize per channel of each image, on the 8-bit values.

    PIL's rule: ``step = (pixels - count of the brightest level present) // 255``; level i maps to
    ``(step // 2 + pixels below level i) // step`` (at most 255); a channel with one level, or step 0,
    is unchanged.
    """
    n, c, h, w = x.shape
    v = (x * 255).round().long().clamp(0, 255).reshape(n * c, h * w)
    hist = torch.zeros(n * c, 256, dtype=torch.long, device=x.device).scatter_add_(1, v, torch.ones_like(v))
    top = v.amax(dim=1, keepdim=True)
    step = (h * w - hist.gather(1, top)) // 255  # (n*c, 1)
    below = hist.cumsum(1) - hist
    lut = ((step // 2 + below) // step.clamp_min(1)).clamp_max(255)
    levels = (hist > 0).sum(1, keepdim=True)
    identity = torch.arange(256, device=x.device).expand_as(lut)
    lut = torch.where((step > 0) & (levels > 1), lut, identity)
    return (lut.gather(1, v).to(x.dtype) / 255).reshape(n, c, h, w)


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the top ``bits`` (per image) bits of each 8-bit value."""
    v = (x * 255).round().long()
    mask = (256 - (1 << (8 - bits))).view(-1, 1, 1, 1)
    return (v & mask).to(x.dtype) / 255


def solarize(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert the 8-bit values at or above ``threshold`` (per image)."""
    v = (x * 255).round()
    t = threshold.view(-1, 1, 1, 1).to(x.dtype)
    return torch.where(v >= t, 255 - v, v) / 255


def affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Sample each image at ``theta @ (x, y, 1)`` in normalised coordinates (bilinear, zeros outside):
    ``affine_grid`` + ``grid_sample``, with the grid built by broadcasting (affine_grid's batched matmul of
    3-vectors is ~10x slower on a CPU)."""
    n, _, h, w = x.shape
    theta = theta.to(x.dtype).view(n, 2, 3, 1, 1)
    ys = ((torch.arange(h, device=x.device, dtype=x.dtype) * 2 + 1) / h - 1).view(h, 1)
    xs = ((torch.arange(w, device=x.device, dtype=x.dtype) * 2 + 1) / w - 1).view(1, w)
    grid = torch.stack([theta[:, r, 0] * xs + theta[:, r, 1] * ys + theta[:, r, 2] for r in (0, 1)], dim=-1)
    return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class AugMix:
    """``augmix(x)``: one AugMix image per image of the float batch ``x`` (N, 3, H, W) in [0, 1]."""

    def __init__(self, gen: torch.Generator, severity: int = 3, width: int = 3, max_depth: int = 3):
        self.gen, self.severity, self.width, self.max_depth = gen, severity, width, max_depth

    def _uniform(self, n: int) -> torch.Tensor:
        return torch.rand(n, generator=self.gen, dtype=torch.float64)

    def _level(self, n: int) -> torch.Tensor:
        """The paper's ``sample_level``: uniform in [0.1, severity)."""
        return 0.1 + (self.severity - 0.1) * self._uniform(n)

    def _sign(self, n: int) -> torch.Tensor:
        return torch.where(self._uniform(n) < 0.5, -1.0, 1.0).to(torch.float64)

    def _theta(self, ops: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """One 2x3 matrix per image for its geometric op (identity for the others), with the paper's
        ranges: rotation up to 30 * level / 10 degrees (whole degrees), shear 0.3 * level / 10, translation
        int(level * size / 3 / 10) pixels; each with a random sign."""
        n = len(ops)
        level, sign = self._level(n), self._sign(n)
        theta = torch.zeros(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        deg = torch.floor(level * 30 / 10) * sign
        rad = deg * math.pi / 180
        rot = ops == OPS.index("rotate")
        theta[rot, 0, 0], theta[rot, 0, 1] = torch.cos(rad[rot]), -torch.sin(rad[rot]) * h / w
        theta[rot, 1, 0], theta[rot, 1, 1] = torch.sin(rad[rot]) * w / h, torch.cos(rad[rot])
        shear = level * 0.3 / 10 * sign
        sx, sy = ops == OPS.index("shear_x"), ops == OPS.index("shear_y")
        theta[sx, 0, 1] = shear[sx] * h / w
        theta[sy, 1, 0] = shear[sy] * w / h
        tx, ty = ops == OPS.index("translate_x"), ops == OPS.index("translate_y")
        theta[tx, 0, 2] = 2 * torch.floor(level[tx] * (w / 3) / 10) * sign[tx] / w
        theta[ty, 1, 2] = 2 * torch.floor(level[ty] * (h / 3) / 10) * sign[ty] / h
        return theta

    def _step(self, x: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Apply one drawn op to each image where ``active`` (host bool tensor), in place: every image
        is read (a gather copies it) before its own slot is written, and the ops' images are disjoint."""
        n, _, h, w = x.shape
        ops = torch.randint(0, len(OPS), (n,), generator=self.gen)
        ops = torch.where(active, ops, torch.full_like(ops, -1))
        theta = self._theta(ops, h, w)
        bits = 4 - torch.floor(self._level(n) * 4 / 10).long()
        threshold = 256 - torch.floor(self._level(n) * 256 / 10).long()
        geo = torch.isin(ops, torch.tensor([OPS.index(g) for g in GEOMETRIC]))
        if geo.any():
            i = to_device(geo.nonzero().flatten(), x.device)
            x[i] = affine(x[i], to_device(theta[geo], x.device))
        for name, fn in (
            ("autocontrast", lambda v, i: autocontrast(v)),
            ("equalize", lambda v, i: equalize(v)),
            ("posterize", lambda v, i: posterize(v, to_device(bits[i], v.device))),
            ("solarize", lambda v, i: solarize(v, to_device(threshold[i], v.device))),
        ):
            sel = ops == OPS.index(name)
            if sel.any():
                i = sel.nonzero().flatten()
                j = to_device(i, x.device)
                x[j] = fn(x[j], i)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or torch.get_num_threads() == 1:
            return self._mix(x)
        # These ~200 small ops run faster on one thread than on several (each op's parallel region costs
        # more than it saves: DEVELOPERS.md, "Measurements behind the code"), so run them on one.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._mix(x)
        finally:
            torch.set_num_threads(threads)

    def _mix(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n, k = len(x), self.width
        # Dirichlet(1, ..., 1) as normalised exponentials and Beta(1, 1) as a uniform: exact, and drawn from
        # our generator (torch.distributions cannot take one).
        e = -torch.log1p(-torch.rand(k, n, generator=self.gen, dtype=torch.float64))
        weights = to_device((e / e.sum(0, keepdim=True)).to(x.dtype), x.device).view(k, n, 1, 1, 1)
        m = to_device(torch.rand(n, generator=self.gen).to(x.dtype), x.device).view(n, 1, 1, 1)
        # the k chains of all images as one batch: max_depth passes of few large ops, not k * max_depth
        chains = x.repeat(k, 1, 1, 1)
        depth = torch.randint(1, self.max_depth + 1, (k * n,), generator=self.gen)
        for d in range(self.max_depth):
            chains = self._step(chains, depth > d)
        mix = (weights * chains.view(k, *x.shape)).sum(0)
        return (1 - m) * x + m * mix


def jsd_loss(base: nn.Module, weight: float):
    """The loss for logits of (clean, mix 1, mix 2) thirds and the labels of the clean images: ``base`` on
    the clean third plus ``weight`` times the Jensen-Shannon divergence of the three predictions (the
    AugMix paper's consistency loss)."""

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n = len(y)
        clean, a, b = logits[:n], logits[n : 2 * n], logits[2 * n :]
        p = [t.softmax(1) for t in (clean, a, b)]
        log_m = torch.clamp((p[0] + p[1] + p[2]) / 3, 1e-7, 1).log()
        js = sum(nn.functional.kl_div(log_m, q, reduction="batchmean") for q in p) / 3
        return base(clean, y) + weight * js

    return loss
