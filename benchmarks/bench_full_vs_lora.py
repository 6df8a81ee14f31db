"""Benchmark 3: full fine-tuning vs LoRA (r 32, alpha 32, q/v): s/step, peak memory, optimizer state (AdamW).

Each variant runs in a fresh subprocess (this module with ``--worker``) so that its peak memory is its own.

    python -m benchmarks.bench_full_vs_lora [--quick] [--batch-size 4] [--steps 2] [--out DIR]
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from benchmarks.config import SuiteConfig, config_from_dict
from benchmarks.course_models import build_t5, training_dataset, world_tokenizers
from benchmarks.measure import Timer, result, step_tensor_peak_bytes, train_step
from benchmarks.runner import run_script, script_arguments
from genai_labs.core.atomic_io import plain
from genai_labs.lab2.finetune import add_lora
from genai_labs.lab2.memory import optimizer_state_bytes, peak_rss_bytes, reset_peak_rss, rss_bytes
from genai_labs.lab2.training_data import make_collator, tokenize_for_training
from genai_labs.models import count_parameters, t5_forward_flops

WORKER_FLAG = "--worker"
CHECKOUT = Path(__file__).resolve().parents[1]  # the worker runs as `python -m benchmarks.bench_full_vs_lora` here


def typical_examples(tokenized: Any, k: int) -> list[dict[str, Any]]:
    """The ``k`` examples whose prompt length is closest to the median: a batch of them is a typical batch."""
    lengths = [len(ids) for ids in tokenized["input_ids"]]
    median = sorted(lengths)[len(lengths) // 2]
    order = sorted(range(len(lengths)), key=lambda i: (abs(lengths[i] - median), i))
    return [tokenized[i] for i in order[:k]]


def memory_by_batch_size(
    model: Any,
    optimizer: torch.optim.Optimizer,
    collator: Callable,
    examples: Sequence[dict[str, Any]],
    batch_sizes: Sequence[int],
) -> list[dict[str, Any]]:
    """:func:`step_tensor_peak_bytes` of one step on the first ``b`` of ``examples``, for each ``b`` in ``batch_sizes``."""
    rows = []
    for size in batch_sizes:
        if size > len(examples):
            raise ValueError(
                f"memory_sweep_batch_sizes: batch size {size} is more than the {len(examples)} dialogues of "
                "memory_sweep_pool; raise memory_sweep_pool or lower the batch size."
            )
        batch = collator(list(examples[:size]))
        rows.append(
            {
                "batch_size": size,
                "prompt_tokens": int(batch["attention_mask"].sum()),
                "padded_prompt_length": int(batch["input_ids"].shape[1]),
                "padded_label_length": int(batch["labels"].shape[1]),
                "peak_tensor_bytes": step_tensor_peak_bytes(model, batch, optimizer),
            }
        )
    return rows


def enable_activation_checkpointing(model: Any) -> None:
    """Non-reentrant activation (gradient) checkpointing: each block keeps its input and recomputes the rest in the
    backward pass (no input gradients needed under a frozen LoRA base). A function of its own, so that no bound
    method outlives the call: one kept in a local variable held the original model alive after ``add_lora``
    copied it, adding its weights to LoRA's peak."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x's name for it
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def finetune_variant(config: SuiteConfig, method: str, *, gradient_checkpointing: bool = False) -> dict[str, Any]:
    """Run in a fresh process: build the model, set up ``method`` ("full" or "lora"), take AdamW steps on
    dynamically padded batches; returns step time, peak memory and optimizer-state size.

    ``gradient_checkpointing`` keeps only each block's input for the backward pass and recomputes the rest
    (non-reentrant checkpointing, which needs no input gradients under a frozen LoRA base)."""
    cfg = config.full_vs_lora
    device = torch.device(config.device)
    tokenizer, _ = world_tokenizers()
    n = cfg.batch_size * (cfg.timed_steps + 1)
    tokenized = tokenize_for_training(training_dataset(n, tokenizer, config.max_prompt_tokens), tokenizer)
    sweep = [] if gradient_checkpointing else list(cfg.memory_sweep_batch_sizes)
    if sweep:
        pool = tokenize_for_training(training_dataset(cfg.memory_sweep_pool, tokenizer, config.max_prompt_tokens), tokenizer)
        typical = typical_examples(pool, max(sweep))
    rss_start = rss_bytes()
    model = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    if gradient_checkpointing:
        enable_activation_checkpointing(model)
    if method == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        lr, weight_decay = cfg.full.learning_rate, cfg.full.weight_decay
    elif method == "lora":
        model = add_lora(model, cfg.lora, seed=config.seed)  # wraps a deep copy; the original is dropped
        lr, weight_decay = cfg.lora.learning_rate, cfg.lora.weight_decay
    else:
        raise ValueError(f"method must be 'full' or 'lora', got {method!r}.")
    model.train()
    collator = make_collator(tokenizer, model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    peak_reset = reset_peak_rss()
    rss_ready = rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        cuda_ready = torch.cuda.memory_allocated(device)
    seconds: list[float] = []
    losses: list[float] = []
    flops = 0.0
    for step in range(cfg.timed_steps + 1):
        batch = collator([tokenized[i] for i in range(step * cfg.batch_size, (step + 1) * cfg.batch_size)])
        with Timer() as t:
            losses.append(train_step(model, batch, optimizer))
        if step:
            seconds.append(t.wall_s)
            flops += 3 * t5_forward_flops(model.config, cfg.batch_size, batch["input_ids"].shape[1], batch["labels"].shape[1])
    trainable, total = count_parameters(model)
    out: dict[str, Any] = {
        "method": method,
        "gradient_checkpointing": gradient_checkpointing,
        "seconds_per_step": sum(seconds) / len(seconds),
        "losses": losses,
        "optimizer_state_bytes": optimizer_state_bytes(optimizer),
        "trainable_params": trainable,
        "total_params": total,
        "achieved_flops_per_s": flops / sum(seconds),
    }
    if device.type == "cuda":
        out.update(
            peak_memory_bytes=int(torch.cuda.max_memory_allocated(device)),
            memory_before_steps_bytes=int(cuda_ready),
            memory_note="torch.cuda.max_memory_allocated (weights included)",
        )
    else:
        peak = peak_rss_bytes()  # before the sweep's larger batches
        out.update(
            peak_memory_bytes=(peak - rss_start) if rss_start is not None else None,
            memory_before_steps_bytes=(rss_ready - rss_start) if rss_ready is not None and rss_start is not None else None,
            peak_rss_bytes=peak,
            memory_note="peak RSS (VmHWM, reset after setup) minus RSS before the model was built: weights, gradients, "
            "optimizer state, activations" + ("" if peak_reset else "; VmHWM could not be reset (setup peak included)"),
        )
    if sweep:
        out["memory_by_batch_size"] = memory_by_batch_size(model, optimizer, collator, typical, sweep)
    return out


def _run_worker(config: SuiteConfig, method: str, gradient_checkpointing: bool = False) -> dict[str, Any]:
    """:func:`finetune_variant` in a fresh Python process; its result comes back as the last stdout line."""
    payload = json.dumps({"method": method, "gradient_checkpointing": gradient_checkpointing, "config": asdict(config)})
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_full_vs_lora", WORKER_FLAG, payload],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        check=False,
        cwd=CHECKOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"full_vs_lora worker ({method}) failed with exit code {proc.returncode}; its stderr is above.")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"[bench] full_vs_lora {method}{' (checkpointed)' if gradient_checkpointing else ''}: {json.dumps(result)}",
        file=sys.stderr,
        flush=True,
    )
    return result


def memory_sweep_table(full: Sequence[dict[str, Any]], lora: Sequence[dict[str, Any]], goal: float) -> list[dict[str, Any]]:
    """Pair the two variants' :func:`memory_by_batch_size` rows: LoRA's share of full fine-tuning's peak per batch size."""
    rows = []
    for f, lo in zip(full, lora):
        ratio = lo["peak_tensor_bytes"] / f["peak_tensor_bytes"]
        rows.append(
            {
                "batch_size": f["batch_size"],
                "prompt_tokens": f["prompt_tokens"],
                "full_bytes": f["peak_tensor_bytes"],
                "lora_bytes": lo["peak_tensor_bytes"],
                "ratio": ratio,
                "met": ratio <= goal,
            }
        )
    return rows


def _compare_full_lora(config: SuiteConfig, gradient_checkpointing: bool) -> dict[str, Any]:
    cfg = config.full_vs_lora
    full = _run_worker(config, "full", gradient_checkpointing)
    lora = _run_worker(config, "lora", gradient_checkpointing)
    ratio = lora["peak_memory_bytes"] / full["peak_memory_bytes"] if full["peak_memory_bytes"] else float("nan")
    sweep = {}
    if "memory_by_batch_size" in full and "memory_by_batch_size" in lora:
        sweep["memory_by_batch_size"] = memory_sweep_table(
            full["memory_by_batch_size"], lora["memory_by_batch_size"], cfg.goal_memory_ratio
        )
    return result(
        "peak training memory (bytes)",
        full["peak_memory_bytes"],
        lora["peak_memory_bytes"],
        ratio,
        f"LoRA <= {cfg.goal_memory_ratio:.0%} of full",
        ratio <= cfg.goal_memory_ratio,
        ratio_unit="%",
        full=full,
        lora=lora,
        batch_size=cfg.batch_size,
        timed_steps=cfg.timed_steps,
        gradient_checkpointing=gradient_checkpointing,
        step_time_ratio=lora["seconds_per_step"] / full["seconds_per_step"],
        optimizer_state_ratio=lora["optimizer_state_bytes"] / full["optimizer_state_bytes"],
        lora_settings={"r": cfg.lora.r, "alpha": cfg.lora.alpha, "target_modules": list(cfg.lora.target_modules)},
        dtype=config.dtype,
        **sweep,
    )


def bench_full_vs_lora(config: SuiteConfig) -> dict[str, Any]:
    """Full fine-tuning vs LoRA: time per AdamW step, peak training memory, optimizer state (fresh process each),
    as the course trains (activations kept) and, when configured, both with gradient checkpointing."""
    result = _compare_full_lora(config, gradient_checkpointing=False)
    if config.full_vs_lora.with_gradient_checkpointing:
        result["checkpointed"] = _compare_full_lora(config, gradient_checkpointing=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run this benchmark alone (``--quick``: tiny sizes) into ``--out`` (default ``benchmarks/results/full_vs_lora``);
    with ``--worker PAYLOAD``, measure one variant and print its result as the last line (:func:`finetune_variant`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER_FLAG]:
        payload = json.loads(argv[1])
        measured = finetune_variant(
            config_from_dict(payload["config"]),
            payload["method"],
            gradient_checkpointing=bool(payload.get("gradient_checkpointing", False)),
        )
        print(json.dumps(plain(measured)), flush=True)
        return 0
    parser = script_arguments(__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed AdamW steps per variant")
    args = parser.parse_args(argv)

    def adjust(config: SuiteConfig) -> SuiteConfig:
        changes = {k: v for k, v in {"batch_size": args.batch_size, "timed_steps": args.steps}.items() if v is not None}
        return replace(config, full_vs_lora=replace(config.full_vs_lora, **changes))

    run_script("full_vs_lora", bench_full_vs_lora, args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
