"""The tiny world's FLAN-T5-architecture model and its pre-training (all labs, ``tiny`` profile).

A ``T5ForConditionalGeneration`` shaped like FLAN-T5 (gated-GELU feed-forward, untied ``lm_head``, no
decoder-output scaling) at ~1.4M parameters, pre-trained on the world's **train** dialogues with a phased
mix (``PretrainConfig.task_phases``) of

- span corruption (T5 sentinels): the dialogue with ~15% of its tokens dropped in spans -> the spans;
- the topic task (``topic_prompt(dialogue)`` -> topic): the skill whose forgetting Lab 2 measures;
- optionally copy/extraction questions ("What is the name of #Person2#?", "What is the day?" ... -> slot
  values; weight 0 by default, see ``PretrainConfig``),

and never summarization, so zero-shot summaries (Lab 1, Lab 2's baseline) are weak and Lab 2's fine-tuning
has something real to learn. Deterministic for a seed and a thread count on one machine.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedTokenizerBase, T5Config, T5ForConditionalGeneration

from genai_labs.core.torch_runtime import quiet_transformers, set_dropout
from genai_labs.generation import GenerationSettings, generate_texts
from genai_labs.metrics import rouge_scores, skill_accuracy
from genai_labs.models import initial_lm_head, untie_lm_head
from genai_labs.prompts import topic_prompt, training_prompt
from genai_labs.training_loop import LoopSettings, train_steps
from genai_labs.world.tokenizer import sentinel_ids

Example = tuple[list[int], list[int]]  # (input ids, label ids), both ending in </s>

TASKS: tuple[str, ...] = ("span", "topic", "question")
PERSON_QUESTIONS: dict[str, str] = {
    "person1_name": "What is the name of #Person1#?",
    "person2_name": "What is the name of #Person2#?",
}


@dataclass(frozen=True)
class TinyT5Architecture:
    """Shape of the tiny FLAN-T5 (flan-t5-small scaled down: d_model 512 -> 128, 8 -> 2 layers a side)."""

    d_model: int = 128
    d_kv: int = 32
    d_ff: int = 320
    num_layers: int = 2
    num_decoder_layers: int = 2
    num_heads: int = 4
    dropout_rate: float = 0.1  # saved in the config (what fine-tuning uses); pre-training sets its own
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    embedding_init_std: float = 1.0  # T5 (and HF) initialise the shared embedding at std 1.0


@dataclass(frozen=True)
class PretrainConfig:
    """Pre-training recipe for the tiny FLAN-T5 (world build)."""

    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_steps: int = 30
    final_lr_fraction: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    dropout_rate: float = 0.0  # during pre-training only
    # Task mix per phase (phase end as a share of the steps, weights). The topic task comes first (it
    # teaches the decoder to read the encoder), span corruption dominates the middle, and the topic task
    # is consolidated at the end (the build checks its exact answers). Extraction questions are off by
    # default: on this budget (~300 steps on one CPU core) every share tried (5-40%) pulled topic accuracy
    # below 95% (0.92 at 5-15%, 0.76 at 10-30%, mode collapse at 40%); give "question" a weight to use them.
    task_phases: tuple[tuple[float, tuple[tuple[str, float], ...]], ...] = (
        (0.25, (("span", 0.15), ("topic", 0.85))),
        (0.5, (("span", 0.5), ("topic", 0.5))),
        (1.0, (("span", 0.05), ("topic", 0.95))),
    )
    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0
    max_source_length: int = 320
    num_threads: int = 1  # fixed, so a seed gives bit-identical weights; 1 avoids oversubscription (5x slower)


@dataclass(frozen=True)
class PretrainHistory:
    """Loss per step of the pre-training run."""

    losses: tuple[float, ...] = field(default_factory=tuple)
    seconds: float = 0.0


def tiny_t5_config(tokenizer: PreTrainedTokenizerBase, arch: TinyT5Architecture = TinyT5Architecture()) -> T5Config:
    """A FLAN-T5-style config (gated-gelu, untied head) sized by ``arch`` for ``tokenizer``'s vocabulary."""
    return T5Config(
        vocab_size=len(tokenizer),
        d_model=arch.d_model,
        d_kv=arch.d_kv,
        d_ff=arch.d_ff,
        num_layers=arch.num_layers,
        num_decoder_layers=arch.num_decoder_layers,
        num_heads=arch.num_heads,
        dropout_rate=arch.dropout_rate,
        relative_attention_num_buckets=arch.relative_attention_num_buckets,
        relative_attention_max_distance=arch.relative_attention_max_distance,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,  # T5Config turns this into scale_decoder_outputs=False (T5 v1.1 / FLAN)
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )


def build_tiny_t5(
    tokenizer: PreTrainedTokenizerBase, arch: TinyT5Architecture = TinyT5Architecture(), *, seed: int = 0
) -> T5ForConditionalGeneration:
    """A freshly initialised, untied tiny FLAN-T5 (world build)."""
    torch.manual_seed(seed)
    with quiet_transformers():
        model = T5ForConditionalGeneration(tiny_t5_config(tokenizer, arch))
    untie_lm_head(model, initial_lm_head(model))  # T5 v1.1's own head, not a copy of the embedding
    torch.nn.init.normal_(model.shared.weight, mean=0.0, std=arch.embedding_init_std)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
    )
    return model


# --------------------------------------------------------------------------------------------------
# Pre-training tasks
# --------------------------------------------------------------------------------------------------


def extraction_questions(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(question, answer) pairs about a dialogue's slots whose values appear verbatim in it."""
    pairs = []
    for key, value in sorted(row["slots"].items()):
        if not isinstance(value, str) or value not in row["dialogue"]:
            continue
        question = PERSON_QUESTIONS.get(key, f"What is the {key.replace('_', ' ')}?")
        pairs.append((question, value))
    return pairs


def question_prompt(dialogue: str, question: str) -> str:
    """The FLAN-style prompt of an extraction question (pre-training only)."""
    return f"Dialogue:\n\n{dialogue}\n\nQuestion: {question}"


def _segment(total: int, parts: int, rng: random.Random) -> list[int]:
    """Split ``total`` into ``parts`` positive lengths at random cut points."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def span_corruption(
    ids: Sequence[int], sentinels: Sequence[int], eos_id: int, rng: random.Random, *, noise_density: float, mean_span: float
) -> Example:
    """T5 span corruption of ``ids`` (no eos): inputs keep the text with sentinels, labels list the spans."""
    n = len(ids)
    n_noise = min(max(1, round(n * noise_density)), n - 1)
    n_spans = max(1, min(round(n_noise / mean_span), len(sentinels), n - n_noise))
    noise_lengths = _segment(n_noise, n_spans, rng)
    keep_lengths = _segment(n - n_noise, n_spans, rng)
    source: list[int] = []
    target: list[int] = []
    pos = 0
    for i, (keep, noise) in enumerate(zip(keep_lengths, noise_lengths)):
        source += list(ids[pos : pos + keep])
        pos += keep
        source.append(sentinels[i])
        target += [sentinels[i], *ids[pos : pos + noise]]
        pos += noise
    return [*source, eos_id], [*target, eos_id]


class PretrainingStream:
    """An endless, seeded stream of pre-training examples over the train dialogues (world build)."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase, config: PretrainConfig, seed: int):
        self.rows = list(rows)
        self.tokenizer = tokenizer
        self.config = config
        self.rng = random.Random(seed)
        self.sentinels = sentinel_ids(tokenizer, 32)
        self.eos = tokenizer.eos_token_id
        limit = config.max_source_length - 1
        self.dialogue_ids = [self._ids(r["dialogue"])[:limit] for r in self.rows]
        self.topic_inputs = [[*self._ids(topic_prompt(r["dialogue"]))[:limit], self.eos] for r in self.rows]
        self.topic_labels = [[*self._ids(r["topic"]), self.eos] for r in self.rows]
        self.questions = [extraction_questions(r) for r in self.rows]
        self.order: list[int] = []
        self.task_names = list(TASKS)
        self.phases = [(end, [dict(weights).get(t, 0.0) for t in TASKS]) for end, weights in config.task_phases]
        self.progress = 0.0  # share of training done, set by the training loop

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _next_index(self) -> int:
        if not self.order:
            self.order = list(range(len(self.rows)))
            self.rng.shuffle(self.order)
        return self.order.pop()

    def example(self) -> Example:
        """The next example: a dialogue in order, a task drawn by weight."""
        i = self._next_index()
        weights = next((w for end, w in self.phases if self.progress < end), self.phases[-1][1])
        task = self.rng.choices(self.task_names, weights=weights)[0]
        if task == "topic":
            return self.topic_inputs[i], self.topic_labels[i]
        if task == "question" and self.questions[i]:
            question, answer = self.rng.choice(self.questions[i])
            source = self._ids(question_prompt(self.rows[i]["dialogue"], question))
            return [*source[: self.config.max_source_length - 1], self.eos], [*self._ids(answer), self.eos]
        return span_corruption(
            self.dialogue_ids[i],
            self.sentinels,
            self.eos,
            self.rng,
            noise_density=self.config.noise_density,
            mean_span=self.config.mean_noise_span_length,
        )

    def batch(self, size: int) -> dict[str, torch.Tensor]:
        """A dynamically padded batch (inputs padded with <pad>, labels with -100)."""
        return collate([self.example() for _ in range(size)], pad_id=self.tokenizer.pad_token_id)


def collate(examples: Sequence[Example], *, pad_id: int) -> dict[str, torch.Tensor]:
    """Pad (input, label) id lists to the longest of the batch; labels -100 at padding."""
    width = max(len(s) for s, _ in examples)
    label_width = max(len(t) for _, t in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), label_width), -100, dtype=torch.long)
    for row, (source, target) in enumerate(examples):
        input_ids[row, : len(source)] = torch.tensor(source)
        attention[row, : len(source)] = 1
        labels[row, : len(target)] = torch.tensor(target)
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def example_mean_loss(model: T5ForConditionalGeneration, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy averaged within each example, then over the batch.

    Every example weighs the same, so short answers (topic, extraction) are not drowned by the long
    span-corruption targets as they are under a plain token mean.
    """
    labels = batch["labels"]
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=model._shift_right(labels)
    ).logits
    token_loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
    mask = (labels != -100).float()
    return ((token_loss * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()


def pretrain_t5(
    model: T5ForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[Mapping[str, Any]],
    config: PretrainConfig = PretrainConfig(),
    *,
    seed: int = 0,
    progress: bool = True,
) -> PretrainHistory:
    """Pre-train ``model`` in place on the train ``rows`` (span corruption, topic, extraction; no summaries).

    The package's training loop (:func:`genai_labs.training_loop.train_steps`): AdamW (no decay on biases and norms),
    linear warmup then linear decay to ``final_lr_fraction``, gradient clipping. World build only.
    """
    start = time.perf_counter()
    stream = PretrainingStream(rows, tokenizer, config, seed)
    torch.manual_seed(seed)
    loop = LoopSettings(
        steps=config.steps,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps,
        final_lr_fraction=config.final_lr_fraction,
        weight_decay=config.weight_decay,
        decay_vectors=False,
        max_grad_norm=config.max_grad_norm,
    )

    def step_loss(step: int) -> torch.Tensor:
        stream.progress = step / max(1, config.steps - 1)  # the task mix follows the share of training done
        return example_mean_loss(model, stream.batch(config.batch_size))

    saved_dropout = model.config.dropout_rate
    set_dropout(model, config.dropout_rate)
    try:
        losses = train_steps(model, step_loss, loop, description="pre-training tiny T5", progress=progress)
    finally:
        set_dropout(model, saved_dropout)
    return PretrainHistory(losses=tuple(losses), seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------------------------------
# Evaluation (world build and tests)
# --------------------------------------------------------------------------------------------------


def topic_accuracy(
    model: T5ForConditionalGeneration, tokenizer: PreTrainedTokenizerBase, rows: Sequence[Mapping[str, Any]]
) -> float:
    """Accuracy of greedy answers to ``topic_prompt`` on ``rows`` (the build checks the pre-trained skill): the same
    normalised exact match as Lab 2's forgetting probe (:func:`genai_labs.metrics.skill_accuracy`)."""
    return skill_accuracy(model, tokenizer, [r["dialogue"] for r in rows], [r["topic"] for r in rows]).accuracy


def zero_shot_rouge1(
    model: T5ForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[Mapping[str, Any]],
    *,
    max_new_tokens: int = 64,
) -> float:
    """Mean ROUGE-1 F1 (stemmer on) of greedy ``training_prompt`` summaries against each row's summary."""
    prompts = [training_prompt(r["dialogue"]) for r in rows]
    predictions = generate_texts(model, tokenizer, prompts, GenerationSettings(max_new_tokens=max_new_tokens), progress=False)
    return float(rouge_scores(predictions, [r["summary"] for r in rows], rouge_types=("rouge1",))["rouge1"].mean())
