"""Running benchmarks and writing their results: ``benchmarks.json`` and ``benchmarks.md`` (the suite and each script).

:func:`run_benchmarks` runs the benchmarks it is given, writing both files atomically after each one (a later failure
keeps the earlier results); :func:`run_script` is the command line every ``bench_*.py`` shares.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.config import BENCHMARKS, SuiteConfig, suite_config
from benchmarks.measure import load_average, machine_info
from genai_labs.core.atomic_io import plain, write_json_atomic, write_text_atomic
from genai_labs.core.folders import ensure_writable_folder
from genai_labs.lab2.memory import format_bytes

Benchmark = Callable[[SuiteConfig], dict[str, Any]]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
GPU_ROWS = ("generation", "training_input", "full_vs_lora", "ppo_step")  # the GPU block's inner benchmarks


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "**no**", None: "-"}[value]
    if isinstance(value, float):
        if abs(value) >= 1e6:
            return f"{value / 2**30:.2f} GiB" if value > 1e8 else f"{value:.3g}"
        return f"{value:.3g}"
    return str(value)


def _rows(name: str, result: dict[str, Any]) -> list[str]:
    if "skipped" in result or "error" in result:
        return [f"| {name} | {result.get('skipped') or result.get('error')} | | | | | |"]
    if "metric" not in result:  # the GPU block: one row per inner benchmark
        rows = [row for key in GPU_ROWS if key in result for row in _rows(f"gpu: {key}", result[key])]
        mfu = result.get("mfu", {})
        rows.append("| gpu: MFU | " + ", ".join(f"{k} {v:.1%}" for k, v in mfu.items() if isinstance(v, float)) + " | | | | | |")
        return rows
    ratio = (
        "-"
        if result["ratio"] is None
        else f"{result['ratio']:.0%}"
        if result.get("ratio_unit") == "%"
        else f"{result['ratio']:.2f}x"
    )
    rows = [
        f"| {name} | {result['metric']} | {_fmt(float(result['baseline']))} | {_fmt(float(result['package']))} | {ratio} | "
        f"{result['goal']} | {_fmt(result['met'])} |"
    ]
    if "checkpointed" in result:
        rows += _rows(f"{name} (both with gradient checkpointing)", result["checkpointed"])
    return rows


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (baseline = the course's way, package = genai_labs')."""
    lines = [
        "| benchmark | metric | baseline (course) | genai_labs | ratio | goal | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in BENCHMARKS:
        if name in results["benchmarks"]:
            lines += _rows(name, results["benchmarks"][name])
    return "\n".join(lines)


def details_markdown(results: dict[str, Any]) -> str:
    """Secondary numbers under the table: identical outputs, tokens, step times, PPO breakdown."""
    b = results["benchmarks"]
    lines = []
    if "metric" in b.get("generation", {}):
        g = b["generation"]
        lines.append(
            f"- generation: {g['n_dialogues']} dialogues, batch {g['batch_size']}, {g['max_new_tokens']} new tokens; "
            f"outputs identical {g['identical_count']}/{g['n_dialogues']}; prompt tokens mean {g['prompt_tokens']['mean']:.0f} "
            f"(max {g['prompt_tokens']['max']}); CPU-time ratio {g['cpu_time_ratio']:.2f}x; the encoder alone takes "
            f"{g['encoder_seconds']:.1f} s, which caps any batched speedup at {g['speedup_ceiling']:.2f}x."
        )
    if "metric" in b.get("training_input", {}):
        t = b["training_input"]
        lines.append(
            f"- training input: batch {t['batch_size']}, {t['timed_steps']} timed steps each; tokens processed "
            f"pad-512 {t['tokens']['fixed_tokens']:,} vs dynamic {t['tokens']['dynamic_tokens']:,} "
            f"({t['tokens']['fixed_over_dynamic']:.2f}x, needed {t['tokens']['needed_tokens']:,}); "
            f"CPU-time ratio {t['cpu_time_ratio']:.2f}x."
        )
    if "metric" in b.get("full_vs_lora", {}):
        f = b["full_vs_lora"]
        lines.append(
            f"- full vs LoRA (r {f['lora_settings']['r']}, alpha {f['lora_settings']['alpha']}, "
            f"{'/'.join(f['lora_settings']['target_modules'])}), batch {f['batch_size']}: "
            f"s/step full {f['full']['seconds_per_step']:.2f} vs LoRA {f['lora']['seconds_per_step']:.2f} "
            f"({f['step_time_ratio']:.2f}x); optimizer state {format_bytes(f['full']['optimizer_state_bytes'])} vs "
            f"{format_bytes(f['lora']['optimizer_state_bytes'])} ({f['optimizer_state_ratio']:.2%}); trainable params "
            f"{f['full']['trainable_params']:,} vs {f['lora']['trainable_params']:,}."
        )
        if f.get("memory_by_batch_size"):
            sweep = f["memory_by_batch_size"]
            lines.append(
                "- full vs LoRA, peak live tensor memory of one step by batch size (typical, median-length dialogues): "
                + "; ".join(
                    f"batch {r['batch_size']} ({r['prompt_tokens']:,} prompt tokens) {format_bytes(r['full_bytes'])} vs "
                    f"{format_bytes(r['lora_bytes'])} ({r['ratio']:.0%})"
                    for r in sweep
                )
                + f"; goal met at batch size {', '.join(str(r['batch_size']) for r in sweep if r['met']) or 'none'}."
            )
        if "metric" in f.get("checkpointed", {}):
            c = f["checkpointed"]
            lines.append(
                f"- full vs LoRA, both with gradient checkpointing: peak {format_bytes(c['full']['peak_memory_bytes'])} vs "
                f"{format_bytes(c['lora']['peak_memory_bytes'])} ({c['ratio']:.0%}); "
                f"s/step {c['full']['seconds_per_step']:.2f} vs {c['lora']['seconds_per_step']:.2f} (recomputation costs "
                f"{c['full']['seconds_per_step'] / f['full']['seconds_per_step'] - 1:+.0%} "
                f"and {c['lora']['seconds_per_step'] / f['lora']['seconds_per_step'] - 1:+.0%} step time)."
            )
    if "metric" in b.get("ppo_step", {}):
        p = b["ppo_step"]
        br = p["breakdown"]
        lines.append(
            f"- PPO: batch {p['batch_size']}, mini-batch {p['mini_batch_size']}, responses {p['response_lengths'][0]}-"
            f"{p['response_lengths'][1]} tokens (course {p['course_response_lengths'][0]}-{p['course_response_lengths'][1]}), "
            f"{len(p['per_step'])} step(s): {p['seconds_per_step']:.1f} s/step = rollout {br['time_rollout_s']:.1f} + scoring "
            f"{br['time_scoring_s']:.2f} + optimisation {br['time_optimization_s']:.1f} s."
        )
    return "\n".join(lines)


def write_markdown(path: Path, results: dict[str, Any]) -> Path:
    """Write ``benchmarks.md`` (machine, table, details) atomically."""
    m = results["machine"]
    text = "\n".join(
        [
            f"# genai-labs benchmarks ({results['suite']})",
            "",
            f"Machine: {m['cpu']}, {m['cores_usable']} usable cores, {m['torch_threads']} torch threads, {m['ram_gib']} GiB RAM, "
            f"GPU: {m['gpu']}; torch {m['versions'].get('torch')}, transformers {m['versions'].get('transformers')}, "
            f"peft {m['versions'].get('peft')}; {m['date']}; load average at start {m['load_average_at_start']}, "
            f"at end {results.get('load_average_at_end')}.",
            "",
            markdown_table(results),
            "",
            details_markdown(results),
            "",
        ]
    )
    return write_text_atomic(path, text)


def _earlier_results(path: Path, suite: str) -> dict[str, Any]:
    """Benchmarks of an earlier run of the same suite in ``path`` (kept when only some are re-run)."""
    if not path.is_file():
        return {}
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return dict(earlier.get("benchmarks", {})) if earlier.get("suite") == suite else {}


def run_benchmarks(
    out: Path, benchmarks: Mapping[str, Benchmark], config: SuiteConfig, *, keep_earlier: bool = False
) -> dict[str, Any]:
    """Run ``benchmarks`` (``{name: function}``) with ``config``, write ``<out>/benchmarks.json`` and
    ``<out>/benchmarks.md`` atomically after each, print the table and return the results.

    With ``keep_earlier``, the other benchmarks of an earlier run of the same suite in ``out`` are kept (each result
    carries its ``finished_at``).
    """
    out = ensure_writable_folder(Path(out), option="--out")  # before any benchmark: not after minutes of measuring
    kept = _earlier_results(out / "benchmarks.json", config.name) if keep_earlier else {}
    results: dict[str, Any] = {
        "suite": config.name,
        "quick": config.name == "quick",
        "machine": machine_info(),
        "config": asdict(config),
        "benchmarks": {k: v for k, v in kept.items() if k not in benchmarks},
    }
    for name, benchmark in benchmarks.items():
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        result = benchmark(config)
        result["wall_seconds_total"] = time.perf_counter() - started
        result["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        results["benchmarks"][name] = result
        results["load_average_at_end"] = load_average()
        write_json_atomic(out / "benchmarks.json", results)  # after each benchmark: a later failure keeps these
        write_markdown(out / "benchmarks.md", plain(results))
    print(markdown_table(results))
    print(details_markdown(results))
    return results


def script_arguments(description: str) -> argparse.ArgumentParser:
    """The options every ``bench_*.py`` takes: ``--quick`` (tiny sizes, seconds) and ``--out DIR``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny model and a few examples: checks the benchmark runs")
    parser.add_argument("--out", type=Path, default=None, help="folder for benchmarks.json / benchmarks.md")
    return parser


def run_script(
    name: str, benchmark: Benchmark, args: argparse.Namespace, adjust: Callable[[SuiteConfig], SuiteConfig] | None = None
) -> dict[str, Any]:
    """Run one benchmark from its script: the standard sizes (changed by ``adjust``), results in ``--out`` (default
    ``benchmarks/results/<name>``)."""
    config = suite_config("quick" if args.quick else "cpu")
    if adjust is not None:
        config = adjust(config)
    return run_benchmarks(args.out or RESULTS_DIR / name, {name: benchmark}, config, keep_earlier=True)
