"""Lab 2's data: the splits, (prompt, summary) pairs tokenized without padding, batches padded per batch, replay mix.

1. :func:`lab2_data` picks the training dialogues, the test set (with all its references) and the held-out
   dialogues of the forgetting probe.
2. :func:`tokenize_for_training` turns (prompt, summary) pairs into ``input_ids`` / ``attention_mask`` / ``labels``
   without padding; :func:`make_collator` pads each batch dynamically (labels with ``-100`` so padding never counts in
   the loss) and :func:`padding_cost` compares that with the course's pad-to-512.
3. :func:`mix_replay` mixes a small share of the pre-trained skill's examples (the topic task) into the
   summarization set, the classic mitigation of catastrophic forgetting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datasets
from transformers import DataCollatorForSeq2Seq, PreTrainedModel, PreTrainedTokenizerBase

from genai_labs.data import load_dialogsum, subsample
from genai_labs.prompts import topic_prompt, training_prompt

LABEL_PAD_ID = -100
TOKEN_COLUMNS = ("input_ids", "attention_mask", "labels")


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
    A dataset that is already tokenized is returned with just those columns.
    """
    if "input_ids" in dataset.column_names and "labels" in dataset.column_names:
        return dataset.select_columns([c for c in TOKEN_COLUMNS if c in dataset.column_names])
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


def padding_cost(
    tokenized: datasets.Dataset, pad_to: int = 512, *, batch_size: int = 8, label_pad_to: int | None = None
) -> dict[str, float]:
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
    rows = [(p, t, "summary") for p, t in zip(prompts, targets)]
    rows += [(p, t, "topic") for p, t in zip(skill_prompts, skill_targets)]
    rng.shuffle(rows)
    return datasets.Dataset.from_dict(
        {"prompt": [r[0] for r in rows], "target": [r[1] for r in rows], "task": [r[2] for r in rows]}
    )
