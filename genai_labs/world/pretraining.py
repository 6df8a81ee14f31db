"""The tiny world's FLAN-T5-architecture model and its FLAN-style pre-training (all labs, ``tiny`` profile).

FLAN-T5 is T5 trained further on many tasks, each phrased with several templates, in zero-shot and few-shot
episodes. The tiny model gets the same kind of mixture, in the world's own register, on dialogues of a
pre-training corpus that no split of the world's dataset shares (:func:`pretraining_corpus`):

- ``span``: T5 span corruption of a bare dialogue (sentinels in, the dropped spans out);
- ``continue``: the first turns of a bare dialogue -> its next turn (what a bare dialogue, Lab 1's "no prompt",
  asks for);
- ``topic``: ``topic_prompt(dialogue)`` -> its topic (the skill whose forgetting Lab 2 measures);
- ``zero_gist``: a summarising instruction (the course's and six other wordings) -> a plain *gist*
  ("They talk about a room at the Royal Hotel.");
- ``zero_headline``: a question about the dialogue (the course's FLAN template and three others) -> a *headline*
  ("Hotel booking: a twin room from Friday.");
- ``shots_<style>``: 1-3 solved examples in the course's shot format (:func:`genai_labs.prompts.flan_shot`), all in
  one style, then a dialogue in the FLAN template -> its summary **in the style of the shots**: the gist, the
  headline, or DialogSum's *observer* style ("#Person2# calls the Royal Hotel and books ...");
- ``slot``: a dialogue and an extraction question ("Question: What is the day?") -> that slot's value, copied from
  the dialogue (the lookup a summary's facts need).

The observer style, the one DialogSum's references and Lab 2's fine-tuning use, appears only inside these
demonstrations: asked zero-shot the model answers with a gist or a headline, so in-context examples visibly change
the form of its answer (Lab 1), and fine-tuning still has a job (Lab 2). Training runs in phases
(:class:`PretrainPhase`), each its own AdamW run with warm-up and linear decay; the last one leans on one-shot
episodes, which a single demonstration otherwise often fails to steer. Deterministic for a seed and a thread count
on one machine.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import (
    DataCollatorForSeq2Seq,
    GenerationConfig,
    PreTrainedTokenizerBase,
    T5Config,
    T5ForConditionalGeneration,
    get_scheduler,
)

from genai_labs.core.torch_runtime import quiet_transformers, set_dropout
from genai_labs.fact_check import fact_scores
from genai_labs.generation import generate_texts
from genai_labs.metrics import rouge_scores, skill_accuracy
from genai_labs.models import initial_lm_head, untie_lm_head
from genai_labs.prompts import flan_prompt, flan_shot, instruction_prompt, ppo_prompt, topic_prompt, training_prompt
from genai_labs.training_loop import LoopSettings, optimizer_step, parameter_groups
from genai_labs.world.dialogues import FAMILIES, RUDE_SHARE, STYLES, Dialogue, draw_dialogues, generate_splits, style_summary
from genai_labs.world.facts import world_facts
from genai_labs.world.tokenizer import METASPACE, sentinel_ids
from genai_labs.world.well_formed import slot_pools

Example = tuple[list[int], list[int]]  # (input ids, label ids), both ending in </s>

TASKS: tuple[str, ...] = (
    "span",
    "continue",
    "topic",
    "zero_gist",
    "zero_headline",
    "shots_observer",
    "shots_gist",
    "shots_headline",
    "slot",
)

# Zero-shot wordings: instructions are answered with a gist, questions with a headline.
INSTRUCTION_TEMPLATES: tuple[Callable[[str], str], ...] = (
    instruction_prompt,  # the course's Lab 1 instruction
    training_prompt,  # the course's Lab 2 prompt
    ppo_prompt,  # the course's Lab 3 prompt
    lambda d: f"Write a short summary for this dialogue.\n\n{d}",
    lambda d: f"{d}\n\nBriefly summarize that dialogue.",
    lambda d: f"Dialogue:\n{d}\n\nWhat is a summary of this dialogue?",
    lambda d: f"Summarize this dialogue:\n{d}",
)
QUESTION_TEMPLATES: tuple[Callable[[str], str], ...] = (
    flan_prompt,  # the course's FLAN template, "What was going on?"
    lambda d: f"Dialogue:\n\n{d}\n\nWhat were they talking about?",
    lambda d: f"{d}\n\nWhat is going on in this conversation?",
    lambda d: f"Read the dialogue and say what happened.\n\n{d}",
)


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
    head_init: str = "embedding"  # the untied head starts as embedding / sqrt(d_model); "t5": T5 v1.1's own init
    copy_ready_cross_attention: bool = True  # cross-attention's value/output start as an orthogonal pair (see below)
    kind_share: float = 0.5  # share of a value word's initial embedding that is its kind's direction (0: none)


@dataclass(frozen=True)
class PretrainPhase:
    """One phase of the pre-training: its own AdamW run (linear warm-up and decay, ``transformers.get_scheduler``)
    over a task mix."""

    steps: int
    learning_rate: float
    warmup_steps: int
    task_weights: tuple[tuple[str, float], ...]  # (task, weight) for the tasks in TASKS; others get 0
    shot_count_weights: tuple[float, ...]  # weights of 1, 2, 3 ... demonstrations in a shots_* episode
    scheduler: str = "linear"  # a transformers.get_scheduler name


MAIN_PHASE = PretrainPhase(
    steps=4000,
    learning_rate=2e-3,
    warmup_steps=100,
    task_weights=(
        ("span", 0.10),
        ("continue", 0.04),
        ("topic", 0.07),
        ("zero_gist", 0.10),
        ("zero_headline", 0.10),
        ("shots_observer", 0.32),
        ("shots_gist", 0.09),
        ("shots_headline", 0.09),
        ("slot", 0.09),
    ),
    shot_count_weights=(0.6, 0.3, 0.1),
)
# After the main phase one demonstration switched the answer's style for only about half of the dialogues (the
# FLAN template's own answer, a headline, won the rest); 300 steps that favour one-shot episodes lift that.
ONE_SHOT_PHASE = PretrainPhase(
    steps=300,
    learning_rate=5e-4,
    warmup_steps=50,
    task_weights=(
        ("span", 0.07),
        ("continue", 0.03),
        ("topic", 0.06),
        ("zero_gist", 0.08),
        ("zero_headline", 0.08),
        ("shots_observer", 0.44),
        ("shots_gist", 0.14),
        ("shots_headline", 0.06),
        ("slot", 0.04),
    ),
    shot_count_weights=(0.85, 0.15),
)
# After those two phases one-shot answers still summarised the example and Lab 2's fine-tuned summaries guessed
# #Person1#'s name, rooms and jobs (fact precision 0.79). 3,000 more steps of the main mixture, the slot task at 0.25,
# lifted both in a continuation of the v4 weights (Lab 2's full fine-tuning 0.88, Lab 1's one-shot 0.44:
# docs/world_build.md); 1,000-1,500 such steps had moved them by only 0.02-0.03.
LONG_PHASE = PretrainPhase(
    steps=3000,
    learning_rate=1e-3,
    warmup_steps=30,
    task_weights=tuple((task, 0.25 if task == "slot" else weight) for task, weight in MAIN_PHASE.task_weights),
    shot_count_weights=(0.6, 0.3, 0.1),
)
# v5 (the three phases above) still guessed a job, a platform or a fine in about one fine-tuned summary in three.
# 4,000 more steps of the long phase's mixture at half its learning rate, resumed from v5's weights, lifted Lab 2's
# all-facts-right share and Lab 1's one-shot answers; the same with a slot question after in-context examples mixed
# in did worse on both (docs/world_build.md has the numbers).
ANNEAL_PHASE = replace(LONG_PHASE, steps=4000, learning_rate=5e-4)


@dataclass(frozen=True)
class PretrainConfig:
    """Pre-training recipe for the tiny FLAN-T5 (world build)."""

    phases: tuple[PretrainPhase, ...] = (MAIN_PHASE, ONE_SHOT_PHASE, LONG_PHASE, ANNEAL_PHASE)
    batch_size: int = 16
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    dropout_rate: float = 0.0  # during pre-training only (attention dropout too)
    corpus_dialogues: int = 20_000  # fresh dialogues, none of them in the dataset's splits
    max_source_length: int = 512  # FLAN-T5's context; demonstrations that do not fit are dropped, earliest first
    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0
    length_group: int = 8  # batches drawn together and sorted by length (less padding)
    num_threads: int = 1  # fixed, so a seed gives bit-identical weights on one machine; 1 stays fast beside other work
    checkpoint_every: int = 250  # steps between resume checkpoints (an interrupted build goes on from the last one)

    @property
    def steps(self) -> int:
        """Optimizer steps over all phases."""
        return sum(phase.steps for phase in self.phases)


@dataclass(frozen=True)
class PretrainHistory:
    """Loss per step of the pre-training run, phases one after the other."""

    losses: tuple[float, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    curve: tuple[tuple[int, float], ...] = ()  # (step, probe value) every ``probe_every`` steps
    resumed_at: int = 0  # the step a resumed build went on from (0: trained from the start in one run)


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
    untie_lm_head(model, initial_lm_head(model))  # T5 v1.1's own head, untied from the embedding
    torch.nn.init.normal_(model.shared.weight, mean=0.0, std=arch.embedding_init_std)
    if arch.kind_share:
        kind_aware_embeddings(model, tokenizer, arch.kind_share, seed=seed)
    if arch.head_init == "embedding":
        # Still untied (two tensors, trained apart), but starting aligned: a decoder state that carries a token's
        # embedding, fetched from the dialogue by cross-attention, already scores that token, so copying a name or a
        # price needs no per-token head row to be learned first.
        with torch.no_grad():
            model.lm_head.weight.copy_(model.shared.weight * arch.d_model**-0.5)
    elif arch.head_init != "t5":
        raise ValueError(f"head_init must be 'embedding' or 't5', got {arch.head_init!r}.")
    if arch.copy_ready_cross_attention:
        copy_ready_init(model, seed=seed)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
    )
    return model


def value_kinds() -> dict[str, set[str]]:
    """For every word of the world's slot values, the kinds of value it appears in ("name", "day", "hotel" ...), left
    out the words the summary templates write themselves ("the", "Hotel")."""
    template_words = {
        word
        for family in FAMILIES
        for template in (*family.summaries, *family.gists, *family.headlines)
        for word in re.sub(r"\{[^}]*\}", " ", template).split()
    }
    kinds: dict[str, set[str]] = {}
    for family in FAMILIES:
        for key, values in slot_pools(family).items():
            kind = "name" if key.endswith("_name") else key
            for word in (w for value in values for w in value.split()):
                if word not in template_words and word.lower() not in STOP_WORDS:
                    kinds.setdefault(word, set()).add(kind)
    return kinds


STOP_WORDS = frozenset({"a", "an", "the", "of", "for", "to", "at", "on", "in", "by", "with"})


def kind_aware_embeddings(
    model: T5ForConditionalGeneration, tokenizer: PreTrainedTokenizerBase, share: float, *, seed: int = 0
) -> None:
    """Start each value word's embedding with a direction shared by its kind of value (world build).

    A pre-trained model's embeddings already put names near names and days near days; a tiny model trained from
    scratch has to learn that kind for every rare name from its few occurrences before it can look a name up in the
    dialogue by kind. So every word of the world's slot values (``▁Royal``, ``▁Friday``, ``▁$800``) starts as
    ``sqrt(1 - share) * its random vector + sqrt(share) * its kind's random direction`` (the mean over its kinds):
    values of one kind share a direction and stay distinct. Only initial values change; training moves them.
    """
    generator = torch.Generator().manual_seed(seed + 1)
    kinds = value_kinds()
    directions = {kind: torch.randn(model.config.d_model, generator=generator) for kind in sorted(set().union(*kinds.values()))}
    vocab = tokenizer.get_vocab()
    with torch.no_grad():
        for word, word_kinds in sorted(kinds.items()):
            direction = torch.stack([directions[k] for k in sorted(word_kinds)]).mean(dim=0)
            for piece in (METASPACE + word, word):
                if piece in vocab:
                    row = model.shared.weight[vocab[piece]]
                    row.copy_((1 - share) ** 0.5 * row + share**0.5 * direction)


def copy_ready_init(model: T5ForConditionalGeneration, *, seed: int = 0) -> None:
    """Start every decoder cross-attention with ``o = v^T`` for an orthogonal ``v`` (world build).

    Copying a fact means two things learned together: *where* to look (query and key) and *what* to carry back (value
    and output). From T5's random start each waits for the other, and a tiny model sat on that plateau for thousands
    of steps guessing names and prices from their type (a one-line extraction task: 5% right after 600 steps). With
    ``o @ v`` the identity at the start (and the head aligned with the embedding), whatever a head attends to is
    carried back as itself, so the gradient shapes where to look from the first step (extraction: ~13% right after 200
    steps, loss halved). Only the initial values change: the architecture stays FLAN-T5's, and training moves them.
    """
    generator = torch.Generator().manual_seed(seed)
    for block in model.decoder.block:
        attention = block.layer[1].EncDecAttention
        inner, d_model = attention.v.weight.shape
        basis, _ = torch.linalg.qr(torch.randn(d_model, d_model, generator=generator))
        with torch.no_grad():
            attention.v.weight.copy_(basis[:inner])
            attention.o.weight.copy_(basis[:inner].T)


# --------------------------------------------------------------------------------------------------
# The pre-training corpus and its tasks
# --------------------------------------------------------------------------------------------------


def pretraining_corpus(n: int, seed: int = 0) -> list[Dialogue]:
    """``n`` fresh world dialogues for pre-training, none of them in the train, validation or test split."""
    seen = {str(row["dialogue"]) for rows in generate_splits(seed).values() for row in rows}
    return draw_dialogues(n, random.Random(f"tiny-world/pretraining-corpus/{seed}"), RUDE_SHARE, seen)


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


@dataclass(frozen=True)
class TextExample:
    """A pre-training example as text: demonstrations (dropped earliest first when too long), the prompt, the answer."""

    shots: tuple[str, ...]
    prompt: str
    answer: str


def _slot_subject(key: str) -> str:
    person = re.fullmatch(r"person(\d)_name", key)
    return f"the name of #Person{person.group(1)}#" if person else f"the {key.replace('_', ' ')}"


def slot_question(key: str) -> str:
    """The extraction question about slot ``key`` ("Question: What is the day?"), world build."""
    return f"Question: What is {_slot_subject(key)}?"


def slot_answer(key: str, value: str) -> str:
    """The answer to :func:`slot_question`, the value inside a sentence ("The day is Friday."): the value's words are
    then the same tokens as in the dialogue (``▁Friday``), which a bare answer's first word would not be."""
    subject = _slot_subject(key)
    return f"{subject[0].upper()}{subject[1:]} is {value}."


def text_example(
    task: str, dialogue: Dialogue, rng: random.Random, pick: Callable[[], Dialogue], shot_count_weights: Sequence[float]
) -> TextExample:
    """One example of ``task`` (any task in TASKS but ``span``) about ``dialogue``; ``pick`` draws demonstrations."""
    if task == "topic":
        return TextExample((), topic_prompt(dialogue.text), dialogue.family.topic)
    if task == "slot":
        key = rng.choice(sorted(dialogue.slots))
        return TextExample((), f"{dialogue.text}\n\n{slot_question(key)}", slot_answer(key, dialogue.slots[key]))
    if task == "continue":
        lines = dialogue.text.split("\n")
        cut = rng.randrange(2, len(lines))
        return TextExample((), "\n".join(lines[:cut]), lines[cut])
    if task == "zero_gist":
        return TextExample((), rng.choice(INSTRUCTION_TEMPLATES)(dialogue.text), style_summary(dialogue, "gist", rng))
    if task == "zero_headline":
        return TextExample((), rng.choice(QUESTION_TEMPLATES)(dialogue.text), style_summary(dialogue, "headline", rng))
    if task.startswith("shots_"):
        style = task.removeprefix("shots_")
        count = rng.choices(range(1, len(shot_count_weights) + 1), weights=shot_count_weights)[0]
        shots = tuple(flan_shot(shot.text, style_summary(shot, style, rng)) for shot in (pick() for _ in range(count)))
        return TextExample(shots, flan_prompt(dialogue.text), style_summary(dialogue, style, rng))
    raise ValueError(f"unknown pre-training task {task!r}; the tasks are {', '.join(TASKS)}")


class PretrainingStream:
    """Seeded, padded pre-training batches over a corpus of dialogues (world build).

    Batch ``step`` of phase ``phase_index`` depends only on the seed, the phase and the step: the batches are drawn in
    groups of ``length_group`` from a generator seeded by (seed, phase, group), sorted by length (less padding) and
    shuffled, so a build resumed from a checkpoint sees exactly the batches an uninterrupted one would.
    """

    def __init__(self, corpus: Sequence[Dialogue], tokenizer: PreTrainedTokenizerBase, config: PretrainConfig, seed: int):
        self.corpus = list(corpus)
        self.tokenizer = tokenizer
        self.config = config
        self.seed = seed
        self.rng = random.Random(seed)
        self.sentinels = sentinel_ids(tokenizer, 32)
        self.eos = tokenizer.eos_token_id
        self.collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100, return_tensors="pt")
        self._group: tuple[int, int, list[dict[str, torch.Tensor]]] | None = None

    def _pick(self) -> Dialogue:
        return self.corpus[self.rng.randrange(len(self.corpus))]

    def _ids(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, verbose=False)["input_ids"]

    def _fit(self, example: TextExample, source: list[int]) -> list[int]:
        """``source`` with the earliest demonstrations dropped until it fits ``max_source_length``."""
        shots = list(example.shots)
        while len(source) > self.config.max_source_length and shots:
            shots.pop(0)
            source = self._ids(["".join(shots) + example.prompt])[0]
        return source[: self.config.max_source_length]

    def examples(self, n: int, phase: PretrainPhase) -> list[Example]:
        """``n`` examples, each task drawn by the phase's weights."""
        weights = dict(phase.task_weights)
        tasks = self.rng.choices(TASKS, weights=[weights.get(task, 0.0) for task in TASKS], k=n)
        out: list[Example | None] = [None] * n
        texts: list[tuple[int, TextExample]] = []
        for i, task in enumerate(tasks):
            dialogue = self._pick()
            if task == "span":
                ids = self._ids([dialogue.text])[0][: self.config.max_source_length]
                ids = ids[:-1]  # without </s>: span corruption appends it
                out[i] = span_corruption(
                    ids,
                    self.sentinels,
                    self.eos,
                    self.rng,
                    noise_density=self.config.noise_density,
                    mean_span=self.config.mean_noise_span_length,
                )
            else:
                texts.append((i, text_example(task, dialogue, self.rng, self._pick, phase.shot_count_weights)))
        if texts:
            sources = self._ids(["".join(ex.shots) + ex.prompt for _, ex in texts])
            answers = self._ids([ex.answer for _, ex in texts])
            for (i, example), source, answer in zip(texts, sources, answers):
                out[i] = (self._fit(example, source), answer)
        return [example for example in out if example is not None]

    def batch(self, phase_index: int, step: int) -> dict[str, torch.Tensor]:
        """Batch ``step`` of phase ``phase_index`` of ``config.phases`` (padded by ``DataCollatorForSeq2Seq``)."""
        size, group_size = self.config.batch_size, self.config.length_group
        group = step // group_size
        if self._group is None or self._group[:2] != (phase_index, group):
            self.rng = random.Random(f"tiny-world/pretraining/{self.seed}/{phase_index}/{group}")
            phase = self.config.phases[phase_index]
            examples = sorted(self.examples(size * group_size, phase), key=lambda ex: len(ex[0]))
            chunks = [examples[start : start + size] for start in range(0, len(examples), size)]
            self.rng.shuffle(chunks)
            features = [[{"input_ids": source, "labels": target} for source, target in chunk] for chunk in chunks]
            self._group = (phase_index, group, [self.collator(chunk) for chunk in features])
        return self._group[2][step % group_size]


def example_mean_loss(model: T5ForConditionalGeneration, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy averaged within each example, then over the batch.

    Every example weighs the same, so short answers (topic, headlines) are not drowned by long ones as they are
    under a plain token mean.
    """
    labels = batch["labels"]
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=model._shift_right(labels)
    ).logits
    token_loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
    mask = (labels != -100).float()
    return ((token_loss * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()


CHECKPOINT_FILE = "pretraining-checkpoint.pt"


def _save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    """Write a resume checkpoint atomically (a killed write leaves the previous one)."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{CHECKPOINT_FILE}.partial"
    torch.save(state, partial)
    os.replace(partial, folder / CHECKPOINT_FILE)


def _load_checkpoint(folder: Path | None, recipe: str) -> dict[str, Any] | None:
    """The checkpoint in ``folder`` when it was written by this recipe, else None."""
    path = None if folder is None else folder / CHECKPOINT_FILE
    if path is None or not path.exists():
        return None
    state = torch.load(path, weights_only=False)
    return state if state.get("recipe") == recipe else None


def pretrain_t5(
    model: T5ForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    corpus: Sequence[Dialogue],
    config: PretrainConfig = PretrainConfig(),
    *,
    seed: int = 0,
    progress: bool = True,
    checkpoint_dir: Path | None = None,
    recipe: str = "",
    probe: Callable[[T5ForConditionalGeneration], float] | None = None,
    probe_every: int = 0,
) -> PretrainHistory:
    """Pre-train ``model`` in place on ``corpus`` (:func:`pretraining_corpus`), phase after phase (world build).

    Each phase is its own AdamW run (no decay on biases and norms) with ``transformers.get_scheduler``'s warm-up and
    decay and gradient clipping (:func:`genai_labs.training_loop.optimizer_step`). Dropout is off meanwhile. With
    ``checkpoint_dir``, the model, optimizer, schedule and losses are saved every ``config.checkpoint_every`` steps,
    and a checkpoint of the same ``recipe`` found there is resumed: the result is the weights an uninterrupted run
    gives. ``probe(model)`` is measured every ``probe_every`` steps into the history's curve (the build's
    fact-precision curve).
    """
    start = time.perf_counter()
    stream = PretrainingStream(corpus, tokenizer, config, seed)
    torch.manual_seed(seed)
    saved_dropout = model.config.dropout_rate
    set_dropout(model, config.dropout_rate, attention=True)
    resumed = _load_checkpoint(checkpoint_dir, recipe)
    losses: list[float] = list(resumed["losses"]) if resumed else []
    curve: list[tuple[int, float]] = [tuple(point) for point in resumed["curve"]] if resumed else []
    seconds_before = float(resumed["seconds"]) if resumed else 0.0
    if resumed:
        model.load_state_dict(resumed["model"])
    bar = tqdm(total=config.steps, initial=len(losses), desc="pre-training tiny T5", disable=not progress)
    try:
        first_step = 0
        for index, phase in enumerate(config.phases):
            done = len(losses) - first_step
            if done < phase.steps:
                loop = LoopSettings(
                    phase.steps, phase.learning_rate, phase.warmup_steps, weight_decay=config.weight_decay, decay_vectors=False
                )
                optimizer = torch.optim.AdamW(parameter_groups(model, loop), lr=phase.learning_rate)
                scheduler = get_scheduler(
                    phase.scheduler, optimizer, num_warmup_steps=phase.warmup_steps, num_training_steps=phase.steps
                )
                if resumed and done > 0:
                    optimizer.load_state_dict(resumed["optimizer"])
                    scheduler.load_state_dict(resumed["scheduler"])
                model.train()
                for step in range(done, phase.steps):
                    loss = example_mean_loss(model, stream.batch(index, step))
                    losses.append(optimizer_step(model, loss, optimizer, scheduler, config.max_grad_norm))
                    bar.update(1)
                    bar.set_postfix(phase=index + 1, loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}", refresh=False)
                    if probe is not None and probe_every and len(losses) % probe_every == 0:
                        curve.append((len(losses), probe(model)))
                        model.train()
                    if checkpoint_dir is not None and len(losses) % config.checkpoint_every == 0:
                        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
                        if step + 1 == phase.steps:
                            state = {"optimizer": None, "scheduler": None}  # the next phase starts afresh
                        _save_checkpoint(
                            checkpoint_dir,
                            state
                            | {
                                "recipe": recipe,
                                "model": model.state_dict(),
                                "losses": losses,
                                "curve": curve,
                                "seconds": seconds_before + time.perf_counter() - start,
                            },
                        )
            first_step += phase.steps
    finally:
        bar.close()
        model.eval()
        set_dropout(model, saved_dropout, attention=True)
    resumed_at = len(resumed["losses"]) if resumed else 0
    return PretrainHistory(tuple(losses), seconds_before + time.perf_counter() - start, tuple(curve), resumed_at)


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
) -> tuple[float, list[str]]:
    """Mean ROUGE-1 F1 (stemmer on) of greedy ``training_prompt`` summaries against each row's summary, and the
    summaries (the build records both: the zero-shot answer is a gist, not yet DialogSum's style)."""
    prompts = [training_prompt(r["dialogue"]) for r in rows]
    predictions = generate_texts(model, tokenizer, prompts, GenerationConfig(max_new_tokens=max_new_tokens), progress=False)
    score = float(rouge_scores(predictions, [r["summary"] for r in rows], rouge_types=("rouge1",))["rouge1"].mean())
    return score, predictions


def corpus_texts(corpus: Sequence[Dialogue], *, dialogues: int = 3000, seed: int = 0) -> list[str]:
    """Text for the world tokenizer from the pre-training corpus: the first ``dialogues`` dialogues, a summary of each
    in every style, and every zero-shot template (so their words become pieces)."""
    rng = random.Random(f"tiny-world/tokenizer-texts/{seed}")
    sample = list(corpus[:dialogues])
    texts = [d.text for d in sample] + [style_summary(d, style, rng) for d in sample for style in STYLES]
    questions = sorted({slot_question(key) for dialogue in sample for key in dialogue.slots})
    return texts + [template("").strip() for template in (*INSTRUCTION_TEMPLATES, *QUESTION_TEMPLATES)] + questions


def answers_fact_precision(
    model: T5ForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[Mapping[str, Any]],
    prompt: Callable[[str], str] = training_prompt,
    *,
    max_new_tokens: int = 64,
) -> float:
    """Fact precision (:mod:`genai_labs.fact_check`, the world's exact finder) of greedy answers to ``prompt`` on
    ``rows``: of the slot values the answers name, the share their dialogues hold (the build's probe and checks)."""
    dialogues = [r["dialogue"] for r in rows]
    config = GenerationConfig(max_new_tokens=max_new_tokens)
    answers = generate_texts(model, tokenizer, [prompt(d) for d in dialogues], config, progress=False)
    return fact_scores(answers, dialogues, world_facts).precision
