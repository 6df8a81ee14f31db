"""report.md and figures.json of a run (genai_labs.instructor.report), from hand-built notebooks: no kernel needed."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from genai_labs.instructor.report import assemble_figures, html_table_to_markdown, strip_ansi, write_report

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def _executed_notebook(path: Path) -> Path:
    table = pd.DataFrame({"rouge1": [0.137, 0.555]}, index=pd.Index(["original", "full"], name="system"))
    table.columns.name = "metric"
    cells = [
        new_markdown_cell("# Lab 3 — Detoxify\n\nIntro."),
        new_code_cell("setup()", outputs=[new_output("stream", name="stderr", text="generate: 100%\n")]),
        new_markdown_cell("## 6. After PPO"),
        new_code_cell(
            "show()",
            outputs=[
                new_output(
                    "display_data",
                    data={
                        "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                        "text/plain": "generate:   0%|          | 0/200",
                    },
                ),
                new_output("stream", name="stdout", text="mean toxicity 0.25 -> 0.11: change -0.13\n"),
                new_output("execute_result", data={"text/html": table.to_html(), "text/plain": str(table)}, execution_count=2),
                new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure size 600x325 with 1 Axes>"}),
            ],
        ),
        new_code_cell("fail()", outputs=[new_output("error", ename="ValueError", evalue="\x1b[31mboom\x1b[0m", traceback=[])]),
    ]
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_pandas_table_becomes_markdown() -> None:
    table = pd.DataFrame({"rouge1": [0.137], "note": ["a|b"]}, index=pd.Index(["lora"], name="system"))
    table.columns.name = "metric"
    assert html_table_to_markdown(table.to_html()) == [
        "| system | rouge1 | note |",
        "| --- | --- | --- |",
        "| lora | 0.137 | a\\|b |",
    ]
    plain = pd.DataFrame({"a": [1, 2]})
    assert html_table_to_markdown(plain.to_html())[2:] == ["| 0 | 1 |", "| 1 | 2 |"]


def test_table_with_spans_keeps_html_without_style() -> None:
    index = pd.MultiIndex.from_tuples([("a", 1), ("a", 2)], names=["x", "y"])
    html = pd.DataFrame({"v": [1, 2]}, index=index).to_html()
    html = "<div><style scoped>.dataframe {}</style>" + html + "</div>"
    (kept,) = html_table_to_markdown(html)
    assert "<table" in kept and "rowspan" in kept and "<style" not in kept


def test_strip_ansi() -> None:
    assert strip_ansi("\x1b[0;31mValueError\x1b[0m: boom\x1b[?25h") == "ValueError: boom"


def test_report_of_a_failed_run(tmp_path: Path) -> None:
    notebook = _executed_notebook(tmp_path / "03_rlhf.ipynb")
    (tmp_path / "figures.lab3.json").write_text(
        json.dumps(
            {"toxicity_mean": {"before": 0.25, "after": 0.1149}, "toxicity_change_ci": [-0.195, -0.074], "base_unchanged": True}
        )
    )
    failed = {
        "lab": "lab3",
        "notebook": "03_rlhf.ipynb",
        "cell": "code cell 3 (cell 5 of the notebook): `fail()`",
        "error": "ValueError: boom",
    }
    profile = {"name": "tiny", "model": "tiny-world/flan-t5", "model_revision": None}
    figures = assemble_figures(tmp_path, profile=profile, seed=0, timings_s={"lab3": 12.34}, failed=failed)
    assert figures["status"] == "failed" and figures["failed"] == failed and figures["lab3"]["base_unchanged"] is True
    assert json.loads((tmp_path / "figures.json").read_text())["failed"] == failed

    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    report = write_report(tmp_path, figures, {"lab3": notebook}, started=started).read_text()
    lines = report.splitlines()
    assert lines[0] == "# genai-labs run report"
    assert lines[2] == (
        "**FAILED**: lab3 (03_rlhf.ipynb) stopped at code cell 3 (cell 5 of the notebook): `fail()` — ValueError: boom"
    )
    for text in (
        "- status: failed",
        "- profile: tiny, seed 0",
        "- started: 2026-01-02 03:04:05 UTC",
        "- timings: lab3 12.3 s",
        "- model: tiny-world/flan-t5 (revision: none pinned)",
        "## lab3: Lab 3 — Detoxify",
        "| toxicity_mean.after | 0.1149 |",
        "| toxicity_change_ci | [-0.195, -0.074] |",
        "| base_unchanged | yes |",
        "### 6. After PPO",
        "*code cell 2 (cell 4 of the notebook)*",
        "mean toxicity 0.25 -> 0.11: change -0.13",
        "| system | rouge1 |",
        "| full | 0.555 |",
        "![lab3-cell4-4](figures/lab3-cell4-4.png)",
        "ValueError: boom",
        "| torch |",
    ):
        assert text in report, text
    for absent in ("<style", "generate:", "['tiny-world", "None", "\x1b"):
        assert absent not in report, absent
    assert report.index("## Versions") > report.index("## lab3")
    assert (tmp_path / "figures" / "lab3-cell4-4.png").read_bytes() == base64.b64decode(PNG)


def test_report_of_an_ok_run_without_notebooks(tmp_path: Path) -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    figures = assemble_figures(tmp_path, profile={"name": "tiny"}, seed=3, timings_s={}, started=started)
    assert figures["status"] == "ok" and "failed" not in figures
    assert figures["started_utc"] == "2026-01-02T03:04:05+00:00"  # when and where: the README's figures table says both
    assert figures["machine"]["cpu_cores"] >= 1 and figures["machine"]["processor"]
    report = write_report(tmp_path, figures, {}).read_text()
    assert "**Status: ok**" in report and "- timings: no lab ran" in report and not (tmp_path / "figures").exists()
