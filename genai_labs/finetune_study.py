"""Lab 2 end to end, cached: original vs full fine-tuning vs LoRA vs replay, scored with confidence intervals.

:func:`run_lab2` is what the notebook calls. Each training run is cached by its settings, data and base weights
(:func:`cached_training`, ``<cache>/lab2/<kind>-<hash>``), so a rerun loads instead of retraining; Lab 3 starts
from :func:`lora_adapter_path`. :func:`gpu_time_estimate` is the lab's cost section.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import datasets
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from genai_labs.atomic_io import file_lock, lock_path, make_readable, remove_folder_atomic, write_json_atomic
from genai_labs.checkpoints import remove_checkpoints
from genai_labs.config import FineTuneConfig, LoraSettings
from genai_labs.finetune import (
    FINAL_DIR,
    TrainResult,
    load_lora,
    merge_lora,
    mix_replay,
    padding_cost,
    planned_steps,
    skill_examples,
    tokenize_for_training,
    train_full,
    train_lora,
    training_flops,
)
from genai_labs.generation import model_device
from genai_labs.prompts import training_prompt

RUN_INFO_FILE = "run_info.json"


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


def config_hash(payload: dict[str, Any]) -> str:
    """Stable short hash of a JSON-able dict (Lab 2 cache keys)."""
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 over a model's named tensors (Lab 2 cache keys: the exact base weights)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def settings_dict(settings: FineTuneConfig | LoraSettings) -> dict[str, Any]:
    """Plain dict of a training settings dataclass (for cache keys and reports)."""
    return asdict(settings)


# --------------------------------------------------------------------------------------------------
# The whole lab, cached (Lab 2 notebook, tests, benchmarks; Lab 3 starts from the LoRA adapter)
# --------------------------------------------------------------------------------------------------

CACHE_FORMAT = 1
RUN_KINDS = ("full", "lora", "replay")

# The course's published Lab 2 table: flan-t5-base original / fully fine-tuned ("instruct") / PEFT on the hub's
# 1,500-row DialogSum test split, one row per human summary (single reference), from its precomputed CSV.
COURSE_PUBLISHED_ROUGE = pd.DataFrame(
    {"rouge1": [0.2334, 0.4216, 0.4081], "rouge2": [0.0760, 0.1804, 0.1633],
     "rougeL": [0.2015, 0.3384, 0.3251], "rougeLsum": [0.2015, 0.3384, 0.3249]},
    index=pd.Index(["original", "full", "lora"], name="system"),
)


@dataclass
class Lab2Data:
    """The Lab 2 splits: training dialogues, the test set with its references, held-out skill dialogues."""

    train: datasets.Dataset
    test: datasets.Dataset
    skill_dialogues: list[str]
    skill_topics: list[str]
    source: str


def lab2_data(profile: Any) -> Lab2Data:
    """Training subsample, test set (grouped references) and held-out topic dialogues of a profile (Lab 2)."""
    from genai_labs.data import load_dialogsum, subsample

    cfg = profile.lab2
    data = load_dialogsum(profile)
    train = subsample(data.train, every=cfg.train_every, first=cfg.train_first)
    test = data.test if not cfg.eval_examples else data.test.select(range(min(cfg.eval_examples, len(data.test))))
    held_out = data.test.select(range(min(cfg.skill_examples, len(data.test)))) if cfg.skill_examples else data.test
    keep = [i for i, topic in enumerate(held_out["topic"]) if topic]
    return Lab2Data(
        train=train,
        test=test,
        skill_dialogues=[held_out[i]["dialogue"] for i in keep],
        skill_topics=[held_out[i]["topic"] for i in keep],
        source=data.source,
    )


def run_key(kind: str, profile: Any, base_weights: str) -> str:
    """Cache key of one Lab 2 training run: its settings, the data selection, the base weights and the seed."""
    cfg = profile.lab2
    settings = settings_dict(cfg.lora if kind == "lora" else cfg.full)
    payload = {
        "format": CACHE_FORMAT,
        "kind": kind,
        "settings": settings,
        "lengths": [cfg.full.max_source_length, cfg.full.max_target_length],
        "data": [profile.dataset, profile.dataset_revision, cfg.train_every, cfg.train_first],
        "replay_fraction": cfg.replay_fraction if kind == "replay" else None,
        "model": [profile.model, profile.model_revision, base_weights],
        "seed": profile.seed,
    }
    return f"{kind}-{config_hash(payload)}"


def _publish_cached_run(info_path: Path, final: Path) -> None:
    """Open up a Lab 2 cached run written before caches were published readable (``final/`` 0700, run info 0600).

    Only the owner may change modes; for anyone else (or a run being replaced meanwhile) it is left as it is.
    """
    published = stat.S_IMODE(final.stat().st_mode) == 0o755 and info_path.stat().st_mode & 0o644 == 0o644
    if published or info_path.stat().st_uid != os.getuid():
        return
    with contextlib.suppress(OSError):
        make_readable(final)
        os.chmod(info_path, stat.S_IMODE(info_path.stat().st_mode) | 0o644)


def _load_cached_run(kind: str, run_dir: Path, base_model: PreTrainedModel, profile: Any) -> TrainResult | None:
    info_path, final = run_dir / RUN_INFO_FILE, run_dir / FINAL_DIR
    if not (info_path.is_file() and final.is_dir()):
        return None
    _publish_cached_run(info_path, final)
    with contextlib.suppress(OSError):  # "last used" for `genai-labs cache --older-than` (not ours in a shared cache: skip)
        os.utime(info_path)
    info = json.loads(info_path.read_text())
    summary = info["summary"]
    if kind == "lora":
        model = load_lora(base_model, final)
        merged: torch.nn.Module | None = merge_lora(model)
    else:
        from genai_labs.models import load_seq2seq

        model, _ = load_seq2seq(profile, source=str(final), device=model_device(base_model).type)
        merged = None
    return TrainResult(
        method=kind,
        model=model,
        history=info["history"],
        train_seconds=float(summary["train_seconds"]),
        optimizer_steps=int(summary["optimizer_steps"]),
        trainable_params=int(summary["trainable_params"]),
        total_params=int(summary["total_params"]),
        peak_memory_bytes=int(summary["peak_memory_bytes"]),
        memory_note=summary["memory_note"],
        optimizer_state_bytes=int(summary["optimizer_state_bytes"]),
        run_dir=run_dir,
        resumed_from=summary.get("resumed_from"),
        merged_model=merged,
        adapter_dir=final if kind == "lora" else None,
        adapter_bytes=summary.get("adapter_bytes"),
        full_checkpoint_bytes=summary.get("full_checkpoint_bytes"),
        train_examples=int(summary.get("train_examples", 0)),
        extra={"cached": True},
    )


def cached_training(
    kind: str,
    profile: Any,
    base_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset: datasets.Dataset,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_weights: str | None = None,
    progress: bool = False,
    force: bool = False,
) -> TrainResult:
    """Train one Lab 2 run (``full``, ``lora`` or ``replay``) or load it from the cache (Labs 2-3).

    The run folder is ``<cache>/lab2/<kind>-<hash>``: checkpoints while training (an interrupted run
    resumes; removed once the run is finished), ``final/`` (model or adapter) and ``run_info.json`` (costs and
    loss history), written last. One process trains a given run at a time (a file lock); others wait, then load it.
    ``train_dataset`` is the summarization set; for ``replay`` it is the already mixed set.
    """
    if kind not in RUN_KINDS:
        raise ValueError(f"cached_training: kind must be one of {RUN_KINDS}, got {kind!r}.")
    from genai_labs.world.data_files import default_cache_dir

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    run_dir = root / "lab2" / run_key(kind, profile, base_weights or weights_hash(base_model))
    lock = lock_path(run_dir)
    if not force:
        # a finished run (run_info.json is written last) loads under a shared lock: many readers at once, never while
        # it is trained or removed; in a read-only shared cache whose lock file is missing, without it
        with file_lock(lock, shared=True, required=False):
            cached = _load_cached_run(kind, run_dir, base_model, profile)
        if cached is not None:
            return cached
    # one process trains a run at a time (a notebook and `genai-labs run` may ask for the same one): the others wait,
    # then load it, instead of writing into the same checkpoints
    with file_lock(lock):
        if force:
            remove_folder_atomic(run_dir)
        cached = _load_cached_run(kind, run_dir, base_model, profile)
        if cached is not None:
            return cached
        cfg = profile.lab2
        if kind == "lora":
            result = train_lora(
                base_model, tokenizer, train_dataset, cfg.lora, output_dir=run_dir, seed=profile.seed,
                max_source_length=cfg.full.max_source_length, max_target_length=cfg.full.max_target_length,
                progress=progress,
            )
        else:
            result = train_full(base_model, tokenizer, train_dataset, cfg.full, output_dir=run_dir, seed=profile.seed, method=kind,
                                progress=progress)
        write_json_atomic(run_dir / RUN_INFO_FILE, {"summary": result.summary(), "history": result.history})
        remove_checkpoints(run_dir)
    return result



def lora_adapter_path(profile: Any, *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = False) -> Path:
    """Folder of Lab 2's trained LoRA adapter for ``profile``, training it (cached) if needed (Lab 3's start)."""
    from genai_labs.models import load_seq2seq

    base, tokenizer = load_seq2seq(profile)
    data = lab2_data(profile)
    result = cached_training("lora", profile, base, tokenizer, data.train, cache_dir=cache_dir, progress=progress)
    assert result.adapter_dir is not None
    return result.adapter_dir


@dataclass
class Lab2Results:
    """Everything Lab 2 produces: models, predictions, ROUGE tables, skill accuracies, costs and timings.

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
    skill: dict[str, Any]
    forgetting: pd.DataFrame
    padding: dict[str, float]
    timings: dict[str, float]
    base_unchanged: bool

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
        table = pd.concat({"this run (single reference)": ours, "course, published (flan-t5-base)": COURSE_PUBLISHED_ROUGE}, axis=1)
        return table.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)

    def training_table(self) -> pd.DataFrame:
        """One row per training run: steps, seconds, trainable share, optimizer state, sizes."""
        return pd.DataFrame([run.summary() for run in self.runs.values()])

    def history_frame(self) -> pd.DataFrame:
        """All runs' Trainer logs (loss per logging step, learning rate, final summary) in one table."""
        return pd.DataFrame([row for run in self.runs.values() for row in run.history])

    def headline(self) -> dict[str, float]:
        """The acceptance numbers in one flat dict (notebook summary, reports)."""
        out: dict[str, float] = {f"rouge1_{name}": self.rouge1(name) for name in self.predictions}
        out["rouge1_constant_baseline"] = self.constant_baseline[1]
        out.update({f"skill_{name}": result.accuracy for name, result in self.skill.items()})
        out["lora_share_of_full_gain"] = self.gain("lora") / self.gain("full") if self.gain("full") else float("nan")
        out["replay_share_of_full_gain"] = self.gain("replay") / self.gain("full") if self.gain("full") else float("nan")
        for name, run in self.runs.items():
            out[f"steps_{name}"] = run.optimizer_steps
            out[f"train_seconds_{name}"] = run.train_seconds
            out[f"trainable_fraction_{name}"] = run.trainable_fraction
        out.update({f"seconds_{k}": v for k, v in self.timings.items()})
        return out


def summarize(model: Any, tokenizer: PreTrainedTokenizerBase, dialogues: Sequence[str], *, max_new_tokens: int, batch_size: int, progress: bool = False) -> list[str]:
    """Greedy summaries of ``training_prompt(dialogue)`` (Lab 2's evaluation prompt), batched."""
    from genai_labs.generation import GenerationSettings, generate_texts

    return generate_texts(
        model, tokenizer, [training_prompt(d) for d in dialogues], GenerationSettings(max_new_tokens=max_new_tokens),
        batch_size=batch_size, seed=0, progress=progress,
    )


def run_lab2(
    profile: Any | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    force: bool = False,
) -> Lab2Results:
    """Lab 2 end to end (notebook, tests, benchmarks): original vs full fine-tuning vs LoRA vs replay.

    Loads the base model once; evaluates the original; trains (or loads from the cache) full fine-tuning,
    LoRA and full fine-tuning with replay; scores test ROUGE with bootstrap CIs and paired CIs of the
    differences, the best constant-output baseline, and the topic skill of every model (LoRA with the
    adapter on and off); checks the original's logits are unchanged. ``force`` retrains.
    """
    from genai_labs.config import load_profile
    from genai_labs.forgetting import forgetting_table, lora_skill_accuracy, skill_accuracy
    from genai_labs.metrics import best_constant_baseline, rouge_differences, rouge_table, single_reference_rows
    from genai_labs.models import load_seq2seq

    profile = profile if profile is not None else load_profile()
    cfg = profile.lab2
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    base, tokenizer = load_seq2seq(profile)
    data = lab2_data(profile)
    weights = weights_hash(base)
    fingerprint_texts = [training_prompt(d) for d in data.test["dialogue"][:4]]
    fingerprint = base_fingerprint(base, tokenizer, fingerprint_texts)
    tokenized = tokenize_for_training(
        data.train, tokenizer, max_source_length=cfg.full.max_source_length, max_target_length=cfg.full.max_target_length
    )
    padding = padding_cost(tokenized, 512, batch_size=cfg.full.per_device_train_batch_size)
    lap("load")

    gen = dict(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.generation_batch_size, progress=progress)
    dialogues = list(data.test["dialogue"])
    predictions = {"original": summarize(base, tokenizer, dialogues, **gen)}
    skill_kw = dict(batch_size=cfg.generation_batch_size, progress=False)
    skill = {"original": skill_accuracy(base, tokenizer, data.skill_dialogues, data.skill_topics, **skill_kw)}
    lap("eval_original")

    runs: dict[str, TrainResult] = {}
    common = dict(cache_dir=cache_dir, base_weights=weights, progress=progress, force=force)
    runs["full"] = cached_training("full", profile, base, tokenizer, tokenized, **common)
    lap("train_full")
    runs["lora"] = cached_training("lora", profile, base, tokenizer, tokenized, **common)
    lap("train_lora")
    mixed = mix_replay(data.train, skill_examples(data.train), cfg.replay_fraction, profile.seed)
    runs["replay"] = cached_training("replay", profile, base, tokenizer, mixed, **common)
    lap("train_replay")

    predictions["full"] = summarize(runs["full"].model, tokenizer, dialogues, **gen)
    predictions["lora"] = summarize(runs["lora"].merged_model, tokenizer, dialogues, **gen)
    predictions["replay"] = summarize(runs["replay"].model, tokenizer, dialogues, **gen)
    skill["full"] = skill_accuracy(runs["full"].model, tokenizer, data.skill_dialogues, data.skill_topics, **skill_kw)
    skill["lora"], skill["lora_adapter_off"] = lora_skill_accuracy(
        runs["lora"].model, tokenizer, data.skill_dialogues, data.skill_topics, **skill_kw
    )
    skill["replay"] = skill_accuracy(runs["replay"].model, tokenizer, data.skill_dialogues, data.skill_topics, **skill_kw)
    lap("eval_trained")

    references = [list(r) for r in data.test["references"]]
    boot = dict(resamples=cfg.bootstrap_resamples, seed=profile.seed)
    rouge = rouge_table(predictions, references, **boot)
    differences = rouge_differences(predictions, references, baseline="original", **boot)
    lora_vs_full = rouge_differences({k: predictions[k] for k in ("full", "lora", "replay")}, references, baseline="full", **boot)
    rouge_single = rouge_table(*single_reference_rows(predictions, references), **boot)
    candidates = list(dict.fromkeys(list(data.train["summary"]) + [ref for group in references for ref in group]))
    constant = best_constant_baseline(references, candidates)
    distinct = {name: len(set(preds)) / max(1, len(preds)) for name, preds in predictions.items()}
    forgetting = forgetting_table(skill, resamples=cfg.bootstrap_resamples, seed=profile.seed)
    base_unchanged = base_fingerprint(base, tokenizer, fingerprint_texts) == fingerprint
    lap("score")
    timings["total"] = round(sum(timings.values()), 2)
    return Lab2Results(
        profile=profile, tokenizer=tokenizer, base_model=base, data=data, runs=runs, predictions=predictions,
        rouge=rouge, differences=differences, rouge_single_reference=rouge_single, lora_vs_full=lora_vs_full, constant_baseline=constant,
        distinct_share=distinct, skill=skill, forgetting=forgetting, padding=padding, timings=timings,
        base_unchanged=base_unchanged,
    )


# Achieved bf16 training rate assumed for GPU time estimates: an A100 at about 30% of its 312 TFLOP/s peak.
ASSUMED_GPU_FLOPS_PER_S = 100e12


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
        })
    return pd.DataFrame(rows)
