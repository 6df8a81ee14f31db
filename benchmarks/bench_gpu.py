"""Benchmark 5: the suite at course scale in bf16 on a CUDA GPU, with model FLOPs utilisation (MFU).

Records ``{"skipped": "no GPU"}`` where no GPU is visible.

    python -m benchmarks.bench_gpu [--quick] [--out DIR]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from benchmarks.bench_full_vs_lora import bench_full_vs_lora
from benchmarks.bench_generation import bench_generation
from benchmarks.bench_ppo import bench_ppo_step
from benchmarks.bench_training_input import bench_training_input
from benchmarks.config import SuiteConfig, suite_config
from benchmarks.measure import dtype_of, matmul_flops_per_s
from benchmarks.runner import run_script, script_arguments


def bench_gpu(config: SuiteConfig) -> dict[str, Any]:
    """The suite's GPU block: skipped without CUDA, else :func:`course_scale` with the ``gpu`` sizes (``quick`` sizes
    in bf16 on the GPU when ``config`` is the quick suite)."""
    if not torch.cuda.is_available():
        return {"skipped": "no GPU"}
    quick = config.name == "quick"
    gpu = suite_config("quick" if quick else "gpu", progress=config.progress)
    return course_scale(replace(gpu, device="cuda", dtype="bfloat16") if quick else gpu)


def course_scale(config: SuiteConfig) -> dict[str, Any]:
    """The suite at course scale in bf16 on the GPU, with model FLOPs utilisation of the training steps."""
    if not torch.cuda.is_available() and config.device == "cuda":
        return {"skipped": "no GPU"}
    device = torch.device(config.device)
    peak = matmul_flops_per_s(device, dtype_of(config.dtype))
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else str(device),
        "dtype": config.dtype,
        "matmul_flops_per_s": peak,
    }
    for name, bench in (
        ("generation", bench_generation),
        ("training_input", bench_training_input),
        ("full_vs_lora", bench_full_vs_lora),
        ("ppo_step", bench_ppo_step),
    ):
        results[name] = bench(config)
    achieved = results["training_input"]["achieved_flops_per_s"]
    results["mfu"] = {
        "training_input_dynamic": achieved["dynamic"] / peak,
        "training_input_padded": achieved["padded"] / peak,
        "full_finetune": results["full_vs_lora"]["full"]["achieved_flops_per_s"] / peak,
        "lora": results["full_vs_lora"]["lora"]["achieved_flops_per_s"] / peak,
        "note": "model FLOPs (dense + attention + lm_head, 3x forward for a training step, padded shapes) per second "
        "over the measured bf16 matmul rate",
    }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run this benchmark alone (``--quick``: tiny sizes) into ``--out`` (default ``benchmarks/results/gpu``)."""
    run_script("gpu", bench_gpu, script_arguments(__doc__.splitlines()[0]).parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
