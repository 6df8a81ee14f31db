"""Lab 1's experiments: the same dialogues under five prompt styles and many generation settings.

Composes the package's building blocks (``prompts``, ``generation``, ``sampling``, ``metrics``) into the
tables and curves Lab 1 shows, so the notebook stays a lesson: one call per section. In the tiny world the answers
are also checked against the world's grammar (``world.well_formed``): which form each answer takes, and whether it
is a well-formed sentence at all, which ROUGE cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import pandas as pd
import torch
from transformers import GenerationConfig

from genai_labs.core.profiles import Lab1Config
from genai_labs.generation import generate_texts, model_device
from genai_labs.metrics import distinct_n, paired_bootstrap, rouge_differences, rouge_scores, rouge_table
from genai_labs.prompts import STYLES, PromptBuild, build_prompt, read_limit  # STYLES: one definition, in prompts
from genai_labs.world.dialogues import FAMILIES_BY_NAME
from genai_labs.world.dialogues import STYLES as WORLD_STYLES
from genai_labs.world.well_formed import summary_style

ZERO_SHOT_STYLES = ("no_prompt", "instruction", "flan")


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


def style_prompts(
    dialogue: str, shots: StyleShots, tokenizer: Any, *, on_overflow: str = "drop_shots", read_whole_up_to: int | None = None
) -> dict[str, PromptBuild]:
    """Every style's prompt for one dialogue, within the tokenizer's context (shots dropped if needed); a dialogue too
    long for it even alone is read whole up to ``read_whole_up_to`` tokens (``prompts.read_limit``; Lab 1)."""
    return {
        style: build_prompt(
            style, dialogue, shots=shots.for_style(style), tokenizer=tokenizer, on_overflow=on_overflow,  # type: ignore[arg-type]
            read_whole_up_to=read_whole_up_to,
        )
        for style in STYLES
    }  # fmt: skip


def side_by_side(
    model: Any,
    tokenizer: Any,
    split: datasets.Dataset,
    indices: Sequence[int],
    shots: StyleShots,
    settings: GenerationConfig,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (dialogue, style): the model's summary next to the human one, with prompt sizes."""
    rows: list[dict[str, Any]] = []
    for index in indices:
        example = split[index]
        builds = style_prompts(example["dialogue"], shots, tokenizer, read_whole_up_to=read_limit(model, tokenizer))
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
    settings: GenerationConfig,
    *,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, list[str]]:
    """Summaries of every dialogue under every prompt style (batched generation); a dialogue longer than the model's
    trained context is read whole up to ``prompts.read_limit`` (its shots dropped first)."""
    predictions: dict[str, list[str]] = {}
    limit = read_limit(model, tokenizer)
    for style in STYLES:
        prompts = [style_prompts(d, shots, tokenizer, read_whole_up_to=limit)[style].text for d in dialogues]
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


def style_comparisons(
    predictions: dict[str, list[str]], references: Sequence[Sequence[str]], *, resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Lab 1's questions as paired ROUGE-1 differences with bootstrap 95% intervals: does an instruction, or the FLAN
    template, beat no prompt; does one example beat the best zero-shot style; do more examples beat one?

    Columns: ``comparison, diff, ci_low, ci_high, p_value, answers_differ`` (the share of dialogues whose two answers
    are not the same text).
    """
    best_zero_shot = max(
        ZERO_SHOT_STYLES, key=lambda s: float(rouge_scores(predictions[s], references, rouge_types=("rouge1",))["rouge1"].mean())
    )
    pairs = (("instruction", "no_prompt"), ("flan", "no_prompt"), ("one_shot", best_zero_shot), ("few_shot", "one_shot"))
    rows = []
    for system, baseline in pairs:
        diff = rouge_differences(
            {system: predictions[system], baseline: predictions[baseline]},
            references,
            baseline=baseline,
            rouge_types=("rouge1",),
            resamples=resamples,
            seed=seed,
        ).iloc[0]
        differ = sum(a != b for a, b in zip(predictions[system], predictions[baseline])) / len(predictions[system])
        rows.append(
            {
                "comparison": f"{system} vs {baseline}",
                "diff": diff["diff"],
                "ci_low": diff["ci_low"],
                "ci_high": diff["ci_high"],
                "p_value": diff["p_value"],
                "answers_differ": differ,
            }
        )
    return pd.DataFrame(rows)


def answer_forms(predictions: dict[str, list[str]]) -> pd.DataFrame:
    """Which of the tiny world's forms each style's answers take, and the share that are well-formed at all (Lab 1).

    One row per style: the share of answers that are a well-formed ``observer`` summary (DialogSum's style), ``gist``
    or ``headline`` (``world.well_formed``), and their sum, ``well_formed``.
    """
    rows = []
    for style, answers in predictions.items():
        forms = [summary_style(answer) for answer in answers]
        row: dict[str, Any] = {"style": style}
        row.update({form: forms.count(form) / len(forms) for form in WORLD_STYLES})
        row["well_formed"] = sum(form is not None for form in forms) / len(forms)
        rows.append(row)
    return pd.DataFrame(rows).set_index("style")


def shot_in_every_form(row: dict[str, Any]) -> dict[str, str]:
    """A solved example's summary in each of the tiny world's forms: the dataset's own (``observer``), then the same
    dialogue's first ``gist`` and ``headline`` templates (Lab 1's in-context demonstration; tiny-world rows only)."""
    if "family" not in row or "slots" not in row:
        raise ValueError("shot_in_every_form needs a tiny-world row (with 'family' and 'slots'); real DialogSum has one form.")
    family = FAMILIES_BY_NAME[row["family"]]
    return {
        "observer": row["summary"],
        "gist": family.gists[0].format_map(row["slots"]),
        "headline": family.headlines[0].format_map(row["slots"]),
    }


def one_shot_forms(
    model: Any,
    tokenizer: Any,
    shot_dialogue: str,
    shot_summaries: dict[str, str],
    target: str,
    settings: GenerationConfig,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """The same one-shot prompt with the example's summary written in different forms, and the model's answer to each
    (Lab 1: in-context learning copies the form of the example). ``answer form`` is the world's name for the form
    of the answer (None: not a well-formed world sentence)."""
    prompts = [
        build_prompt("one_shot", target, shots=[(shot_dialogue, s)], tokenizer=tokenizer).text for s in shot_summaries.values()
    ]
    answers = generate_texts(model, tokenizer, prompts, settings, seed=seed, progress=False)
    return pd.DataFrame(
        {
            "example's form": list(shot_summaries),
            "example's summary": list(shot_summaries.values()),
            "model's answer": answers,
            "answer form": [summary_style(a) for a in answers],
        }
    )


def sampling_dialogues(scored: datasets.Dataset, config: Lab1Config) -> datasets.Dataset:
    """The dialogues Lab 1's sampling study samples: the first ``config.sampling_examples`` of the scored ones (all of
    them when it is 0)."""
    n = config.sampling_examples or len(scored)
    return scored.select(range(min(n, len(scored))))


def sampling_study(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    references: Sequence[Sequence[str]],
    greedy: Sequence[str],
    *,
    temperatures: Sequence[float],
    samples: int,
    max_new_tokens: int,
    batch_size: int = 64,
    resamples: int = 1000,
    seed: int = 0,
    well_formed: bool = True,
) -> pd.DataFrame:
    """Plain sampling (``top_k=0``, ``top_p=1``) at each temperature, ``samples`` summaries per prompt (Lab 1).

    One row per temperature: ``distinct_2`` (distinct bigrams over a prompt's samples, averaged over prompts; 1.0 = no
    repetition), ``varied_share`` (prompts whose samples are not all the same text), ``rouge1`` (mean over all
    samples) and its paired difference to the ``greedy`` summaries of the same prompts with a bootstrap 95% interval
    (each prompt's mean over its samples against its greedy summary), and with ``well_formed`` the share of samples
    that are well-formed world sentences.
    """
    references = [list(group) for group in references]
    greedy_rouge = rouge_scores(list(greedy), references, rouge_types=("rouge1",))["rouge1"].to_numpy()
    rows = []
    for temperature in temperatures:
        setting = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        texts = generate_texts(
            model, tokenizer, prompts, setting, batch_size=batch_size, seed=seed, progress=False, samples_per_prompt=samples
        )
        groups = [texts[i * samples : (i + 1) * samples] for i in range(len(prompts))]
        scores = rouge_scores(texts, [group for group in references for _ in range(samples)], rouge_types=("rouge1",))
        per_prompt = scores["rouge1"].to_numpy().reshape(len(prompts), samples).mean(axis=1)
        versus = paired_bootstrap(per_prompt, greedy_rouge, resamples=resamples, seed=seed)
        row = {
            "temperature": temperature,
            "distinct_2": sum(distinct_n(g, 2) for g in groups) / len(groups),
            "varied_share": sum(len(set(g)) > 1 for g in groups) / len(groups),
            "rouge1": float(per_prompt.mean()),
            "rouge1_vs_greedy": versus["diff"],
            "ci_low": versus["low"],
            "ci_high": versus["high"],
        }
        if well_formed:
            row["well_formed"] = sum(summary_style(t) is not None for t in texts) / len(texts)
        rows.append(row)
    return pd.DataFrame(rows)


def settings_table(
    model: Any, tokenizer: Any, prompt: str, settings: dict[str, GenerationConfig], *, seed: int = 0
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
