"""The benchmarks' models and text: random models of the course's exact architectures, real or tiny-world dialogues.

Speed and memory do not depend on the weights' values, so the models are randomly initialised (no hub needed) with
google/flan-t5-base's and roberta-base's shapes (``config.T5Shape`` / ``RobertaShape``). Text comes from the real
DialogSum validation split beside the checkout when present (``genai_labs.core.folders.shared_dialogsum_dir``), else
the tiny world's, tokenized with the tiny world's tokenizers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import datasets
import torch
from transformers import (
    AutoTokenizer,
    GenerationConfig,
    RobertaForSequenceClassification,
    T5ForConditionalGeneration,
)

from benchmarks.config import RobertaShape, T5Shape
from benchmarks.measure import dtype_of
from genai_labs.core.folders import WORLD_MODELS_DIR, shared_dialogsum_dir
from genai_labs.core.profiles import load_profile
from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.data import load_dialogsum, read_dialogsum_jsonl
from genai_labs.models import flan_t5_base_config, initial_lm_head, roberta_hate_classifier_config, untie_lm_head
from genai_labs.prompts import context_limit, count_tokens, training_prompt
from genai_labs.world.assets import WorldAssets


def world_tokenizers() -> tuple[Any, Any]:
    """The tiny world's T5 tokenizer and reward tokenizer (the committed world models)."""
    assets = WorldAssets.at(WORLD_MODELS_DIR)
    return AutoTokenizer.from_pretrained(assets.t5_dir), AutoTokenizer.from_pretrained(assets.reward_dir)


def build_t5(shape: T5Shape, tokenizer: Any, *, seed: int, device: str = "cpu", dtype: str = "float32") -> Any:
    """A randomly initialised FLAN-T5-architecture model (gated-gelu, untied ``lm_head``) of ``shape``.

    The tokenizer covers ids below ``len(tokenizer)`` only, so the ``lm_head`` rows above it are zeroed: greedy
    decoding then picks decodable tokens (random logits of the real rows beat 0) at unchanged cost. A random model
    rarely emits ``</s>``, so generations run to ``max_new_tokens``.
    """
    vocab = shape.vocab_size or len(tokenizer)
    if vocab < len(tokenizer):
        raise ValueError(f"T5Shape.vocab_size={vocab} is smaller than the tokenizer's {len(tokenizer)} ids.")
    config = flan_t5_base_config(
        vocab_size=vocab, d_model=shape.d_model, d_ff=shape.d_ff, d_kv=shape.d_kv, num_layers=shape.num_layers,
        num_decoder_layers=shape.num_decoder_layers, num_heads=shape.num_heads, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(seed)
    with quiet_transformers():
        model = T5ForConditionalGeneration(config)
    untie_lm_head(model, initial_lm_head(model))
    with torch.no_grad():
        model.lm_head.weight[len(tokenizer) :] = 0
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    return model.to(device=device, dtype=dtype_of(dtype)).eval()


def build_reward_model(shape: RobertaShape, tokenizer: Any, *, seed: int, device: str = "cpu", dtype: str = "float32") -> Any:
    """A randomly initialised RoBERTa classifier of ``shape`` with the course's ``id2label {0: nothate, 1: hate}``."""
    config = roberta_hate_classifier_config(
        vocab_size=max(shape.vocab_size or 0, len(tokenizer)), hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_hidden_layers, num_attention_heads=shape.num_attention_heads,
        intermediate_size=shape.intermediate_size, max_position_embeddings=shape.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 1,
    )  # fmt: skip
    torch.manual_seed(seed)
    with quiet_transformers():
        model = RobertaForSequenceClassification(config)
    return model.to(device=device, dtype=dtype_of(dtype)).eval()


def dialogue_rows() -> tuple[list[dict[str, Any]], str]:
    """Dialogues with summaries: the real DialogSum validation split when ``../shared/datasets/dialogsum`` has it,
    else the tiny world's validation split; returns ``(rows, source)``."""
    real = shared_dialogsum_dir() / "validation.jsonl"
    if real.is_file():
        return read_dialogsum_jsonl(real), str(real)
    data = load_dialogsum(load_profile("tiny", env={}))
    return [dict(row) for row in data.validation], data.source


def prompts_that_fit(
    tokenizer: Any, dialogues: Sequence[str], prompt_fn: Callable[[str], str], n: int, max_tokens: int | None = None
) -> list[str]:
    """The first ``n`` prompts no longer than ``max_tokens`` and the tokenizer's context (prompts are never truncated)."""
    limit = min(context_limit(tokenizer) or 10**9, max_tokens or 10**9)
    prompts = [prompt_fn(d) for d in dialogues]
    return [p for p in prompts if count_tokens(tokenizer, p) <= limit][:n]


def training_dataset(n: int, tokenizer: Any, max_prompt_tokens: int | None) -> datasets.Dataset:
    """The first ``n`` (dialogue, summary) rows, only those whose training prompt has at most ``max_prompt_tokens``
    (``None``: all; longer prompts are then truncated to ``max_source_length`` as in training)."""
    rows, _ = dialogue_rows()
    if max_prompt_tokens is not None:
        rows = [r for r in rows if count_tokens(tokenizer, training_prompt(r["dialogue"])) <= max_prompt_tokens]
    rows = rows[:n]
    return datasets.Dataset.from_dict({"dialogue": [r["dialogue"] for r in rows], "summary": [r["summary"] for r in rows]})
