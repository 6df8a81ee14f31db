"""Lab 2, full fine-tuning vs LoRA: what the notebook ``labs/02_fine_tuning.ipynb`` calls.

``training_data`` holds the splits, tokenization without padding, the per-batch collator and the replay mix;
``finetune`` the Hugging Face objects filled from the profile (``TrainingArguments``, ``LoraConfig``, the models to
train); ``checkpoints`` the ``Trainer`` with atomic checkpoints; ``runs`` the cache of finished runs; ``study`` the
scoring of every model (and of in-context learning, the alternative to training); ``forgetting`` the skill the
trainings erode; ``memory`` what training holds in memory; ``figures`` the lab's key figures. Lab 3 starts from this
lab's LoRA adapter (``runs.lora_adapter_path``).
"""

from genai_labs.lab2.checkpoints import AtomicCheckpointTrainer
from genai_labs.lab2.figures import record
from genai_labs.lab2.finetune import (
    checkpoint_and_logging_arguments,
    full_fine_tuning_copy,
    lora_base_copy,
    lora_config,
    training_arguments,
)
from genai_labs.lab2.runs import TrainResult, cached_run, runs_dir, train_run
from genai_labs.lab2.study import Lab2Results, Scoreboard, gpu_time_estimate, in_context_shots, replay_set, run_lab2
from genai_labs.lab2.training_data import lab2_data, make_collator, padding_cost, tokenize_for_training

__all__ = [
    "AtomicCheckpointTrainer",
    "Lab2Results",
    "Scoreboard",
    "TrainResult",
    "cached_run",
    "checkpoint_and_logging_arguments",
    "full_fine_tuning_copy",
    "gpu_time_estimate",
    "in_context_shots",
    "lab2_data",
    "lora_base_copy",
    "lora_config",
    "make_collator",
    "padding_cost",
    "record",
    "replay_set",
    "run_lab2",
    "runs_dir",
    "tokenize_for_training",
    "train_run",
    "training_arguments",
]
