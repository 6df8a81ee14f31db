"""Benchmark 1: batched ``generate_texts`` vs the course's one-by-one loop (greedy, 50 new tokens, outputs compared).

python -m benchmarks.bench_generation [--quick] [--n-dialogues 16] [--batch-size 16] [--out DIR]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import torch
from transformers import GenerationConfig

from benchmarks.config import SuiteConfig
from benchmarks.course_models import build_t5, dialogue_rows, prompts_that_fit, world_tokenizers
from benchmarks.measure import Timer, result, token_stats
from benchmarks.runner import run_script, script_arguments
from genai_labs.generation import generate_one_by_one, generate_texts, length_sorted_batches, model_device
from genai_labs.prompts import instruction_prompt


def encoder_seconds(model: Any, tokenizer: Any, prompts: Sequence[str], batch_size: int) -> Timer:
    """Time of the encoder alone over ``prompts`` in ``generate_texts``' batches (longest first, dynamic padding).

    Batching shares the decoder's weight reads across a batch but cannot shrink the encoder's work, so the speedup of
    any batched generation over the one-by-one loop is at most (one-by-one time) / (this time)."""
    lengths = [len(ids) for ids in tokenizer(list(prompts), verbose=False)["input_ids"]]
    encoder = model.get_encoder()
    device = model_device(model)
    with torch.inference_mode(), Timer() as timer:
        for batch in length_sorted_batches(lengths, batch_size):
            enc = tokenizer([prompts[i] for i in batch], padding=True, return_tensors="pt", verbose=False)
            encoder(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device))
    return timer


def bench_generation(config: SuiteConfig) -> dict[str, Any]:
    """Batched ``generate_texts`` vs the course's ``generate_one_by_one``: summaries/s, speedup, identical outputs,
    and the ceiling on the speedup that the encoder's unshareable work sets (:func:`encoder_seconds`)."""
    cfg = config.generation
    tokenizer, _ = world_tokenizers()
    rows, source = dialogue_rows()
    prompts = prompts_that_fit(
        tokenizer, [r["dialogue"] for r in rows], instruction_prompt, cfg.n_dialogues, config.max_prompt_tokens
    )
    model = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    settings = GenerationConfig(max_new_tokens=cfg.max_new_tokens)
    generate_texts(model, tokenizer, prompts[:1], settings, progress=False)  # warm-up (kernels, allocator)
    with Timer() as one:
        slow = generate_one_by_one(model, tokenizer, prompts, settings, progress=config.progress)
    with Timer() as batched:
        fast = generate_texts(model, tokenizer, prompts, settings, batch_size=cfg.batch_size, progress=config.progress)
    encoder = encoder_seconds(model, tokenizer, prompts, cfg.batch_size)
    identical = sum(a == b for a, b in zip(slow, fast))
    speedup = one.wall_s / batched.wall_s
    return result(
        "summaries/s",
        len(prompts) / one.wall_s,
        len(prompts) / batched.wall_s,
        speedup,
        f">= {cfg.goal_speedup:g}x",
        speedup >= cfg.goal_speedup,
        identical_outputs=identical == len(prompts),
        identical_count=identical,
        n_dialogues=len(prompts),
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        prompt_tokens=token_stats(tokenizer, prompts),
        seconds={"one_by_one": one.wall_s, "batched": batched.wall_s},
        cpu_seconds={"one_by_one": one.cpu_s, "batched": batched.cpu_s},
        cpu_time_ratio=one.cpu_s / batched.cpu_s if batched.cpu_s else None,
        encoder_seconds=encoder.wall_s,
        speedup_ceiling=one.wall_s / encoder.wall_s,
        data=source,
        model=config.t5.__class__.__name__ + str(asdict(config.t5)),
        dtype=config.dtype,
        note="greedy; random weights rarely emit </s>, so both paths generate the full max_new_tokens",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run this benchmark alone (``--quick``: tiny sizes) into ``--out`` (default ``benchmarks/results/generation``)."""
    parser = script_arguments(__doc__.splitlines()[0])
    parser.add_argument("--n-dialogues", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)

    def adjust(config: SuiteConfig) -> SuiteConfig:
        changes = {k: v for k, v in {"n_dialogues": args.n_dialogues, "batch_size": args.batch_size}.items() if v is not None}
        return replace(config, generation=replace(config.generation, **changes))

    run_script("generation", bench_generation, args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
