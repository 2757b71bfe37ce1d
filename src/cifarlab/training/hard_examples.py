"""Selective backprop: train on the hardest share of each batch, ranked by a small proxy network.

``--keep-hard 0.5``: a small fastnet (the proxy, widths 32/64/64, about a seventh of ``fastnet``'s
FLOPs) scores every batch the loader draws; the run's model trains only on the ``keep`` share with
the highest proxy loss. The idea and the proxy's shape are airbench96_faster's (Jordan, 2024), which
its README lists at 96.00% for 3.1 PFLOPs against airbench96's 4.9 (it also narrows the second
group, so not all of that is the selection). The proxy learns alongside, on its own selected share of
every 4th batch (``--proxy-every N``: every Nth), with the run's optimizer settings and LR schedule; it
never sees the main model, so its choices are those of a separate pre-run over the same batches.
``--proxy-width F`` scales its channels and ``--proxy-stride 2`` gives it fastnet's patchify stem
(16x16 maps): a cheaper ranking, for a main network so narrow that the proxy's fixed cost dominates.
``--proxy-every 2`` buys a better-trained proxy for a backward pass on every other batch.

The selected rows' loss is weighed by their share of the batch (a sum over them divided by the whole
batch), so each trained example gets the step it would get without selection: the recipe's LR per
example holds, as in airbench96_faster, where the selected half's loss is summed at the full batch's LR.

Written here because no library does this for a training loop of this shape. The ranking costs one
forward pass of the proxy per batch; the budget probe (budget.py) times steps with it included.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from ..config.schema import TrainConfig
from ..core.errors import CifarlabError
from .device import autocast, grad_scaler
from .optim import build_optimizer, param_groups

PROXY_WIDTHS = (32, 64, 64)  # airbench96_faster's proxy: 2 convs per group at these widths (--proxy-width 1)


def proxy_widths(width: float) -> tuple[int, int, int]:
    """The proxy's channels at ``--proxy-width``: airbench96_faster's 32/64/64 scaled, at least 1."""
    return tuple(max(1, round(w * width)) for w in PROXY_WIDTHS)


class HardSelector:
    """Calls as ``select(images, labels, step, lr_factor) -> (images, labels, weight)``."""

    def __init__(
        self,
        cfg: TrainConfig,
        optimizer: str | type,
        device: torch.device,
        amp_dtype: torch.dtype | None,
        channels_last: bool,
    ):
        from ..models.registry import create_model

        self.keep, self.every = cfg.keep_hard, cfg.proxy_every
        self.label_smoothing = cfg.label_smoothing
        self.device, self.amp_dtype = device, amp_dtype
        proxy = create_model("fastnet", widths=proxy_widths(cfg.proxy_width), stem_stride=cfg.proxy_stride)
        proxy = proxy.to(device)
        self.proxy = proxy.to(memory_format=torch.channels_last) if channels_last else proxy
        self.optimizer = build_optimizer(optimizer, param_groups(self.proxy, cfg), cfg)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = grad_scaler(device, amp_dtype)

    def init_from_data(self, images: torch.Tensor) -> None:
        self.proxy.init_from_data(images)

    def epoch_hook(self, epoch: int) -> None:
        self.proxy.train()
        self.proxy.epoch_hook(epoch)

    def __call__(
        self, xb: torch.Tensor, yb: torch.Tensor, step: int, lr_factor: float
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        n = len(yb)
        k = max(1, round(self.keep * n))
        learn = step % self.every == 0
        with torch.set_grad_enabled(learn), autocast(xb.device, self.amp_dtype):
            out = self.proxy(xb)
        losses = F.cross_entropy(out.float(), yb, reduction="none", label_smoothing=self.label_smoothing)
        # the k highest losses, in the batch's own order (the order is the loader's, not the ranking's)
        idx = losses.detach().topk(k, sorted=False).indices.sort().values
        if learn:
            for group, base in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = base * lr_factor
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(losses[idx].sum() / n).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return xb[idx], yb[idx], k / n

    def state_dict(self) -> dict[str, Any]:
        return {
            "proxy": {k: v.detach().cpu().clone() for k, v in self.proxy.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ours = {k: tuple(v.shape) for k, v in self.proxy.state_dict().items()}
        if {k: tuple(v.shape) for k, v in state["proxy"].items()} != ours:
            raise CifarlabError(
                "the checkpoint's proxy network has another shape than this run's: "
                "resume with the --proxy-width and --proxy-stride it was trained with"
            )
        self.proxy.load_state_dict(state["proxy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
