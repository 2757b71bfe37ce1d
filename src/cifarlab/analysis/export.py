"""Export a trained run's model to ONNX (checked with onnxruntime in the tests) or TorchScript.

The exported graph keeps the model's contract: float images (N, 3, 32, 32) in [0, 1] -> logits, with
the batch dimension dynamic. Files are written to a temp name and renamed, never left half-written.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..core.errors import ConfigError, RunError, unknown_name
from ..core.fileio import atomic_write_bytes
from ..runs.folder import check_output
from ..runs.store import load_run

FORMATS = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}


def export_model(model: torch.nn.Module, fmt: str, out: str | Path) -> Path:
    if fmt not in FORMATS:
        raise unknown_name("export format", fmt, list(FORMATS))
    out = Path(out)
    if not out.parent.is_dir():
        raise RunError(f"cannot write {out}: folder {out.parent} does not exist")
    model = model.cpu().eval()
    example = torch.rand(2, 3, 32, 32)
    buf = io.BytesIO()  # serialised in memory, then written by Python: torch's C++ writers abort on a full disk
    try:
        with torch.no_grad():
            if fmt == "onnx":
                # The TorchScript-based exporter: it needs only torch (the dynamo one needs onnxscript).
                torch.onnx.export(
                    model,
                    (example,),
                    buf,
                    input_names=["images"],
                    output_names=["logits"],
                    dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=17,
                    dynamo=False,
                )
            else:
                torch.jit.save(torch.jit.trace(model, example), buf)
        atomic_write_bytes(out, buf.getvalue())
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001
        raise RunError(f"export to {fmt} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    return out


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None, force: bool = False) -> Path:
    """Export a run's model; ``out`` defaults to RUN_DIR/model.onnx (or model.torchscript.pt).

    An existing file is replaced only with ``force``, and never one of the run's own files.
    """
    if fmt not in FORMATS:
        raise unknown_name("export format", fmt, list(FORMATS))
    run_dir = Path(run_dir)
    target = check_output(out or (run_dir if run_dir.is_dir() else run_dir.parent) / FORMATS[fmt], force)
    run = load_run(run_dir)
    return export_model(run.model, fmt, target)
