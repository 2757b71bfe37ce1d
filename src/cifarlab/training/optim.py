"""Optimisation pieces a Trainer is built from: parameter groups, the optimizer by name, the loss,
and airbench's Lookahead. The schedule's shape is in :mod:`cifarlab.training.schedules`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..config.schema import OPTIMIZERS, TrainConfig
from ..core.errors import ConfigError, unknown_name
from .muon import ConvMuon


def check_optimizer_fits(model: nn.Module, cfg: TrainConfig) -> None:
    """Refuse an optimizer the model cannot take: muon needs trainable 4-D convolution filters."""
    if cfg.optimizer == "muon" and not any(p.requires_grad and p.dim() == 4 for p in model.parameters()):
        raise ConfigError(
            "--optimizer muon trains convolution filters and this model has none; use --optimizer sgd or adam"
        )


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Trainable parameters, with BatchNorm's in a group of their own when ``bn_lr_scale != 1``.

    The BN group's LR is multiplied by ``bn_lr_scale`` and its weight decay divided by it, so the
    per-step decay (lr x wd) stays that of the other weights (airbench's bias_scaler). With the
    ``muon`` optimizer the 4-D convolution filters form a last group of their own (``muon=True``).
    """
    check_optimizer_fits(model, cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    muon_ids = {id(p) for p in trainable if p.dim() == 4} if cfg.optimizer == "muon" else set()
    bn_ids = set()
    if cfg.bn_lr_scale != 1.0:
        bn_ids = {
            id(p)
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False)
            if p.requires_grad
        }
    groups = [{"params": [p for p in trainable if id(p) not in bn_ids | muon_ids]}]
    if bn_ids:
        bn = [p for p in trainable if id(p) in bn_ids]
        bn_wd = cfg.weight_decay / cfg.bn_lr_scale
        groups.append({"params": bn, "lr": cfg.lr * cfg.bn_lr_scale, "weight_decay": bn_wd})
    if muon_ids:
        filters = [p for p in trainable if id(p) in muon_ids]
        groups.append(
            {
                "params": filters,
                "muon": True,
                "lr": cfg.muon_lr,
                "momentum": cfg.muon_momentum,
                "nesterov": True,
                "weight_decay": 0.0,
            }
        )
    return groups


def build_optimizer(optimizer: str | type, params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """An optimizer by name (sgd with momentum/nesterov, adam, adamw, muon) or a torch.optim class."""
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    name = str(optimizer).lower()
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "muon":
        return ConvMuon(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    raise unknown_name("optimizer", name, OPTIMIZERS)


def build_loss(loss, label_smoothing: float) -> Callable:
    """The notebook passed ``Loss=CrossEntropyLoss`` (a class); an instance or a function works too."""
    if loss is None:
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if isinstance(loss, type):
        return loss(label_smoothing=label_smoothing) if label_smoothing else loss()
    return loss


class Lookahead:
    """airbench's lookahead: every 5 steps, move an EMA of the weights towards the model and copy it
    back into the model. The EMA decay grows as ``0.95**5 * (step / total)**3``: no averaging early,
    strong averaging at the end. Written by hand because torch's AveragedModel only averages; it does
    not pull the trained weights back."""

    def __init__(self, model: nn.Module, total_steps: int, every: int = 5):
        self.total, self.every = total_steps, every
        self.ema = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def step(self, model: nn.Module, step: int) -> None:
        if step % self.every:
            return
        self._pull(model, 0.95**self.every * (step / self.total) ** 3)

    @torch.no_grad()
    def _pull(self, model: nn.Module, decay: float) -> None:
        state = model.state_dict()
        for k, avg in self.ema.items():
            avg.lerp_(state[k], 1 - decay)
            state[k].copy_(avg)

    def finish(self, model: nn.Module) -> None:
        self._pull(model, 0.95**self.every)
