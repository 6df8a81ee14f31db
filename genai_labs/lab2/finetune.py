"""Lab 2's Hugging Face objects, filled from the profile: ``TrainingArguments``, ``LoraConfig``, the models to train.

The notebook builds a run from these in its own cells (full fine-tuning and LoRA), in this order:

1. the model to train: :func:`full_fine_tuning_copy` (a copy of the base, every weight trainable), or for LoRA
   ``get_peft_model(lora_base_copy(...), lora_config(...))`` (:func:`add_lora` in one call);
2. :func:`training_arguments`, the ``transformers.TrainingArguments`` of the run;
3. a ``Trainer`` (``checkpoints.AtomicCheckpointTrainer``), keyed by ``runs.cached_run`` (its own arguments) and
   trained by ``runs.CachedRun.train``.

:func:`build_trainer` does all three in one call (replay, Lab 3 starting on its own, tests, benchmarks).
:func:`training_flops` counts what a run costs (the lab's GPU time estimate).
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import datasets
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback, TrainingArguments

from genai_labs.core.profiles import FineTuneConfig, LoraSettings
from genai_labs.core.torch_runtime import quiet_transformers, seeded, set_dropout
from genai_labs.generation import model_device
from genai_labs.lab2.checkpoints import AtomicCheckpointTrainer
from genai_labs.lab2.training_data import make_collator, tokenize_for_training
from genai_labs.models import t5_forward_flops

RUN_KINDS = ("full", "lora", "replay")  # replay: full fine-tuning on the mixed set

# peft 0.21's get_peft_model reads a transformers property that transformers 5 deprecates; the notebook calls
# get_peft_model itself, so the warning would reach the learner (nothing to act on until peft updates)
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


def training_arguments(
    settings: FineTuneConfig | LoraSettings, *, output_dir: str | os.PathLike[str], seed: int, device: torch.device | str
) -> TrainingArguments:
    """The ``TrainingArguments`` of a Lab 2 run (full fine-tuning or LoRA), filled from the profile's settings.

    The notebook spells out the same call (the settings that shape the training, with what each does), so an unedited
    notebook trains the run :func:`genai_labs.lab2.runs.train_run` trains; an edited one trains its own.
    """
    return TrainingArguments(
        output_dir=str(output_dir),  # the runs' folder: each run trains in its own subfolder (runs.cached_run)
        learning_rate=settings.learning_rate,  # the peak learning rate: small for full fine-tuning, larger for LoRA
        max_steps=settings.max_steps,  # optimizer steps (-1: run num_train_epochs instead)
        num_train_epochs=settings.num_train_epochs,
        per_device_train_batch_size=settings.per_device_train_batch_size,  # examples per optimizer step
        warmup_steps=settings.warmup_steps,  # the learning rate rises linearly over these first steps...
        lr_scheduler_type=settings.lr_scheduler_type,  # ... then falls ("linear": to 0 at the last step)
        weight_decay=settings.weight_decay,  # AdamW's decoupled weight decay
        seed=seed,  # dropout and any other randomness of the run
        data_seed=seed,  # the order of the training examples
        **checkpoint_and_logging_arguments(settings, device=device),
    )


def checkpoint_and_logging_arguments(settings: FineTuneConfig | LoraSettings, *, device: torch.device | str) -> dict[str, Any]:
    """The ``TrainingArguments`` that keep a Lab 2 run quiet and resumable: the loss logged every ``logging_steps``, a
    checkpoint every ``save_steps`` (an interrupted run resumes from it), no evaluation, no tracking service, no
    printed logs or progress bars of the Trainer's own (the trainer draws one bar), the model kept on ``device``."""
    save_steps = settings.save_steps if settings.save_steps > 0 else None
    return {
        "logging_strategy": "steps",
        "logging_steps": settings.logging_steps,
        "save_strategy": "steps" if save_steps else "no",
        "save_steps": save_steps or 500,
        "save_total_limit": settings.save_total_limit or None,
        "eval_strategy": "no",
        "per_device_eval_batch_size": settings.per_device_train_batch_size,
        "train_sampling_strategy": settings.train_sampling_strategy,  # "random": a seeded shuffle per epoch
        "use_cpu": torch.device(device).type == "cpu",  # otherwise the Trainer moves the model to a visible GPU
        "report_to": "none",
        "disable_tqdm": True,
        "log_level": "error",
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": False,
    }


def lora_config(settings: LoraSettings) -> LoraConfig:
    """The peft ``LoraConfig`` of the profile's LoRA settings, task type SEQ_2_SEQ_LM (Lab 2; Lab 3 trains it on)."""
    return LoraConfig(
        r=settings.r,  # rank of the update B @ A beside each adapted weight: the adapter's size
        lora_alpha=settings.alpha,  # the update is scaled by lora_alpha / r
        target_modules=list(settings.target_modules),  # which linear layers get an adapter (course: q and v)
        modules_to_save=list(settings.modules_to_save) or None,  # small modules trained in full (tiny: layer norms)
        lora_dropout=settings.dropout,  # dropout on the adapter's input while training
        bias=settings.bias,  # "none": biases stay frozen
        task_type=TaskType.SEQ_2_SEQ_LM,  # an encoder-decoder that generates text
    )


def full_fine_tuning_copy(base_model: PreTrainedModel, settings: FineTuneConfig) -> PreTrainedModel:
    """A deep copy of ``base_model`` to fine-tune in full (Lab 2): every weight trainable, in training mode, dropout at
    ``settings.dropout_rate`` (when set); the base is never modified."""
    model = copy.deepcopy(base_model)
    if settings.dropout_rate is not None:
        set_dropout(model, settings.dropout_rate, attention=True)
    model.train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


def lora_base_copy(base_model: PreTrainedModel, settings: LoraSettings) -> PreTrainedModel:
    """A deep copy of ``base_model`` for ``get_peft_model`` to wrap and freeze (Lab 2), its dropout at
    ``settings.model_dropout_rate`` (when set); the base is never modified."""
    model = copy.deepcopy(base_model)
    if settings.model_dropout_rate is not None:
        set_dropout(model, settings.model_dropout_rate, attention=True)
    return model


def add_lora(base_model: PreTrainedModel, settings: LoraSettings, *, seed: int = 0) -> PeftModel:
    """A peft LoRA model around a copy of ``base_model`` (Lab 2, Lab 3, benchmarks); only the adapter is trainable.

    The adapter's A matrices are drawn from torch's RNG seeded with ``seed`` (B starts at zero, so the new model
    computes exactly what the base does).
    """
    with seeded(seed), quiet_transformers():
        return get_peft_model(lora_base_copy(base_model, settings), lora_config(settings))


def load_lora(base_model: PreTrainedModel, adapter_dir: str | os.PathLike[str]) -> PeftModel:
    """Reload a saved LoRA adapter on a deep copy of ``base_model``, eval mode (Labs 2-3)."""
    with quiet_transformers():
        model = PeftModel.from_pretrained(copy.deepcopy(base_model), str(adapter_dir), is_trainable=False)
    return model.eval()


def merge_lora(peft_model: PeftModel) -> PreTrainedModel:
    """A plain model with the adapter merged into a copy of the weights (Lab 2 inference)."""
    return copy.deepcopy(peft_model).merge_and_unload().eval()


def build_trainer(
    kind: str,
    base_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset: datasets.Dataset,
    settings: FineTuneConfig | LoraSettings,
    *,
    output_dir: str | os.PathLike[str],
    seed: int,
    max_source_length: int,
    max_target_length: int,
    progress_bar: str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> AtomicCheckpointTrainer:
    """The trainer of one Lab 2 run, built as the notebook builds full fine-tuning and LoRA step by step.

    ``kind`` is ``full``, ``replay`` (both: :func:`full_fine_tuning_copy`) or ``lora`` (:func:`add_lora`);
    ``train_dataset`` raw (``dialogue``/``summary`` or ``prompt``/``target``) or already tokenized.
    """
    if kind not in RUN_KINDS:
        raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}.")
    tokenized = tokenize_for_training(
        train_dataset, tokenizer, max_source_length=max_source_length, max_target_length=max_target_length
    )
    if kind == "lora":
        assert isinstance(settings, LoraSettings)
        model: Any = add_lora(base_model, settings, seed=seed)
    else:
        assert isinstance(settings, FineTuneConfig)
        model = full_fine_tuning_copy(base_model, settings)
    return AtomicCheckpointTrainer(
        model=model,
        args=training_arguments(settings, output_dir=output_dir, seed=seed, device=model_device(base_model)),
        train_dataset=tokenized,
        data_collator=make_collator(tokenizer, model),
        processing_class=tokenizer,
        callbacks=list(callbacks),
        progress_bar=progress_bar,
    )


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
