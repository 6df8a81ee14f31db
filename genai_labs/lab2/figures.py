"""Lab 2's key figures for ``figures.json``: ROUGE-1 with intervals, fine-tuning against in-context learning, trainable
shares, baseline, skill, the well-formed shares (instructor runs)."""

from __future__ import annotations

from typing import Any

import pandas as pd

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
    in_context = results.full_vs_in_context
    paired = in_context[in_context.metric == "rouge1"] if len(in_context) else pd.DataFrame(columns=["baseline"])
    figures = {
        "rouge1": {name: float(rouge1.loc[name, "mean"]) for name in (*MODELS, *paired["baseline"])},
        "rouge1_ci": {name: [float(rouge1.loc[name, "ci_low"]), float(rouge1.loc[name, "ci_high"])] for name in rouge1.index},
        "trainable_fraction": {name: results.runs[name].trainable_fraction for name in ("full", "lora")},
        "constant_baseline_rouge1": results.constant_baseline[1],
        "skill_accuracy": {name: result.accuracy for name, result in results.skill.items()},
        "base_unchanged": results.base_unchanged,
        "paired": {
            f"full_vs_{row.baseline}": {"diff": float(row.diff), "ci": [float(row.ci_low), float(row.ci_high)]}
            for row in paired.itertuples()
        },
        "prompt_tokens": {name: float(tokens) for name, tokens in results.prompt_tokens.items()},
    }
    if results.well_formed is not None:
        figures["well_formed"] = {name: float(results.well_formed[name]) for name in MODELS}
    facts = results.facts
    figures["facts"] = {
        name: {
            "precision": float(facts.loc[name, "fact precision"]),
            "recall": float(facts.loc[name, "fact recall"]),
            "all_right": float(facts.loc[name, "all facts right"]),
        }
        for name in facts.index
    }
    figures["distinct_share"] = {name: float(share) for name, share in results.distinct_share.items()}
    return figures
