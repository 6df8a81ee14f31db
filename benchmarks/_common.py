"""Shared command line of the ``benchmarks/bench_*.py`` scripts (each runs one benchmark of ``genai_labs.bench``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from genai_labs.bench import SuiteConfig, run_benchmarks, suite_config


def parser(description: str) -> argparse.ArgumentParser:
    """``--quick`` (tiny sizes, seconds) and ``--out DIR`` (default ``benchmarks/results/<name>``)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny model and a few examples: checks the benchmark runs")
    p.add_argument("--out", type=Path, default=None, help="folder for benchmarks.json / benchmarks.md")
    return p


def run(name: str, args: argparse.Namespace, adjust: Callable[[SuiteConfig], SuiteConfig] | None = None) -> dict[str, Any]:
    """Run benchmark ``name`` with the standard sizes (changed by ``adjust``) and write its results."""
    config = suite_config("quick" if args.quick else "cpu")
    if adjust is not None:
        config = adjust(config)
    out = args.out or Path(__file__).resolve().parent / "results" / name
    return run_benchmarks(out, quick=args.quick, only=[name], config=config)
