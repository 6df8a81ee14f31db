"""Lab 2: catastrophic forgetting, measured on a skill the model had before summarization training.

The held-out skill is naming a dialogue's topic (``prompts.topic_prompt``): the tiny FLAN-T5 was pre-trained on
it, summarization training never shows it. :func:`genai_labs.metrics.skill_accuracy` scores greedy answers on
held-out (test) dialogues by normalized exact match; :func:`lora_skill_accuracy` scores a peft model with its
adapter on and off (off must equal the base exactly); :func:`forgetting_table` puts the runs side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from genai_labs.metrics import SkillResult, bootstrap_ci, skill_accuracy


def lora_skill_accuracy(
    peft_model: Any, tokenizer: Any, dialogues: Sequence[str], topics: Sequence[str], **kwargs: Any
) -> tuple[SkillResult, SkillResult]:
    """(adapter on, adapter off) skill accuracy of a peft model (Lab 2).

    Adapter off runs inside ``peft_model.disable_adapter()``: the frozen base weights alone, so it must
    equal the original model's result exactly.
    """
    on = skill_accuracy(peft_model, tokenizer, dialogues, topics, **kwargs)
    with peft_model.disable_adapter():
        off = skill_accuracy(peft_model, tokenizer, dialogues, topics, **kwargs)
    return on, off


def forgetting_table(
    results: Mapping[str, SkillResult],
    *,
    baseline: str = "original",
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model: skill accuracy with a bootstrap CI and the share of the baseline's skill kept (Lab 2)."""
    base = results[baseline].accuracy
    rows = []
    for name, result in results.items():
        mean, low, high = bootstrap_ci([float(c) for c in result.correct], resamples=resamples, seed=seed)
        rows.append(
            {
                "model": name,
                "skill_accuracy": mean,
                "ci_low": low,
                "ci_high": high,
                "kept_of_base": result.accuracy / base if base else float("nan"),
                "n": result.n,
            }
        )
    return pd.DataFrame(rows, columns=["model", "skill_accuracy", "ci_low", "ci_high", "kept_of_base", "n"])
