"""``genai-labs readme-figures``: the README's measured-figures table comes from a run's figures.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_labs.core.validation import ConfigError
from genai_labs.instructor.cli import main
from genai_labs.instructor.readme_figures import END_MARKER, START_MARKER, measured_figures_table, update_readme

FIGURES = {
    "profile": "tiny",
    "seed": 0,
    "status": "ok",
    "started_utc": "2026-11-28T12:00:00Z",
    "machine": {"processor": "Test CPU", "cpu_cores": 2},
    "timings_s": {"lab1": 41.2, "lab2": 250.0},
    "lab1": {
        "rouge1": {"no_prompt": 0.1, "instruction": 0.2, "flan": 0.25, "one_shot": 0.5, "few_shot": 0.55},
        "eval_examples": 200,
        "paired": {"one_shot_vs_zero_shot": {"diff": 0.25, "ci": [0.2, 0.3]}},
        "sampling": {"0.1": {"distinct_2": 0.3, "varied_share": 0.1, "rouge1": 0.2},
                     "2.0": {"distinct_2": 0.9, "varied_share": 1.0, "rouge1": 0.1,
                             "rouge1_vs_greedy": {"diff": -0.1, "ci": [-0.12, -0.08]}}},
    },
    "lab2": {"rouge1": {"original": 0.2, "full": 0.65}},
    "lab3": {"toxicity_mean": {"before": 0.2, "after": 0.1}, "toxicity_change_ci": [-0.15, -0.05]},
}  # fmt: skip


def test_table_states_date_machine_and_the_runs_numbers() -> None:
    table = measured_figures_table(FIGURES, {"t5_parameters": 1_400_000, "steps": 4300, "seconds": {"total": 1800.0}})
    assert table.startswith(START_MARKER) and table.endswith(END_MARKER)
    assert "2026-11-28" in table and "Test CPU, 2 cores" in table
    assert "0.100 / 0.200 / 0.250 / 0.500 / 0.550" in table  # Lab 1's five styles, in order
    assert "+0.250 [+0.200, +0.300]" in table  # a paired difference with its interval
    assert "0.200 → 0.100; -0.100 [-0.150, -0.050]" in table  # toxicity before → after and the change's CI
    assert "1,400,000 / 4,300 / 30.0 min" in table
    assert "n/a" in table  # a figure the run did not record is said to be missing, not invented


def test_update_replaces_only_the_marked_table(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "figures.json").write_text(json.dumps(FIGURES), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{START_MARKER}\nold table\n{END_MARKER}\nafter\n", encoding="utf-8")
    assert main(["readme-figures", str(run), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n") and text.endswith(f"{END_MARKER}\nafter\n")
    assert "old table" not in text and "0.100 / 0.200" in text
    assert main(["readme-figures", str(run), "--readme", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == text  # idempotent: the same run gives the same README
    update_readme(readme, run)  # without the world's build record: the same table less its world rows
    assert "| world |" not in readme.read_text(encoding="utf-8") and "| 1 |" in readme.read_text(encoding="utf-8")


def test_refuses_a_failed_run_a_missing_run_and_a_readme_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no figures.json"):
        update_readme(readme, tmp_path)
    (tmp_path / "figures.json").write_text(json.dumps({**FIGURES, "status": "failed"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="did not finish"):
        update_readme(readme, tmp_path)
    (tmp_path / "figures.json").write_text(json.dumps(FIGURES), encoding="utf-8")
    with pytest.raises(ConfigError, match="markers are missing"):
        update_readme(readme, tmp_path)
    assert readme.read_text(encoding="utf-8") == "no markers\n"  # nothing half-written
    assert main(["readme-figures", str(tmp_path), "--readme", str(readme)]) == 2
