"""Headless execution of the lab notebooks for instructors and CI (``genai-labs run``).

Each run gets its own folder holding the executed notebooks, ``figures.json`` and ``report.md``. The
notebooks are executed with nbclient in an ipykernel of the current interpreter (``sys.executable``, whatever
kernelspecs are installed), with the profile passed through ``GENAI_LABS_PROFILE``. A failing cell, a cell
over ``--cell-timeout`` or a dead kernel stops the run with :class:`LabRunError` naming the lab, the cell and
the error; what finished stays on disk and ``figures.json``/``report.md`` record the failure.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
import tqdm.auto as tqdm_auto
import tqdm.autonotebook as tqdm_autonotebook
import tqdm.std as tqdm_std
import zmq
from ipykernel.kernelspec import get_kernel_dict
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from tqdm.auto import tqdm
from traitlets import default

from genai_labs.core.atomic_io import write_json_atomic, write_text_atomic
from genai_labs.core.folders import CHECKOUT, ensure_writable_folder
from genai_labs.core.overrides import PROFILE_ENV, resolve_path_overrides
from genai_labs.core.profiles import load_profile, profile_as_dict
from genai_labs.core.run_figures import RUN_DIR_ENV
from genai_labs.core.validation import ConfigError
from genai_labs.instructor.report import assemble_figures, strip_ansi, write_report

LABS_DIR_ENV = "GENAI_LABS_LABS_DIR"
TRACEBACK_LINES = 25  # lines of a cell's traceback kept in the error message (the notebook holds all of it)


class RunSetupError(ConfigError):
    """``genai-labs run`` cannot start (no notebooks, unknown lab, unusable ``--out``); the message names the fix."""


class LabRunError(RuntimeError):
    """A lab stopped: a cell raised, ran past ``--cell-timeout`` or killed the kernel.

    The message names the lab, the cell, what happened and what to do; the attributes hold the same facts for
    ``figures.json`` (``lab``, ``notebook``, ``cell``, ``error``) and the run folder once known (``run_dir``).
    """

    def __init__(self, message: str, *, lab: str, notebook: str, cell: str | None, error: str, interrupted: bool = False) -> None:
        super().__init__(message)
        self.lab, self.notebook, self.cell, self.error = lab, notebook, cell, error
        self.interrupted = interrupted  # stopped by Ctrl-C or SIGTERM, not by the lab itself
        self.run_dir: Path | None = None

    def as_record(self) -> dict[str, Any]:
        """The ``failed`` entry of ``figures.json``."""
        return {"lab": self.lab, "notebook": self.notebook, "cell": self.cell, "error": self.error}


@dataclass
class RunResult:
    """What ``run_labs`` produced: the run folder, executed notebooks, timings and the figures."""

    run_dir: Path
    notebooks: dict[str, Path] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Finding the labs and the output folder
# --------------------------------------------------------------------------------------------------


def labs_dir() -> Path:
    """The folder of lab notebooks: ``$GENAI_LABS_LABS_DIR``, else ``labs/`` of this checkout or the working directory."""
    if os.environ.get(LABS_DIR_ENV):
        return Path(os.environ[LABS_DIR_ENV])
    checkout = CHECKOUT / "labs"
    return checkout if checkout.is_dir() else Path.cwd() / "labs"


def discover_labs(folder: Path | None = None) -> dict[str, Path]:
    """``{"lab1": labs/01_....ipynb, ...}`` for every numbered notebook in the labs folder (may be empty)."""
    folder = folder or labs_dir()
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    return {f"lab{int(p.name[:2])}": p for p in notebooks}


def select_labs(names: Sequence[str], folder: Path | None = None) -> dict[str, Path]:
    """The notebooks of ``names`` (``lab1``..., or ``all``) in run order (``genai-labs run``).

    Raises :class:`RunSetupError` when the labs folder holds no numbered notebooks or a name is unknown.
    """
    folder = folder or labs_dir()
    available = discover_labs(folder)
    if not available:
        state = (
            "does not exist" if not folder.exists() else "is not a folder" if not folder.is_dir() else "holds no lab notebooks"
        )
        source = f"${LABS_DIR_ENV}" if os.environ.get(LABS_DIR_ENV) else "the default labs folder"
        raise RunSetupError(
            f"no lab notebooks found: {folder} ({source}) {state}; lab notebooks are named like 01_prompting.ipynb. "
            f"Point {LABS_DIR_ENV} at the checkout's labs/ folder (or unset it and run from the checkout)."
        )
    wanted = list(available) if "all" in names or not names else list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise RunSetupError(
            f"unknown lab {', '.join(unknown)}; choose from {', '.join(available)} or all (notebooks found in {folder})."
        )
    return {name: available[name] for name in wanted}


def new_run_dir(out: Path) -> Path:
    """A fresh folder ``out/run-<UTC time>[-n]`` (never reuses an existing one); ``out`` must be usable."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = Path(out) / (f"run-{stamp}" if n == 0 else f"run-{stamp}-{n}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
        except OSError as error:
            raise RunSetupError(f"--out {out}: cannot create a run folder there ({error.strerror or error}).") from None
    raise RunSetupError(f"--out {out}: could not create a new run folder (1000 names taken); choose another --out.")


# --------------------------------------------------------------------------------------------------
# The kernel: this interpreter, encrypted transport when possible, text progress bars
# --------------------------------------------------------------------------------------------------


class CurrentPythonKernelManager(AsyncKernelManager):
    """Starts ipykernel in this interpreter (``sys.executable``), ignoring installed kernelspecs (``genai-labs run``).

    A user-level ``python3`` kernelspec could otherwise point at another Python without ``genai_labs``. The
    transport is CurveZMQ-encrypted when pyzmq supports it (which also silences ipykernel's "running over TCP
    without encryption" warning).
    """

    @property
    def kernel_spec(self) -> KernelSpec:
        """ipykernel's own spec for ``sys.executable``."""
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(resource_dir="", **get_kernel_dict())
        return self._kernel_spec

    @default("transport_encryption")
    def _encrypt_when_possible(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"


def use_text_progress_bars() -> None:
    """Make ``tqdm.auto`` give plain-text bars in this process (the kernels of ``genai-labs run``).

    Widget bars in a headless run are saved as their first frame ("generate: 0%"); text bars end up, once nbclient
    coalesces the stream, as their final line, which every notebook viewer shows.
    """
    for module in (tqdm_auto, tqdm_autonotebook):
        module.tqdm, module.trange = tqdm_std.tqdm, tqdm_std.trange


def load_ipython_extension(ipython: Any) -> None:
    """IPython extension hook: the runner starts each kernel with ``--IPKernelApp.extensions=genai_labs.instructor.runner``."""
    use_text_progress_bars()


KERNEL_ARGUMENTS = ["--IPKernelApp.extensions=genai_labs.instructor.runner"]  # see load_ipython_extension


# --------------------------------------------------------------------------------------------------
# Executing one notebook
# --------------------------------------------------------------------------------------------------


def describe_cell(notebook: Any, index: int) -> str:
    """``code cell 3 (cell 5 of the notebook): `<first line>``` for the cell at ``index`` (both counted from 1)."""
    code_number = sum(cell.cell_type == "code" for cell in notebook.cells[: index + 1])
    first_line = next((line.strip() for line in notebook.cells[index].source.splitlines() if line.strip()), "(empty)")
    return f"code cell {code_number} (cell {index + 1} of the notebook): `{first_line[:100]}`"


def _cell_traceback(notebook: Any, index: int | None, fallback: str) -> list[str]:
    """The last lines of the kernel's traceback in the cell's error output (ANSI codes removed)."""
    outputs = notebook.cells[index].get("outputs", []) if index is not None else []
    frames = next((o.get("traceback", []) for o in outputs if o.get("output_type") == "error"), None)
    text = "\n".join(frames) if frames else fallback
    return strip_ansi(text).rstrip().splitlines()[-TRACEBACK_LINES:]


def _failure(
    err: Exception | None,
    *,
    lab: str,
    source: Path,
    target: Path,
    cell: str | None,
    traceback: list[str],
    timeout: int | None,
    kernel_log: Path | None,
) -> LabRunError:
    """The :class:`LabRunError` for an nbclient error (``None``: interrupted by Ctrl-C/SIGTERM): what happened, what to do."""
    where = f"{lab} ({source.name}) stopped at {cell}" if cell else f"{lab} ({source.name}) stopped before its first cell"
    details: list[str] = []
    if err is None:
        error, todo = "interrupted (Ctrl-C or SIGTERM)", "run the lab again when ready."
    elif isinstance(err, CellTimeoutError):
        error = f"the cell ran longer than --cell-timeout {timeout} s"
        todo = "raise --cell-timeout (or leave it out: no limit), or use a smaller profile."
    elif isinstance(err, DeadKernelError):
        error = "the kernel died (out of memory, a crash in native code, or os._exit in the cell)"
        todo = "check the memory the profile needs (try --profile tiny)" + (
            f" and the kernel's own messages in {kernel_log.name}." if kernel_log else "; the kernel printed nothing itself."
        )
    else:
        assert isinstance(err, CellExecutionError)
        error, todo = strip_ansi(f"{err.ename}: {err.evalue}"), "fix the cause and run this lab again."
        details = ["traceback (last lines):", *traceback]
    message = "\n".join([where, f"error: {error}", *details, f"what to do: {todo} The partly executed notebook is {target}."])
    return LabRunError(message, lab=lab, notebook=source.name, cell=cell, error=error, interrupted=err is None)


def _drop_blank_streams(notebook: Any) -> None:
    """Remove stream outputs left blank once nbclient coalesced them (a closed text progress bar)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream" or o.get("text", "").strip()]


def kernel_log_path(target: Path) -> Path:
    """Where the kernel process's own stdout and stderr go for the executed notebook ``target`` (kept only when not empty)."""
    return target.with_suffix(".kernel.log")


def execute_notebook(
    source: Path, target: Path, *, lab: str, env: dict[str, str], cell_timeout: int | None = None, progress: bool = True
) -> None:
    """Execute ``source`` into ``target`` (``genai-labs run``); ``target`` is written even when the lab stops.

    What the kernel process itself prints outside cell outputs (native libraries, ipykernel's own errors) goes to
    :func:`kernel_log_path`, not the terminal. Raises :class:`LabRunError` when a cell raises, runs past
    ``cell_timeout`` seconds (``None``: no limit) or kills the kernel.
    """
    notebook = nbformat.read(source, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    log_path = kernel_log_path(target)
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in finally, after the kernel stopped)
    bar = tqdm(total=code_cells, desc=source.name, unit="cell", disable=not progress)
    running: dict[str, int] = {}
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        kernel_manager_class=CurrentPythonKernelManager,
        extra_arguments=list(KERNEL_ARGUMENTS),
        resources={"metadata": {"path": str(source.parent)}},
        coalesce_streams=True,
        on_cell_start=lambda cell, cell_index, **_: running.update(index=cell_index),
        on_cell_executed=lambda cell, **_: bar.update(1) if cell.cell_type == "code" else None,
    )
    try:
        client.execute(env=env, stdout=log, stderr=log)
    except Exception as err:
        # nbclient handles Ctrl-C/SIGTERM itself: it shuts the kernel down (setting this attribute), and execution
        # then fails with DeadKernelError or an AssertionError of its second clean-up.
        interrupted = getattr(client, "_async_cleanup_kernel_future", None) is not None
        if not interrupted and not isinstance(err, (CellExecutionError, CellTimeoutError, DeadKernelError)):
            raise
        index = running.get("index")
        cell = describe_cell(notebook, index) if index is not None else None
        traceback = _cell_traceback(notebook, index, getattr(err, "traceback", ""))
        log.flush()
        kernel_log = log_path if log_path.stat().st_size else None
        raise _failure(
            None if interrupted else err,
            lab=lab,
            source=source,
            target=target,
            cell=cell,
            traceback=traceback,
            timeout=cell_timeout,
            kernel_log=kernel_log,
        ) from None
    finally:
        log.close()
        with contextlib.suppress(OSError):
            if log_path.stat().st_size == 0:
                log_path.unlink()
        bar.close()
        client.set_widgets_metadata()
        _drop_blank_streams(notebook)
        write_text_atomic(target, nbformat.writes(notebook))


# --------------------------------------------------------------------------------------------------
# A run
# --------------------------------------------------------------------------------------------------


def run_labs(
    labs: Sequence[str],
    *,
    profile: str = "tiny",
    out: Path = Path("runs"),
    progress: bool = True,
    cell_timeout: int | None = None,
) -> RunResult:
    """Execute the named labs (``["lab1", ...]`` or ``["all"]``) in ``profile`` into a new run folder (instructor command).

    ``cell_timeout``: seconds one cell may run (``None``: no limit). Raises :class:`RunSetupError` before anything
    runs when the labs or ``out`` are unusable, and :class:`LabRunError` (``run_dir`` set) when a lab stops; the
    run folder then holds what finished, with ``status: failed`` in ``figures.json`` and a FAILED line in ``report.md``.
    """
    if cell_timeout is not None and cell_timeout <= 0:
        raise RunSetupError(f"--cell-timeout {cell_timeout}: must be a positive number of seconds (leave it out for no limit).")
    selected = select_labs(labs)
    env = resolve_path_overrides(os.environ, Path.cwd())  # kernels run in the labs folder: relative paths made absolute
    settings = load_profile(profile, env=env)
    ensure_writable_folder(Path(out), option="--out")
    started = datetime.now(timezone.utc)
    result = RunResult(run_dir=new_run_dir(out))
    env.update({PROFILE_ENV: profile, RUN_DIR_ENV: str(result.run_dir.resolve())})
    write_json_atomic(result.run_dir / "profile.json", profile_as_dict(settings))
    failed: dict[str, Any] | None = None
    try:
        for lab, source in selected.items():
            target = result.run_dir / source.name
            began = time.perf_counter()
            try:
                execute_notebook(source, target, lab=lab, env=env, cell_timeout=cell_timeout, progress=progress)
            finally:
                result.timings_s[lab] = round(time.perf_counter() - began, 1)
                if target.is_file():
                    result.notebooks[lab] = target
    except LabRunError as err:
        failed, err.run_dir = err.as_record(), result.run_dir
        raise
    except BaseException as err:  # Ctrl-C or an unexpected error: still record that the run did not finish
        lab = next(reversed(result.timings_s), None)
        failed = {"lab": lab, "notebook": selected[lab].name if lab else None, "cell": None, "error": strip_ansi(repr(err))}
        raise
    finally:
        result.figures = assemble_figures(
            result.run_dir,
            profile=profile_as_dict(settings),
            seed=settings.seed,
            timings_s=result.timings_s,
            failed=failed,
            started=started,
        )
        write_report(result.run_dir, result.figures, result.notebooks, started=started)
    return result
