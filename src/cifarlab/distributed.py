"""Data-parallel training on torch.distributed: what the Trainer needs, and the ``--nproc`` launcher.

Processes are started by ``torchrun`` (``torch.distributed.run``), which sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous address; :func:`init_from_env` joins the group (gloo on CPU, nccl
on CUDA). Every rank holds the whole data set and draws the same shuffle and augmentation (same seeds),
so a global batch is the one a single process would draw; each rank then trains on its contiguous
share of it and DistributedDataParallel averages the gradients. Metrics are summed over ranks once
per epoch; only rank 0 writes the run folder and checkpoints.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from .errors import CifarlabError, ConfigError

RUN_DIR_NOTE = "CIFARLAB_RUN_DIR_NOTE"


class DistributedError(CifarlabError):
    """A training process of a distributed run failed."""


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    return dist.get_world_size() if is_active() else 1


def is_main() -> bool:
    return rank() == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_from_env(device: str = "auto") -> torch.device | None:
    """Join the process group torchrun described in the environment; return this rank's device.

    Returns None when not launched by torchrun (a plain single-process run).
    """
    if not launched_by_torchrun():
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: CUDA is not available here; use --device cpu")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # A rank that dies is noticed by torchrun, which stops the others; the timeout only bounds a
        # hang on a peer machine that vanished (10 minutes instead of torch's default 30).
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=10))
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def check_sync_bn(sync_bn: bool, device: torch.device) -> None:
    """SyncBatchNorm has no CPU kernel in torch: refuse ``--sync-bn`` off CUDA before any work."""
    if sync_bn and device.type != "cuda":
        raise ConfigError("--sync-bn needs CUDA (torch's SyncBatchNorm has no CPU kernel); drop it on CPU")


def all_reduce_sum(*values: torch.Tensor) -> list[torch.Tensor]:
    """Sum tensors over ranks (one collective for all of them); identity in a single process."""
    if not is_active():
        return list(values)
    flat = torch.stack([v.detach().double().reshape(()) for v in values])
    if dist.get_backend() == "nccl":
        flat = flat.cuda()
    dist.all_reduce(flat)
    return [flat[i].to(v.device, v.dtype) for i, v in enumerate(values)]


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, so all evaluate alike."""
    if not is_active():
        return
    for b in module.buffers():
        dist.broadcast(b.data, src=0)


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (e.g. the run folder it created)."""
    if not is_active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if is_active():
        dist.barrier()


def shard(n: int) -> slice:
    """This rank's contiguous part of ``range(n)`` (sizes differ by at most one)."""
    w, r = world_size(), rank()
    base, extra = divmod(n, w)
    start = r * base + min(r, extra)
    return slice(start, start + base + (1 if r < extra else 0))


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, args: Sequence[str]) -> int:
    """Run ``cifarlab ARGS`` in ``nproc`` processes on this machine, as ``torchrun --standalone`` does.

    Uses torchrun's own launcher (``elastic_launch``) in this process, so a failed rank becomes one
    error line here instead of the launcher's traceback. On CPU each process gets ``cores // nproc``
    threads (torchrun would give each one thread).
    """
    import logging
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"--nproc must be 1 or more processes, got {nproc}")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")  # epoch lines appear as they happen
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the error line below says it
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        note = Path(tmp) / "run_dir"
        os.environ[RUN_DIR_NOTE] = str(note)  # rank 0 writes its run folder's path there
        try:
            elastic_launch(config, sys.executable)("-m", "cifarlab", *args)
        except ChildFailedError as e:
            rank, failure = e.get_first_failure()
            code = failure.exitcode
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            run_dir = note.read_text() if note.exists() else "RUN_DIR"
            raise DistributedError(
                f"training process {rank} of {nproc} {how}; completed epochs and checkpoints stay in {run_dir}: "
                f"continue with cifarlab train --resume {run_dir} --nproc {nproc}"
            ) from None
        finally:
            os.environ.pop(RUN_DIR_NOTE, None)
    return 0


def note_run_dir(run_dir: Path) -> None:
    """Rank 0: tell the ``--nproc`` launcher where the run folder is (for its error message)."""
    path = os.environ.get(RUN_DIR_NOTE)
    if path and is_main():
        Path(path).write_text(str(run_dir))
