"""The instructor command (genai_labs.runner, genai_labs.cli) on small stand-in notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from genai_labs.check_notebooks import dirty_cells, strip_outputs
from genai_labs.cli import main
from genai_labs.runner import LabRunError, discover_labs, run_labs


def _notebook(path: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture()
def labs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "labs"
    folder.mkdir()
    _notebook(folder / "01_first.ipynb", "import os\nfrom genai_labs.report import record_figures",
              "record_figures('lab1', {'rouge1': {'instruction': 0.25}, 'profile_seen': os.environ['GENAI_LABS_PROFILE']})")
    _notebook(folder / "02_second.ipynb", "x = 1 + 1", "print(x)")
    monkeypatch.setenv("GENAI_LABS_LABS_DIR", str(folder))
    return folder


def test_discover_numbered_notebooks(labs_folder: Path) -> None:
    assert list(discover_labs()) == ["lab1", "lab2"]


def test_run_writes_notebooks_figures_and_report(labs_folder: Path, tmp_path: Path) -> None:
    result = run_labs(["lab1", "lab2"], profile="tiny", out=tmp_path / "runs", progress=False)
    assert result.run_dir.parent == tmp_path / "runs" and result.run_dir.name.startswith("run-")
    figures = json.loads((result.run_dir / "figures.json").read_text())
    assert figures["profile"] == "tiny" and figures["seed"] == 0
    assert figures["lab1"] == {"rouge1": {"instruction": 0.25}, "profile_seen": "tiny"}
    assert set(figures["timings_s"]) == {"lab1", "lab2"} and "transformers" in figures["versions"]
    executed = nbformat.read(result.notebooks["lab2"], as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "2\n"
    assert (result.run_dir / "report.md").read_text().startswith("# genai-labs run: profile tiny")
    again = run_labs(["lab2"], profile="tiny", out=tmp_path / "runs", progress=False)
    assert again.run_dir != result.run_dir  # every run gets its own folder


def test_failing_cell_is_named_and_finished_work_stays(labs_folder: Path, tmp_path: Path) -> None:
    _notebook(labs_folder / "03_broken.ipynb", "print('fine')", "raise ValueError('boom')")
    with pytest.raises(LabRunError, match=r"03_broken.ipynb: cell 1 failed(.|\n)*boom"):
        run_labs(["lab2", "lab3"], profile="tiny", out=tmp_path / "runs", progress=False)
    run_dir = next((tmp_path / "runs").iterdir())
    assert (run_dir / "02_second.ipynb").is_file() and (run_dir / "03_broken.ipynb").is_file()
    assert (run_dir / "figures.json").is_file()


def test_cli_errors(labs_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "lab9"]) == 2
    assert "unknown lab lab9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--profile", "huge"])


def test_check_notebooks_finds_and_strips_outputs(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "01_x.ipynb", "1 + 1")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    nb.cells[0].execution_count = 1
    nbformat.write(nb, path)
    assert dirty_cells(path) == [0]
    strip_outputs(path)
    assert dirty_cells(path) == []


def test_committed_labs_are_clean() -> None:
    labs = Path(__file__).resolve().parents[1] / "labs"
    for path in sorted(labs.glob("*.ipynb")):
        assert dirty_cells(path) == [], f"{path.name} carries outputs: python -m genai_labs.check_notebooks labs --strip"


@pytest.mark.slow
def test_same_seed_gives_the_same_key_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reproducibility of the instructor command: the real Lab 1 run twice gives identical key figures."""
    monkeypatch.delenv("GENAI_LABS_LABS_DIR", raising=False)
    first = run_labs(["lab1"], profile="tiny", out=tmp_path / "runs", progress=False)
    second = run_labs(["lab1"], profile="tiny", out=tmp_path / "runs", progress=False)
    assert first.run_dir != second.run_dir
    assert set(first.figures["lab1"]["rouge1"]) == {"no_prompt", "instruction", "flan", "one_shot", "few_shot"}
    assert first.figures["lab1"] == second.figures["lab1"] and first.figures["seed"] == second.figures["seed"] == 0
