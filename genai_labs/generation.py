"""Batched, seeded text generation and generation-config checks (all labs).

``generate_texts`` is what every lab uses to summarise many dialogues: prompts are sorted by token
length and generated in dynamically padded batches (little padding, so little wasted compute), then put
back in input order. Generation runs under ``no_grad`` in eval mode on the model's device, and reseeds
torch at the start of each call so a rerun prints the same samples. The configuration is always a
``transformers.GenerationConfig``, checked by :func:`validate_generation_config`.

Prompt lengths (``prompts.read_limit``): a relative-position model (T5) reads a prompt longer than its trained
context whole, up to ``prompts.RELATIVE_POSITION_READ_LIMIT`` tokens, and a :class:`LongPromptWarning` says how many
went past the trained context; a prompt over the read limit is an error, never silently truncated.

``generate_one_by_one`` is the course's original loop (one dialogue per ``generate`` call); the
benchmark compares the two.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm  # the notebook widget in Jupyter, the text bar elsewhere
from transformers import GenerationConfig

from genai_labs.prompts import context_limit, long_prompt_note, read_limit  # the token-budget rules (Lab 1's builder too)


class PromptTooLongError(ValueError):
    """A prompt has more tokens than the model's context; the message names the prompt and the fix."""


class LongPromptWarning(UserWarning):
    """Some prompts are longer than the context the model was trained on and are read whole (all labs)."""


def warn_long_prompts(lengths: Sequence[int], tokenizer: Any, max_input_tokens: int | None) -> None:
    """Warn (:class:`LongPromptWarning`) with the count of prompts past the tokenizer's trained context, unless the
    caller set ``max_input_tokens`` itself (all labs)."""
    note = None if max_input_tokens is not None else long_prompt_note(lengths, context_limit(tokenizer))
    if note:
        warnings.warn(note, LongPromptWarning, stacklevel=3)


def _field_checks(values: dict[str, Any]) -> None:
    do_sample = bool(values.get("do_sample"))
    temperature = values.get("temperature")
    if do_sample and temperature is not None and not temperature > 0:
        raise ValueError(
            f"generation config: temperature={temperature} with do_sample=True is invalid; set temperature > 0 "
            "(e.g. 0.1 for near-greedy samples) or use do_sample=False for greedy decoding."
        )
    top_p = values.get("top_p")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(
            f"generation config: top_p={top_p} is outside (0, 1]; use a value such as 0.9, or top_p=1.0 to switch "
            "nucleus sampling off."
        )
    top_k = values.get("top_k")
    if top_k is not None and top_k < 0:
        raise ValueError(f"generation config: top_k={top_k} is negative; use top_k >= 1, or top_k=0 to switch it off.")
    max_new_tokens = values.get("max_new_tokens")
    if max_new_tokens is not None and max_new_tokens <= 0:
        raise ValueError(f"generation config: max_new_tokens={max_new_tokens} must be > 0; set e.g. max_new_tokens=50.")
    num_beams = values.get("num_beams")
    if num_beams is not None and num_beams < 1:
        raise ValueError(f"generation config: num_beams={num_beams} must be >= 1; use num_beams=1 for no beam search.")


def validate_generation_config(cfg: GenerationConfig) -> GenerationConfig:
    """Raise ``ValueError`` naming the field and the fix for settings ``generate`` would reject or misuse, else return
    ``cfg`` (all labs: :func:`generate_texts` checks every config it is given).

    Checks: temperature <= 0 with ``do_sample``, ``top_p`` outside (0, 1], negative ``top_k``,
    ``max_new_tokens`` <= 0 and ``num_beams`` < 1. Unset (``None``) fields are fine.
    """
    if not isinstance(cfg, GenerationConfig):
        raise TypeError(
            f"expected a transformers.GenerationConfig, got {type(cfg).__name__}; build one, e.g. "
            "GenerationConfig(max_new_tokens=50) (greedy) or "
            "GenerationConfig(max_new_tokens=50, do_sample=True, temperature=0.7)."
        )
    _field_checks(
        {name: getattr(cfg, name, None) for name in ("do_sample", "temperature", "top_p", "top_k", "max_new_tokens", "num_beams")}
    )
    return cfg


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter, CPU for a parameter-less model (all labs: generation, metrics)."""
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def _check_prompts(prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings, not one string; wrap it: [prompt].")
    prompts = list(prompts)
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompts[{i}] is {type(p).__name__}; prompts must be strings.")
    return prompts


GENERATION_PROMPT_FIX = (
    "Shorten the prompt (fewer or shorter in-context examples, e.g. build_prompt(..., max_tokens=...)), or pass "
    "max_input_tokens=... if the model really accepts longer inputs."
)


def check_prompt_lengths(
    lengths: Sequence[int], limit: int | None, *, model: str = "model", fix: str = GENERATION_PROMPT_FIX, start: int = 0
) -> None:
    """Raise :class:`PromptTooLongError` for the first prompt longer than ``limit`` tokens (None: no limit), naming
    its index (counted from ``start``), length, the ``model``'s context and the ``fix``: prompts are never truncated
    (all labs; Lab 3's PPO names its policy and its own fix)."""
    if limit is None:
        return
    for index, n_tokens in enumerate(lengths, start):
        if n_tokens > limit:
            raise PromptTooLongError(
                f"prompts[{index}] has {n_tokens} tokens but the {model}'s context is {limit} tokens; prompts are "
                f"never truncated. {fix}"
            )


def _decode(model: Any, tokenizer: Any, output: torch.Tensor, prompt_length: int) -> list[str]:
    if not getattr(model.config, "is_encoder_decoder", False):
        output = output[:, prompt_length:]  # decoder-only models echo the prompt
    return tokenizer.batch_decode(output, skip_special_tokens=True)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Prompt indices in batches of ``batch_size``, longest first (memory errors surface early), so each padded
    batch holds prompts of similar length (:func:`generate_texts`; the benchmarks time the same batches)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    generation_config: GenerationConfig,
    *,
    batch_size: int = 16,
    seed: int | None = None,
    progress: bool = True,
    max_input_tokens: int | None = None,
    samples_per_prompt: int = 1,
) -> list[str]:
    """Generate ``samples_per_prompt`` texts per prompt, in input order, with length-sorted dynamically padded batches
    (all labs).

    With ``samples_per_prompt`` k > 1 (sampling configs; Lab 1's diversity study) the result holds the k samples of the
    first prompt, then the k of the second, and so on; each prompt is encoded once for its k samples
    (``num_return_sequences``). ``seed`` (when given) reseeds torch once at the start so sampled outputs repeat across
    reruns with the same prompts and ``batch_size`` (batching changes which random numbers each prompt draws); the
    model's training mode is restored afterwards. Raises :class:`PromptTooLongError` for a prompt longer than
    ``max_input_tokens`` (default: :func:`genai_labs.prompts.read_limit`, for T5 2048 tokens; prompts past the
    trained context ``tokenizer.model_max_length`` are read whole, with a :class:`LongPromptWarning`).
    """
    prompts = _check_prompts(prompts)
    generation_config = validate_generation_config(generation_config)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if samples_per_prompt < 1:
        raise ValueError(f"samples_per_prompt must be >= 1, got {samples_per_prompt}.")
    if samples_per_prompt > 1:
        if not generation_config.do_sample:
            raise ValueError(
                f"samples_per_prompt={samples_per_prompt} needs a sampling config (do_sample=True): greedy decoding "
                "returns the same text every time."
            )
        generation_config = copy.deepcopy(generation_config)
        generation_config.num_return_sequences = samples_per_prompt
    if not prompts:
        return []
    lengths = [len(ids) for ids in tokenizer(prompts, verbose=False)["input_ids"]]  # checked below, not by the tokenizer
    check_prompt_lengths(lengths, read_limit(model, tokenizer, max_input_tokens))
    warn_long_prompts(lengths, tokenizer, max_input_tokens)
    device = model_device(model)
    decoder_only = not getattr(model.config, "is_encoder_decoder", False)
    old_padding_side = tokenizer.padding_side
    was_training = model.training
    results: list[list[str]] = [[] for _ in prompts]
    if seed is not None:
        torch.manual_seed(seed)
    model.eval()
    try:
        if decoder_only:
            tokenizer.padding_side = "left"  # new tokens must follow the prompt directly
        with torch.no_grad(), tqdm(total=len(prompts), desc="generate", leave=False, disable=not progress) as bar:
            for batch in length_sorted_batches(lengths, batch_size):
                enc = tokenizer([prompts[i] for i in batch], padding=True, return_tensors="pt", verbose=False)
                enc = enc.to(device)
                output = model.generate(**enc, generation_config=generation_config)
                texts = _decode(model, tokenizer, output, enc["input_ids"].shape[1])
                for position, i in enumerate(batch):  # generate returns each prompt's samples one after the other
                    results[i] = texts[position * samples_per_prompt : (position + 1) * samples_per_prompt]
                bar.update(len(batch))
    finally:
        tokenizer.padding_side = old_padding_side
        model.train(was_training)
    return [str(text) for group in results for text in group]


def generate_one_by_one(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    generation_config: GenerationConfig,
    *,
    seed: int | None = None,
    progress: bool = True,
    max_input_tokens: int | None = None,
) -> list[str]:
    """The course's loop: one ``generate`` call per prompt, no batching (benchmark comparison only)."""
    prompts = _check_prompts(prompts)
    generation_config = validate_generation_config(generation_config)
    limit = read_limit(model, tokenizer, max_input_tokens)
    device = model_device(model)
    was_training = model.training
    results = []
    if seed is not None:
        torch.manual_seed(seed)
    model.eval()
    try:
        with torch.no_grad():
            bar = tqdm(prompts, desc="generate (one by one)", leave=False, disable=not progress)
            for i, prompt in enumerate(bar):
                enc = tokenizer(prompt, return_tensors="pt", verbose=False).to(device)
                n = int(enc["input_ids"].shape[1])
                check_prompt_lengths([n], limit, start=i)
                output = model.generate(**enc, generation_config=generation_config)
                results.append(_decode(model, tokenizer, output, n)[0])
    finally:
        model.train(was_training)
    return results
