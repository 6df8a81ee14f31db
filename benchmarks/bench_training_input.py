"""Benchmark 2: dynamic padding (tokenize_for_training + make_collator) vs the course's pad-to-512, train steps.

python -m benchmarks.bench_training_input [--quick] [--batch-size 2] [--steps 2] [--out DIR]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from tqdm.auto import tqdm

from benchmarks.config import SuiteConfig
from benchmarks.course_models import build_t5, training_dataset, world_tokenizers
from benchmarks.measure import Timer, result, train_step
from benchmarks.runner import run_script, script_arguments
from genai_labs.lab2.training_data import make_collator, padding_cost, tokenize_for_training
from genai_labs.models import t5_forward_flops
from genai_labs.prompts import training_prompt


def course_padded_batch(
    tokenizer: Any, dialogues: Sequence[str], summaries: Sequence[str], pad_to: int
) -> dict[str, torch.Tensor]:
    """The course's Lab 2 preprocessing, the baseline: prompt and summary both padded to ``pad_to`` (512), pad id 0
    kept in the labels (so padding counts in the loss), only ``input_ids`` and ``labels`` passed to the model."""
    prompts = [training_prompt(d) for d in dialogues]
    inputs = tokenizer(prompts, padding="max_length", truncation=True, max_length=pad_to, return_tensors="pt")
    labels = tokenizer(list(summaries), padding="max_length", truncation=True, max_length=pad_to, return_tensors="pt")
    return {"input_ids": inputs["input_ids"], "labels": labels["input_ids"]}


def bench_training_input(config: SuiteConfig) -> dict[str, Any]:
    """Dynamic padding (the package) vs pad-to-512 (the course): examples/s of forward+backward steps, interleaved."""
    cfg = config.training_input
    tokenizer, _ = world_tokenizers()
    n = cfg.batch_size * (cfg.timed_steps + 1)
    dataset = training_dataset(n, tokenizer, config.max_prompt_tokens)
    tokenized = tokenize_for_training(
        dataset, tokenizer, max_source_length=cfg.max_source_length, max_target_length=cfg.max_target_length
    )
    model = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype).train()
    collator = make_collator(tokenizer, model)
    dynamic_seconds = padded_seconds = 0.0
    dynamic_cpu = padded_cpu = 0.0
    flops = {"dynamic": 0.0, "padded": 0.0}
    for step in tqdm(
        range(cfg.timed_steps + 1), desc="training input (dynamic vs pad-512)", disable=not config.progress, leave=False
    ):
        rows = range(step * cfg.batch_size, (step + 1) * cfg.batch_size)
        dynamic = collator([tokenized[i] for i in rows])
        padded = course_padded_batch(
            tokenizer, [dataset[i]["dialogue"] for i in rows], [dataset[i]["summary"] for i in rows], cfg.pad_to
        )
        with Timer() as t_dyn:
            train_step(model, dynamic)
        with Timer() as t_pad:
            train_step(model, padded)
        if step == 0:
            continue  # warm-up
        dynamic_seconds += t_dyn.wall_s
        padded_seconds += t_pad.wall_s
        dynamic_cpu += t_dyn.cpu_s
        padded_cpu += t_pad.cpu_s
        flops["dynamic"] += 3 * t5_forward_flops(
            model.config, cfg.batch_size, dynamic["input_ids"].shape[1], dynamic["labels"].shape[1]
        )
        flops["padded"] += 3 * t5_forward_flops(
            model.config, cfg.batch_size, padded["input_ids"].shape[1], padded["labels"].shape[1]
        )
    examples = cfg.batch_size * cfg.timed_steps
    speedup = padded_seconds / dynamic_seconds
    tokens = padding_cost(tokenized.select(range(cfg.batch_size, n)), pad_to=cfg.pad_to, batch_size=cfg.batch_size)
    return result(
        "train examples/s",
        examples / padded_seconds,
        examples / dynamic_seconds,
        speedup,
        f">= {cfg.goal_speedup:g}x",
        speedup >= cfg.goal_speedup,
        batch_size=cfg.batch_size,
        timed_steps=cfg.timed_steps,
        tokens=tokens,
        seconds={"padded": padded_seconds, "dynamic": dynamic_seconds},
        cpu_seconds={"padded": padded_cpu, "dynamic": dynamic_cpu},
        cpu_time_ratio=padded_cpu / dynamic_cpu if dynamic_cpu else None,
        achieved_flops_per_s={"padded": flops["padded"] / padded_seconds, "dynamic": flops["dynamic"] / dynamic_seconds},
        dtype=config.dtype,
        note="forward+backward per step (no optimizer step), the two variants alternated step by step",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run this benchmark alone (``--quick``: tiny sizes) into ``--out`` (default ``benchmarks/results/training_input``)."""
    parser = script_arguments(__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    args = parser.parse_args(argv)

    def adjust(config: SuiteConfig) -> SuiteConfig:
        changes = {k: v for k, v in {"batch_size": args.batch_size, "timed_steps": args.steps}.items() if v is not None}
        return replace(config, training_input=replace(config.training_input, **changes))

    run_script("training_input", bench_training_input, args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
