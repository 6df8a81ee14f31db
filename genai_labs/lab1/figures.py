"""Lab 1's key figures for ``figures.json``: ROUGE-1 per prompt style with intervals, the paired comparisons, the
sampling study and the well-formed shares (instructor runs)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from genai_labs.core.run_figures import record_figures
from genai_labs.prompts import STYLES

PAIRED_KEYS = {  # figures.json key of each style_comparisons row
    "instruction vs no_prompt": "instruction_vs_no_prompt",
    "flan vs no_prompt": "flan_vs_no_prompt",
    "one_shot vs": "one_shot_vs_zero_shot",
    "few_shot vs one_shot": "few_shot_vs_one_shot",
}


def record(
    rouge: pd.DataFrame,
    comparisons: pd.DataFrame,
    sampling: pd.DataFrame,
    *,
    eval_examples: int,
    forms: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
) -> None:
    """Record Lab 1's figures (``lab1.*`` in the README's schema); prints nothing. Outside ``genai-labs run`` nothing
    is written. ``forms`` (:func:`~genai_labs.lab1.prompt_study.answer_forms`) only in the tiny world; ``facts`` the
    styles' :func:`~genai_labs.fact_check.systems_fact_table`."""
    figures = lab1_figures(rouge, comparisons, sampling, eval_examples=eval_examples, forms=forms, facts=facts)
    record_figures("lab1", figures)


def _paired_key(comparison: str) -> str:
    return next(key for prefix, key in PAIRED_KEYS.items() if comparison.startswith(prefix))


def lab1_figures(
    rouge: pd.DataFrame,
    comparisons: pd.DataFrame,
    sampling: pd.DataFrame,
    *,
    eval_examples: int,
    forms: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The figures :func:`record` saves (README: the ``lab1.*`` keys)."""
    means = rouge.pivot(index="system", columns="metric", values="mean")
    figures: dict[str, Any] = {
        "rouge1": {style: float(means.loc[style, "rouge1"]) for style in STYLES},
        "rouge1_ci": {row.system: [row.ci_low, row.ci_high] for row in rouge[rouge.metric == "rouge1"].itertuples()},
        "eval_examples": eval_examples,
        "paired": {
            _paired_key(row.comparison): {"diff": row.diff, "ci": [row.ci_low, row.ci_high]} for row in comparisons.itertuples()
        },
        "sampling": {
            f"{row.temperature:g}" if row.temperature != int(row.temperature) else f"{row.temperature:.1f}": {
                "rouge1": row.rouge1,
                "distinct_2": row.distinct_2,
                "varied_share": row.varied_share,
                "rouge1_vs_greedy": {"diff": row.rouge1_vs_greedy, "ci": [row.ci_low, row.ci_high]},
            }
            for row in sampling.itertuples()
        },
    }
    if forms is not None:
        figures["well_formed"] = {style: float(forms.loc[style, "well_formed"]) for style in STYLES}
    if facts is not None:
        figures["facts"] = {style: {"precision": float(facts.loc[style, "fact precision"])} for style in facts.index}
    return figures
