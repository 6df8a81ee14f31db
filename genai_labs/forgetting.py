"""Lab 2: catastrophic forgetting, measured on a skill the model had before summarization training.

The held-out skill is naming a dialogue's topic (``prompts.topic_prompt``): the tiny FLAN-T5 was
pre-trained on it, summarization training never shows it. :func:`skill_accuracy` scores greedy answers on
held-out (test) dialogues by normalized exact match; :func:`lora_skill_accuracy` scores a peft model with its
adapter on and off (off must equal the base exactly); :func:`forgetting_table` puts the runs side by side.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from genai_labs.generation import GenerationSettings, generate_texts
from genai_labs.metrics import bootstrap_ci
from genai_labs.prompts import topic_prompt

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize_answer(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed (Lab 2's exact-match topic accuracy)."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


@dataclass(frozen=True)
class SkillResult:
    """Topic-skill accuracy of one model on held-out dialogues (Lab 2 forgetting)."""

    accuracy: float
    correct: tuple[bool, ...]
    predictions: tuple[str, ...] = field(repr=False)

    @property
    def n(self) -> int:
        """Number of dialogues scored."""
        return len(self.correct)


def skill_accuracy(
    model: Any,
    tokenizer: Any,
    dialogues: Sequence[str],
    topics: Sequence[str],
    *,
    batch_size: int = 64,
    max_new_tokens: int = 16,
    prompt_fn: Callable[[str], str] = topic_prompt,
    progress: bool = False,
) -> SkillResult:
    """Normalized exact-match accuracy of greedy answers to ``prompt_fn(dialogue)`` against ``topics`` (Lab 2).

    Batched through :func:`genai_labs.generation.generate_texts`; the model is left as it was.
    """
    if len(dialogues) != len(topics):
        raise ValueError(f"skill_accuracy: {len(dialogues)} dialogues but {len(topics)} topics.")
    predictions = generate_texts(
        model,
        tokenizer,
        [prompt_fn(d) for d in dialogues],
        GenerationSettings(max_new_tokens=max_new_tokens),
        batch_size=batch_size,
        seed=0,
        progress=progress,
    )
    correct = tuple(normalize_answer(p) == normalize_answer(t) for p, t in zip(predictions, topics))
    return SkillResult(sum(correct) / max(1, len(correct)), correct, tuple(predictions))


def lora_skill_accuracy(peft_model: Any, tokenizer: Any, dialogues: Sequence[str], topics: Sequence[str], **kwargs: Any) -> tuple[SkillResult, SkillResult]:
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
