"""Data-parallel training on torch.distributed: what the Trainer needs, and the ``--nproc`` launcher.

Processes are started by ``torchrun`` (``torch.distributed.run``), which sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous address; :func:`init_from_env` joins the group (gloo on CPU, nccl
on CUDA). Every rank holds the whole data set and draws the same shuffle and augmentation (same seeds),
so a global batch is the one a single process would draw; each rank then trains on its contiguous
share of it and DistributedDataParallel averages the gradients. Metrics are summed over ranks once
per epoch; only rank 0 writes the run folder and checkpoints.

Failures: a collective waits :data:`SETUP_TIMEOUT_S` while the ranks set up (rank 0 may be downloading
and extracting the data set while the others wait at the first barrier), then ``dist_timeout``
(``--dist-timeout``, 2 minutes by default) once training starts, so a rank that stops responding ends
the run in minutes instead of hanging it. A rank other than 0 that torchrun stops with SIGTERM (it does
when another rank dies) exits with one line; the ``--nproc`` launcher says which process failed, which
one stopped responding (each rank touches a heartbeat file every second), and how to resume.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from ..core.errors import CifarlabError, ConfigError

RUN_DIR_NOTE = "CIFARLAB_RUN_DIR_NOTE"
HEARTBEAT_DIR = "CIFARLAB_HEARTBEAT_DIR"  # the --nproc launcher's folder of per-rank heartbeat files
# Collectives during setup: rank 0 may download (170 MB) and extract CIFAR-10 while the others wait.
SETUP_TIMEOUT_S = 30 * 60.0
HEARTBEAT_S = 1.0  # a rank touches its heartbeat file this often (a thread: it beats while training runs)
STALE_S = 3.0  # a heartbeat this much older than the freshest one: that rank had stopped responding
_state: dict[str, float] = {}  # "train_timeout": this rank's dist_timeout, set by init_from_env
_heartbeat: list[threading.Thread] = []  # this rank's heartbeat thread, once started


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


def init_from_env(device: str = "auto", dist_timeout: float | None = None) -> torch.device | None:
    """Join the process group torchrun described in the environment; return this rank's device.

    Collectives wait up to :data:`SETUP_TIMEOUT_S` until :func:`start_training` tightens that to
    ``dist_timeout`` seconds (None: the setting's default). Returns None
    when not launched by torchrun (a plain single-process run).
    """
    if not launched_by_torchrun():
        return None
    from ..config.schema import TrainConfig

    _state["train_timeout"] = dist_timeout if dist_timeout is not None else TrainConfig.dist_timeout
    _start_heartbeat()
    if int(os.environ["RANK"]) > 0 and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: CUDA is not available here; use --device cpu")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # A rank that dies is noticed by torchrun, which stops the others; the timeout bounds a rank
        # that stops responding (or a peer machine that vanished): long enough for rank 0's download here.
        timeout = max(SETUP_TIMEOUT_S, _state["train_timeout"])
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(seconds=timeout))
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def start_training() -> None:
    """Every rank, once setup is over: collectives now wait ``dist_timeout`` seconds, not the setup's 30 minutes."""
    seconds = _state.get("train_timeout")
    if not is_active() or seconds is None:
        return
    from torch.distributed import distributed_c10d

    set_timeout = getattr(distributed_c10d, "_set_pg_timeout", None)  # torch >= 2.3; else the setup timeout stays
    if set_timeout is not None:
        set_timeout(datetime.timedelta(seconds=seconds))


def _start_heartbeat() -> None:
    """Touch ``$CIFARLAB_HEARTBEAT_DIR/rank-N`` every second (a stopped or hung process stops touching it)."""
    folder = os.environ.get(HEARTBEAT_DIR)
    if not folder or _heartbeat:
        return
    path = Path(folder) / f"rank-{os.environ['RANK']}"

    def beat() -> None:
        while True:
            with contextlib.suppress(OSError):
                path.touch()
            time.sleep(HEARTBEAT_S)

    _heartbeat.append(threading.Thread(target=beat, name="cifarlab-heartbeat", daemon=True))
    _heartbeat[0].start()


def _exit_on_sigterm(signum, frame) -> None:  # noqa: ARG001
    """A rank other than 0 writes nothing, so on SIGTERM (torchrun stops every rank when one fails) it
    leaves at once with one line: no traceback, whatever it was doing."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.write(
            f"cifarlab: rank {os.environ.get('RANK')}: stopped by SIGTERM (torchrun stops every process when one "
            "fails; the launcher says which)\n"
        )
        sys.stderr.flush()
    os._exit(128 + signal.SIGTERM)


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
    error line here instead of the launcher's traceback (:func:`failure_line`). On CPU each process gets
    ``cores // nproc`` threads (torchrun would give each one thread).
    """
    import logging
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"--nproc must be 1 or more processes, got {nproc}")
    started = time.time()
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
        os.environ[HEARTBEAT_DIR] = tmp
        try:
            elastic_launch(config, sys.executable)("-m", "cifarlab", *args)
        except ChildFailedError as e:
            rank, failure = e.get_first_failure()
            beats = {int(p.name[5:]): p.stat().st_mtime for p in Path(tmp).glob("rank-*")}
            run_dir = Path(note.read_text()) if note.exists() else _resumed_run(args)
            raise DistributedError(failure_line(nproc, rank, failure.exitcode, beats, run_dir, started)) from None
        finally:
            os.environ.pop(RUN_DIR_NOTE, None)
            os.environ.pop(HEARTBEAT_DIR, None)
    return 0


def _resumed_run(args: Sequence[str]) -> Path | None:
    """The run folder of ``--resume RUN_DIR`` in ``args`` (a resume that failed before rank 0 noted it)."""
    for i, a in enumerate(args):
        if a == "--resume" and i + 1 < len(args):
            return Path(args[i + 1])
        if a.startswith("--resume="):
            return Path(a.split("=", 1)[1])
    return None


def failure_line(
    nproc: int, rank: int, code: int, beats: dict[int, float], run_dir: Path | None, started: float
) -> str:
    """The launcher's one line on a failed run: which process failed and how, which one had stopped
    responding (its heartbeat, ``beats[rank]``, is :data:`STALE_S` older than the freshest one), whether
    summary.json exists, and how to resume (from the checkpoint on disk)."""
    from .checkpoint import resume_hint

    if code < 0:
        try:
            how = f"was killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with status {code}"
    freshest = max(beats.values(), default=0.0)
    stale = sorted(r for r, t in beats.items() if r != rank and freshest - t > STALE_S)
    if stale and code > 0:
        silent = freshest - beats[stale[0]]
        line = (
            f"the run stopped because training process {stale[0]} of {nproc} stopped responding "
            f"(no sign of life for {silent:.0f}s), so process {rank} gave up waiting for it "
            f"(--dist-timeout) and {how}"
        )
    else:
        line = f"the run stopped because training process {rank} of {nproc} {how}"
    if run_dir is None:
        return f"{line}; no run folder was made yet (the processes were setting up): start the run again"
    summary = run_dir / "summary.json"
    if not summary.exists() or summary.stat().st_mtime < started:
        killed = "was killed before it could" if rank == 0 and code < 0 else "did not get to write it"
        line += f"; process 0 writes summary.json and {killed}, so {run_dir} has none from this run"
    return f"{line}; {resume_hint(run_dir, f' --nproc {nproc}')}"


def note_run_dir(run_dir: Path) -> None:
    """Every rank, when setup is over and training starts: rank 0 tells the ``--nproc`` launcher where
    the run folder is (for its error message), and every rank's collectives get the training timeout
    (:func:`start_training`)."""
    path = os.environ.get(RUN_DIR_NOTE)
    if path and is_main():
        Path(path).write_text(str(run_dir))
    start_training()


def evaluate_sharded(run, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy of ``run(x, y)`` over all processes: each evaluates its share of the
    images, and the sums are added (no collective inside the model). One process: ``run(x, y)``."""
    if not is_active():
        return run(x, y)
    part = shard(len(x))
    loss, acc = run(x[part], y[part])
    k = len(y[part])
    loss_sum, hits = all_reduce_sum(torch.tensor(loss * k), torch.tensor(acc * k))
    return loss_sum.item() / len(x), round(hits.item()) / len(x)
