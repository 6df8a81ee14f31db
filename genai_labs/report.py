"""Key figures of a lab run (all labs) and the instructor's ``figures.json``.

A notebook calls :func:`record_figures` with its key numbers. Under ``genai-labs run`` the runner sets
``GENAI_LABS_RUN_DIR`` and each lab's figures land in ``<run dir>/figures.<lab>.json``; the runner then
assembles ``figures.json`` (schema in the README). Outside a run the call just returns the figures.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Mapping

RUN_DIR_ENV = "GENAI_LABS_RUN_DIR"
FIGURE_PACKAGES = (
    "torch", "transformers", "peft", "trl", "datasets", "evaluate", "rouge_score", "tokenizers",
    "accelerate", "numpy", "pandas", "matplotlib", "nbclient", "genai-labs",
)


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(plain(data), handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def plain(value: Any) -> Any:
    """Convert numpy/torch scalars, tuples and dataclass-free containers to JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    return str(value)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries the labs use, plus Python and the platform."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in FIGURE_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def record_figures(lab: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    """Save a lab's key figures for the run in progress (if any) and return them as plain values.

    Called at the end of each lab notebook; repeated calls for the same lab merge (later keys win).
    """
    data = plain(figures)
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        path = Path(run_dir) / f"figures.{lab}.json"
        previous = json.loads(path.read_text()) if path.is_file() else {}
        write_json_atomic(path, {**previous, **data})
    return data


def assemble_figures(run_dir: Path, *, profile: Mapping[str, Any], seed: int, timings_s: Mapping[str, float]) -> dict[str, Any]:
    """Build ``figures.json`` for a run folder from the per-lab files the notebooks wrote."""
    figures: dict[str, Any] = {
        "profile": profile.get("name"),
        "seed": seed,
        "versions": library_versions(),
        "model_revisions": {
            "model": [profile.get("model"), profile.get("model_revision")],
            "reward_model": [profile.get("reward_model"), profile.get("reward_model_revision")],
            "dataset": [profile.get("dataset"), profile.get("dataset_revision")],
        },
        "timings_s": dict(timings_s),
    }
    for path in sorted(Path(run_dir).glob("figures.*.json")):
        figures[path.name.split(".")[1]] = json.loads(path.read_text())
    write_json_atomic(Path(run_dir) / "figures.json", figures)
    return figures


def _figure_rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [row for key, inner in value.items() for row in _figure_rows(f"{prefix}.{key}" if prefix else str(key), inner)]
    if isinstance(value, float):
        return [(prefix, f"{value:.4g}")]
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value) and len(value) <= 4:
        return [(prefix, "[" + ", ".join(f"{v:.4g}" for v in value) + "]")]
    return [(prefix, str(value))]


def write_report(run_dir: Path, figures: Mapping[str, Any], notebooks: Mapping[str, Path]) -> Path:
    """Write ``report.md``: the key figures as a table, then each lab's tables and plots from its executed notebook."""
    import base64

    import nbformat

    run_dir = Path(run_dir)
    lines = [f"# genai-labs run: profile {figures.get('profile')}, seed {figures.get('seed')}", ""]
    lines += ["## Key figures", "", "| figure | value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in _figure_rows("", {k: v for k, v in figures.items() if k != "versions"})]
    lines += ["", "## Versions", "", "| library | version |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in figures.get("versions", {}).items()]
    for lab, path in notebooks.items():
        lines += ["", f"## {lab}: {Path(path).name}", ""]
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            for number, output in enumerate(cell.get("outputs", [])):
                data = output.get("data", {})
                if "image/png" in data:
                    image = run_dir / "figures" / f"{lab}-cell{index}-{number}.png"
                    image.parent.mkdir(exist_ok=True)
                    image.write_bytes(base64.b64decode(data["image/png"]))
                    lines += [f"![{lab} cell {index}](figures/{image.name})", ""]
                elif "<table" in str(data.get("text/html", "")):
                    lines += [str(data["text/html"]), ""]
    path = run_dir / "report.md"
    fd, tmp = tempfile.mkstemp(prefix=".report.md.", dir=run_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
