"""Lab 3's experiment around the PPO trainer: prompts, the policy, and an honest evaluation of what PPO changed.

The course scored 11 sampled summaries once and reported a relative "improvement" whose sign flipped from run to
run, with the reward model itself as the judge. Here every policy is measured on the same ``eval_prompts`` held-out
prompts (200 in the tiny profile): one seeded sampled summary per prompt, from the rollout distribution, scored by
the toxicity judge (through the package's ``evaluate`` toxicity module; another classifier in the tiny profile, the
reward's own in ``course``, as in the course) and by the reward model, and checked for well-formedness (tiny world);
and one greedy summary per prompt scored with ROUGE (through the package's ``evaluate`` ROUGE module) against the
test references. Changes against the starting policy get paired-bootstrap intervals. The notebook's PPO runs are
cached under a key of what they use (:func:`cached_ppo_run`), so an edited setting trains its own run.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import evaluate
import numpy as np
import pandas as pd
from peft import PeftModel
from transformers import GenerationConfig

from genai_labs.core.folders import default_cache_dir
from genai_labs.core.profiles import Lab3Config, PPOConfig
from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.data import DialogSum, filter_by_length, load_dialogsum, split_prompts
from genai_labs.evaluate_modules import rouge_module_path, toxicity_module_path
from genai_labs.fact_check import FactScores, fact_scores, grouped, paired_precision_change, precision_interval
from genai_labs.generation import generate_texts
from genai_labs.lab2.runs import config_hash, lora_adapter_path, weights_hash
from genai_labs.lab3.ppo import CHECKPOINT_FILE, Seq2SeqPPO
from genai_labs.lab3.reward_model import Judge, Reward, judge_for, reward_for
from genai_labs.lab3.value_head import use_adapter
from genai_labs.metrics import bootstrap_ci, paired_bootstrap, rouge_differences_from_scores, toxicity_summary
from genai_labs.models import load_seq2seq
from genai_labs.prompts import training_prompt
from genai_labs.world.facts import fact_finder
from genai_labs.world.well_formed import well_formed_share, world_grammar_applies

# ------------------------------------------------------------------------------------------ prompts


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
    in "Summary:\\n", the same tokens for FLAN-T5, whose tokenizer drops newlines (the tiny world's keeps them).
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


# ------------------------------------------------------------------------------------------ the policy


def starting_policy(profile: Any, base_model: Any, tokenizer: Any, *, progress: bool = True) -> Any:
    """Lab 3's policy before PPO: Lab 2's LoRA adapter on a copy of the base, trainable (Lab 3).

    ``lab3.adapter_path`` names a saved adapter; empty means Lab 2's LoRA for this profile, trained on the
    spot or taken from the cache Lab 2 left, so the lab runs standalone. Each call gives an independent policy (the
    no-KL run starts from its own copy).
    """
    path = profile.lab3.adapter_path or lora_adapter_path(profile, progress=progress)
    with quiet_transformers():
        return PeftModel.from_pretrained(copy.deepcopy(base_model), str(path), is_trainable=True)


def no_kl_config(ppo: PPOConfig) -> PPOConfig:
    """The same PPO without the KL penalty: beta 0 and not adaptive; steps and everything else unchanged (Lab 3)."""
    return replace(ppo, init_kl_coef=0.0, adaptive_kl=False)


# ------------------------------------------------------------------------------------------ PPO runs in the cache

LAB3_CACHE_DIR = "lab3"
PPO_CACHE_FORMAT = 1


def tokenizer_hash(tokenizer: Any) -> str:
    """A tokenizer's definition (normalizer, pre-tokenizer, pieces and their scores, post-processor; not the padding
    and truncation a call last set) when it has one, else its vocabulary (Lab 3's PPO cache key)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return config_hash({"vocabulary": tokenizer.get_vocab()})
    definition = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("padding", "truncation")}
    return config_hash({"tokenizer": definition})


def ppo_run_key(trainer: Seq2SeqPPO, prompts: Sequence[str]) -> str:
    """Cache key of one Lab 3 PPO run, taken before its first step: the settings actually used (``trainer.config``),
    the seed, the starting policy's weights (base, adapter, value head) and tokenizer, the reward's weights and
    tokenizer, and the content of the prompts (a hash of the texts, never a dataset's name)."""
    if trainer.step_count:
        raise ValueError("ppo_run_key hashes the starting policy: take it before the first PPO step.")
    reward = trainer.reward_fn
    if not isinstance(reward, Reward):
        raise TypeError(
            f"a cached PPO run needs a lab3 Reward as reward_fn (its weights are hashed), got {type(reward).__name__}."
        )
    payload = {
        "format": PPO_CACHE_FORMAT,
        "settings": asdict(trainer.config),
        "seed": trainer.seed,
        "max_input_tokens": trainer.prompt_limit,
        "policy": [weights_hash(trainer.model), weights_hash(trainer.value_head), tokenizer_hash(trainer.tokenizer)],
        "reward": [reward.kind, reward.label, weights_hash(reward.model), tokenizer_hash(reward.tokenizer)],
        "suppress_tokens": sorted(trainer.suppress_tokens),
        "prompts": config_hash({"prompts": list(prompts)}),
    }
    return f"ppo-{config_hash(payload)}"


@dataclass
class CachedPPORun:
    """One Lab 3 PPO run's place in the cache, ``<cache>/lab3/ppo-<key>`` (:func:`cached_ppo_run`): a finished run of
    exactly these settings, start, reward and prompts is loaded into the trainer instead of trained again."""

    trainer: Seq2SeqPPO
    prompts: list[str]
    folder: Path
    loaded: bool = False

    def load(self) -> bool:
        """Load the run into the trainer when the cache has it (printing where from); True when it did."""
        if not (self.folder / CHECKPOINT_FILE).is_file():
            return False
        self.trainer.load_checkpoint(self.folder)
        self.loaded = True
        print(
            f"loaded the finished PPO run from {self.folder} ({self.trainer.step_count} steps); "
            "delete that folder to train it again."
        )
        return True

    def save(self) -> None:
        """Keep the trained run (the trainer's checkpoint) in the cache, so a rerun with the same settings loads it; a
        loaded run is left as it is."""
        if not self.loaded:
            self.trainer.save_checkpoint(self.folder)

    def train(self, *, progress: bool = False) -> pd.DataFrame:
        """The whole run, loaded from the cache or trained with ``trainer.train`` (the notebook's loop, in one call)
        and saved; returns the per-step history."""
        if not self.load():
            self.trainer.train(self.prompts, progress=progress)
            self.save()
        return pd.DataFrame(self.trainer.history)


def cached_ppo_run(
    trainer: Seq2SeqPPO, prompts: Sequence[str], *, cache_dir: str | os.PathLike[str] | None = None
) -> CachedPPORun:
    """Where the PPO run of ``trainer`` on ``prompts`` is cached, ``<cache>/lab3/<ppo_run_key>`` (Lab 3; call it before
    the first step)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return CachedPPORun(trainer, list(prompts), root / LAB3_CACHE_DIR / ppo_run_key(trainer, prompts))


# ------------------------------------------------------------------------------------------ the evaluate modules


def toxicity_measurement(judge: Judge) -> Any:
    """The package's ``evaluate`` toxicity measurement holding the judge (what the notebook loads itself)."""
    return evaluate.load(
        toxicity_module_path(), module_type="measurement", keep_in_memory=True, model=judge.model, tokenizer=judge.tokenizer
    )


def rouge_metric() -> Any:
    """The package's ``evaluate`` ROUGE metric (what the notebook loads itself)."""
    return evaluate.load(rouge_module_path(), keep_in_memory=True)


# ------------------------------------------------------------------------------------------ measuring a policy


def sampling_settings(config: Lab3Config) -> GenerationConfig:
    """Lab 3's evaluation sampling: the rollout distribution (top_k 0, top_p 1.0, ``ppo.temperature``),
    ``eval_new_tokens`` long."""
    return GenerationConfig(
        max_new_tokens=config.eval_new_tokens, do_sample=True, top_k=0, top_p=1.0, temperature=config.ppo.temperature
    )


def sampled_summaries(
    policy: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    config: Lab3Config,
    *,
    seed: int,
    adapter: str | None = None,
    batch_size: int = 32,
    samples: int = 1,
) -> list[str]:
    """Seeded sampled summaries of ``prompts`` by the policy, or by one of its adapters (``"reference"``): ``samples``
    per prompt, prompt after prompt (``len(prompts) * samples`` texts)."""
    settings = sampling_settings(config)
    kwargs: dict[str, Any] = {"batch_size": batch_size, "seed": seed, "progress": False, "samples_per_prompt": samples}
    if adapter is None:
        return generate_texts(policy, tokenizer, prompts, settings, **kwargs)
    with use_adapter(policy, adapter):
        return generate_texts(policy, tokenizer, prompts, settings, **kwargs)


def greedy_summaries(policy: Any, tokenizer: Any, prompts: Sequence[str], profile: Any, *, batch_size: int = 64) -> list[str]:
    """Greedy summaries of ``prompts`` (``lab2.max_new_tokens`` long): what ROUGE scores (Lab 3)."""
    settings = GenerationConfig(max_new_tokens=profile.lab2.max_new_tokens)
    return generate_texts(policy, tokenizer, prompts, settings, batch_size=batch_size, progress=False)


def world_well_formed_share(profile: Any, texts: Sequence[str]) -> float | None:
    """The share of ``texts`` the world's generator could have written (tiny world), else None: the world's grammar
    says nothing about DialogSum's summaries."""
    return well_formed_share(list(texts)) if world_grammar_applies(profile) else None


@dataclass(frozen=True)
class ToxicityReport:
    """Per-prompt toxicity of one policy (the judge's mean P(hate) over the prompt's sampled summaries), with its
    aggregates. ``summaries`` holds each prompt's first sample (what the tables show), ``samples`` all of them."""

    summaries: list[str]
    probabilities: np.ndarray
    samples: list[str] = field(default_factory=list, repr=False)

    def summary(self, *, threshold: float = 0.5, resamples: int = 1000, seed: int = 0) -> dict[str, float]:
        """Mean, std, ``toxicity_ratio`` (share with P(hate) >= ``threshold``) and a bootstrap 95% CI of the mean
        (``metrics.toxicity_summary``)."""
        return toxicity_summary(self.probabilities, threshold, resamples=resamples, seed=seed)


def measure_toxicity(
    policy: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    toxicity: Any,
    config: Lab3Config,
    *,
    seed: int,
    adapter: str | None = None,
) -> ToxicityReport:
    """Sample ``config.eval_samples`` summaries per prompt (seeded) and score P(``toxic_label``) of each with
    ``toxicity``, the package's ``evaluate`` toxicity measurement holding the judge; a prompt's toxicity is the mean
    over its samples (Lab 3)."""
    k = config.eval_samples
    texts = sampled_summaries(policy, tokenizer, prompts, config, seed=seed, adapter=adapter, samples=k)
    probabilities = toxicity.compute(predictions=texts, toxic_label=config.toxic_label)["toxicity"]
    per_prompt = np.asarray(probabilities, dtype=float).reshape(len(prompts), k).mean(axis=1)
    return ToxicityReport(summaries=texts[::k], probabilities=per_prompt, samples=texts)


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


@dataclass(frozen=True)
class PolicyEvaluation:
    """One policy measured on the held-out prompts (Lab 3): sampled summaries with the judge's toxicity, their reward
    and well-formed share; greedy summaries with their per-example ROUGE."""

    toxicity: ToxicityReport
    rewards: np.ndarray
    well_formed: float | None
    greedy: list[str]
    rouge: pd.DataFrame  # per-example F-measures, one column per ROUGE type
    facts: FactScores  # the fact check of the sampled summaries, one unit per prompt (its samples added up)

    @property
    def rouge1(self) -> float:
        """Mean ROUGE-1 of the greedy summaries."""
        return float(self.rouge["rouge1"].mean())


def evaluate_policy(
    policy: Any,
    tokenizer: Any,
    prompts: PromptSets,
    profile: Any,
    *,
    toxicity: Any,
    rouge: Any,
    reward: Reward,
    seed: int,
) -> PolicyEvaluation:
    """Measure a policy as Lab 3 compares them: judge toxicity, reward, well-formed share and fact check of its sampled
    summaries, ROUGE (the package's ``evaluate`` module, ``use_aggregator=False``) of its greedy ones."""
    report = measure_toxicity(policy, tokenizer, prompts.eval_prompts, toxicity, profile.lab3, seed=seed)
    greedy = greedy_summaries(policy, tokenizer, prompts.eval_prompts, profile)
    scores = rouge.compute(predictions=greedy, references=prompts.eval_references, use_aggregator=False)
    return PolicyEvaluation(
        toxicity=report,
        rewards=reward.score(report.samples).numpy().astype(float).reshape(len(report.summaries), -1).mean(axis=1),
        well_formed=world_well_formed_share(profile, report.samples),
        greedy=greedy,
        rouge=pd.DataFrame(scores),
        facts=sampled_facts(profile, prompts, report),
    )


def sampled_facts(profile: Any, prompts: PromptSets, report: ToxicityReport) -> FactScores:
    """The fact check of every sampled summary against its dialogue, added up per prompt (Lab 3's comparisons)."""
    k = len(report.samples) // len(prompts.eval_dialogues)
    dialogues = [d for d in prompts.eval_dialogues for _ in range(k)]
    return grouped(fact_scores(report.samples, dialogues, fact_finder(profile)), k)


# ------------------------------------------------------------------------------------------ tables


def _ci_text(mean: float, low: float, high: float, signed: bool = False) -> str:
    form = "{:+.3f}" if signed else "{:.3f}"
    return f"{form.format(mean)} [{form.format(low)}, {form.format(high)}]"


def comparison_table(
    start: PolicyEvaluation,
    runs: Mapping[str, tuple[PolicyEvaluation, pd.DataFrame]],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """The starting policy and each PPO run side by side (Lab 3; the no-KL comparison): reward-model score, final KL,
    judge toxicity and its change against the start (paired 95% CI), ROUGE-1 and its change (paired 95% CI), the
    well-formed share. ``runs`` maps a name to ``(evaluation, PPO history)``; intervals are bootstrap 95% CIs, numbers
    rounded to 3 decimals for reading."""
    rows = {}
    for name, (evaluation, history) in {"start (Lab 2's LoRA)": (start, None), **runs}.items():
        row: dict[str, Any] = {
            "reward (mean)": round(float(evaluation.rewards.mean()), 3),
            "KL to reference (final step)": round(float(history["kl_ref"].iloc[-1]), 3) if history is not None else 0.0,
        }
        rows[name] = row | quality_columns(evaluation, start, resamples=resamples, seed=seed)
    return quality_table(rows)


def quality_columns(
    evaluation: PolicyEvaluation, start: PolicyEvaluation, *, resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """One policy's row of Lab 3's comparisons (PPO's and DPO's side by side): the judge's toxicity, ROUGE-1 of the
    greedy summaries, the well-formed share and the fact precision of the sampled ones, each change against
    ``start`` with its paired 95% CI (left empty on the start's own row)."""
    tox, rouge1 = evaluation.toxicity.probabilities, evaluation.rouge["rouge1"].to_numpy()
    row: dict[str, Any] = {
        "judge P(hate)": _ci_text(*bootstrap_ci(tox, resamples=resamples, seed=seed)),
        "P(hate) change vs start": "",
        "ROUGE-1 (greedy)": _ci_text(*bootstrap_ci(rouge1, resamples=resamples, seed=seed)),
        "ROUGE-1 change vs start": "",
        "well-formed (sampled)": None if evaluation.well_formed is None else round(evaluation.well_formed, 3),
        "fact precision (sampled)": _ci_text(*precision_interval(evaluation.facts, resamples=resamples, seed=seed)),
        "fact precision change vs start": "",
    }
    if evaluation is not start:
        change = paired_bootstrap(tox, start.toxicity.probabilities, resamples=resamples, seed=seed)
        row["P(hate) change vs start"] = _ci_text(change["diff"], change["low"], change["high"], signed=True)
        diff = paired_bootstrap(rouge1, start.rouge["rouge1"].to_numpy(), resamples=resamples, seed=seed)
        row["ROUGE-1 change vs start"] = _ci_text(diff["diff"], diff["low"], diff["high"], signed=True)
        facts = paired_precision_change(start.facts, evaluation.facts, resamples=resamples, seed=seed)
        row["fact precision change vs start"] = _ci_text(facts["diff"], facts["low"], facts["high"], signed=True)
    return row


def quality_table(rows: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Lab 3's comparison rows as a table, without the well-formed column where no row has one (real DialogSum)."""
    table = pd.DataFrame(rows).T
    if table["well-formed (sampled)"].isna().all():  # a None becomes NaN in the transposed frame
        table = table.drop(columns="well-formed (sampled)")
    return table


def quality_price(start: PolicyEvaluation, after: PolicyEvaluation, *, resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """ROUGE of greedy summaries of the held-out prompts, starting policy vs PPO (Lab 3's price).

    Rows ``reference`` (the starting policy, PPO's reference) and ``ppo`` (means per metric), with the well-formed
    share of their sampled summaries (tiny world) and ROUGE-1's change with its paired 95% CI.
    """
    scores = {"reference": start.rouge, "ppo": after.rouge}
    table = pd.DataFrame({name: frame.mean() for name, frame in scores.items()}).T
    if start.well_formed is not None:
        table["well-formed (sampled)"] = [start.well_formed, after.well_formed]
    diff = rouge_differences_from_scores(scores, baseline="reference", resamples=resamples, seed=seed)
    row = diff[diff.metric == "rouge1"].iloc[0]
    table["rouge1 change (95% CI)"] = ["", f"{row['diff']:+.4f} ({row['ci_low']:+.4f} .. {row['ci_high']:+.4f})"]
    return table


def reward_gain_table(prompts: Sequence[str], before: Sequence[str], after: Sequence[str], reward: Reward) -> pd.DataFrame:
    """Starting vs PPO summaries of the same prompts, sorted by the reward gain (largest first)."""
    reward_before = reward.score(list(before)).numpy()
    reward_after = reward.score(list(after)).numpy()
    table = pd.DataFrame(
        {
            "dialogue": [p.split("\n\n")[1][:160] + "…" if "\n\n" in p else p[:160] for p in prompts],
            "summary before": list(before),
            "summary after": list(after),
            "reward before": reward_before,
            "reward after": reward_after,
            "gain": reward_after - reward_before,
        }
    )
    return table.sort_values("gain", ascending=False, ignore_index=True)


def sample_table(prompts: PromptSets, columns: Mapping[str, Sequence[str]], indices: Sequence[int]) -> pd.DataFrame:
    """Summaries of the same held-out prompts by several policies, side by side (Lab 3's no-KL comparison)."""
    table = pd.DataFrame({"reference summary (test)": [prompts.eval_references[i][0] for i in indices]}, index=list(indices))
    for name, texts in columns.items():
        table[name] = [texts[i] for i in indices]
    return table


def sample_indices(start: PolicyEvaluation, n: int = 4) -> list[int]:
    """Prompts worth reading side by side: the ``n // 2`` whose starting summary the judge found most toxic, then the
    first others in order."""
    toxic = [int(i) for i in np.argsort(-start.toxicity.probabilities, kind="stable")[: n // 2]]
    rest = [i for i in range(len(start.toxicity.summaries)) if i not in toxic][: n - len(toxic)]
    return toxic + rest


# ------------------------------------------------------------------------------------------ end to end


@dataclass
class DetoxResult:
    """Everything one Lab 3 run produces (tests and reports; the notebook shows the same steps one by one)."""

    reward: Reward
    judge: Judge
    start: PolicyEvaluation
    after: PolicyEvaluation
    history: pd.DataFrame
    change: dict[str, float]
    quality: pd.DataFrame
    no_kl: tuple[PolicyEvaluation, pd.DataFrame] | None = None

    @property
    def before(self) -> ToxicityReport:
        """The starting policy's toxicity."""
        return self.start.toxicity

    def no_kl_change(self, *, resamples: int = 1000, seed: int = 0) -> dict[str, float] | None:
        """The no-KL run's toxicity change against the same start, or None when it did not run."""
        if self.no_kl is None:
            return None
        return toxicity_change(self.start.toxicity, self.no_kl[0].toxicity, resamples=resamples, seed=seed)


def detoxify(
    profile: Any, *, seed: int | None = None, no_kl: bool = False, reward: Reward | None = None, progress: bool = False
) -> DetoxResult:
    """Lab 3 end to end: reward model, judge, policy from Lab 2, its measurements, PPO, the same measurements after;
    with ``no_kl`` a second PPO run without the KL penalty from the same start, same steps and seed.

    ``seed`` (default ``profile.seed``, the one seed) drives PPO and the evaluation sampling; the starting adapter and
    the reward model stay those of the profile's seed. PPO runs here are trained, never taken from the cache.
    ``reward`` reuses a reward another run of the same profile trained (tests running several seeds); by default it
    is trained or loaded here (:func:`reward_model.reward_for`).
    """
    seed = profile.seed if seed is None else seed
    config = profile.lab3
    data = load_dialogsum(profile)
    base_model, tokenizer = load_seq2seq(profile)
    prompts = prompt_sets(data, config, seed=profile.seed)
    reward = reward or reward_for(profile, progress=progress)
    judge = judge_for(profile)
    toxicity, rouge = toxicity_measurement(judge), rouge_metric()

    def measure(policy: Any) -> PolicyEvaluation:
        return evaluate_policy(policy, tokenizer, prompts, profile, toxicity=toxicity, rouge=rouge, reward=reward, seed=seed)

    def ppo(ppo_config: PPOConfig) -> tuple[PolicyEvaluation, pd.DataFrame]:
        policy = starting_policy(profile, base_model, tokenizer, progress=progress)
        history = Seq2SeqPPO(policy, tokenizer, reward, ppo_config, seed=seed).train(prompts.train, progress=progress)
        return measure(policy), history

    start = measure(starting_policy(profile, base_model, tokenizer, progress=progress))
    after, history = ppo(config.ppo)
    resamples = config.bootstrap_resamples
    return DetoxResult(
        reward=reward,
        judge=judge,
        start=start,
        after=after,
        history=history,
        change=toxicity_change(start.toxicity, after.toxicity, resamples=resamples, seed=seed),
        quality=quality_price(start, after, resamples=resamples, seed=profile.seed),
        no_kl=ppo(no_kl_config(config.ppo)) if no_kl else None,
    )
