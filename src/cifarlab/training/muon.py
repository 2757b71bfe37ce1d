"""Muon on convolution filters, Nesterov SGD on everything else, as one optimizer.

Muon (Jordan et al. 2024; airbench94_muon trains CIFAR-10's airbench net with it in fewer epochs)
replaces a filter's momentum update by its nearest semi-orthogonal matrix, found with a few
Newton-Schulz iterations on the filter viewed as (out_channels, in_channels * kh * kw).

Written here rather than taken from ``torch.optim.Muon`` because that class accepts 2-D parameters
only (conv filters are 4-D) and runs its iterations in bf16, which CPUs without bf16 units
emulate slowly; the other parameters go through torch's own functional SGD. As in
airbench94_muon, each filter is rescaled to norm sqrt(out_channels) before its step: the filters
feed BatchNorm, so their scale carries no information and fixing it keeps the step's relative
size set by the learning rate alone (weight decay on them would do nothing, and is not applied).
"""

from __future__ import annotations

import math

import torch
from torch.optim.sgd import sgd

# Quintic Newton-Schulz coefficients (Jordan's): they push every singular value of the normalised
# matrix into roughly [0.7, 1.2] in five steps, which is as good as exact orthogonalisation here.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately U V^T for g = U S V^T (2-D), by quintic Newton-Schulz iterations.

    Iterates in fp32 (CPUs without bf16 units emulate bf16), or in bf16 on CUDA as Muon does; the
    result has g's dtype.
    """
    a, b, c = NS_COEFFICIENTS
    x = g.bfloat16() if g.is_cuda else g.float()
    transpose = x.size(0) > x.size(1)
    if transpose:
        x = x.T
    x = x / (x.norm() + eps)  # spectral norm <= Frobenius norm = 1
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if transpose else x).to(g.dtype)


class ConvMuon(torch.optim.Optimizer):
    """Param groups with ``muon=True`` (4-D conv filters) take Muon steps; the rest Nesterov SGD.

    Every group has ``lr``, ``momentum``, ``nesterov`` and ``weight_decay``, so a schedule that
    scales each group's ``lr`` drives both kinds alike; Muon groups ignore ``weight_decay``.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        defaults = {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay, "muon": False}
        super().__init__(params, defaults)
        for group in self.param_groups:
            if group["muon"] and any(p.dim() != 4 for p in group["params"]):
                raise ValueError("ConvMuon's muon groups take 4-D convolution filters only")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if group["muon"]:
                self._muon_step(group, params)
                continue
            bufs = [self.state[p].get("momentum_buffer") for p in params]
            sgd(
                params,
                [p.grad for p in params],
                bufs,
                weight_decay=group["weight_decay"],
                momentum=group["momentum"],
                lr=group["lr"],
                dampening=0.0,
                nesterov=group["nesterov"] and group["momentum"] > 0,
                maximize=False,
            )
            for p, buf in zip(params, bufs):
                if buf is not None:
                    self.state[p]["momentum_buffer"] = buf
        return loss

    def _muon_step(self, group, params) -> None:
        momentum = group["momentum"]
        for p in params:
            g = p.grad
            state = self.state[p]
            buf = state.setdefault("momentum_buffer", torch.zeros_like(g))
            buf.mul_(momentum).add_(g)
            g = g.add(buf, alpha=momentum) if group["nesterov"] else buf
            p.mul_(math.sqrt(p.size(0)) / p.norm().clamp(min=1e-12))
            update = orthogonalize(g.reshape(len(g), -1)).view_as(p)
            p.add_(update, alpha=-group["lr"])
