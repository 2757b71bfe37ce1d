"""The training device and its speed switches: which device, mixed precision, memory format, the CPU
allocator, cuDNN autotuning.

``auto`` choices follow measurements, not folklore (docs/performance.md): on this 2-core AMD EPYC
(AVX512-BF16), bf16 autocast plus channels_last trains cnn3 ~3x faster than fp32 NCHW; on CUDA, bf16
where supported, else fp16 with a gradient scaler. MPS runs fp32.
"""

from __future__ import annotations

import contextlib
import platform
from functools import cache

import torch
from torch import nn

from ..core.host import cpu_has_fast_bf16


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device`` (None: full fp32)."""
    if mode == "off" or device.type == "mps":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else None


def tune_cuda(device: torch.device) -> None:
    """On CUDA let cuDNN time its convolution algorithms for each new shape and keep the fastest.

    Every step here has the same shapes (a last partial batch adds one more), so the search runs a
    few times per run and then pays off every step. It is a process-wide switch: anything else run
    in the process afterwards (such as bench's seed-style loop) benefits from it too.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def resolve_channels_last(mode: str, model: nn.Module) -> bool:
    """channels_last helps convolutions (oneDNN and cuDNN both prefer NHWC); MLPs gain nothing."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return has_conv(model)


def grad_scaler(device: torch.device, dtype: torch.dtype | None):
    """fp16 on CUDA needs loss scaling; bf16 and fp32 do not."""
    enabled = dtype == torch.float16 and device.type == "cuda"
    return torch.amp.GradScaler("cuda", enabled=enabled)


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@cache
def keep_cpu_allocations() -> bool:
    """Let glibc keep freed activation buffers for reuse instead of handing them back to the kernel.

    A CPU training step allocates and frees the same tensors of several MB each time. Above glibc's
    mmap threshold every such tensor is a fresh ``mmap`` whose pages the kernel zeroes again, and a
    freed heap top is trimmed back, so a large share of the CPU time goes to the kernel (DEVELOPERS.md,
    "Measurements behind the code"). PyTorch's CPU allocator is plain ``malloc`` (the CUDA one
    caches), and jemalloc or tcmalloc would need ``LD_PRELOAD`` before start-up, so this sets the two
    thresholds at run time with ``mallopt``: allocations up to 32 MB (glibc's maximum) come from the
    heap, and the heap is never trimmed. Returns False where there is no glibc (macOS, Windows, musl)
    and nothing changes.
    """
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1
        return ok and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    except (OSError, AttributeError):
        return False
