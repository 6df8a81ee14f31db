"""Lab 1's experiments: the same dialogues under five prompt styles and many generation settings.

Composes the package's building blocks (``prompts``, ``generation``, ``sampling``, ``metrics``) into the
tables and curves Lab 1 shows, so the notebook stays a lesson: one call per section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import datasets
import pandas as pd
import torch

from genai_labs.config import Lab1Config
from genai_labs.generation import GenerationSettings, generate_texts, model_device
from genai_labs.metrics import distinct_n, rouge_differences, rouge_table
from genai_labs.prompts import PromptBuild, build_prompt

STYLES: tuple[str, ...] = ("no_prompt", "instruction", "flan", "one_shot", "few_shot")


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
    pick = lambda indices: tuple((split[i]["dialogue"], split[i]["summary"]) for i in indices)  # noqa: E731
    return StyleShots(one_shot=pick(config.one_shot_indices), few_shot=pick(config.few_shot_indices))


def style_prompts(dialogue: str, shots: StyleShots, tokenizer: Any, *, on_overflow: str = "drop_shots") -> dict[str, PromptBuild]:
    """Every style's prompt for one dialogue, within the tokenizer's context (shots dropped if needed)."""
    return {
        style: build_prompt(style, dialogue, shots=shots.for_style(style), tokenizer=tokenizer, on_overflow=on_overflow)
        for style in STYLES
    }


def side_by_side(model: Any, tokenizer: Any, split: datasets.Dataset, indices: Sequence[int], shots: StyleShots,
                 settings: GenerationSettings, *, seed: int = 0) -> pd.DataFrame:
    """One row per (dialogue, style): the model's summary next to the human one, with prompt sizes."""
    rows: list[dict[str, Any]] = []
    for index in indices:
        example = split[index]
        builds = style_prompts(example["dialogue"], shots, tokenizer)
        outputs = generate_texts(model, tokenizer, [b.text for b in builds.values()], settings, seed=seed, progress=False)
        for (style, build), output in zip(builds.items(), outputs):
            rows.append({
                "index": index, "style": style, "prompt tokens": build.n_tokens,
                "shots used": len(build.shots_used), "model summary": output, "human summary": example["summary"],
            })
    return pd.DataFrame(rows)


def style_predictions(model: Any, tokenizer: Any, dialogues: Sequence[str], shots: StyleShots, settings: GenerationSettings,
                      *, batch_size: int = 16, seed: int = 0, progress: bool = True) -> dict[str, list[str]]:
    """Summaries of every dialogue under every prompt style (batched generation)."""
    predictions: dict[str, list[str]] = {}
    for style in STYLES:
        prompts = [style_prompts(d, shots, tokenizer)[style].text for d in dialogues]
        predictions[style] = generate_texts(model, tokenizer, prompts, settings, batch_size=batch_size, seed=seed, progress=progress)
    return predictions


def style_rouge(predictions: dict[str, list[str]], references: Sequence[Sequence[str]], *, resamples: int = 1000,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ROUGE per style with 95% CIs, and paired-bootstrap differences against the instruction prompt."""
    table = rouge_table(predictions, references, resamples=resamples, seed=seed)
    differences = rouge_differences(predictions, references, baseline="instruction", resamples=resamples, seed=seed)
    return table, differences


def settings_table(model: Any, tokenizer: Any, prompt: str, settings: dict[str, GenerationSettings], *, seed: int = 0) -> pd.DataFrame:
    """The same prompt under several generation settings, one row each (seeded, so reruns print the same)."""
    rows = []
    for name, setting in settings.items():
        text = generate_texts(model, tokenizer, [prompt], setting, seed=seed, progress=False)[0]
        rows.append({"setting": name, "output": text, "words": len(text.split())})
    return pd.DataFrame(rows)


@torch.no_grad()
def next_token_logits(model: Any, tokenizer: Any, prompt: str, *, step: int = 0) -> tuple[torch.Tensor, str]:
    """Logits of the next token after ``step`` greedy tokens of the answer (the distribution a sampler draws from).

    Returns the logits vector and the decoded greedy prefix it conditions on.
    """
    device = model_device(model)
    encoded = tokenizer(prompt, return_tensors="pt").to(device)
    prefix = torch.tensor([[model.config.decoder_start_token_id]], device=device)
    was_training = model.training
    model.eval()
    try:
        for _ in range(step + 1):
            logits = model(**encoded, decoder_input_ids=prefix).logits[0, -1]
            prefix = torch.cat([prefix, logits.argmax().view(1, 1)], dim=1)
    finally:
        model.train(was_training)
    return logits.float().cpu(), tokenizer.decode(prefix[0, 1:-1], skip_special_tokens=True)


def diversity_by_temperature(model: Any, tokenizer: Any, prompts: Sequence[str], temperatures: Sequence[float], *,
                             samples: int, max_new_tokens: int, seed: int = 0) -> pd.DataFrame:
    """distinct-1/2 over ``samples`` sampled summaries per prompt, for each temperature (Lab 1's diversity curve)."""
    rows = []
    for temperature in temperatures:
        setting = GenerationSettings(max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature)
        repeated = [p for p in prompts for _ in range(samples)]
        texts = generate_texts(model, tokenizer, repeated, setting, seed=seed, progress=False)
        groups = [texts[i * samples:(i + 1) * samples] for i in range(len(prompts))]
        rows.append({
            "temperature": temperature,
            "distinct-1": sum(distinct_n(g, 1) for g in groups) / len(groups),
            "distinct-2": sum(distinct_n(g, 2) for g in groups) / len(groups),
            "unique summaries per prompt": sum(len(set(g)) for g in groups) / len(groups),
        })
    return pd.DataFrame(rows)
