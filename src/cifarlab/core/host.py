"""The machine a figure was measured on, and the device a run trains on.

One collector, :func:`host_info`, feeds every record that names its host: a run's summary, ``bench``
and the zoo's table. The CPU's family and model numbers tell AMD Zen 1/3/4 apart; ``amx`` marks an
Intel Xeon whose bf16 matrix units make bf16 matmuls ~5x fp32 ones.
"""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path
from typing import Any

import torch

from .errors import ConfigError


@cache
def cpu_has_fast_bf16() -> bool:
    """True when oneDNN has native bf16 kernels here (AVX512-BF16 or AMX); emulated bf16 is slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {name}: MPS is not available here; use --device cpu or auto")
    return device


def device_name(device: torch.device) -> str:
    """What a figure was measured on: the GPU's name, or the CPU model and its logical CPU count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        if names:
            return f"{names[0]} ({len(names)} logical CPUs)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``); empty where there is no such file."""
    fields = _cpuinfo()
    return set(fields.get("flags", "").split())


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` (name -> value), or {}."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def host_info(device: torch.device | None = None) -> dict[str, Any]:
    """What a measurement ran on: device, its name, the CPU's family/model and bf16/AMX support,
    threads, torch and Python versions."""
    device = device or torch.device("cpu")
    fields = _cpuinfo()
    info: dict[str, Any] = {
        "device": str(device),
        "device_name": device_name(device),
        "cpu_family": fields.get("cpu family"),
        "cpu_model": fields.get("model"),
        "bf16": cpu_has_fast_bf16(),
        "amx": "amx_bf16" in fields.get("flags", "").split(),
        "threads": torch.get_num_threads(),
        "torch_version": str(torch.__version__),
        "python_version": platform.python_version(),
    }
    return info


def is_launcher_main() -> bool:
    """True except in the processes torchrun started with a rank above 0 (read from ``RANK``, so it
    holds before the process group exists): what is said once is said by this process."""
    return os.environ.get("RANK", "0") == "0"
