"""Lab 1's key figures for ``figures.json``: ROUGE-1 of each prompt style with its interval (instructor runs)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from genai_labs.core.run_figures import record_figures
from genai_labs.prompts import STYLES


def record(rouge: pd.DataFrame, eval_examples: int) -> None:
    """Record Lab 1's figures (``lab1.*`` in the README's schema) from the style ROUGE table; prints nothing.

    ``rouge`` is :func:`~genai_labs.lab1.prompt_study.style_rouge`'s first table; ``eval_examples`` the dialogues
    scored. Outside ``genai-labs run`` nothing is written.
    """
    record_figures("lab1", lab1_figures(rouge, eval_examples))


def lab1_figures(rouge: pd.DataFrame, eval_examples: int) -> dict[str, Any]:
    """The figures :func:`record` saves: ``rouge1`` per style, ``rouge1_ci`` per system, ``eval_examples``."""
    means = rouge.pivot(index="system", columns="metric", values="mean")
    return {
        "rouge1": {style: float(means.loc[style, "rouge1"]) for style in STYLES},
        "rouge1_ci": {row.system: [row.ci_low, row.ci_high] for row in rouge[rouge.metric == "rouge1"].itertuples()},
        "eval_examples": eval_examples,
    }
