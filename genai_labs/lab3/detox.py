"""Lab 3's experiment around the PPO trainer: prompts, the reward, and an honest toxicity evaluation.

The course scored 11 sampled summaries once and reported a relative "improvement" whose sign flipped from
run to run. Here toxicity is measured on ``eval_prompts`` held-out prompts (200 in the tiny profile) with
seeded sampling, before and after PPO on the *same* prompts, and the change gets a paired-bootstrap
confidence interval.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from peft import PeftModel

from genai_labs.core.profiles import Lab3Config
from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.data import DialogSum, filter_by_length, load_dialogsum, load_toxicity_texts, split_prompts
from genai_labs.generation import GenerationSettings, generate_texts
from genai_labs.lab2.runs import lora_adapter_path
from genai_labs.lab3.ppo import Seq2SeqPPO
from genai_labs.lab3.value_head import REFERENCE_ADAPTER, use_adapter
from genai_labs.metrics import (
    classifier_logits,
    label_logits,
    paired_bootstrap,
    rouge_differences,
    rouge_table,
    toxicity_probabilities,
    toxicity_summary,
)
from genai_labs.models import load_reward_model, load_seq2seq
from genai_labs.prompts import training_prompt
from genai_labs.toxicity_classifier import RewardTrainConfig, classifier_accuracy, train_toxicity_classifier


@dataclass(frozen=True)
class PromptSets:
    """PPO training prompts and the held-out evaluation dialogues (Lab 3)."""

    train: list[str]
    eval_dialogues: list[str]
    eval_references: list[list[str]]

    @property
    def eval_prompts(self) -> list[str]:
        """The held-out dialogues wrapped in the prompt the policy was fine-tuned with."""
        return [training_prompt(d) for d in self.eval_dialogues]


def prompt_sets(data: DialogSum, config: Lab3Config, *, seed: int = 0) -> PromptSets:
    """The course's prompt selection: train dialogues with ``min < chars <= max``, split 80/20 (Lab 3).

    Prompts use Lab 2's training prompt ("Summary: "), the one the policy learned; the course's PPO prompt ends
    in "Summary:\n", the same tokens for FLAN-T5, whose tokenizer drops newlines (the tiny world's keeps them).
    PPO trains on the 80% part. The held-out evaluation uses the test split (its dialogues were never seen in
    training, and its references score the ROUGE price), the first ``eval_prompts`` of them.
    """
    kept = filter_by_length(data.train, min_chars=config.prompt_min_chars, max_chars=config.prompt_max_chars)
    train_part, _ = split_prompts(kept, test_fraction=0.2, seed=seed)
    evaluation = data.test if config.eval_prompts <= 0 else data.test.select(range(min(config.eval_prompts, len(data.test))))
    return PromptSets(
        train=[training_prompt(d) for d in train_part["dialogue"]],
        eval_dialogues=list(evaluation["dialogue"]),
        eval_references=[list(r) for r in evaluation["references"]],
    )


def reward_function(classifier: Any, tokenizer: Any, *, label: str = "nothate", batch_size: int = 32):
    """PPO's reward: the classifier's ``label`` logit for each summary, the label found by name (Lab 3)."""

    def reward(prompts: list[str], responses: list[str]) -> torch.Tensor:
        return label_logits(classifier, tokenizer, responses, label, batch_size=batch_size).float()

    return reward


def sampling_settings(config: Lab3Config) -> GenerationSettings:
    """Lab 3's evaluation sampling: the rollout distribution (top_k 0, top_p 1.0), ``eval_new_tokens`` long."""
    return GenerationSettings(max_new_tokens=config.eval_new_tokens, do_sample=True, top_k=0, top_p=1.0)


def sampled_summaries(
    policy: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    config: Lab3Config,
    *,
    seed: int,
    adapter: str | None = None,
    batch_size: int = 32,
) -> list[str]:
    """Seeded sampled summaries of ``prompts`` by the policy, or by one of its adapters (``"reference"``)."""
    settings = sampling_settings(config)
    if adapter is None:
        return generate_texts(policy, tokenizer, prompts, settings, batch_size=batch_size, seed=seed, progress=False)
    with use_adapter(policy, adapter):
        return generate_texts(policy, tokenizer, prompts, settings, batch_size=batch_size, seed=seed, progress=False)


@dataclass(frozen=True)
class ToxicityReport:
    """Per-prompt toxicity (P(hate)) of one policy's sampled summaries, with its aggregates."""

    summaries: list[str]
    probabilities: np.ndarray

    def summary(self, *, threshold: float = 0.5, resamples: int = 1000, seed: int = 0) -> dict[str, float]:
        """Mean, std, ``toxicity_ratio`` (share with P(hate) >= ``threshold``) and a bootstrap 95% CI of the mean
        (``metrics.toxicity_summary``)."""
        return toxicity_summary(self.probabilities, threshold, resamples=resamples, seed=seed)


def measure_toxicity(
    policy: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    classifier: Any,
    classifier_tokenizer: Any,
    config: Lab3Config,
    *,
    seed: int,
    adapter: str | None = None,
) -> ToxicityReport:
    """Sample one summary per prompt (seeded) and score P(``toxic_label``) on the summary (Lab 3)."""
    texts = sampled_summaries(policy, tokenizer, prompts, config, seed=seed, adapter=adapter)
    probabilities = toxicity_probabilities(classifier, classifier_tokenizer, texts, toxic_label=config.toxic_label)
    return ToxicityReport(summaries=texts, probabilities=np.asarray(probabilities, dtype=float))


def toxicity_change(before: ToxicityReport, after: ToxicityReport, *, resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """The change in mean toxicity on the same prompts, with a paired-bootstrap 95% CI and the relative change."""
    paired = paired_bootstrap(after.probabilities, before.probabilities, resamples=resamples, seed=seed)
    mean_before = float(before.probabilities.mean())
    return {
        "before": mean_before,
        "after": float(after.probabilities.mean()),
        "change": paired["diff"],
        "ci_low": paired["low"],
        "ci_high": paired["high"],
        "relative_change": paired["diff"] / mean_before if mean_before > 0 else float("nan"),
    }


def reward_gain_table(
    prompts: Sequence[str],
    before: Sequence[str],
    after: Sequence[str],
    classifier: Any,
    classifier_tokenizer: Any,
    *,
    label: str = "nothate",
) -> pd.DataFrame:
    """Reference vs PPO summaries of the same prompts, sorted by the reward gain (largest first)."""
    reward_before = label_logits(classifier, classifier_tokenizer, list(before), label).numpy()
    reward_after = label_logits(classifier, classifier_tokenizer, list(after), label).numpy()
    table = pd.DataFrame(
        {
            "dialogue": [p.split("\n\n")[1][:160] + "…" if "\n\n" in p else p[:160] for p in prompts],
            "reference summary": list(before),
            "PPO summary": list(after),
            "reward before": reward_before,
            "reward after": reward_after,
            "gain": reward_after - reward_before,
        }
    )
    return table.sort_values("gain", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class RewardModel:
    """Lab 3's reward model with how it came to be: trained here on labeled texts, or loaded."""

    model: Any
    tokenizer: Any
    origin: str
    held_out_accuracy: float | None = None


def reward_model_for(profile: Any, *, progress: bool = True) -> RewardModel:
    """The profile's reward model (Lab 3).

    With ``lab3.reward_train_epochs > 0`` (the tiny world) a classifier is trained right here on the world's
    labeled toxicity set and scored on its held-out part: human labels become a reward. Otherwise the
    profile's classifier (the course: facebook/roberta-hate-speech-dynabench-r4-target) is loaded.
    """
    config = profile.lab3
    if config.reward_train_epochs <= 0:
        model, tokenizer = load_reward_model(profile)
        return RewardModel(model, tokenizer, origin=f"loaded {profile.reward_model}")
    texts, labels = load_toxicity_texts("train")
    recipe = replace(RewardTrainConfig(), epochs=config.reward_train_epochs)
    model, tokenizer, _ = train_toxicity_classifier(texts, labels, config=recipe, seed=profile.seed, progress=progress)
    test_texts, test_labels = load_toxicity_texts("test")
    accuracy = classifier_accuracy(model, tokenizer, test_texts, test_labels)
    return RewardModel(model, tokenizer, origin=f"trained on {len(texts)} labeled texts", held_out_accuracy=accuracy)


def classifier_demo(reward: RewardModel, texts: Sequence[str]) -> pd.DataFrame:
    """Logits and probabilities of each label for a few texts (Lab 3's neutral vs rude sentence)."""
    logits = classifier_logits(reward.model, reward.tokenizer, list(texts))
    probabilities = logits.softmax(dim=-1)
    id2label = reward.model.config.id2label
    table = pd.DataFrame({"text": list(texts)})
    for index in sorted(id2label):
        table[f"logit {id2label[index]}"] = logits[:, index].numpy()
    for index in sorted(id2label):
        table[f"P({id2label[index]})"] = probabilities[:, index].numpy()
    return table


def starting_policy(profile: Any, base_model: Any, tokenizer: Any, *, progress: bool = True) -> Any:
    """Lab 3's policy before PPO: Lab 2's LoRA adapter on a copy of the base, trainable (Lab 3).

    ``lab3.adapter_path`` names a saved adapter; empty means Lab 2's LoRA for this profile, trained on the
    spot or taken from the cache Lab 2 left, so the lab runs standalone.
    """
    path = profile.lab3.adapter_path or lora_adapter_path(profile, progress=progress)
    with quiet_transformers():
        return PeftModel.from_pretrained(copy.deepcopy(base_model), str(path), is_trainable=True)


def quality_price(policy: Any, tokenizer: Any, prompts: PromptSets, profile: Any, *, batch_size: int = 64) -> pd.DataFrame:
    """ROUGE of greedy summaries of the held-out prompts, reference adapter vs PPO adapter (Lab 3's price).

    Rows ``reference`` and ``ppo`` (means per metric) and ``change`` with paired 95% CIs of ROUGE-1.
    """
    settings = GenerationSettings(max_new_tokens=profile.lab2.max_new_tokens)
    with use_adapter(policy, REFERENCE_ADAPTER):
        reference = generate_texts(policy, tokenizer, prompts.eval_prompts, settings, batch_size=batch_size, progress=False)
    ppo = generate_texts(policy, tokenizer, prompts.eval_prompts, settings, batch_size=batch_size, progress=False)
    systems = {"reference": reference, "ppo": ppo}
    table = rouge_table(systems, prompts.eval_references, seed=profile.seed).pivot(
        index="system", columns="metric", values="mean"
    )
    table = table.loc[["reference", "ppo"]]
    diff = rouge_differences(systems, prompts.eval_references, baseline="reference", seed=profile.seed)
    row = diff[diff.metric == "rouge1"].iloc[0]
    table["rouge1 change (95% CI)"] = ["", f"{row['diff']:+.4f} ({row['ci_low']:+.4f} .. {row['ci_high']:+.4f})"]
    return table


@dataclass
class DetoxResult:
    """Everything one Lab 3 run produces (tests and reports; the notebook shows the same steps one by one)."""

    before: ToxicityReport
    after: ToxicityReport
    change: dict[str, float]
    quality: pd.DataFrame
    history: pd.DataFrame
    reward_accuracy: float | None


def detoxify(profile: Any, *, seed: int | None = None, progress: bool = False) -> DetoxResult:
    """Lab 3 end to end: policy from Lab 2, reward model, toxicity before, PPO, toxicity and ROUGE after.

    ``seed`` (default ``profile.seed``) drives PPO and the evaluation sampling; the starting adapter and the
    reward model stay those of the profile's seed.
    """
    seed = profile.seed if seed is None else seed
    config = profile.lab3
    data = load_dialogsum(profile)
    base_model, tokenizer = load_seq2seq(profile)
    policy = starting_policy(profile, base_model, tokenizer, progress=progress)
    prompts = prompt_sets(data, config, seed=profile.seed)
    reward = reward_model_for(profile, progress=progress)
    before = measure_toxicity(policy, tokenizer, prompts.eval_prompts, reward.model, reward.tokenizer, config, seed=seed)
    trainer = Seq2SeqPPO(
        policy,
        tokenizer,
        reward_function(reward.model, reward.tokenizer, label=config.reward_label),
        replace(config.ppo, seed=seed),
    )
    history = trainer.train(prompts.train, progress=progress)
    after = measure_toxicity(policy, tokenizer, prompts.eval_prompts, reward.model, reward.tokenizer, config, seed=seed)
    return DetoxResult(
        before=before,
        after=after,
        change=toxicity_change(before, after, resamples=config.bootstrap_resamples, seed=seed),
        quality=quality_price(policy, tokenizer, prompts, profile),
        history=history,
        reward_accuracy=reward.held_out_accuracy,
    )
