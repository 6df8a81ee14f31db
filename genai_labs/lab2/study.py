"""Lab 2's measurements: every model scored on the same test dialogues and skill probe, with confidence intervals.

The notebook adds each model to a :class:`Scoreboard` as it gets it (the original first, then each trained run, and
the original again with an in-context example instead of training); :meth:`Scoreboard.results` then scores them all
at once (:class:`Lab2Results`: ROUGE with bootstrap intervals, paired differences, fine-tuning against in-context
learning with the context each costs, the well-formed share in the tiny world, the single-reference table next to the
course's, the best constant summary, forgetting).
:func:`gpu_time_estimate` is the lab's cost section, and :func:`run_lab2` runs the whole lab in one call (tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import pandas as pd
import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from genai_labs.core.profiles import load_profile
from genai_labs.data import load_dialogsum
from genai_labs.fact_check import systems_fact_table
from genai_labs.generation import generate_texts, model_device
from genai_labs.lab2.finetune import planned_steps, training_flops
from genai_labs.lab2.forgetting import forgetting_table, lora_skill_accuracy
from genai_labs.lab2.runs import TrainResult, train_run, weights_hash
from genai_labs.lab2.training_data import Lab2Data, lab2_data, mix_replay, skill_examples, tokenize_for_training
from genai_labs.metrics import (
    SkillResult,
    best_constant_baseline,
    rouge_differences,
    rouge_table,
    single_reference_rows,
    skill_accuracy,
)
from genai_labs.models import load_seq2seq
from genai_labs.prompts import build_prompt, count_tokens, read_limit, training_prompt
from genai_labs.world.facts import fact_finder
from genai_labs.world.well_formed import well_formed_share, world_grammar_applies

# The course's published Lab 2 table: flan-t5-base original / fully fine-tuned ("instruct") / PEFT on the hub's
# 1,500-row DialogSum test split, one row per human summary (single reference), from its precomputed CSV.
COURSE_PUBLISHED_ROUGE = pd.DataFrame(
    {
        "rouge1": [0.2334, 0.4216, 0.4081],
        "rouge2": [0.0760, 0.1804, 0.1633],
        "rougeL": [0.2015, 0.3384, 0.3251],
        "rougeLsum": [0.2015, 0.3384, 0.3249],
    },
    index=pd.Index(["original", "full", "lora"], name="system"),
)

# Achieved bf16 training rate assumed for GPU time estimates: an A100 at about 30% of its 312 TFLOP/s peak.
ASSUMED_GPU_FLOPS_PER_S = 100e12


def base_fingerprint(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> str:
    """SHA-256 of the model's logits on ``texts`` (teacher-forced on the texts themselves) (Lab 2).

    Equal fingerprints before and after the trainings show the original model was not touched.
    """
    device = model_device(model)
    was_training = model.training
    model.eval()
    batch = tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=128).to(device)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["input_ids"]).logits
    model.train(was_training)
    return hashlib.sha256(logits.detach().float().cpu().numpy().tobytes()).hexdigest()


def summarize(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    dialogues: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    progress: bool = False,
) -> list[str]:
    """Greedy summaries of ``training_prompt(dialogue)`` (Lab 2's evaluation prompt), batched."""
    return generate_texts(
        model, tokenizer, [training_prompt(d) for d in dialogues], GenerationConfig(max_new_tokens=max_new_tokens),
        batch_size=batch_size, seed=0, progress=progress,
    )  # fmt: skip


@dataclass
class Lab2Results:
    """Everything Lab 2 measures: predictions, ROUGE tables, skill accuracies and the training runs.

    Model names: ``original``, ``full``, ``lora`` (adapter on, merged for generation), ``replay``; skill rows
    add ``lora_adapter_off``.
    """

    profile: Any
    tokenizer: PreTrainedTokenizerBase
    base_model: PreTrainedModel
    data: Lab2Data
    runs: dict[str, TrainResult]
    predictions: dict[str, list[str]]
    rouge: pd.DataFrame
    differences: pd.DataFrame
    rouge_single_reference: pd.DataFrame
    lora_vs_full: pd.DataFrame
    constant_baseline: tuple[str, float]
    distinct_share: dict[str, float]
    skill: dict[str, SkillResult]
    forgetting: pd.DataFrame
    base_unchanged: bool
    prompt_tokens: dict[str, float]  # mean tokens of each model's test prompts
    full_vs_in_context: pd.DataFrame  # paired ROUGE differences of full fine-tuning against each in-context run
    well_formed: dict[str, float] | None  # share of well-formed summaries per model (tiny world only, else None)
    facts: pd.DataFrame  # fact check per model (fact_check.fact_table): precision with CI, recall, all facts right

    def rouge1(self, name: str) -> float:
        """Mean test ROUGE-1 of a model."""
        return float(self.rouge.query("system == @name and metric == 'rouge1'")["mean"].iloc[0])

    def gain(self, name: str) -> float:
        """ROUGE-1 gain of a model over the original."""
        return self.rouge1(name) - self.rouge1("original")

    def course_comparison(self) -> pd.DataFrame:
        """Single-reference mean ROUGE (one row per human summary, as the course scored) next to the course's
        published figures. Only the ``course`` profile is comparable; other profiles show their own scale."""
        ours = self.rouge_single_reference.pivot(index="system", columns="metric", values="mean")
        ours = ours.loc[[name for name in COURSE_PUBLISHED_ROUGE.index if name in ours.index]]
        columns = {"this run (single reference)": ours, "course, published (flan-t5-base)": COURSE_PUBLISHED_ROUGE}
        table = pd.concat(columns, axis=1)
        return table.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)

    def in_context_table(self) -> pd.DataFrame:
        """Fine-tuning against in-context learning on the same test dialogues: each model's ROUGE-1 (95% CI), the
        prompt it needs (tokens per dialogue), the well-formed share (tiny world), and full fine-tuning's paired ROUGE-1
        difference to each in-context run."""
        names = ["original", *self.full_vs_in_context["baseline"].unique(), "full"]
        rouge1 = self.rouge[self.rouge.metric == "rouge1"].set_index("system")
        table = pd.DataFrame(
            {
                "ROUGE-1": [rouge1.loc[n, "mean"] for n in names],
                "ci_low": [rouge1.loc[n, "ci_low"] for n in names],
                "ci_high": [rouge1.loc[n, "ci_high"] for n in names],
                "prompt tokens": [self.prompt_tokens[n] for n in names],
            },
            index=pd.Index(names, name="model"),
        )
        if self.well_formed is not None:
            table["well-formed"] = [self.well_formed[n] for n in names]
        return table

    def well_formed_table(self) -> pd.DataFrame:
        """Each model's mean ROUGE-1 next to the share of its summaries that are well-formed world sentences (tiny)."""
        if self.well_formed is None:
            raise ValueError("the well-formed check is the tiny world's grammar; this profile's data is real DialogSum.")
        rouge1 = self.rouge[self.rouge.metric == "rouge1"].set_index("system")["mean"]
        return pd.DataFrame({"ROUGE-1": rouge1, "well-formed": pd.Series(self.well_formed)}).loc[list(self.well_formed)]

    def results_table(self) -> pd.DataFrame:
        """One row per model: ROUGE-1, the well-formed share (tiny world), the fact check (precision with its 95%
        interval, recall against the references, all facts right) and the share of distinct summaries."""
        rouge1 = self.rouge[self.rouge.metric == "rouge1"].set_index("system")["mean"]
        names = list(self.predictions)
        table = pd.DataFrame({"ROUGE-1": rouge1.loc[names]}, index=pd.Index(names, name="model"))
        if self.well_formed is not None:
            table["well-formed"] = [self.well_formed[n] for n in names]
        facts = self.facts.loc[names, ["fact precision", "ci_low", "ci_high", "fact recall", "all facts right"]]
        table[list(facts.columns)] = facts.to_numpy()
        table["distinct summaries"] = [self.distinct_share[n] for n in names]
        return table

    def training_table(self) -> pd.DataFrame:
        """One row per training run: steps, seconds, trainable share, optimizer state, sizes."""
        return pd.DataFrame([run.summary() for run in self.runs.values()])

    def history_frame(self) -> pd.DataFrame:
        """All runs' Trainer logs (loss per logging step, learning rate, final summary) in one table."""
        return pd.DataFrame([row for run in self.runs.values() for row in run.history])


class Scoreboard:
    """Lab 2's evaluation: each model summarises the same test dialogues (greedy) and answers the same skill probe.

    Add the original model first (:meth:`add`); it is fingerprinted, so :meth:`results` can check the trainings left it
    untouched. Add a LoRA run with :meth:`add_lora`: its skill is measured with the adapter on and off.
    """

    def __init__(self, profile: Any, data: Lab2Data, tokenizer: PreTrainedTokenizerBase, *, progress: bool = True) -> None:
        self.profile, self.data, self.tokenizer, self.progress = profile, data, tokenizer, progress
        self.predictions: dict[str, list[str]] = {}
        self.prompt_tokens: dict[str, float] = {}
        self.in_context: list[str] = []
        self.skill: dict[str, SkillResult] = {}
        self._fingerprint_texts = [training_prompt(d) for d in data.test["dialogue"][:4]]
        self._original: tuple[PreTrainedModel, str] | None = None

    def _summaries(self, model: Any, name: str) -> list[str]:
        cfg = self.profile.lab2
        dialogues = list(self.data.test["dialogue"])
        self.prompt_tokens[name] = _mean_tokens(self.tokenizer, [training_prompt(d) for d in dialogues])
        return summarize(
            model, self.tokenizer, dialogues, max_new_tokens=cfg.max_new_tokens,
            batch_size=cfg.generation_batch_size, progress=self.progress,
        )  # fmt: skip

    def _skill_kwargs(self) -> dict[str, Any]:
        return {"batch_size": self.profile.lab2.generation_batch_size, "progress": False}

    def add(self, name: str, model: Any) -> None:
        """Summaries and skill answers of ``model`` under ``name`` (``original`` first, then ``full``, ``replay``)."""
        if self._original is None:
            self._original = (model, base_fingerprint(model, self.tokenizer, self._fingerprint_texts))
        self.predictions[name] = self._summaries(model, name)
        self.skill[name] = skill_accuracy(
            model, self.tokenizer, self.data.skill_dialogues, self.data.skill_topics, **self._skill_kwargs()
        )

    def add_lora(self, name: str, run: TrainResult) -> None:
        """A LoRA run: summaries of the merged model, skill with the adapter on (``name``) and off."""
        assert run.merged_model is not None, "add_lora takes a LoRA run (TrainResult with a merged model)"
        self.predictions[name] = self._summaries(run.merged_model, name)
        self.skill[name], self.skill[f"{name}_adapter_off"] = lora_skill_accuracy(
            run.model, self.tokenizer, self.data.skill_dialogues, self.data.skill_topics, **self._skill_kwargs()
        )

    def add_in_context(self, name: str, model: Any, shots: Sequence[tuple[str, str]]) -> None:
        """``model`` (the original) answering with solved examples before each test dialogue instead of being trained:
        the course's shot format (Lab 1's one-shot, or few-shot for several shots), greedy, and what that prompt costs."""
        cfg = self.profile.lab2
        style = "one_shot" if len(shots) == 1 else "few_shot"
        limit = read_limit(model, self.tokenizer)  # a dialogue too long for its shots is read whole, without them
        builds = [
            build_prompt(style, d, shots=shots, tokenizer=self.tokenizer, read_whole_up_to=limit)
            for d in self.data.test["dialogue"]
        ]
        self.prompt_tokens[name] = sum(b.n_tokens or 0 for b in builds) / len(builds)
        self.predictions[name] = generate_texts(
            model, self.tokenizer, [b.text for b in builds], GenerationConfig(max_new_tokens=cfg.max_new_tokens),
            batch_size=cfg.generation_batch_size, seed=0, progress=self.progress,
        )  # fmt: skip
        self.in_context.append(name)

    def results(self, runs: dict[str, TrainResult]) -> Lab2Results:
        """Score every model added: ROUGE with bootstrap CIs, paired differences to the original and to full
        fine-tuning, the single-reference table, the best constant summary and the forgetting table."""
        assert self._original is not None, "add the original model first"
        base_model, fingerprint = self._original
        cfg, predictions = self.profile.lab2, self.predictions
        references = [list(r) for r in self.data.test["references"]]
        boot = {"resamples": cfg.bootstrap_resamples, "seed": self.profile.seed}
        trained = {k: predictions[k] for k in ("full", "lora", "replay") if k in predictions}
        in_context = [
            rouge_differences({"full": predictions["full"], name: predictions[name]}, references, baseline=name, **boot)
            for name in self.in_context
            if "full" in predictions
        ]
        grammar = world_grammar_applies(self.profile)
        candidates = list(dict.fromkeys(list(self.data.train["summary"]) + [ref for group in references for ref in group]))
        return Lab2Results(
            profile=self.profile, tokenizer=self.tokenizer, base_model=base_model, data=self.data, runs=dict(runs),
            predictions=dict(predictions),
            rouge=rouge_table(predictions, references, **boot),
            differences=rouge_differences(predictions, references, baseline="original", **boot),
            rouge_single_reference=rouge_table(*single_reference_rows(predictions, references), **boot),
            lora_vs_full=rouge_differences(trained, references, baseline="full", **boot),
            constant_baseline=best_constant_baseline(references, candidates),
            distinct_share={name: len(set(preds)) / max(1, len(preds)) for name, preds in predictions.items()},
            skill=dict(self.skill),
            forgetting=forgetting_table(self.skill, resamples=cfg.bootstrap_resamples, seed=self.profile.seed),
            base_unchanged=base_fingerprint(base_model, self.tokenizer, self._fingerprint_texts) == fingerprint,
            prompt_tokens=dict(self.prompt_tokens),
            full_vs_in_context=pd.concat(in_context, ignore_index=True) if in_context else pd.DataFrame(),
            well_formed={name: well_formed_share(preds) for name, preds in predictions.items()} if grammar else None,
            facts=systems_fact_table(
                predictions, list(self.data.test["dialogue"]), fact_finder(self.profile), references, seed=self.profile.seed
            ),
        )  # fmt: skip


def _mean_tokens(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str]) -> float:
    """Mean tokens of ``prompts`` (what each request costs in context; Lab 2's fine-tuning vs in-context table)."""
    return sum(count_tokens(tokenizer, p) for p in prompts) / max(1, len(prompts))


def in_context_shots(profile: Any) -> tuple[tuple[str, str], ...]:
    """Lab 1's one-shot example(s) (``lab1.one_shot_indices`` of the whole training split, as Lab 1 scores them): what
    the original model gets in its prompt instead of training, in Lab 2's comparison with in-context learning."""
    train = load_dialogsum(profile).train
    return tuple((train[i]["dialogue"], train[i]["summary"]) for i in profile.lab1.one_shot_indices)


def run_lab2(
    profile: Any | None = None,
    *,
    cache_dir: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> Lab2Results:
    """Lab 2 end to end in one call (tests; the notebook shows the same steps one by one): the original model scored,
    full fine-tuning, LoRA and full fine-tuning with replay trained (or loaded from the cache) and scored.
    ``force`` retrains."""
    profile = profile if profile is not None else load_profile()
    cfg = profile.lab2
    base, tokenizer = load_seq2seq(profile)
    data = lab2_data(profile)
    tokenized = tokenize_for_training(
        data.train, tokenizer, max_source_length=cfg.full.max_source_length, max_target_length=cfg.full.max_target_length
    )
    scores = Scoreboard(profile, data, tokenizer, progress=progress)
    scores.add("original", base)
    scores.add_in_context("one_shot", base, in_context_shots(profile))
    common: dict[str, Any] = {"cache_dir": cache_dir, "base_weights": weights_hash(base), "progress": progress, "force": force}
    runs = {
        "full": train_run("full", profile, base, tokenizer, tokenized, **common),
        "lora": train_run("lora", profile, base, tokenizer, tokenized, **common),
        "replay": train_run("replay", profile, base, tokenizer, replay_set(data, profile), **common),
    }
    scores.add("full", runs["full"].model)
    scores.add_lora("lora", runs["lora"])
    scores.add("replay", runs["replay"].model)
    return scores.results(runs)


def replay_set(data: Lab2Data, profile: Any) -> datasets.Dataset:
    """The replay run's training set: the summaries plus ``lab2.replay_fraction`` of topic examples of the same
    training dialogues, shuffled with the profile's seed (Lab 2's forgetting mitigation)."""
    return mix_replay(data.train, skill_examples(data.train), profile.lab2.replay_fraction, profile.seed)


def gpu_time_estimate(
    results: Lab2Results, tokenized: datasets.Dataset, *, achieved_flops_per_s: float = ASSUMED_GPU_FLOPS_PER_S
) -> pd.DataFrame:
    """Lab 2's cost section: per run, its settings, model FLOPs (:func:`training_flops`), the expected minutes at
    ``achieved_flops_per_s`` on a GPU, and what this machine took and achieved (the course profile's time estimate)."""
    cfg = results.profile.lab2
    rows = []
    for name, settings in (("full", cfg.full), ("lora", cfg.lora)):
        flops = training_flops(results.base_model.config, tokenized, settings)
        seconds = results.runs[name].train_seconds if name in results.runs else None
        rows.append({
            "run": name, "steps": planned_steps(settings, len(tokenized)), "batch": settings.per_device_train_batch_size,
            "learning_rate": settings.learning_rate, "model TFLOP": flops / 1e12,
            f"expected GPU minutes at {achieved_flops_per_s / 1e12:g} TFLOP/s": flops / achieved_flops_per_s / 60,
            "measured here (s)": seconds,
            "achieved here (GFLOP/s)": flops / seconds / 1e9 if seconds else None,
        })  # fmt: skip
    return pd.DataFrame(rows)
