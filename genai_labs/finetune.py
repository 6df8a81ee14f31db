"""Lab 2: full fine-tuning vs LoRA (PEFT) of a FLAN-T5-architecture model for dialogue summarization.

The pieces the notebook shows step by step, in order:

1. :func:`tokenize_for_training` turns (prompt, summary) pairs into ``input_ids`` / ``attention_mask`` /
   ``labels`` without padding; :func:`make_collator` pads each batch dynamically (labels with ``-100`` so
   padding never counts in the loss) and :func:`padding_cost` compares that with the course's pad-to-512.
2. :func:`train_full` trains a deep copy of the base model with the transformers ``Trainer``;
   :func:`train_lora` wraps a deep copy in a peft LoRA adapter, trains it, saves the adapter, reloads it and
   merges a copy for inference. Both write checkpoints atomically into a per-run folder and resume an
   interrupted run from its last complete checkpoint (:func:`last_complete_checkpoint`).
3. :func:`mix_replay` mixes a small share of the pre-trained skill's examples (the topic task) into the
   summarization set, the classic mitigation of catastrophic forgetting; the forgetting itself is measured
   in :mod:`genai_labs.forgetting`.

:func:`run_lab2` chains everything (and caches the trained runs, :func:`cached_training`); Lab 3 starts
from :func:`lora_adapter_path`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import math
import os
import random
import shutil
import stat
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import datasets
import pandas as pd
import torch
from transformers import (
    DataCollatorForSeq2Seq,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from genai_labs.atomic_io import build_folder_atomic, file_lock, make_readable, write_json_atomic
from genai_labs.config import FineTuneConfig, LoraSettings
from genai_labs.generation import model_device
from genai_labs.memory import optimizer_state_bytes, peak_rss_bytes
from genai_labs.models import count_parameters, quiet_transformers, set_dropout, t5_forward_flops
from genai_labs.prompts import topic_prompt, training_prompt

LABEL_PAD_ID = -100
TOKEN_COLUMNS = ("input_ids", "attention_mask", "labels")
# Files whose presence makes a Trainer checkpoint resumable (the trainer state is written last).
CHECKPOINT_STATE_FILE = "trainer_state.json"
FINAL_DIR = "final"
RUN_INFO_FILE = "run_info.json"


# --------------------------------------------------------------------------------------------------
# Quiet Hugging Face libraries (Lab 2 keeps stderr clean)
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Preprocessing (Lab 2, step 1)
# --------------------------------------------------------------------------------------------------


def text_pairs(dataset: datasets.Dataset, *, prompt_fn: Callable[[str], str] = training_prompt) -> tuple[list[str], list[str]]:
    """(prompts, targets) of a dataset (Lab 2).

    A dataset with ``prompt`` and ``target`` columns (such as :func:`mix_replay`'s) is used as is; otherwise
    the prompt is ``prompt_fn(dialogue)`` and the target is ``summary``.
    """
    if "prompt" in dataset.column_names and "target" in dataset.column_names:
        return list(dataset["prompt"]), list(dataset["target"])
    return [prompt_fn(d) for d in dataset["dialogue"]], list(dataset["summary"])


def tokenize_for_training(
    dataset: datasets.Dataset,
    tokenizer: PreTrainedTokenizerBase,
    *,
    prompt_fn: Callable[[str], str] = training_prompt,
    max_source_length: int = 512,
    max_target_length: int = 128,
) -> datasets.Dataset:
    """Tokenize (prompt, summary) pairs for seq2seq training, without padding (Lab 2).

    Returns a dataset with only ``input_ids``, ``attention_mask`` and ``labels`` (lists of ints, truncated to
    the given lengths, each ending in ``</s>``). Padding is left to :func:`make_collator`, which pads per batch.
    """
    prompts, targets = text_pairs(dataset, prompt_fn=prompt_fn)
    sources = tokenizer(prompts, max_length=max_source_length, truncation=True, padding=False)
    # text_target= tokenizes in target mode (same as source mode for T5, different for some tokenizers)
    labels = tokenizer(text_target=targets, max_length=max_target_length, truncation=True, padding=False)
    return datasets.Dataset.from_dict(
        {"input_ids": sources["input_ids"], "attention_mask": sources["attention_mask"], "labels": labels["input_ids"]}
    )


def make_collator(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel | None = None) -> DataCollatorForSeq2Seq:
    """Dynamic padding per batch: inputs with the pad id, labels with -100 (ignored by the loss) (Lab 2).

    With ``model`` the collator also builds ``decoder_input_ids`` (labels shifted right, pad id instead of -100).
    """
    return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=LABEL_PAD_ID, padding="longest")


def padding_cost(tokenized: datasets.Dataset, pad_to: int = 512, *, batch_size: int = 8, label_pad_to: int | None = None) -> dict[str, float]:
    """Tokens processed with the course's fixed padding vs dynamic per-batch padding vs really needed (Lab 2).

    The course tokenizes with ``padding="max_length"``, so every prompt and every label is padded to 512
    (``label_pad_to`` defaults to ``pad_to``). Dynamic padding pads each batch (consecutive rows of
    ``batch_size``, in dataset order) to its longest prompt and its longest label. Counts are source plus
    target tokens; ``*_waste`` is the share of processed tokens that are padding.
    """
    label_pad_to = pad_to if label_pad_to is None else label_pad_to
    src = [len(ids) for ids in tokenized["input_ids"]]
    tgt = [len(ids) for ids in tokenized["labels"]]
    needed = sum(src) + sum(tgt)
    fixed = len(src) * (max(pad_to, max(src, default=0)) + max(label_pad_to, max(tgt, default=0)))
    dynamic = 0
    for start in range(0, len(src), batch_size):
        batch_src, batch_tgt = src[start : start + batch_size], tgt[start : start + batch_size]
        dynamic += len(batch_src) * (max(batch_src) + max(batch_tgt))
    return {
        "examples": len(src),
        "batch_size": batch_size,
        "needed_tokens": needed,
        "dynamic_tokens": dynamic,
        "fixed_tokens": fixed,
        "dynamic_waste": 1 - needed / dynamic if dynamic else 0.0,
        "fixed_waste": 1 - needed / fixed if fixed else 0.0,
        "fixed_over_dynamic": fixed / dynamic if dynamic else float("nan"),
    }


# --------------------------------------------------------------------------------------------------
# Replay mitigation (Lab 2, forgetting)
# --------------------------------------------------------------------------------------------------


def skill_examples(dataset: datasets.Dataset, *, prompt_fn: Callable[[str], str] = topic_prompt) -> datasets.Dataset:
    """The pre-trained skill as training pairs: ``topic_prompt(dialogue) -> topic`` (Lab 2 replay).

    Columns ``prompt``, ``target``, ``task`` (= "topic"); rows without a topic are dropped.
    """
    rows = [(prompt_fn(d), t) for d, t in zip(dataset["dialogue"], dataset["topic"]) if t]
    return datasets.Dataset.from_dict(
        {"prompt": [p for p, _ in rows], "target": [t for _, t in rows], "task": ["topic"] * len(rows)}
    )


def mix_replay(
    summarization_dataset: datasets.Dataset,
    skill_dataset: datasets.Dataset,
    fraction: float,
    seed: int,
    *,
    prompt_fn: Callable[[str], str] = training_prompt,
) -> datasets.Dataset:
    """Summarization pairs plus a ``fraction`` share of skill pairs, shuffled (Lab 2 replay mitigation).

    ``fraction`` is the skill examples' share of the *mixed* set: with 2,000 summaries and 0.1, 222 topic
    examples are drawn (seeded, without replacement, cycling if the skill set is smaller) from
    ``skill_dataset`` (``prompt``/``target`` columns, e.g. :func:`skill_examples` of the *train* dialogues).
    Returns columns ``prompt``, ``target``, ``task`` ("summary" or "topic").
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"mix_replay: fraction must be in [0, 1), got {fraction}.")
    prompts, targets = text_pairs(summarization_dataset, prompt_fn=prompt_fn)
    n_skill = round(fraction * len(prompts) / (1 - fraction))
    rng = random.Random(seed)
    pool = list(range(len(skill_dataset)))
    if n_skill and not pool:
        raise ValueError("mix_replay: the skill dataset is empty.")
    picks: list[int] = []
    while len(picks) < n_skill:
        rng.shuffle(pool)
        picks.extend(pool[: n_skill - len(picks)])
    skill_prompts = [skill_dataset[i]["prompt"] for i in picks]
    skill_targets = [skill_dataset[i]["target"] for i in picks]
    rows = [(p, t, "summary") for p, t in zip(prompts, targets)] + [(p, t, "topic") for p, t in zip(skill_prompts, skill_targets)]
    rng.shuffle(rows)
    return datasets.Dataset.from_dict(
        {"prompt": [r[0] for r in rows], "target": [r[1] for r in rows], "task": [r[2] for r in rows]}
    )


# --------------------------------------------------------------------------------------------------
# Checkpoints: atomic writes, resume from the last complete one (Lab 2)
# --------------------------------------------------------------------------------------------------


def last_complete_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The highest-step ``checkpoint-N`` folder of a run that holds a trainer state, else None (Lab 2).

    Checkpoints are renamed into place only once fully written (see :class:`AtomicCheckpointTrainer`), and
    half-written staging folders are ignored, so whatever this returns can be resumed from.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for path in run_dir.iterdir():
        prefix = f"{PREFIX_CHECKPOINT_DIR}-"
        if path.is_dir() and path.name.startswith(prefix) and path.name[len(prefix) :].isdigit():
            if (path / CHECKPOINT_STATE_FILE).is_file():
                found.append((int(path.name[len(prefix) :]), path))
    return max(found)[1] if found else None


class AtomicCheckpointTrainer(Trainer):
    """A ``Trainer`` whose checkpoints appear atomically (Lab 2).

    Each checkpoint is written into ``<run>/.staging`` and renamed to ``<run>/checkpoint-N`` when complete,
    so an interruption never leaves a half-written checkpoint where :func:`last_complete_checkpoint` looks.
    """

    _staging_dir: str | None = None

    def _get_output_dir(self, trial: Any) -> str:  # noqa: D401 - transformers hook
        return self._staging_dir if self._staging_dir is not None else super()._get_output_dir(trial)

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        """Save as the Trainer does, but a peft adapter with ``save_embedding_layers=False`` (as the final adapter).

        peft's default ("auto") copies the frozen lm_head and embeddings into every checkpoint when the adapter sits
        on lm_head (tiny profile), and otherwise asks the Hugging Face Hub whether the base model's config exists (a
        network request per checkpoint for a hub model such as the course's, which stalls offline). Resuming never
        needs the frozen weights: the run restarts from the same base model.
        """
        from peft import PeftModel

        model = self.model
        if isinstance(model, PeftModel):
            model.save_pretrained = functools.partial(type(model).save_pretrained, model, save_embedding_layers=False)
        try:
            super()._save(output_dir, state_dict)
        finally:
            model.__dict__.pop("save_pretrained", None)

    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        run_dir = Path(super()._get_output_dir(trial))
        staging = run_dir / ".staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self._staging_dir = str(staging)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_dir = None
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        target = run_dir / name
        make_readable(staging / name)  # what HF wrote follows the umask; published checkpoints are 0755/0644
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / name, target)
        shutil.rmtree(staging, ignore_errors=True)
        if self.args.save_total_limit:
            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self.args.save_total_limit, use_mtime=False)


class _InterruptAt(TrainerCallback):
    """Raise KeyboardInterrupt after optimizer step ``step`` (tests and the notebook's resume demo)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.step:
            raise KeyboardInterrupt(f"simulated interruption after step {state.global_step}")


class _ProgressCallback(TrainerCallback):
    """One tqdm bar per training run (instead of the Trainer's own bars and log prints)."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.description, leave=False)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def folder_bytes(path: str | os.PathLike[str]) -> int:
    """Total size of the files under ``path`` (Lab 2: adapter vs full checkpoint on disk)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------------
# Training (Lab 2, step 2)
# --------------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """One training run of Lab 2 (full, LoRA or replay) with its cost figures.

    ``model`` is the trained model in eval mode (for LoRA the adapter *reloaded from disk* on a copy of the
    base, so ``with model.disable_adapter():`` gives the base back); ``merged_model`` is LoRA merged into a
    copy for plain inference. ``peak_memory_bytes`` is ``torch.cuda.max_memory_allocated`` on a GPU; on CPU
    it is the growth of the process's peak resident set (``VmHWM``, :func:`genai_labs.memory.peak_rss_bytes`) during training, a
    lower bound: it reads 0 when an earlier phase of the process already peaked higher (``memory_note``
    says which). ``optimizer_state_bytes`` counts the AdamW moment tensors. ``train_seconds`` covers only
    the part run by this call (a resumed run's earlier part is in ``history``).
    """

    method: str
    model: torch.nn.Module
    history: list[dict[str, Any]]
    train_seconds: float
    optimizer_steps: int
    trainable_params: int
    total_params: int
    peak_memory_bytes: int
    memory_note: str
    optimizer_state_bytes: int
    run_dir: Path
    resumed_from: str | None = None
    merged_model: torch.nn.Module | None = None
    adapter_dir: Path | None = None
    adapter_bytes: int | None = None
    full_checkpoint_bytes: int | None = None
    train_examples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def trainable_fraction(self) -> float:
        """Trainable share of all parameters."""
        return self.trainable_params / self.total_params if self.total_params else float("nan")

    def summary(self) -> dict[str, Any]:
        """A JSON-able row for tables and caches (no model)."""
        row = {
            "method": self.method,
            "train_examples": self.train_examples,
            "optimizer_steps": self.optimizer_steps,
            "train_seconds": round(self.train_seconds, 2),
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "trainable_%": round(100 * self.trainable_fraction, 3),
            "optimizer_state_bytes": self.optimizer_state_bytes,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_note": self.memory_note,
            "resumed_from": self.resumed_from,
            "adapter_bytes": self.adapter_bytes,
            "full_checkpoint_bytes": self.full_checkpoint_bytes,
        }
        row.update(self.extra)
        return row


def _ensure_tokenized(
    dataset: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, *, max_source_length: int, max_target_length: int
) -> datasets.Dataset:
    if "input_ids" in dataset.column_names and "labels" in dataset.column_names:
        return dataset.select_columns([c for c in TOKEN_COLUMNS if c in dataset.column_names])
    return tokenize_for_training(dataset, tokenizer, max_source_length=max_source_length, max_target_length=max_target_length)


@dataclass(frozen=True)
class _Hyper:
    learning_rate: float
    num_train_epochs: float
    max_steps: int
    per_device_train_batch_size: int
    weight_decay: float
    warmup_steps: int
    lr_scheduler_type: str
    logging_steps: int
    save_steps: int
    save_total_limit: int
    train_sampling_strategy: str


def _hyper(settings: FineTuneConfig | LoraSettings) -> _Hyper:
    """The Trainer settings both run kinds share (the two dataclasses name them alike)."""
    return _Hyper(**{f.name: getattr(settings, f.name) for f in fields(_Hyper)})


def _training_arguments(hyper: _Hyper, *, output_dir: Path, seed: int, use_cpu: bool, evaluate: bool) -> TrainingArguments:
    save_steps = hyper.save_steps if hyper.save_steps > 0 else None
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=hyper.learning_rate,
        num_train_epochs=hyper.num_train_epochs,
        max_steps=hyper.max_steps,
        per_device_train_batch_size=hyper.per_device_train_batch_size,
        per_device_eval_batch_size=hyper.per_device_train_batch_size,
        weight_decay=hyper.weight_decay,
        warmup_steps=hyper.warmup_steps,
        lr_scheduler_type=hyper.lr_scheduler_type,
        train_sampling_strategy=hyper.train_sampling_strategy,
        logging_strategy="steps",
        logging_steps=hyper.logging_steps,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=hyper.save_total_limit or None,
        eval_strategy="steps" if evaluate and save_steps else ("epoch" if evaluate else "no"),
        eval_steps=save_steps,
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        report_to="none",
        disable_tqdm=True,
        log_level="error",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )


def _run_trainer(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset: datasets.Dataset,
    hyper: _Hyper,
    *,
    method: str,
    output_dir: Path,
    seed: int,
    eval_dataset: datasets.Dataset | None,
    progress: bool,
    interrupt_after: int | None,
) -> tuple[Trainer, dict[str, Any]]:
    """Train ``model`` in place with an :class:`AtomicCheckpointTrainer`; resume from the run's last checkpoint."""
    output_dir.mkdir(parents=True, exist_ok=True)
    device = model_device(model)
    args = _training_arguments(hyper, output_dir=output_dir, seed=seed, use_cpu=device.type == "cpu", evaluate=eval_dataset is not None)
    callbacks: list[TrainerCallback] = []
    if progress:
        callbacks.append(_ProgressCallback(f"Lab 2 {method}"))
    if interrupt_after is not None:
        callbacks.append(_InterruptAt(interrupt_after))
    resume = last_complete_checkpoint(output_dir)
    with quiet_transformers():
        trainer = AtomicCheckpointTrainer(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            data_collator=make_collator(tokenizer, model),
            processing_class=tokenizer,
            callbacks=callbacks,
        )
        trainer.remove_callback(PrinterCallback)  # with disable_tqdm the Trainer prints every log dict
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        rss_before = peak_rss_bytes()
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        seconds = time.perf_counter() - started
    if device.type == "cuda":
        peak, note = int(torch.cuda.max_memory_allocated(device)), "torch.cuda.max_memory_allocated"
    else:
        peak = max(0, peak_rss_bytes() - rss_before)
        note = "CPU: growth of peak RSS (VmHWM) during training; 0 = below an earlier peak"
    info = {
        "seconds": seconds,
        "resumed_from": str(resume) if resume else None,
        "peak_memory_bytes": peak,
        "memory_note": note,
        "optimizer_state_bytes": optimizer_state_bytes(trainer.optimizer),
    }
    return trainer, info


def _history(trainer: Trainer, method: str) -> list[dict[str, Any]]:
    return [{"method": method, **entry} for entry in trainer.state.log_history]


def train_full(
    base_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset: datasets.Dataset,
    config: FineTuneConfig,
    *,
    output_dir: str | os.PathLike[str],
    seed: int,
    eval_dataset: datasets.Dataset | None = None,
    method: str = "full",
    progress: bool = False,
    interrupt_after: int | None = None,
) -> TrainResult:
    """Full fine-tuning of a deep copy of ``base_model`` with the transformers Trainer (Lab 2).

    ``train_dataset`` is raw (``dialogue``/``summary`` or ``prompt``/``target``) or already tokenized by
    :func:`tokenize_for_training`. Checkpoints go to ``output_dir/checkpoint-N`` every ``config.save_steps``
    steps (atomically); a run interrupted earlier resumes from its last complete checkpoint. The trained
    model is saved to ``output_dir/final`` and returned in eval mode; ``base_model`` is never modified.
    ``interrupt_after`` simulates a crash after that step (tests, resume demo).
    """
    output_dir = Path(output_dir)
    train_tok = _ensure_tokenized(
        train_dataset, tokenizer, max_source_length=config.max_source_length, max_target_length=config.max_target_length
    )
    eval_tok = (
        _ensure_tokenized(eval_dataset, tokenizer, max_source_length=config.max_source_length, max_target_length=config.max_target_length)
        if eval_dataset is not None
        else None
    )
    model = copy.deepcopy(base_model)
    if config.dropout_rate is not None:
        set_dropout(model, config.dropout_rate, attention=True)
    model.train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    trainer, info = _run_trainer(
        model, tokenizer, train_tok, _hyper(config), method=method, output_dir=output_dir, seed=seed,
        eval_dataset=eval_tok, progress=progress, interrupt_after=interrupt_after,
    )
    model.eval()
    with quiet_transformers():
        final = output_dir / FINAL_DIR
        build_folder_atomic(final, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))
    trainable, total = count_parameters(model)
    return TrainResult(
        method=method,
        model=model,
        history=_history(trainer, method),
        train_seconds=info["seconds"],
        optimizer_steps=int(trainer.state.global_step),
        trainable_params=trainable,
        total_params=total,
        peak_memory_bytes=info["peak_memory_bytes"],
        memory_note=info["memory_note"],
        optimizer_state_bytes=info["optimizer_state_bytes"],
        run_dir=output_dir,
        resumed_from=info["resumed_from"],
        full_checkpoint_bytes=folder_bytes(final / "model.safetensors") if (final / "model.safetensors").exists() else folder_bytes(final),
        train_examples=len(train_tok),
    )


def lora_config(settings: LoraSettings) -> Any:
    """The peft ``LoraConfig`` of the settings, task type SEQ_2_SEQ_LM (Lab 2)."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        target_modules=list(settings.target_modules),
        modules_to_save=list(settings.modules_to_save) or None,
        lora_dropout=settings.dropout,
        bias=settings.bias,
        task_type=TaskType.SEQ_2_SEQ_LM,
    )


def add_lora(base_model: PreTrainedModel, settings: LoraSettings, *, seed: int = 0) -> Any:
    """A peft LoRA model around a deep copy of ``base_model`` (Lab 2); only the adapter is trainable.

    The adapter's A matrices are drawn from torch's RNG seeded with ``seed`` (B starts at zero, so the
    new model computes exactly what the base does). ``settings.model_dropout_rate`` (when set) replaces the
    frozen model's dropout in the copy.
    """
    from peft import get_peft_model

    model = copy.deepcopy(base_model)
    if settings.model_dropout_rate is not None:
        set_dropout(model, settings.model_dropout_rate, attention=True)
    with _seeded(seed), quiet_transformers():
        return get_peft_model(model, lora_config(settings))


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Fork torch's global RNG, seed it, and restore it afterwards."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def state_dict_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's tensors, shared ones once (Lab 2: what a full checkpoint stores)."""
    seen: set[int] = set()
    total = 0
    for tensor in model.state_dict().values():
        key = tensor.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        total += tensor.numel() * tensor.element_size()
    return total


def load_lora(base_model: PreTrainedModel, adapter_dir: str | os.PathLike[str]) -> Any:
    """Reload a saved LoRA adapter on a deep copy of ``base_model``, eval mode (Labs 2-3)."""
    from peft import PeftModel

    with quiet_transformers():
        model = PeftModel.from_pretrained(copy.deepcopy(base_model), str(adapter_dir), is_trainable=False)
    return model.eval()


def merge_lora(peft_model: Any) -> PreTrainedModel:
    """A plain model with the adapter merged into a copy of the weights (Lab 2 inference)."""
    return copy.deepcopy(peft_model).merge_and_unload().eval()


def train_lora(
    base_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset: datasets.Dataset,
    settings: LoraSettings,
    *,
    output_dir: str | os.PathLike[str],
    seed: int,
    eval_dataset: datasets.Dataset | None = None,
    max_source_length: int = 512,
    max_target_length: int = 128,
    method: str = "lora",
    progress: bool = False,
    interrupt_after: int | None = None,
) -> TrainResult:
    """LoRA fine-tuning with peft on a deep copy of ``base_model`` (Lab 2).

    Trains the adapter with the Trainer (atomic checkpoints, resume as :func:`train_full`), saves it to
    ``output_dir/final`` (``adapter_config.json`` + ``adapter_model.safetensors``), reloads it with
    ``PeftModel.from_pretrained`` (``result.model``: adapter on; ``disable_adapter()`` gives the base) and
    merges a copy (``result.merged_model``). Reports the adapter's size on disk against the full model's
    tensor bytes (what a full checkpoint stores).
    """
    output_dir = Path(output_dir)
    train_tok = _ensure_tokenized(train_dataset, tokenizer, max_source_length=max_source_length, max_target_length=max_target_length)
    eval_tok = (
        _ensure_tokenized(eval_dataset, tokenizer, max_source_length=max_source_length, max_target_length=max_target_length)
        if eval_dataset is not None
        else None
    )
    peft_model = add_lora(base_model, settings, seed=seed)
    peft_model.train()
    trainable, total = count_parameters(peft_model)
    trainer, info = _run_trainer(
        peft_model, tokenizer, train_tok, _hyper(settings), method=method, output_dir=output_dir, seed=seed,
        eval_dataset=eval_tok, progress=progress, interrupt_after=interrupt_after,
    )
    peft_model.eval()
    with quiet_transformers():
        adapter_dir = output_dir / FINAL_DIR
        build_folder_atomic(adapter_dir, lambda tmp: peft_model.save_pretrained(tmp, save_embedding_layers=False))
    reloaded = load_lora(base_model, adapter_dir)
    return TrainResult(
        method=method,
        model=reloaded,
        history=_history(trainer, method),
        train_seconds=info["seconds"],
        optimizer_steps=int(trainer.state.global_step),
        trainable_params=trainable,
        total_params=total,
        peak_memory_bytes=info["peak_memory_bytes"],
        memory_note=info["memory_note"],
        optimizer_state_bytes=info["optimizer_state_bytes"],
        run_dir=output_dir,
        resumed_from=info["resumed_from"],
        merged_model=merge_lora(reloaded),
        adapter_dir=adapter_dir,
        adapter_bytes=folder_bytes(adapter_dir),
        full_checkpoint_bytes=state_dict_bytes(base_model),
        train_examples=len(train_tok),
    )


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


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (no gradient accumulation)."""
    return math.ceil(n_examples / batch_size)


def planned_steps(settings: FineTuneConfig | LoraSettings, n_examples: int) -> int:
    """Optimizer steps a Lab 2 run will take: ``max_steps`` when set, else the epochs over ``n_examples``."""
    if settings.max_steps > 0:
        return settings.max_steps
    return math.ceil(settings.num_train_epochs * steps_per_epoch(n_examples, settings.per_device_train_batch_size))


def training_flops(model_config: Any, tokenized: datasets.Dataset, settings: FineTuneConfig | LoraSettings) -> float:
    """Model FLOPs of one Lab 2 training run (the GPU time estimate of the course profile).

    Three times the forward FLOPs (forward, and a backward twice as costly) of the average example at its own
    prompt and summary length, times the examples the run will see. Padding is left out, so this is a lower
    bound for full fine-tuning. For LoRA it is an upper bound, because frozen weights need no weight gradients.
    """
    if len(tokenized) == 0:
        raise ValueError("training_flops: tokenized is empty; tokenize the training split first.")
    forward = [
        t5_forward_flops(model_config, 1, len(source), len(target))
        for source, target in zip(tokenized["input_ids"], tokenized["labels"])
    ]
    examples = planned_steps(settings, len(tokenized)) * settings.per_device_train_batch_size
    return 3 * sum(forward) / len(forward) * examples


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
    # one process trains a run at a time (a notebook and `genai-labs run` may ask for the same one): the others wait,
    # then load it, instead of writing into the same checkpoints
    with file_lock(run_dir.parent / f".{run_dir.name}.lock"):
        if force and run_dir.exists():
            shutil.rmtree(run_dir)
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


def remove_checkpoints(run_dir: Path) -> None:
    """Delete a finished run's resume checkpoints (Lab 2's cache): ``final/`` and ``run_info.json`` hold all that a
    later call loads, and each checkpoint also carries the optimizer state (about 3 GB per checkpoint for full
    fine-tuning of flan-t5-base)."""
    for path in run_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        shutil.rmtree(path, ignore_errors=True)


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
