"""Lab 2's key figures for ``figures.json``: ROUGE-1 with intervals, trainable shares, baseline, skill (instructor runs)."""

from __future__ import annotations

from typing import Any

from genai_labs.core.run_figures import record_figures
from genai_labs.lab2.study import Lab2Results

MODELS = ("original", "full", "lora", "replay")


def record(results: Lab2Results) -> None:
    """Record Lab 2's figures (``lab2.*`` in the README's schema); prints nothing. Outside ``genai-labs run`` nothing
    is written."""
    record_figures("lab2", lab2_figures(results))


def lab2_figures(results: Lab2Results) -> dict[str, Any]:
    """The figures :func:`record` saves."""
    rouge1 = results.rouge[results.rouge.metric == "rouge1"].set_index("system")
    return {
        "rouge1": {name: float(rouge1.loc[name, "mean"]) for name in MODELS},
        "rouge1_ci": {name: [float(rouge1.loc[name, "ci_low"]), float(rouge1.loc[name, "ci_high"])] for name in rouge1.index},
        "trainable_fraction": {name: results.runs[name].trainable_fraction for name in ("full", "lora")},
        "constant_baseline_rouge1": results.constant_baseline[1],
        "skill_accuracy": {name: result.accuracy for name, result in results.skill.items()},
        "base_unchanged": results.base_unchanged,
    }
