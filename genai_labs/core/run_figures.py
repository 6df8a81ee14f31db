"""A lab's key figures, saved for the ``genai-labs run`` in progress (all labs), and the library versions behind them.

Each lab ends with one call that records its figures (``genai_labs.lab1.record`` and its siblings), which lands here:
under ``genai-labs run`` the runner sets ``GENAI_LABS_RUN_DIR`` and the figures go to ``<run dir>/figures.<lab>.json``,
which the runner assembles into ``figures.json`` (schema in the README). Outside a run nothing is written.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genai_labs.core.atomic_io import plain, write_json_atomic

RUN_DIR_ENV = "GENAI_LABS_RUN_DIR"
FIGURE_PACKAGES = (
    "torch", "transformers", "peft", "datasets", "rouge_score", "tokenizers", "safetensors", "huggingface_hub",
    "accelerate", "numpy", "pandas", "matplotlib", "nbclient", "genai-labs",
)  # fmt: skip


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries the labs use, plus Python and the platform."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in FIGURE_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_description() -> dict[str, Any]:
    """The machine a run or a build happened on: processor, cores, platform, Python (figures.json, build_info.json)."""
    processor = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        processor = names[0] if names else processor
    return {
        "processor": processor,
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def record_figures(lab: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    """Save a lab's key figures for the run in progress (if any) and return them as plain values.

    Called once at the end of each lab (through the lab's own ``record``); repeated calls for the same lab merge
    (later keys win).
    """
    data = plain(figures)
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        path = Path(run_dir) / f"figures.{lab}.json"
        previous = json.loads(path.read_text()) if path.is_file() else {}
        write_json_atomic(path, {**previous, **data})
    return data
