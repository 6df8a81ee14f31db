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

The checkpoints themselves are :mod:`genai_labs.checkpoints`; :mod:`genai_labs.finetune_study` runs the whole
lab (and caches the trained runs).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import random
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import datasets
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

from genai_labs.atomic_io import build_folder_atomic
from genai_labs.checkpoints import AtomicCheckpointTrainer, InterruptAtStep, TrainingProgress, folder_bytes, last_complete_checkpoint
from genai_labs.config import FineTuneConfig, LoraSettings
from genai_labs.generation import model_device
from genai_labs.memory import optimizer_state_bytes, peak_rss_bytes
from genai_labs.models import count_parameters, quiet_transformers, set_dropout, t5_forward_flops
from genai_labs.prompts import topic_prompt, training_prompt

LABEL_PAD_ID = -100
TOKEN_COLUMNS = ("input_ids", "attention_mask", "labels")
FINAL_DIR = "final"


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
        callbacks.append(TrainingProgress(f"Lab 2 {method}"))
    if interrupt_after is not None:
        callbacks.append(InterruptAtStep(interrupt_after))
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
