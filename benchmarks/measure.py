"""How the benchmarks measure: the machine, wall and CPU time, one training step, live tensor memory, matmul rate.

Every benchmark reports its headline as :func:`result`: the course's way (the baseline) against the package's,
their ratio, the goal and whether it was met.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genai_labs.core.run_figures import library_versions
from genai_labs.lab2.memory import allocated_peak_bytes, proc_field, storage_bytes


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages (how busy the machine was: the runs are not alone on it)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, torch threads, RAM, GPU, library versions and the date of a benchmark run."""
    mem_kib = proc_field("/proc/meminfo", "MemTotal")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "gpu": gpu or "none",
        "load_average_at_start": load_average(),
        "versions": library_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass
class Timer:
    """Wall and process CPU seconds of a block (CPU time is less sensitive to other jobs on the machine)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    def __enter__(self) -> Timer:
        sync()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        sync()
        self.wall_s += time.perf_counter() - self._wall
        self.cpu_s += time.process_time() - self._cpu


def sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def train_step(model: Any, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer | None = None) -> float:
    """One forward+backward (and optimizer step when given) on ``batch``; returns the loss."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    model.zero_grad(set_to_none=True)
    loss = model(**batch, use_cache=False).loss  # training: no decoder cache (and none to clash with checkpointing)
    loss.backward()
    if optimizer is not None:
        optimizer.step()
    return float(loss.detach())


def step_tensor_peak_bytes(model: Any, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer) -> int:
    """Peak live tensor memory of one training step (:func:`train_step`): the weights, buffers and optimizer state
    kept across steps plus the most the step allocates on top (activations, gradients, temporaries)."""
    device = next(model.parameters()).device
    model.zero_grad(set_to_none=True)
    state = [v for values in optimizer.state.values() for v in values.values() if torch.is_tensor(v)]
    held = storage_bytes([*model.parameters(), *model.buffers(), *state])
    return held + allocated_peak_bytes(lambda: train_step(model, batch, optimizer), device)


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype, *, size: int = 4096, repeats: int = 10) -> float:
    """Measured dense matmul rate (FLOP/s) on ``device`` in ``dtype``: the denominator of MFU."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    with Timer() as t:
        for _ in range(repeats):
            a @ b
    return 2 * size**3 * repeats / t.wall_s


def dtype_of(name: str) -> torch.dtype:
    """The torch dtype named ``name`` (``"bfloat16"``)."""
    return getattr(torch, name)


def token_stats(tokenizer: Any, texts: Sequence[str]) -> dict[str, float]:
    """Mean, shortest and longest token count of ``texts``."""
    lengths = [len(ids) for ids in tokenizer(list(texts))["input_ids"]]
    return {"mean": sum(lengths) / len(lengths), "min": min(lengths), "max": max(lengths)}


def result(
    metric: str,
    baseline: float,
    package: float,
    ratio: float | None,
    goal: str,
    met: bool | None,
    *,
    ratio_unit: str = "x",
    **details: Any,
) -> dict[str, Any]:
    """One benchmark's headline: the course's way (baseline) vs the package's, their ratio, the goal and whether it was met."""
    return {
        "metric": metric,
        "baseline": baseline,
        "package": package,
        "ratio": ratio,
        "ratio_unit": ratio_unit,
        "goal": goal,
        "met": met,
        **details,
    }
