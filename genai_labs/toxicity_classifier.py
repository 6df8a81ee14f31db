"""A tiny hate-speech classifier shaped like ``facebook/roberta-hate-speech-dynabench-r4-target`` (world build, Lab 3).

Lab 3's judge in the ``tiny`` profile (toxicity before and after PPO, independent of the reward model PPO
optimises): a ``RobertaForSequenceClassification`` (roberta-base's architecture scaled down) with
``id2label = {0: "nothate", 1: "hate"}``, trained in seconds on the world's toxicity set. It comes with its own small
byte-level BPE tokenizer in RoBERTa's conventions (``<s>`` = 0, ``<pad>`` = 1, ``</s>`` = 2, ``<unk>`` = 3,
``<mask>``), so it reads any text the policy writes. The world build trains and saves it. Lab 3's preference reward
model (``lab3.reward_model``) reuses the tokenizer builder and the shape (:func:`tiny_roberta_config`) with a
one-output head.

Label ids are always looked up by name (``config.label2id`` when training, the model's ``id2label`` when
scoring), never by position, exactly as the course's reward code must do with the real model.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer
from transformers import PreTrainedTokenizerBase, RobertaConfig, RobertaForSequenceClassification, TokenizersBackend

from genai_labs.core.torch_runtime import quiet_transformers, torch_threads
from genai_labs.metrics import classifier_logits
from genai_labs.training_loop import LoopSettings, train_steps

ROBERTA_SPECIALS: tuple[str, ...] = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # ids 0..4


def _default_label2id() -> dict[str, int]:
    return {"nothate": 0, "hate": 1}


@dataclass(frozen=True)
class RewardTrainConfig:
    """Shape and training recipe of the tiny toxicity classifier (Lab 3 reward model, world build)."""

    label2id: Mapping[str, int] = field(default_factory=_default_label2id)
    vocab_size: int = 1000
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 256
    dropout: float = 0.1
    max_length: int = 128
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    num_threads: int = 1


@dataclass(frozen=True)
class RewardTrainHistory:
    """Mean training loss per epoch and wall time."""

    epoch_losses: tuple[float, ...]
    seconds: float


def train_reward_tokenizer(texts: Sequence[str], config: RewardTrainConfig = RewardTrainConfig()) -> TokenizersBackend:
    """A byte-level BPE tokenizer in RoBERTa's conventions, trained on ``texts`` (deterministic)."""
    tok = Tokenizer(BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=config.vocab_size,
        special_tokens=list(ROBERTA_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    return TokenizersBackend(
        tokenizer_object=tok,
        bos_token="<s>",
        cls_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        sep_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
        clean_up_tokenization_spaces=False,
        model_max_length=config.max_length,
    )


def tiny_roberta_config(tokenizer: PreTrainedTokenizerBase, config: RewardTrainConfig, **head: Any) -> RobertaConfig:
    """The tiny RoBERTa's shape for ``tokenizer`` with the classification head's settings ``head`` (``id2label``... or
    ``num_labels=1``): the toxicity classifier (world build) and Lab 3's preference reward model share it."""
    return RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        max_position_embeddings=config.max_length + 2,  # RoBERTa positions start after the padding index
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **head,
    )


def build_toxicity_classifier(
    tokenizer: PreTrainedTokenizerBase, config: RewardTrainConfig = RewardTrainConfig(), *, seed: int = 0
) -> RobertaForSequenceClassification:
    """A freshly initialised tiny RoBERTa classifier with ``config.label2id`` (and the matching id2label)."""
    label2id = dict(config.label2id)
    roberta = tiny_roberta_config(
        tokenizer,
        config,
        id2label={i: name for name, i in label2id.items()},
        label2id=label2id,
        problem_type="single_label_classification",
    )
    torch.manual_seed(seed)
    with quiet_transformers():
        return RobertaForSequenceClassification(roberta)


def train_toxicity_classifier(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    *,
    config: RewardTrainConfig = RewardTrainConfig(),
    seed: int = 0,
    progress: bool = True,
) -> tuple[RobertaForSequenceClassification, TokenizersBackend, RewardTrainHistory]:
    """Train tokenizer and classifier on (text, label name) pairs; returns (model, tokenizer, history).

    Label names are mapped to ids through ``config.label2id``. Used by the world build and by Lab 3.
    """
    start = time.perf_counter()
    unknown = sorted(set(train_labels) - set(config.label2id))
    if unknown:
        raise ValueError(f"labels {unknown} are not in config.label2id {dict(config.label2id)}")
    with torch_threads(config.num_threads):
        tokenizer = train_reward_tokenizer(train_texts, config)
        model = build_toxicity_classifier(tokenizer, config, seed=seed)
        targets = torch.tensor([config.label2id[name] for name in train_labels], dtype=torch.long)
        batches = shuffled_batches(len(train_texts), config.batch_size, config.epochs, seed)
        steps = len(batches)
        loop = LoopSettings(
            steps=steps,
            learning_rate=config.learning_rate,
            warmup_steps=max(1, int(steps * config.warmup_fraction)),
            weight_decay=config.weight_decay,
        )

        def step_loss(step: int) -> torch.Tensor:
            idx = batches[step]
            texts = [train_texts[i] for i in idx]
            enc = tokenizer(texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt")
            return model(**enc, labels=targets[idx]).loss

        losses = train_steps(model, step_loss, loop, description="training toxicity classifier", progress=progress)
    per_epoch = max(1, -(-len(train_texts) // config.batch_size))
    epoch_losses = tuple(sum(losses[i : i + per_epoch]) / per_epoch for i in range(0, steps, per_epoch))
    return model, tokenizer, RewardTrainHistory(epoch_losses, time.perf_counter() - start)


def shuffled_batches(n: int, batch_size: int, epochs: int, seed: int) -> list[list[int]]:
    """Row indices of every step: each epoch visits the ``n`` rows once in a seeded random order, in batches."""
    rng = random.Random(seed)
    batches: list[list[int]] = []
    for _ in range(epochs):
        order = list(range(n))
        rng.shuffle(order)
        batches += [order[begin : begin + batch_size] for begin in range(0, n, batch_size)]
    return batches


def classifier_accuracy(
    model: RobertaForSequenceClassification, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], labels: Sequence[str]
) -> float:
    """Share of texts whose argmax label name (via the model's ``id2label``) equals the given label name."""
    predictions = classifier_logits(model, tokenizer, texts).argmax(dim=-1).tolist()
    names = [model.config.id2label[int(p)] for p in predictions]
    return sum(n == y for n, y in zip(names, labels)) / max(1, len(labels))
