"""How much memory training takes: process RSS and live tensor bytes (Lab 2's run table and the benchmarks).

Two measures, because they answer different questions. Peak RSS is what the operating system sees the process
hold, allocator slack included. Live tensor bytes are what the tensors themselves need (on a GPU,
``torch.cuda.max_memory_allocated``); on CPU they come from the profiler's allocation record.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile


def format_bytes(n: float) -> str:
    """``1.84 GiB`` / ``27.0 MiB`` / ``5.8 KiB`` / ``300 B`` (benchmark tables, ``genai-labs cache``)."""
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**10:.1f} KiB" if n >= 2**10 else f"{n:.0f} B"


def proc_field(path: str, key: str) -> str | None:
    """The value of ``key`` in a ``key: value`` file such as ``/proc/self/status`` (None where absent)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _status_kib(key: str) -> int | None:
    value = proc_field("/proc/self/status", key)
    return int(value.split()[0]) if value else None


def rss_bytes() -> int | None:
    """The process's resident set now (Linux ``VmRSS``)."""
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else None


def peak_rss_bytes() -> int:
    """The process's peak resident set since start or the last :func:`reset_peak_rss` (Linux ``VmHWM``)."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: the lifetime peak, never reset
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes, others KiB


def reset_peak_rss() -> bool:
    """Give freed heap memory back to the OS and reset ``VmHWM`` to the current RSS; False where not allowed."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def storage_bytes(tensors: Any) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views and shared weights counted once)."""
    storages = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def allocated_peak_bytes(fn: Callable[[], Any], device: torch.device) -> int:
    """The most tensor memory ``fn`` holds at any moment on top of what was allocated before it was called.

    CUDA: torch's own counter (``torch.cuda.max_memory_allocated``). CPU, where torch keeps no counter: the running
    total of the profiler's allocation record (``profile_memory=True``), which counts only what ``fn`` allocates and
    frees. Unlike peak RSS, neither includes memory an allocator keeps after a free."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    totals = [
        e["args"]["Total Allocated"]
        for e in events
        if e.get("name") == "[memory]" and e.get("args", {}).get("Device Type", 0) == 0 and "Total Allocated" in e["args"]
    ]
    return int(max(totals, default=0))


def optimizer_state_bytes(optimizer: torch.optim.Optimizer | None) -> int:
    """Bytes of every tensor in ``optimizer``'s state (AdamW: two moments per trainable weight, plus step counters)."""
    if optimizer is None:
        return 0
    return sum(v.numel() * v.element_size() for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v))
