"""Headless execution of the lab notebooks for instructors and CI (``genai-labs run``).

Each run gets its own folder holding the executed notebooks, ``figures.json`` and ``report.md``. The
notebooks are executed with nbclient (a maintained executor) in a kernel of the current Python, with the
profile passed through ``GENAI_LABS_PROFILE``. A failing cell stops the run with the cell and error named;
what finished stays on disk.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm.auto import tqdm

from genai_labs.config import PROFILE_ENV, load_profile, profile_as_dict
from genai_labs.report import RUN_DIR_ENV, assemble_figures, write_json_atomic, write_report

LABS_DIR_ENV = "GENAI_LABS_LABS_DIR"
CELL_TIMEOUT_S = 3600


class LabRunError(RuntimeError):
    """A notebook cell failed; the message names the notebook, the cell and the error."""


@dataclass
class RunResult:
    """What ``run_labs`` produced: the run folder, executed notebooks, timings and the figures."""

    run_dir: Path
    notebooks: dict[str, Path] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


def labs_dir() -> Path:
    """The folder of lab notebooks: ``$GENAI_LABS_LABS_DIR``, else ``labs/`` of this checkout or the working directory."""
    if os.environ.get(LABS_DIR_ENV):
        return Path(os.environ[LABS_DIR_ENV])
    checkout = Path(__file__).resolve().parents[1] / "labs"
    return checkout if checkout.is_dir() else Path.cwd() / "labs"


def discover_labs(folder: Path | None = None) -> dict[str, Path]:
    """``{"lab1": labs/01_....ipynb, ...}`` for every numbered notebook in the labs folder."""
    folder = folder or labs_dir()
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    return {f"lab{int(p.name[:2])}": p for p in notebooks}


def new_run_dir(out: Path) -> Path:
    """A fresh folder ``out/run-<UTC time>[-n]`` (never reuses an existing one)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = Path(out) / (f"run-{stamp}" if n == 0 else f"run-{stamp}-{n}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder under {out}")


def execute_notebook(source: Path, target: Path, *, env: dict[str, str], progress: bool = True) -> float:
    """Execute ``source`` into ``target`` (written even when a cell fails); returns the seconds it took."""
    notebook = nbformat.read(source, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    bar = tqdm(total=code_cells, desc=source.name, unit="cell", disable=not progress)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
        on_cell_executed=lambda cell, **_: bar.update(1) if cell.cell_type == "code" else None,
    )
    started = time.perf_counter()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client.execute()
    except CellExecutionError as err:
        failing = next(
            (i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))),
            None,
        )
        raise LabRunError(f"{source.name}: cell {failing} failed.\n{err}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        bar.close()
        nbformat.write(notebook, target)
    return time.perf_counter() - started


def run_labs(labs: list[str], *, profile: str = "tiny", out: Path = Path("runs"), progress: bool = True) -> RunResult:
    """Execute the named labs (``["lab1", ...]``) in ``profile`` into a new run folder (instructor command)."""
    available = discover_labs()
    unknown = [lab for lab in labs if lab not in available]
    if unknown:
        raise ValueError(f"Unknown lab(s) {', '.join(unknown)}; available: {', '.join(available) or 'none found in ' + str(labs_dir())}.")
    settings = load_profile(profile)
    result = RunResult(run_dir=new_run_dir(out))
    env = {PROFILE_ENV: profile, RUN_DIR_ENV: str(result.run_dir.resolve())}
    write_json_atomic(result.run_dir / "profile.json", profile_as_dict(settings))
    try:
        for lab in labs:
            target = result.run_dir / available[lab].name
            result.timings_s[lab] = round(execute_notebook(available[lab], target, env=env, progress=progress), 1)
            result.notebooks[lab] = target
    finally:
        result.figures = assemble_figures(
            result.run_dir, profile=profile_as_dict(settings), seed=settings.seed, timings_s=result.timings_s
        )
        write_report(result.run_dir, result.figures, result.notebooks)
    return result
