"""The benchmark suite behind ``genai-labs bench``: what the package's choices buy, measured side by side.

Four CPU benchmarks compare the package's code with the course's original way of doing the same thing, on randomly
initialised models of the course's exact architectures (``course_models``):

1. ``generation`` (``bench_generation``): ``generate_texts`` (length-sorted, dynamically padded batches) vs
   ``generate_one_by_one`` (the course's loop), greedy, outputs compared;
2. ``training_input`` (``bench_training_input``): Lab 2's ``tokenize_for_training`` + ``make_collator`` (dynamic
   padding, labels -100) vs the course's pad-everything-to-512, forward+backward steps;
3. ``full_vs_lora`` (``bench_full_vs_lora``): full fine-tuning vs LoRA (``add_lora``, the course's r 32 / alpha 32
   on q and v), AdamW steps, each variant in a fresh subprocess so its peak memory is its own;
4. ``ppo_step`` (``bench_ppo``): one ``Seq2SeqPPO`` step (rollout, scoring, optimisation) with a roberta-base-shaped
   reward model;

and ``gpu`` (``bench_gpu``) repeats them at course scale in bf16 with model FLOPs utilisation when a CUDA GPU is
visible. Results go to ``benchmarks.json`` and ``benchmarks.md`` (``runner``).

    python -m benchmarks.suite [--out DIR] [--quick] [--only NAME ...]     # from the checkout; or genai-labs bench
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench_full_vs_lora import bench_full_vs_lora
from benchmarks.bench_generation import bench_generation
from benchmarks.bench_gpu import bench_gpu
from benchmarks.bench_ppo import bench_ppo_step
from benchmarks.bench_training_input import bench_training_input
from benchmarks.config import BENCHMARKS, SuiteConfig, suite_config
from benchmarks.runner import Benchmark, run_benchmarks
from genai_labs.core.validation import ConfigError

SUITE: dict[str, Benchmark] = {
    "generation": bench_generation,
    "training_input": bench_training_input,
    "full_vs_lora": bench_full_vs_lora,
    "ppo_step": bench_ppo_step,
    "gpu": bench_gpu,
}
assert tuple(SUITE) == BENCHMARKS


def run_suite(
    out: Path, *, quick: bool = False, only: Sequence[str] | None = None, config: SuiteConfig | None = None
) -> dict[str, Any]:
    """Run the suite (or the benchmarks named in ``only``) into ``out`` and return the results.

    ``quick`` uses tiny models and a handful of examples (seconds; checks the suite, numbers not meaningful);
    ``config`` replaces the standard sizes. The ``gpu`` block runs only when CUDA is available. With ``only``, the
    other benchmarks of an earlier run of the same suite in ``out`` are kept.
    """
    names = list(only) if only else list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        raise ConfigError(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(SUITE)}.")
    config = config or suite_config("quick" if quick else "cpu")
    return run_benchmarks(out, {name: SUITE[name] for name in names}, config, keep_earlier=bool(only))


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The suite's options (``genai-labs bench`` and ``python -m benchmarks.suite``)."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results"),
        help="folder for JSON and Markdown results, created if missing (default: %(default)s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: checks the suite runs, numbers are not meaningful (default: off, the full suite)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=BENCHMARKS,
        default=None,
        metavar="NAME",
        help="run only these benchmarks, of: %(choices)s; earlier results of the others in --out are kept (default: all)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.suite``: the suite as ``genai-labs bench`` runs it."""
    args = add_arguments(
        argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__.splitlines()[0])
    ).parse_args(argv)
    try:
        run_suite(args.out, quick=args.quick, only=args.only)
    except ConfigError as err:
        print(f"benchmarks.suite: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
