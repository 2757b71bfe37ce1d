"""What one epoch does: the training steps (:func:`train_one_epoch`) and the evaluation
(:func:`evaluate`, with test-time views by :func:`tta_logits`); :func:`predict_logits` for inference.

Functions of a model and tensors, with no run state: the Trainer (trainer.py) decides when they run,
the loader (loader.py) decides what the batches hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..config.schema import TTA_MODES
from ..core.errors import CifarlabError, unknown_name
from .device import autocast, resolve_channels_last


class TrainingDiverged(CifarlabError):
    """The loss became NaN or infinite."""


def as_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [0, 1]; float images pass through unchanged."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def train_one_epoch(
    forward: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    scaler,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor, float]],
    *,
    amp_dtype: torch.dtype | None,
    before_step: Callable[[], None],
    after_step: Callable[[], None],
    select: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, float]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One pass over ``batches`` of ``(images, labels, weight)``; returns the summed loss and hit
    count as device tensors, so the host never waits on the device inside the loop, and the number
    of examples they cover.

    ``weight`` scales a batch's loss before the backward pass (1.0 except for a data-parallel shard,
    loader.py). ``before_step`` sets the step's learning rate, ``after_step`` counts it and applies
    lookahead. ``select`` keeps part of each batch, with a factor on its loss (training/hard_examples.py); the
    statistics are then those of the examples trained on.
    """
    loss_sum = correct = None
    seen = 0
    for xb, yb, weight in batches:
        before_step()
        if select is not None:
            xb, yb, share = select(xb, yb)
            weight *= share
        seen += len(yb)
        with autocast(xb.device, amp_dtype):
            out = forward(xb)
            loss = loss_fn(out.float(), yb)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss * weight if weight != 1.0 else loss).backward()
        scaler.step(optimizer)
        scaler.update()
        after_step()
        # rows past len(yb) are extra views of the same images (AugMix's consistency loss): the
        # statistics are those of the batch's own rows
        batch_loss, batch_hits = loss.detach() * len(yb), (out.detach()[: len(yb)].argmax(1) == yb).sum()
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = batch_hits if correct is None else correct + batch_hits
    if loss_sum is None:  # every batch skipped (fewer images than data-parallel processes)
        return torch.zeros(()), torch.zeros((), dtype=torch.long), 0
    return loss_sum, correct, seen


def check_tta(mode: str) -> None:
    if mode not in TTA_MODES:
        raise unknown_name("--tta mode", mode, TTA_MODES)


def tta_logits(model: nn.Module, x: torch.Tensor, mode: str = "none") -> torch.Tensor:
    """Logits averaged over test-time views of ``x`` (float images).

    ``flip``: the image and its mirror, averaged. ``flip_translate`` (6 views, airbench's level 2):
    half weight on that pair, a quarter on each of the pairs shifted one pixel up-left and down-right
    (reflect padding).
    """
    if mode == "none":
        return model(x)
    pair = lambda v: 0.5 * (model(v) + model(v.flip(-1)))
    if mode == "flip":
        return pair(x)
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    h, w = x.shape[-2:]
    up_left, down_right = padded[..., :h, :w], padded[..., 2:, 2:]
    return 0.5 * pair(x) + 0.25 * (pair(up_left) + pair(down_right))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 1000,
    loss_fn: Callable | None = None,
    *,
    tta: str = "none",
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> tuple[float, float]:
    """Mean loss (plain cross-entropy unless ``loss_fn``) and accuracy of ``model`` on (x, y), eval mode."""
    check_tta(tta)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for i in range(0, len(x), batch_size):
        xb = as_float_images(x[i : i + batch_size].to(device, non_blocking=True))
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = y[i : i + batch_size].to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            out = tta_logits(model, xb, tta).float()
        loss_sum += loss_fn(out, yb) * len(yb)
        correct += (out.argmax(1) == yb).sum()
    model.train(was_training)
    n = max(len(x), 1)
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1000, tta: str = "none") -> torch.Tensor:
    """Logits for all of ``x`` (eval mode, fp32), on the CPU. Conv nets run channels_last (same
    arithmetic; CPU and GPU convolutions are faster in that layout)."""
    check_tta(tta)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    layout = torch.channels_last if resolve_channels_last("auto", model) else torch.contiguous_format
    model.to(memory_format=layout)
    outs = []
    for i in range(0, len(x), batch_size):
        xb = as_float_images(x[i : i + batch_size].to(device)).contiguous(memory_format=layout)
        outs.append(tta_logits(model, xb, tta).float().cpu())
    model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0, 0)
