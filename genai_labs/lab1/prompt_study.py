"""Lab 1's experiments: the same dialogues under five prompt styles and many generation settings.

Composes the package's building blocks (``prompts``, ``generation``, ``sampling``, ``metrics``) into the
tables and curves Lab 1 shows, so the notebook stays a lesson: one call per section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import pandas as pd
import torch

from genai_labs.core.profiles import Lab1Config
from genai_labs.generation import GenerationSettings, generate_texts, model_device
from genai_labs.metrics import distinct_n, rouge_differences, rouge_table
from genai_labs.prompts import STYLES, PromptBuild, build_prompt  # STYLES: one definition, in prompts


@dataclass(frozen=True)
class StyleShots:
    """The in-context examples each style gets: ``(dialogue, summary)`` pairs."""

    one_shot: tuple[tuple[str, str], ...]
    few_shot: tuple[tuple[str, str], ...]

    def for_style(self, style: str) -> tuple[tuple[str, str], ...]:
        """Shots for ``style`` (none for the zero-shot styles)."""
        return {"one_shot": self.one_shot, "few_shot": self.few_shot}.get(style, ())


def shots_from(split: datasets.Dataset, config: Lab1Config) -> StyleShots:
    """The course's shots: rows ``one_shot_indices`` and ``few_shot_indices`` of ``split``."""
    pick = lambda indices: tuple((split[i]["dialogue"], split[i]["summary"]) for i in indices)
    return StyleShots(one_shot=pick(config.one_shot_indices), few_shot=pick(config.few_shot_indices))


def style_prompts(dialogue: str, shots: StyleShots, tokenizer: Any, *, on_overflow: str = "drop_shots") -> dict[str, PromptBuild]:
    """Every style's prompt for one dialogue, within the tokenizer's context (shots dropped if needed)."""
    return {
        style: build_prompt(style, dialogue, shots=shots.for_style(style), tokenizer=tokenizer, on_overflow=on_overflow)
        for style in STYLES
    }


def side_by_side(
    model: Any,
    tokenizer: Any,
    split: datasets.Dataset,
    indices: Sequence[int],
    shots: StyleShots,
    settings: GenerationSettings,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (dialogue, style): the model's summary next to the human one, with prompt sizes."""
    rows: list[dict[str, Any]] = []
    for index in indices:
        example = split[index]
        builds = style_prompts(example["dialogue"], shots, tokenizer)
        outputs = generate_texts(model, tokenizer, [b.text for b in builds.values()], settings, seed=seed, progress=False)
        for (style, build), output in zip(builds.items(), outputs):
            rows.append(
                {
                    "index": index,
                    "style": style,
                    "prompt tokens": build.n_tokens,
                    "shots used": len(build.shots_used),
                    "model summary": output,
                    "human summary": example["summary"],
                }
            )
    return pd.DataFrame(rows)


def style_predictions(
    model: Any,
    tokenizer: Any,
    dialogues: Sequence[str],
    shots: StyleShots,
    settings: GenerationSettings,
    *,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, list[str]]:
    """Summaries of every dialogue under every prompt style (batched generation)."""
    predictions: dict[str, list[str]] = {}
    for style in STYLES:
        prompts = [style_prompts(d, shots, tokenizer)[style].text for d in dialogues]
        predictions[style] = generate_texts(
            model, tokenizer, prompts, settings, batch_size=batch_size, seed=seed, progress=progress
        )
    return predictions


def style_rouge(
    predictions: dict[str, list[str]],
    references: Sequence[Sequence[str]],
    *,
    baseline: str = "instruction",
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ROUGE per style with 95% CIs, and paired-bootstrap differences against ``baseline`` (Lab 1).

    ``predictions`` maps any names to summaries of the same dialogues, so a learner's own prompt can join
    the lab's: ``style_rouge({**predictions, "mine": mine}, references)``. The differences' ``p_value`` is
    two-sided (see ``metrics.paired_bootstrap``).
    """
    if baseline not in predictions:
        raise ValueError(
            f"style_rouge compares against baseline={baseline!r}, which is not in predictions {list(predictions)}; "
            "add those summaries or pass baseline='<one of the keys>'."
        )
    table = rouge_table(predictions, references, resamples=resamples, seed=seed)
    differences = rouge_differences(predictions, references, baseline=baseline, resamples=resamples, seed=seed)
    return table, differences


def settings_table(
    model: Any, tokenizer: Any, prompt: str, settings: dict[str, GenerationSettings], *, seed: int = 0
) -> pd.DataFrame:
    """The same prompt under several generation settings, one row each (seeded, so reruns print the same)."""
    rows = []
    for name, setting in settings.items():
        text = generate_texts(model, tokenizer, [prompt], setting, seed=seed, progress=False)[0]
        rows.append({"setting": name, "output": text, "words": len(text.split())})
    return pd.DataFrame(rows)


@torch.no_grad()
def _greedy_steps(model: Any, tokenizer: Any, prompt: str, steps: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Next-token logits at each of ``steps`` greedy decoding steps (stopping after ``</s>``), and the prefix."""
    device = model_device(model)
    encoded = tokenizer(prompt, return_tensors="pt").to(device)
    prefix = torch.tensor([[model.config.decoder_start_token_id]], device=device)
    eos = getattr(tokenizer, "eos_token_id", None)
    was_training = model.training
    model.eval()
    all_logits: list[torch.Tensor] = []
    try:
        encoder_outputs = model.get_encoder()(**encoded)  # once: only the decoder's input grows step by step
        for _ in range(steps):
            logits = model(
                encoder_outputs=encoder_outputs, attention_mask=encoded["attention_mask"], decoder_input_ids=prefix
            ).logits[0, -1]
            all_logits.append(logits.float().cpu())
            prefix = torch.cat([prefix, logits.argmax().view(1, 1)], dim=1)
            if eos is not None and int(prefix[0, -1]) == eos:
                break
    finally:
        model.train(was_training)
    return all_logits, prefix


def next_token_logits(model: Any, tokenizer: Any, prompt: str, *, step: int = 0) -> tuple[torch.Tensor, str]:
    """Logits of the next token after ``step`` greedy tokens of the answer (the distribution a sampler draws from; Lab 1).

    Returns the logits vector and the decoded greedy prefix it conditions on. Steps past the greedy answer's
    ``</s>`` are refused: the model never samples there. :func:`most_uncertain_step` picks an informative step.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0 (0 = the first token of the answer), got {step}.")
    all_logits, prefix = _greedy_steps(model, tokenizer, prompt, step + 1)
    if len(all_logits) <= step:
        raise ValueError(
            f"step={step} is past the end of the greedy answer, which ends with </s> after {len(all_logits)} tokens; "
            f"use a step from 0 to {len(all_logits) - 1}, or most_uncertain_step(...)."
        )
    return all_logits[step], tokenizer.decode(prefix[0, 1 : step + 1], skip_special_tokens=True)


def most_uncertain_step(model: Any, tokenizer: Any, prompt: str, *, max_new_tokens: int = 50) -> int:
    """The greedy answer's decoding step whose next-token distribution has the highest entropy (Lab 1's plot).

    Steps run from 0 (the first answer token) to the step that emits ``</s>``. Late steps of a confident
    model put nearly all probability on one token, so temperature, top-k and top-p look alike there; this
    step shows them best.
    """
    all_logits, _ = _greedy_steps(model, tokenizer, prompt, max_new_tokens)
    entropies = [float(torch.distributions.Categorical(logits=logits).entropy()) for logits in all_logits]
    return max(range(len(entropies)), key=entropies.__getitem__)


def diversity_by_temperature(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    temperatures: Sequence[float],
    *,
    samples: int,
    max_new_tokens: int,
    top_k: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """distinct-1/2 over ``samples`` sampled summaries per prompt, for each temperature (Lab 1's diversity curve).

    ``top_k=0`` samples from the whole temperature-scaled distribution, like the lab's settings table and
    next-token plot; pass ``top_k=50`` for ``generate``'s default filter.
    """
    rows = []
    for temperature in temperatures:
        setting = GenerationSettings(max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature, top_k=top_k)
        repeated = [p for p in prompts for _ in range(samples)]
        texts = generate_texts(model, tokenizer, repeated, setting, seed=seed, progress=False)
        groups = [texts[i * samples : (i + 1) * samples] for i in range(len(prompts))]
        rows.append(
            {
                "temperature": temperature,
                "distinct-1": sum(distinct_n(g, 1) for g in groups) / len(groups),
                "distinct-2": sum(distinct_n(g, 2) for g in groups) / len(groups),
                "unique summaries per prompt": sum(len(set(g)) for g in groups) / len(groups),
            }
        )
    return pd.DataFrame(rows)
