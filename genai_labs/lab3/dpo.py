"""Direct Preference Optimization (Rafailov et al. 2023) for encoder-decoder (FLAN-T5 + LoRA) policies: Lab 3,
beside PPO.

DPO trains the policy on the preference pairs themselves, with no reward model, no sampling and no value head. For a
prompt ``x``, a preferred summary ``y_w`` and a rejected one ``y_l``, its loss is

    -log sigmoid(beta * ((log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x))))

where ``log pi(y|x)`` is the summed log-probability of the summary's tokens given the prompt (teacher forcing, trl's
``selective_log_softmax``) and ``ref`` is the policy before DPO. ``beta * (log pi(y|x) - log ref(y|x))`` is DPO's
*implicit reward*: the loss is the reward model's Bradley-Terry loss on it.

trl's ``DPOTrainer`` handles causal models only (its encoder-decoder branch was removed in trl 0.29), so the loss is
written here and trained through a ``transformers.Trainer`` subclass (:class:`Seq2SeqDPOTrainer`). The reference is
PPO's: a frozen copy of the starting adapter as a second adapter on the same base model
(:func:`~genai_labs.lab3.value_head.add_reference_adapter`), not a second model. Every log-probability is that of the
distribution Lab 3 samples from, ``softmax(logits / temperature)``, as PPO's are.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import datasets
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from peft import PeftModel
from transformers import PreTrainedTokenizerBase, Trainer, TrainingArguments
from trl.trainer.utils import selective_log_softmax

from genai_labs.core.profiles import DPOConfig
from genai_labs.core.sources import WORLD_DATASET
from genai_labs.core.torch_runtime import quiet_transformers, set_dropout
from genai_labs.core.validation import ConfigError
from genai_labs.data import load_dialogsum
from genai_labs.generation import check_prompt_lengths
from genai_labs.lab3.detox import (
    PolicyEvaluation,
    PromptSets,
    evaluate_policy,
    prompt_sets,
    quality_columns,
    quality_table,
    rouge_metric,
    starting_policy,
    toxicity_change,
    toxicity_measurement,
)
from genai_labs.lab3.reward_model import Reward, judge_for, load_preference_rows, pair_table, reward_for
from genai_labs.lab3.value_head import REFERENCE_ADAPTER, adapter_parameters, add_reference_adapter, use_adapter
from genai_labs.models import load_seq2seq
from genai_labs.prompts import context_limit, training_prompt

# ------------------------------------------------------------------------------------------ the loss


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Lab 3: DPO's loss per pair, ``-log sigmoid(beta * ((pi_w - ref_w) - (pi_l - ref_l)))``, from the summed
    log-probabilities of the chosen (``w``) and rejected (``l``) summaries under the policy and the reference.

    ``log 2`` where the policy equals the reference; it falls as the policy raises the chosen summary's
    log-probability relative to the rejected one's, measured against the reference."""
    margin = implicit_reward(policy_chosen, reference_chosen, beta) - implicit_reward(policy_rejected, reference_rejected, beta)
    return -F.logsigmoid(margin)


def implicit_reward(policy_logps: torch.Tensor, reference_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """Lab 3: DPO's implicit reward of a summary, ``beta * (log pi(y|x) - log ref(y|x))``."""
    return beta * (policy_logps - reference_logps)


def summary_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: the summed log-probability of each summary given its prompt (teacher forcing) and its token count.

    ``labels`` are the summaries' token ids padded with -100, ``k`` per prompt, prompt after prompt (``(B * k, T)``
    for ``B`` prompts): the encoder reads each prompt once, the decoder each summary (the model shifts the labels right
    into its decoder inputs). Log-probabilities are those of ``softmax(logits / temperature)`` (trl's
    ``selective_log_softmax``, in float32). Returns ``(logps, tokens)``, both ``(B * k,)``."""
    k = labels.shape[0] // input_ids.shape[0]
    encoded = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    out = model(
        encoder_outputs=(encoded.last_hidden_state.repeat_interleave(k, dim=0),),
        attention_mask=attention_mask.repeat_interleave(k, dim=0),
        labels=labels,
        use_cache=False,
    )
    mask = labels != -100
    token_logps = selective_log_softmax(out.logits.float(), labels.clamp(min=0), temperature=temperature)
    return (token_logps * mask).sum(-1), mask.sum(-1)


def pad_labels(labels: Sequence[torch.Tensor]) -> torch.Tensor:
    """Lab 3: label tensors of different widths padded with -100 to the widest and stacked row after row."""
    width = max(part.shape[1] for part in labels)
    return torch.cat([F.pad(part, (0, width - part.shape[1]), value=-100) for part in labels])


# ------------------------------------------------------------------------------------------ data


def dpo_dataset(rows: Sequence[Mapping[str, str]]) -> datasets.Dataset:
    """Lab 3: preference rows of the world (``dialogue``, ``chosen``, ``rejected``) as DPO's training set: ``prompt`` is
    the PPO prompt of the pair's dialogue (Lab 2's training prompt), ``chosen`` and ``rejected`` its two summaries."""
    return datasets.Dataset.from_dict(
        {
            "prompt": [training_prompt(row["dialogue"]) for row in rows],
            "chosen": [row["chosen"] for row in rows],
            "rejected": [row["rejected"] for row in rows],
        }
    )


def dpo_train_set() -> datasets.Dataset:
    """Lab 3: DPO's training set, the world's preference train split (the pairs the reward model learned from) with the
    PPO prompt of each pair's dialogue (:func:`dpo_dataset`)."""
    return dpo_dataset(load_preference_rows("train"))


@dataclass
class DPOCollator:
    """Lab 3: a batch of ``{prompt, chosen, rejected}`` rows as tensors: the prompts tokenized and padded (never
    truncated: a longer prompt than the policy's context raises), chosen and rejected summaries as labels padded
    with -100."""

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, rows: Sequence[Mapping[str, str]]) -> dict[str, torch.Tensor]:
        return {
            **self.prompts([row["prompt"] for row in rows]),
            "chosen_labels": self.labels([row["chosen"] for row in rows]),
            "rejected_labels": self.labels([row["rejected"] for row in rows]),
        }

    def prompts(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Prompts as ``input_ids`` and ``attention_mask``, padded, never truncated."""
        encoded = self.tokenizer(texts, padding=True, return_tensors="pt", verbose=False)
        check_prompt_lengths(encoded["attention_mask"].sum(1).tolist(), context_limit(self.tokenizer), model="policy")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def labels(self, texts: list[str]) -> torch.Tensor:
        """Summaries as label ids (eos included), padded with -100."""
        ids = self.tokenizer(text_target=texts, padding=True, return_tensors="pt", verbose=False)
        return ids["input_ids"].masked_fill(ids["attention_mask"] == 0, -100)


# ------------------------------------------------------------------------------------------ the trainer


def pair_logprobs(model: Any, inputs: Mapping[str, torch.Tensor], *, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: summed log-probabilities of a batch's chosen and rejected summaries under ``model``'s active adapter,
    in one forward pass (each prompt encoded once)."""
    chosen, rejected = inputs["chosen_labels"], inputs["rejected_labels"]
    both = pad_labels([chosen, rejected])
    n = len(chosen)
    interleaved = torch.stack([both[:n], both[n:]], dim=1).flatten(0, 1)  # chosen, rejected of prompt 0, then prompt 1...
    logps, _ = summary_logprobs(model, inputs["input_ids"], inputs["attention_mask"], interleaved, temperature=temperature)
    return logps[0::2], logps[1::2]


class Seq2SeqDPOTrainer(Trainer):
    """Lab 3: a ``transformers.Trainer`` whose ``compute_loss`` is DPO's, for a peft LoRA seq2seq policy.

    The policy's active adapter trains; its reference is a frozen copy of that adapter as it was when the trainer was
    built (``reference_adapter``, PPO's mechanism: :func:`~genai_labs.lab3.value_head.add_reference_adapter`), added
    unless the policy already has one. ``beta`` is DPO's one argument; ``temperature`` the distribution whose
    log-probabilities are compared (Lab 3: the one it samples from). The policy's dropout is switched off (the
    chosen and the rejected summary are scored by the same function). Logged every ``logging_steps``: the loss, the
    batch's implicit-reward accuracy and margin.
    """

    def __init__(
        self,
        model: PeftModel,
        args: TrainingArguments,
        *,
        beta: float,
        temperature: float = 1.0,
        reference_adapter: str = REFERENCE_ADAPTER,
        **kwargs: Any,
    ) -> None:
        if beta <= 0:
            raise ValueError(f"beta must be > 0, got {beta}.")
        adapter = model.active_adapter
        if reference_adapter not in model.peft_config:
            add_reference_adapter(model, reference_adapter, source=adapter)
        model.set_adapter(adapter)  # the trained adapter active and trainable, the reference frozen
        for param in adapter_parameters(model, reference_adapter).values():
            param.requires_grad_(False)
        set_dropout(model, 0.0, attention=True)
        self.beta = beta
        self.temperature = temperature
        self.reference_adapter = reference_adapter
        self._batch_metrics: list[dict[str, float]] = []
        with quiet_transformers():
            super().__init__(model=model, args=args, **kwargs)
        # compute_loss is a mean over the batch's pairs and ignores num_items_in_batch: the Trainer then divides it
        # by the gradient-accumulation steps itself, whatever the model's forward accepts
        self.model_accepts_loss_kwargs = False

    def compute_loss(
        self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DPO's loss on a batch of pairs (mean over pairs): the policy's log-probabilities with gradients, the
        reference's without."""
        policy_chosen, policy_rejected = pair_logprobs(model, inputs, temperature=self.temperature)
        with torch.no_grad(), use_adapter(model, self.reference_adapter):
            reference_chosen, reference_rejected = pair_logprobs(model, inputs, temperature=self.temperature)
        losses = dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, self.beta)
        chosen = implicit_reward(policy_chosen.detach(), reference_chosen, self.beta)
        rejected = implicit_reward(policy_rejected.detach(), reference_rejected, self.beta)
        self._batch_metrics.append(
            {"reward_accuracy": float((chosen > rejected).float().mean()), "reward_margin": float((chosen - rejected).mean())}
        )
        loss = losses.mean()
        return (loss, {"chosen_rewards": chosen, "rejected_rewards": rejected}) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """The Trainer's log, with the implicit-reward accuracy and margin averaged over the batches since the last."""
        if self._batch_metrics and "loss" in logs:
            for key in self._batch_metrics[0]:
                logs[key] = float(np.mean([m[key] for m in self._batch_metrics]))
            self._batch_metrics = []
        super().log(logs, start_time)


# ------------------------------------------------------------------------------------------ the profile's arguments


def dpo_training_arguments(config: DPOConfig, *, seed: int, output_dir: str, device: str = "cpu") -> TrainingArguments:
    """The ``TrainingArguments`` Lab 3's notebook spells out for DPO, from the profile's settings (tests,
    :func:`train_dpo`)."""
    return TrainingArguments(
        output_dir=output_dir,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        weight_decay=0.0,
        seed=seed,
        data_seed=seed,
        remove_unused_columns=False,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=device == "cpu",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )


def dpo_skip_reason(profile: Any) -> str | None:
    """Why Lab 3 runs no DPO in this profile, or None when it does: DPO needs preference pairs of summaries of the
    profile's own dialogues, and only the tiny world has them (``lab3.dpo.max_steps`` 0 also skips it)."""
    if profile.dataset != WORLD_DATASET:
        return (
            f"DPO is skipped in the {profile.name!r} profile: it needs preference pairs of summaries of "
            f"{profile.dataset}'s dialogues (a DialogSum dialogue in the PPO prompt, a preferred and a rejected summary "
            "of it, e.g. one reporting an insult neutrally over one repeating it), and there are none. The world's "
            "pairs summarise the miniature world's dialogues: training a DialogSum summarizer on them would not say "
            "what DPO does to it."
        )
    if profile.lab3.dpo.max_steps == 0:
        return "DPO is skipped: lab3.dpo.max_steps is 0 (load_profile(lab3__dpo__max_steps=60) runs it)."
    return None


# ------------------------------------------------------------------------------------------ measuring


@torch.no_grad()
def text_logprobs(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    texts: Sequence[str],
    *,
    temperature: float,
    adapter: str | None = None,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Lab 3: the summed log-probability of each text given its prompt and its token count, under the policy or one
    of its adapters (``"reference"``); teacher forcing, the texts re-tokenized with eos. ``texts`` hold the same
    number of texts per prompt, prompt after prompt (each prompt is encoded once)."""
    k = len(texts) // len(prompts)
    collate = DPOCollator(tokenizer)
    logps, tokens = [], []
    model.eval()
    with contextlib.ExitStack() as stack:
        if adapter is not None:
            stack.enter_context(use_adapter(model, adapter))
        for start in range(0, len(prompts), batch_size):
            batch = collate.prompts(list(prompts[start : start + batch_size]))
            labels = collate.labels(list(texts[start * k : (start + batch_size) * k]))
            lp, n = summary_logprobs(
                model, batch["input_ids"].to(model.device), batch["attention_mask"].to(model.device), labels.to(model.device),
                temperature=temperature,
            )  # fmt: skip
            logps.append(lp.cpu())
            tokens.append(n.cpu())
    return torch.cat(logps).numpy().astype(float), torch.cat(tokens).numpy()


def sample_kl(
    policy: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    evaluation: PolicyEvaluation,
    *,
    temperature: float,
    adapter: str = REFERENCE_ADAPTER,
) -> float:
    """Lab 3: the per-token KL of a policy to its reference, estimated from its evaluation samples: the mean over the
    sampled tokens of ``log pi - log ref``. 0 for a policy without a reference adapter (the start is its own
    reference). The samples are re-tokenized with an end-of-sequence token, so a sample cut at the length limit also
    counts an end it did not sample (world summaries end well before the limit)."""
    if adapter not in policy.peft_config:
        return 0.0
    samples = evaluation.toxicity.samples
    logps, tokens = text_logprobs(policy, tokenizer, prompts, samples, temperature=temperature)
    ref_logps, _ = text_logprobs(policy, tokenizer, prompts, samples, temperature=temperature, adapter=adapter)
    return float((logps - ref_logps).sum() / max(tokens.sum(), 1))


def implicit_reward_accuracy(
    policy: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, str]],
    *,
    beta: float,
    temperature: float,
    adapter: str = REFERENCE_ADAPTER,
) -> pd.DataFrame:
    """Lab 3: DPO's implicit reward on held-out preference pairs, as :func:`reward_model.pair_accuracy` scores the
    reward model: the share of pairs whose chosen summary gets the higher ``beta * (log pi - log ref)``, the mean
    margin and the pair count, per kind and over ``all``."""
    prompts = [training_prompt(row["dialogue"]) for row in rows]
    texts = [row[side] for row in rows for side in ("chosen", "rejected")]  # both summaries of a pair read one encoding
    logps, _ = text_logprobs(policy, tokenizer, prompts, texts, temperature=temperature)
    ref_logps, _ = text_logprobs(policy, tokenizer, prompts, texts, temperature=temperature, adapter=adapter)
    rewards = implicit_reward(torch.from_numpy(logps), torch.from_numpy(ref_logps), beta).numpy()
    return pair_table([row["kind"] for row in rows], rewards[0::2] - rewards[1::2])


@dataclass(frozen=True)
class TrainedPolicy:
    """Lab 3: one trained policy in the side-by-side table: its evaluation, its KL to the reference from the
    evaluation samples, its training's wall time and the summaries it sampled while training."""

    evaluation: PolicyEvaluation
    kl: float
    train_seconds: float
    train_samples: int


def ppo_policy(
    policy: Any, tokenizer: Any, prompts: PromptSets, evaluation: PolicyEvaluation, history: pd.DataFrame, config: Any
) -> TrainedPolicy:
    """Lab 3: a PPO run for the side-by-side table: its wall time is the sum of its steps' timed phases (rollout,
    scoring, optimisation) and it sampled ``batch_size`` summaries per step."""
    seconds = float(history[["time_rollout_s", "time_scoring_s", "time_optimization_s"]].to_numpy().sum())
    kl = sample_kl(policy, tokenizer, prompts.eval_prompts, evaluation, temperature=config.ppo.temperature)
    return TrainedPolicy(evaluation, kl=kl, train_seconds=seconds, train_samples=len(history) * config.ppo.batch_size)


def side_by_side(
    start: PolicyEvaluation, runs: Mapping[str, TrainedPolicy], *, resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Lab 3: the starting policy and each trained one (PPO, PPO without KL, DPO) on the same held-out prompts and
    samples: the judge's toxicity and its paired change against the start, the reward model's mean score, the
    per-token KL to the reference from the samples, ROUGE-1 and its paired change, the well-formed share, the fact
    check's precision, the training's wall time and the summaries sampled while training. Intervals are bootstrap 95% CIs."""
    rows = {}
    rows_in = {"start (Lab 2's LoRA)": TrainedPolicy(start, kl=0.0, train_seconds=0.0, train_samples=0), **runs}
    for name, run in rows_in.items():
        row: dict[str, Any] = {
            "reward (mean)": round(float(run.evaluation.rewards.mean()), 3),
            "KL per token (samples)": round(run.kl, 3),
        }
        rows[name] = (
            row
            | quality_columns(run.evaluation, start, resamples=resamples, seed=seed)
            | {"training seconds": round(run.train_seconds, 1), "summaries sampled in training": run.train_samples}
        )
    return quality_table(rows)


@dataclass
class DPOResult:
    """Lab 3: one DPO run measured against the starting policy on the held-out prompts, with its implicit-reward
    accuracy on the held-out pairs."""

    start: PolicyEvaluation
    run: TrainedPolicy
    change: dict[str, float]  # the judge's toxicity, start -> DPO, with its paired 95% CI
    pair_table: pd.DataFrame  # implicit-reward accuracy on the held-out pairs, per kind
    history: pd.DataFrame  # the Trainer's log
    reward: Reward | None = None  # the reward model that scored the summaries (end to end: reused by other seeds)

    @property
    def evaluation(self) -> PolicyEvaluation:
        """The DPO policy's evaluation."""
        return self.run.evaluation

    @property
    def pair_accuracy(self) -> float:
        """Implicit-reward accuracy over all held-out pairs."""
        return float(self.pair_table.loc["all", "accuracy"])


def measure_dpo(
    trainer: Seq2SeqDPOTrainer,
    train_seconds: float,
    start: PolicyEvaluation,
    after: PolicyEvaluation,
    prompts: PromptSets,
    test_pairs: Sequence[Mapping[str, str]],
    profile: Any,
    *,
    seed: int,
) -> DPOResult:
    """Lab 3: the DPO run ``trainer`` trained (the notebook, after ``trainer.train()``) measured: toxicity change,
    KL from the samples, implicit-reward accuracy on ``test_pairs``. The trainer is measured as it was built (an
    edited argument or β is what ran); ``seed`` seeds the bootstrap."""
    config = profile.lab3
    policy, tokenizer, temperature = trainer.model, trainer.processing_class, trainer.temperature
    kl = sample_kl(policy, tokenizer, prompts.eval_prompts, after, temperature=temperature)
    return DPOResult(
        start=start,
        run=TrainedPolicy(after, kl=kl, train_seconds=train_seconds, train_samples=0),
        change=toxicity_change(start.toxicity, after.toxicity, resamples=config.bootstrap_resamples, seed=seed),
        pair_table=implicit_reward_accuracy(policy, tokenizer, test_pairs, beta=trainer.beta, temperature=temperature),
        history=pd.DataFrame(trainer.state.log_history),
    )


def train_dpo(
    policy: PeftModel, tokenizer: Any, train_set: datasets.Dataset, profile: Any, *, seed: int
) -> tuple[Seq2SeqDPOTrainer, float]:
    """Lab 3: DPO on ``policy`` as the notebook trains it on ``train_set`` (:func:`dpo_train_set`), from the profile's
    settings, ``seed`` ordering the pairs; returns the trainer and the training's wall time in seconds (the
    ``Trainer``'s ``train_runtime``; tests, :func:`dpo_detoxify`)."""
    config = profile.lab3
    with tempfile.TemporaryDirectory(prefix="genai-labs-dpo-") as scratch:
        args = dpo_training_arguments(config.dpo, seed=seed, output_dir=scratch, device=profile.device)
        trainer = Seq2SeqDPOTrainer(
            policy,
            args,
            beta=config.dpo.beta,
            temperature=config.ppo.temperature,
            train_dataset=train_set,
            data_collator=DPOCollator(tokenizer),
            processing_class=tokenizer,
        )
        with quiet_transformers():
            output = trainer.train()
        return trainer, float(output.metrics["train_runtime"])


def dpo_detoxify(profile: Any, *, seed: int | None = None, reward: Reward | None = None, progress: bool = False) -> DPOResult:
    """Lab 3's DPO end to end, as the notebook runs it: the starting policy measured, DPO on the world's training
    pairs, the DPO policy measured (tests; :func:`detox.detoxify` is PPO's counterpart).

    ``seed`` (default ``profile.seed``) orders the pairs and seeds the evaluation's sampling; the starting adapter and
    the reward model stay those of the profile's seed. ``reward`` reuses a reward another run trained.
    """
    reason = dpo_skip_reason(profile)
    if reason is not None:
        raise ConfigError(reason)
    seed = profile.seed if seed is None else seed
    base_model, tokenizer = load_seq2seq(profile)
    prompts = prompt_sets(load_dialogsum(profile), profile.lab3, seed=profile.seed)
    reward = reward or reward_for(profile, progress=progress)
    toxicity, rouge = toxicity_measurement(judge_for(profile)), rouge_metric()

    def measure(policy: Any) -> PolicyEvaluation:
        return evaluate_policy(policy, tokenizer, prompts, profile, toxicity=toxicity, rouge=rouge, reward=reward, seed=seed)

    start = measure(starting_policy(profile, base_model, tokenizer, progress=progress))
    policy = starting_policy(profile, base_model, tokenizer, progress=progress)
    trainer, seconds = train_dpo(policy, tokenizer, dpo_train_set(), profile, seed=seed)
    result = measure_dpo(trainer, seconds, start, measure(policy), prompts, load_preference_rows("test"), profile, seed=seed)
    return replace(result, reward=reward)
