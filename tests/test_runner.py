"""The instructor command (genai_labs.instructor.runner, genai_labs.instructor.cli) on small stand-in notebooks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genai_labs.instructor.cli import main
from genai_labs.instructor.runner import LabRunError, RunSetupError, discover_labs, run_labs


def _notebook(path: Path, *sources: str) -> Path:
    """A notebook of code cells; a source starting with ``md:`` becomes a markdown cell."""
    cells = [new_markdown_cell(s[3:]) if s.startswith("md:") else new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture()
def labs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "labs"
    folder.mkdir()
    _notebook(
        folder / "01_first.ipynb",
        "md:# Lab 1 — First",
        "import os\nfrom genai_labs.core.run_figures import record_figures",
        "md:## 2. Figures",
        "record_figures('lab1', {'rouge1': {'instruction': 0.25}, 'profile_seen': os.environ['GENAI_LABS_PROFILE']})",
    )
    _notebook(folder / "02_second.ipynb", "x = 1 + 1", "print(x)")
    monkeypatch.setenv("GENAI_LABS_LABS_DIR", str(folder))
    return folder


def test_discover_numbered_notebooks(labs_folder: Path) -> None:
    assert list(discover_labs()) == ["lab1", "lab2"]


def test_run_writes_notebooks_figures_and_report(
    labs_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # A user-level kernelspec named python3 that cannot start: the runner must use this interpreter anyway.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "broken",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENAI_LABS_CACHE", "cache-rel")  # relative to where the command runs, not to labs/
    _notebook(
        labs_folder / "02_second.ipynb",
        "x = 1 + 1",
        "print(x)",
        "import os, sys\nprint(sys.executable)\nprint(os.environ['GENAI_LABS_CACHE'])",
        "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='steps'):\n    pass",
    )
    result = run_labs(["lab1", "lab2"], profile="tiny", out=tmp_path / "runs", progress=False)
    assert result.run_dir.parent == tmp_path / "runs" and result.run_dir.name.startswith("run-")
    figures = json.loads((result.run_dir / "figures.json").read_text())
    assert figures["profile"] == "tiny" and figures["seed"] == 0 and figures["status"] == "ok" and "failed" not in figures
    assert figures["lab1"] == {"rouge1": {"instruction": 0.25}, "profile_seen": "tiny"}
    assert set(figures["timings_s"]) == {"lab1", "lab2"} and "transformers" in figures["versions"]
    executed = nbformat.read(result.notebooks["lab2"], as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "2\n"
    assert executed.cells[2].outputs[0]["text"] == f"{sys.executable}\n{(tmp_path / 'cache-rel').resolve()}\n"
    bar = executed.cells[3].outputs  # a plain-text bar showing its final state, not a frozen widget
    assert [o["output_type"] for o in bar] == ["stream"] and "steps: 100%" in bar[0]["text"] and "\r" not in bar[0]["text"]
    report = (result.run_dir / "report.md").read_text()
    assert report.startswith("# genai-labs run report") and "**Status: ok**" in report
    assert "## lab1: Lab 1 — First" in report and "| rouge1.instruction | 0.25 |" in report and "### 2. Figures" in report
    assert "*code cell 2 (cell 2 of the notebook)*\n\n```\n2\n```" in report
    assert "without encryption" not in capfd.readouterr().err
    logs = {p.name: p.read_text() for p in result.run_dir.glob("*.kernel.log")}
    assert logs == {}, logs  # a quiet kernel leaves no empty log behind (and shows what it printed if not quiet)
    again = run_labs(["lab2"], profile="tiny", out=tmp_path / "runs", progress=False)
    assert again.run_dir != result.run_dir  # every run gets its own folder


def test_failing_cell_is_named_recorded_and_finished_work_stays(labs_folder: Path, tmp_path: Path) -> None:
    _notebook(
        labs_folder / "03_broken.ipynb",
        "md:# Broken",
        "print('fine')",
        "md:## Next",
        "x = 1\nraise ValueError('\\x1b[31mboom\\x1b[0m')",
    )
    with pytest.raises(LabRunError) as caught:
        run_labs(["lab2", "lab3"], profile="tiny", out=tmp_path / "runs", progress=False)
    message = str(caught.value)
    assert "lab3 (03_broken.ipynb) stopped at code cell 2 (cell 4 of the notebook): `x = 1`" in message
    assert "error: ValueError: boom" in message and "raise ValueError" in message and "\x1b" not in message
    assert "what to do: fix the cause" in message
    run_dir = caught.value.run_dir
    assert run_dir is not None and run_dir.parent == tmp_path / "runs"
    assert (run_dir / "02_second.ipynb").is_file()
    partial = nbformat.read(run_dir / "03_broken.ipynb", as_version=4)
    assert partial.cells[1].outputs[0]["text"] == "fine\n"
    figures = json.loads((run_dir / "figures.json").read_text())
    assert figures["status"] == "failed" and set(figures["timings_s"]) == {"lab2", "lab3"}
    assert figures["failed"] == {
        "lab": "lab3",
        "notebook": "03_broken.ipynb",
        "cell": "code cell 2 (cell 4 of the notebook): `x = 1`",
        "error": "ValueError: boom",
    }
    first_lines = (run_dir / "report.md").read_text().splitlines()[:3]
    assert any(
        line.startswith("**FAILED**: lab3 (03_broken.ipynb) stopped at code cell 2") and "ValueError: boom" in line
        for line in first_lines
    )


def test_dead_kernel_is_a_lab_run_error(labs_folder: Path, tmp_path: Path) -> None:
    _notebook(
        labs_folder / "03_dies.ipynb",
        "print('alive')",
        "import os\nos.write(2, b'native library: out of memory\\n')\nos._exit(1)",
    )
    with pytest.raises(
        LabRunError, match=r"lab3 \(03_dies.ipynb\) stopped at code cell 2 (.|\n)*kernel died(.|\n)*03_dies.kernel.log"
    ) as caught:
        run_labs(["lab3"], profile="tiny", out=tmp_path / "runs", progress=False)
    figures = json.loads((caught.value.run_dir / "figures.json").read_text())
    assert figures["status"] == "failed" and figures["failed"]["cell"].startswith("code cell 2 (cell 2 of the notebook)")
    # what the kernel process printed itself is kept in the run folder, not lost in the terminal
    assert "native library: out of memory" in (caught.value.run_dir / "03_dies.kernel.log").read_text()


def test_cell_timeout_stops_the_run_cleanly(labs_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _notebook(labs_folder / "03_slow.ipynb", "import time\ntime.sleep(120)")
    started = time.perf_counter()
    assert main(["run", "lab3", "--cell-timeout", "1", "--no-progress", "--out", str(tmp_path / "runs")]) == 1
    assert time.perf_counter() - started < 60
    err = capsys.readouterr().err
    assert "code cell 1 (cell 1 of the notebook): `import time`" in err and "--cell-timeout 1 s" in err
    assert "Traceback" not in err and "status failed" in err
    run_dir = next((tmp_path / "runs").iterdir())
    assert json.loads((run_dir / "figures.json").read_text())["status"] == "failed"


def test_cell_timeout_must_be_positive(labs_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--cell-timeout", "0"])
    with pytest.raises(RunSetupError, match="cell-timeout"):
        run_labs(["lab1"], out=tmp_path / "runs", cell_timeout=0)


def test_cli_errors(labs_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "lab9"]) == 2
    assert "unknown lab lab9; choose from lab1, lab2 or all" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--profile", "huge"])


@pytest.mark.parametrize("state", ["empty", "missing"])
def test_no_notebooks_is_a_clear_error(
    state: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "nothing"
    if state == "empty":
        folder.mkdir()
    monkeypatch.setenv("GENAI_LABS_LABS_DIR", str(folder))
    for argv in (["run"], ["run", "lab1"]):
        assert main([*argv, "--out", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err
        assert str(folder) in err and "GENAI_LABS_LABS_DIR" in err and "no lab notebooks found" in err
    assert not (tmp_path / "runs").exists()


def test_bad_out_is_a_clear_error(labs_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, reason in (
        (a_file, "existing file"),
        (a_file / "below", "cannot use this folder"),
        (Path("/proc/nope"), "cannot use"),
    ):
        assert main(["run", "lab1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"genai-labs run: --out {out}: ") and reason in err and "Traceback" not in err


def test_committed_labs_are_stripped() -> None:
    """The lab notebooks carry no outputs, execution counts or stray metadata (nbstripout; CI runs the same check)."""
    labs = sorted(str(path) for path in (Path(__file__).resolve().parents[1] / "labs").glob("*.ipynb"))
    check = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *labs], capture_output=True, text=True)
    assert check.returncode == 0, f"{check.stdout}{check.stderr}strip them: nbstripout labs/*.ipynb"


@pytest.mark.slow
def test_same_seed_gives_the_same_key_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reproducibility of the instructor command: the real Lab 1 run twice gives identical key figures."""
    monkeypatch.delenv("GENAI_LABS_LABS_DIR", raising=False)
    first = run_labs(["lab1"], profile="tiny", out=tmp_path / "runs", progress=False)
    second = run_labs(["lab1"], profile="tiny", out=tmp_path / "runs", progress=False)
    assert first.run_dir != second.run_dir
    assert set(first.figures["lab1"]["rouge1"]) == {"no_prompt", "instruction", "flan", "one_shot", "few_shot"}
    assert first.figures["lab1"] == second.figures["lab1"] and first.figures["seed"] == second.figures["seed"] == 0


def test_ctrl_c_stops_the_run_with_exit_130(labs_folder: Path, tmp_path: Path) -> None:
    started = tmp_path / "started"
    _notebook(labs_folder / "02_second.ipynb", f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)")
    command = [sys.executable, "-m", "genai_labs.instructor.cli", "run", "all", "--out", str(tmp_path / "runs"), "--no-progress"]
    proc = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), proc.communicate(timeout=30)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "lab2 (02_second.ipynb) stopped" in err and "interrupted (Ctrl-C or SIGTERM)" in err and "Traceback" not in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    figures = json.loads((run_dir / "figures.json").read_text())
    assert figures["status"] == "failed" and figures["failed"]["lab"] == "lab2"
    assert (run_dir / "01_first.ipynb").is_file()  # the finished lab stays
