"""The benchmark suite behind ``genai-labs bench``: what the package's choices buy, measured side by side.

Four CPU benchmarks compare the package's code with the course's original way of doing the same thing, on a
randomly initialised model with google/flan-t5-base's exact architecture (no hub needed; speed and memory do
not depend on the weights' values):

1. ``generation``: :func:`genai_labs.generation.generate_texts` (length-sorted, dynamically padded batches)
   vs :func:`genai_labs.generation.generate_one_by_one` (the course's loop), greedy, outputs compared;
2. ``training_input``: :func:`genai_labs.finetune.tokenize_for_training` + :func:`~genai_labs.finetune.make_collator`
   (dynamic padding, labels -100) vs the course's pad-everything-to-512, forward+backward steps;
3. ``full_vs_lora``: full fine-tuning vs LoRA (:func:`genai_labs.finetune.add_lora`, the course's r 32 / alpha 32
   on q and v), AdamW steps, each variant in a fresh subprocess so its peak memory is its own;
4. ``ppo_step``: one :class:`genai_labs.ppo.Seq2SeqPPO` step (rollout, scoring, optimisation) with a
   roberta-base-shaped reward model;

and ``gpu`` repeats them at course scale in bf16 with model FLOPs utilisation when a CUDA GPU is visible.
:func:`run_benchmarks` writes ``benchmarks.json`` and ``benchmarks.md``; ``benchmarks/*.py`` run one each.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from genai_labs.config import FineTuneConfig, LoraSettings, PPOConfig, ensure_writable_folder
from genai_labs.memory import (allocated_peak_bytes, format_bytes, optimizer_state_bytes, peak_rss_bytes, proc_field,
                               reset_peak_rss, rss_bytes, storage_bytes)
from genai_labs.models import t5_forward_flops
from genai_labs.atomic_io import plain, write_json_atomic, write_text_atomic
from genai_labs.report import library_versions

SHARED_DIALOGSUM = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dialogsum"
BENCHMARKS = ("generation", "training_input", "full_vs_lora", "ppo_step", "gpu")
WORKER_FLAG = "--finetune-worker"


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class T5Shape:
    """Architecture of the benchmark's seq2seq model (default: google/flan-t5-base's exact config)."""

    d_model: int = 768
    d_ff: int = 2048
    d_kv: int = 64
    num_layers: int = 12
    num_decoder_layers: int = 12
    num_heads: int = 12
    vocab_size: int | None = 32128  # None: the tokenizer's size


@dataclass(frozen=True)
class RobertaShape:
    """Architecture of the benchmark's reward model (default: roberta-base, as the course's hate-speech classifier)."""

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    vocab_size: int | None = 50265  # None: the tokenizer's size
    max_position_embeddings: int = 514


QUICK_T5 = T5Shape(d_model=64, d_ff=128, d_kv=16, num_layers=2, num_decoder_layers=2, num_heads=4, vocab_size=None)
QUICK_ROBERTA = RobertaShape(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=None)


@dataclass(frozen=True)
class GenerationBench:
    """Benchmark 1: batched vs one-by-one greedy summaries (Lab 1's ``max_new_tokens=50``)."""

    n_dialogues: int = 32  # two batches: length sorting has lengths to group
    batch_size: int = 16
    max_new_tokens: int = 50
    goal_speedup: float = 5.0


@dataclass(frozen=True)
class TrainingInputBench:
    """Benchmark 2: dynamic padding vs the course's pad-to-512, timed forward+backward steps (interleaved)."""

    batch_size: int = 2
    timed_steps: int = 2  # per variant, after one untimed warm-up step each
    pad_to: int = 512
    max_source_length: int = 512
    max_target_length: int = 128
    goal_speedup: float = 2.0


@dataclass(frozen=True)
class FullVsLoraBench:
    """Benchmark 3: AdamW steps of full fine-tuning vs LoRA (course settings), one subprocess per variant."""

    batch_size: int = 4
    timed_steps: int = 2  # after one untimed warm-up step
    full: FineTuneConfig = field(default_factory=FineTuneConfig)
    lora: LoraSettings = field(default_factory=lambda: LoraSettings(r=32, alpha=32, target_modules=("q", "v")))
    goal_memory_ratio: float = 0.6
    # also measure both with gradient checkpointing (activations recomputed in the backward pass): LoRA saves the
    # weights' gradients and optimizer state, not activations, so its share depends on how much activations weigh
    with_gradient_checkpointing: bool = True
    # then one step at each of these batch sizes of typical (median-length) dialogues, measuring live tensor memory:
    # where LoRA's share of full fine-tuning's peak crosses the goal as activations grow with the batch
    memory_sweep_batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    memory_sweep_pool: int = 200  # dialogues the typical ones are picked from


@dataclass(frozen=True)
class PPOBench:
    """Benchmark 4: timed :class:`~genai_labs.ppo.Seq2SeqPPO` steps (course: batch 16, mini-batch 4, 100-400 tokens)."""

    steps: int = 1
    ppo: PPOConfig = field(default_factory=PPOConfig)
    lora: LoraSettings = field(default_factory=lambda: LoraSettings(r=32, alpha=32, target_modules=("q", "v")))
    course_seconds_per_step: tuple[float, float] = (72.0, 103.0)  # the original lab, 8 vCPUs


@dataclass(frozen=True)
class SuiteConfig:
    """Every size of one benchmark run (:func:`suite_config` gives the standard ones)."""

    name: str
    t5: T5Shape = field(default_factory=T5Shape)
    reward: RobertaShape = field(default_factory=RobertaShape)
    generation: GenerationBench = field(default_factory=GenerationBench)
    training_input: TrainingInputBench = field(default_factory=TrainingInputBench)
    full_vs_lora: FullVsLoraBench = field(default_factory=FullVsLoraBench)
    ppo: PPOBench = field(default_factory=PPOBench)
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    progress: bool = True
    max_prompt_tokens: int | None = None  # only dialogues whose prompt fits (None: the model's context)


# On CPU the course's 100-400-token responses make one PPO step take many minutes on two cores; the default CPU
# run uses shorter responses (the GPU run and ``benchmarks/bench_ppo.py --course-lengths`` use the course's).
CPU_PPO_LENGTHS = (32, 64)


def suite_config(kind: str = "cpu", *, progress: bool = True) -> SuiteConfig:
    """The standard sizes: ``"cpu"`` (course-shaped model, bounded for 2 cores), ``"quick"`` (tiny, seconds: checks
    the suite runs, numbers not meaningful) or ``"gpu"`` (course scale, bf16)."""
    if kind == "cpu":
        ppo = PPOConfig(response_length_min=CPU_PPO_LENGTHS[0], response_length_max=CPU_PPO_LENGTHS[1])
        return SuiteConfig(name="cpu", ppo=PPOBench(ppo=ppo), progress=progress)
    if kind == "quick":
        return SuiteConfig(
            name="quick",
            t5=QUICK_T5,
            reward=QUICK_ROBERTA,
            generation=GenerationBench(n_dialogues=4, batch_size=2, max_new_tokens=6),
            training_input=TrainingInputBench(batch_size=2, timed_steps=1, pad_to=512),
            full_vs_lora=FullVsLoraBench(batch_size=2, timed_steps=1, memory_sweep_batch_sizes=(1, 2), memory_sweep_pool=8),
            ppo=PPOBench(ppo=PPOConfig(batch_size=2, mini_batch_size=1, response_length_min=2, response_length_max=4)),
            progress=progress,
            max_prompt_tokens=128,
        )
    if kind == "gpu":
        return SuiteConfig(
            name="gpu",
            generation=GenerationBench(n_dialogues=64, batch_size=16),
            training_input=TrainingInputBench(batch_size=8, timed_steps=10),
            full_vs_lora=FullVsLoraBench(batch_size=8, timed_steps=10, memory_sweep_batch_sizes=(4, 8, 16, 32)),
            ppo=PPOBench(steps=2),
            device="cuda",
            dtype="bfloat16",
            progress=progress,
        )
    raise ValueError(f"suite_config: kind must be 'cpu', 'quick' or 'gpu', got {kind!r}.")


def _config_from_dict(data: dict[str, Any]) -> SuiteConfig:
    """Inverse of ``asdict(SuiteConfig)`` (the fine-tuning worker receives its config as JSON)."""

    def build(cls: type, values: dict[str, Any]) -> Any:
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            inner = {"t5": T5Shape, "reward": RobertaShape, "generation": GenerationBench, "training_input": TrainingInputBench,
                     "full_vs_lora": FullVsLoraBench, "ppo": PPOBench if cls is SuiteConfig else PPOConfig,
                     "full": FineTuneConfig, "lora": LoraSettings}.get(f.name)
            if inner is not None and isinstance(value, dict):
                value = build(inner, value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    return build(SuiteConfig, data)


# --------------------------------------------------------------------------------------------------
# Machine, timing and memory
# --------------------------------------------------------------------------------------------------


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages (how busy the machine was: the runs are not alone on it)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, torch threads, RAM, GPU, library versions and the date of a benchmark run."""
    mem_kib = proc_field("/proc/meminfo", "MemTotal")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "gpu": gpu or "none",
        "load_average_at_start": load_average(),
        "versions": library_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass
class Timer:
    """Wall and process CPU seconds of a block (CPU time is less sensitive to other jobs on the machine)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    def __enter__(self) -> "Timer":
        _sync()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        _sync()
        self.wall_s += time.perf_counter() - self._wall
        self.cpu_s += time.process_time() - self._cpu


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def step_tensor_peak_bytes(model: Any, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer) -> int:
    """Peak live tensor memory of one training step (:func:`_train_step`): the weights, buffers and optimizer state
    kept across steps plus the most the step allocates on top (activations, gradients, temporaries)."""
    device = next(model.parameters()).device
    model.zero_grad(set_to_none=True)
    state = [v for values in optimizer.state.values() for v in values.values() if torch.is_tensor(v)]
    held = storage_bytes([*model.parameters(), *model.buffers(), *state])
    return held + allocated_peak_bytes(lambda: _train_step(model, batch, optimizer), device)


def typical_examples(tokenized: Any, k: int) -> list[dict[str, Any]]:
    """The ``k`` examples whose prompt length is closest to the median: a batch of them is a typical batch."""
    lengths = [len(ids) for ids in tokenized["input_ids"]]
    median = sorted(lengths)[len(lengths) // 2]
    order = sorted(range(len(lengths)), key=lambda i: (abs(lengths[i] - median), i))
    return [tokenized[i] for i in order[:k]]


def memory_by_batch_size(model: Any, optimizer: torch.optim.Optimizer, collator: Callable, examples: Sequence[dict[str, Any]],
                         batch_sizes: Sequence[int]) -> list[dict[str, Any]]:
    """:func:`step_tensor_peak_bytes` of one step on the first ``b`` of ``examples``, for each ``b`` in ``batch_sizes``."""
    rows = []
    for size in batch_sizes:
        if size > len(examples):
            raise ValueError(f"memory_sweep_batch_sizes: batch size {size} is more than the {len(examples)} dialogues of "
                             "memory_sweep_pool; raise memory_sweep_pool or lower the batch size.")
        batch = collator(list(examples[:size]))
        rows.append({"batch_size": size, "prompt_tokens": int(batch["attention_mask"].sum()),
                     "padded_prompt_length": int(batch["input_ids"].shape[1]), "padded_label_length": int(batch["labels"].shape[1]),
                     "peak_tensor_bytes": step_tensor_peak_bytes(model, batch, optimizer)})
    return rows


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype, *, size: int = 4096, repeats: int = 10) -> float:
    """Measured dense matmul rate (FLOP/s) on ``device`` in ``dtype``: the denominator of MFU."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    with Timer() as t:
        for _ in range(repeats):
            a @ b
    return 2 * size**3 * repeats / t.wall_s


# --------------------------------------------------------------------------------------------------
# Models and data
# --------------------------------------------------------------------------------------------------


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def world_tokenizers() -> tuple[Any, Any]:
    """The tiny world's T5 tokenizer and reward tokenizer (built once by the world build, then cached)."""
    from transformers import AutoTokenizer

    from genai_labs.world.assets import ensure_world_assets

    assets = ensure_world_assets(progress=False)
    return AutoTokenizer.from_pretrained(assets.t5_dir), AutoTokenizer.from_pretrained(assets.reward_dir)


def build_t5(shape: T5Shape, tokenizer: Any, *, seed: int, device: str = "cpu", dtype: str = "float32") -> Any:
    """A randomly initialised FLAN-T5-architecture model (gated-gelu, untied ``lm_head``) of ``shape``.

    The tokenizer covers ids below ``len(tokenizer)`` only, so the ``lm_head`` rows above it are zeroed: greedy
    decoding then picks decodable tokens (random logits of the real rows beat 0) at unchanged cost. A random model
    rarely emits ``</s>``, so generations run to ``max_new_tokens``.
    """
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    from genai_labs.models import quiet_transformers
    from genai_labs.world.pretraining import untie_lm_head

    vocab = shape.vocab_size or len(tokenizer)
    if vocab < len(tokenizer):
        raise ValueError(f"T5Shape.vocab_size={vocab} is smaller than the tokenizer's {len(tokenizer)} ids.")
    config = T5Config(
        vocab_size=vocab, d_model=shape.d_model, d_ff=shape.d_ff, d_kv=shape.d_kv, num_layers=shape.num_layers,
        num_decoder_layers=shape.num_decoder_layers, num_heads=shape.num_heads, feed_forward_proj="gated-gelu",
        dropout_rate=0.1, tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    with quiet_transformers():
        model = T5ForConditionalGeneration(config)
    untie_lm_head(model)
    with torch.no_grad():
        model.lm_head.weight[len(tokenizer) :] = 0
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return model.to(device=device, dtype=_dtype(dtype)).eval()


def build_reward_model(shape: RobertaShape, tokenizer: Any, *, seed: int, device: str = "cpu", dtype: str = "float32") -> Any:
    """A randomly initialised RoBERTa classifier of ``shape`` with the course's ``id2label {0: nothate, 1: hate}``."""
    from transformers import RobertaConfig, RobertaForSequenceClassification

    from genai_labs.models import quiet_transformers

    config = RobertaConfig(
        vocab_size=max(shape.vocab_size or 0, len(tokenizer)), hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_hidden_layers, num_attention_heads=shape.num_attention_heads,
        intermediate_size=shape.intermediate_size, max_position_embeddings=shape.max_position_embeddings,
        type_vocab_size=1, pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 1,
        num_labels=2, id2label={0: "nothate", 1: "hate"}, label2id={"nothate": 0, "hate": 1},
    )
    torch.manual_seed(seed)
    with quiet_transformers():
        model = RobertaForSequenceClassification(config)
    return model.to(device=device, dtype=_dtype(dtype)).eval()


def dialogue_rows() -> tuple[list[dict[str, Any]], str]:
    """Dialogues with summaries: the real DialogSum validation split when ``../shared/datasets/dialogsum`` has it,
    else the tiny world's validation split; returns ``(rows, source)``."""
    real = SHARED_DIALOGSUM / "validation.jsonl"
    if real.is_file():
        from genai_labs.data import read_dialogsum_jsonl

        return read_dialogsum_jsonl(real), str(real)
    from genai_labs.config import load_profile
    from genai_labs.data import load_dialogsum

    data = load_dialogsum(load_profile("tiny", env={}))
    return [dict(row) for row in data.validation], data.source


def prompts_that_fit(
    tokenizer: Any, dialogues: Sequence[str], prompt_fn: Callable[[str], str], n: int, max_tokens: int | None = None
) -> list[str]:
    """The first ``n`` prompts no longer than ``max_tokens`` and the tokenizer's context (prompts are never truncated)."""
    from genai_labs.generation import context_limit
    from genai_labs.prompts import count_tokens

    limit = min(context_limit(tokenizer) or 10**9, max_tokens or 10**9)
    prompts = [prompt_fn(d) for d in dialogues]
    return [p for p in prompts if count_tokens(tokenizer, p) <= limit][:n]


def _token_stats(tokenizer: Any, texts: Sequence[str]) -> dict[str, float]:
    lengths = [len(ids) for ids in tokenizer(list(texts))["input_ids"]]
    return {"mean": sum(lengths) / len(lengths), "min": min(lengths), "max": max(lengths)}


def _result(metric: str, baseline: float, package: float, ratio: float | None, goal: str, met: bool | None, *, ratio_unit: str = "x",
            **details: Any) -> dict[str, Any]:
    """One benchmark's headline: the course's way (baseline) vs the package's, their ratio, the goal and whether it was met."""
    return {"metric": metric, "baseline": baseline, "package": package, "ratio": ratio, "ratio_unit": ratio_unit, "goal": goal,
            "met": met, **details}


# --------------------------------------------------------------------------------------------------
# 1. Generation
# --------------------------------------------------------------------------------------------------


def encoder_seconds(model: Any, tokenizer: Any, prompts: Sequence[str], batch_size: int) -> Timer:
    """Time of the encoder alone over ``prompts`` in ``generate_texts``' batches (longest first, dynamic padding).

    Batching shares the decoder's weight reads across a batch but cannot shrink the encoder's work, so the speedup of
    any batched generation over the one-by-one loop is at most (one-by-one time) / (this time)."""
    from genai_labs.generation import length_sorted_batches, model_device

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
    from genai_labs.generation import GenerationSettings, generate_one_by_one, generate_texts
    from genai_labs.prompts import instruction_prompt

    cfg = config.generation
    tokenizer, _ = world_tokenizers()
    rows, source = dialogue_rows()
    prompts = prompts_that_fit(tokenizer, [r["dialogue"] for r in rows], instruction_prompt, cfg.n_dialogues, config.max_prompt_tokens)
    model = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens)
    generate_texts(model, tokenizer, prompts[:1], settings, progress=False)  # warm-up (kernels, allocator)
    with Timer() as one:
        slow = generate_one_by_one(model, tokenizer, prompts, settings, progress=config.progress)
    with Timer() as batched:
        fast = generate_texts(model, tokenizer, prompts, settings, batch_size=cfg.batch_size, progress=config.progress)
    encoder = encoder_seconds(model, tokenizer, prompts, cfg.batch_size)
    identical = sum(a == b for a, b in zip(slow, fast))
    speedup = one.wall_s / batched.wall_s
    return _result(
        "summaries/s", len(prompts) / one.wall_s, len(prompts) / batched.wall_s, speedup,
        f">= {cfg.goal_speedup:g}x", speedup >= cfg.goal_speedup,
        identical_outputs=identical == len(prompts), identical_count=identical, n_dialogues=len(prompts),
        batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens, prompt_tokens=_token_stats(tokenizer, prompts),
        seconds={"one_by_one": one.wall_s, "batched": batched.wall_s},
        cpu_seconds={"one_by_one": one.cpu_s, "batched": batched.cpu_s},
        cpu_time_ratio=one.cpu_s / batched.cpu_s if batched.cpu_s else None,
        encoder_seconds=encoder.wall_s, speedup_ceiling=one.wall_s / encoder.wall_s,
        data=source, model=config.t5.__class__.__name__ + str(asdict(config.t5)), dtype=config.dtype,
        note="greedy; random weights rarely emit </s>, so both paths generate the full max_new_tokens",
    )


# --------------------------------------------------------------------------------------------------
# 2. Training input pipeline
# --------------------------------------------------------------------------------------------------


def _training_dataset(n: int, tokenizer: Any, max_prompt_tokens: int | None) -> Any:
    """The first ``n`` (dialogue, summary) rows, only those whose training prompt has at most ``max_prompt_tokens``
    (``None``: all; longer prompts are then truncated to ``max_source_length`` as in training)."""
    import datasets

    from genai_labs.prompts import count_tokens, training_prompt

    rows, _ = dialogue_rows()
    if max_prompt_tokens is not None:
        rows = [r for r in rows if count_tokens(tokenizer, training_prompt(r["dialogue"])) <= max_prompt_tokens]
    return datasets.Dataset.from_dict({"dialogue": [r["dialogue"] for r in rows[:n]], "summary": [r["summary"] for r in rows[:n]]})


def course_padded_batch(tokenizer: Any, dialogues: Sequence[str], summaries: Sequence[str], pad_to: int) -> dict[str, torch.Tensor]:
    """The course's Lab 2 preprocessing, the baseline: prompt and summary both padded to ``pad_to`` (512), pad id 0
    kept in the labels (so padding counts in the loss), only ``input_ids`` and ``labels`` passed to the model."""
    from genai_labs.prompts import training_prompt

    prompts = [training_prompt(d) for d in dialogues]
    inputs = tokenizer(prompts, padding="max_length", truncation=True, max_length=pad_to, return_tensors="pt")
    labels = tokenizer(list(summaries), padding="max_length", truncation=True, max_length=pad_to, return_tensors="pt")
    return {"input_ids": inputs["input_ids"], "labels": labels["input_ids"]}


def _train_step(model: Any, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer | None = None) -> float:
    """One forward+backward (and optimizer step when given) on ``batch``; returns the loss."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    model.zero_grad(set_to_none=True)
    loss = model(**batch, use_cache=False).loss  # training: no decoder cache (and none to clash with checkpointing)
    loss.backward()
    if optimizer is not None:
        optimizer.step()
    return float(loss.detach())


def bench_training_input(config: SuiteConfig) -> dict[str, Any]:
    """Dynamic padding (the package) vs pad-to-512 (the course): examples/s of forward+backward steps, interleaved."""
    from tqdm.auto import tqdm

    from genai_labs.finetune import make_collator, padding_cost, tokenize_for_training

    cfg = config.training_input
    tokenizer, _ = world_tokenizers()
    n = cfg.batch_size * (cfg.timed_steps + 1)
    dataset = _training_dataset(n, tokenizer, config.max_prompt_tokens)
    tokenized = tokenize_for_training(dataset, tokenizer, max_source_length=cfg.max_source_length, max_target_length=cfg.max_target_length)
    model = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype).train()
    collator = make_collator(tokenizer, model)
    dynamic_seconds = padded_seconds = 0.0
    dynamic_cpu = padded_cpu = 0.0
    flops = {"dynamic": 0.0, "padded": 0.0}
    for step in tqdm(range(cfg.timed_steps + 1), desc="training input (dynamic vs pad-512)", disable=not config.progress, leave=False):
        rows = range(step * cfg.batch_size, (step + 1) * cfg.batch_size)
        dynamic = collator([tokenized[i] for i in rows])
        padded = course_padded_batch(tokenizer, [dataset[i]["dialogue"] for i in rows], [dataset[i]["summary"] for i in rows], cfg.pad_to)
        with Timer() as t_dyn:
            _train_step(model, dynamic)
        with Timer() as t_pad:
            _train_step(model, padded)
        if step == 0:
            continue  # warm-up
        dynamic_seconds += t_dyn.wall_s
        padded_seconds += t_pad.wall_s
        dynamic_cpu += t_dyn.cpu_s
        padded_cpu += t_pad.cpu_s
        flops["dynamic"] += 3 * t5_forward_flops(model.config, cfg.batch_size, dynamic["input_ids"].shape[1], dynamic["labels"].shape[1])
        flops["padded"] += 3 * t5_forward_flops(model.config, cfg.batch_size, padded["input_ids"].shape[1], padded["labels"].shape[1])
    examples = cfg.batch_size * cfg.timed_steps
    speedup = padded_seconds / dynamic_seconds
    tokens = padding_cost(tokenized.select(range(cfg.batch_size, n)), pad_to=cfg.pad_to, batch_size=cfg.batch_size)
    return _result(
        "train examples/s", examples / padded_seconds, examples / dynamic_seconds, speedup,
        f">= {cfg.goal_speedup:g}x", speedup >= cfg.goal_speedup,
        batch_size=cfg.batch_size, timed_steps=cfg.timed_steps, tokens=tokens,
        seconds={"padded": padded_seconds, "dynamic": dynamic_seconds},
        cpu_seconds={"padded": padded_cpu, "dynamic": dynamic_cpu},
        cpu_time_ratio=padded_cpu / dynamic_cpu if dynamic_cpu else None,
        achieved_flops_per_s={"padded": flops["padded"] / padded_seconds, "dynamic": flops["dynamic"] / dynamic_seconds},
        dtype=config.dtype,
        note="forward+backward per step (no optimizer step), the two variants alternated step by step",
    )


# --------------------------------------------------------------------------------------------------
# 3. Full fine-tuning vs LoRA (one subprocess per variant)
# --------------------------------------------------------------------------------------------------


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
    from genai_labs.finetune import add_lora, make_collator, tokenize_for_training
    from genai_labs.models import count_parameters

    cfg = config.full_vs_lora
    device = torch.device(config.device)
    tokenizer, _ = world_tokenizers()
    n = cfg.batch_size * (cfg.timed_steps + 1)
    tokenized = tokenize_for_training(_training_dataset(n, tokenizer, config.max_prompt_tokens), tokenizer)
    sweep = [] if gradient_checkpointing else list(cfg.memory_sweep_batch_sizes)
    if sweep:
        pool = tokenize_for_training(_training_dataset(cfg.memory_sweep_pool, tokenizer, config.max_prompt_tokens), tokenizer)
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
            losses.append(_train_step(model, batch, optimizer))
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
        out.update(peak_memory_bytes=int(torch.cuda.max_memory_allocated(device)), memory_before_steps_bytes=int(cuda_ready),
                   memory_note="torch.cuda.max_memory_allocated (weights included)")
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
        [sys.executable, "-m", "genai_labs.bench", WORKER_FLAG, payload],
        stdout=subprocess.PIPE, stderr=None, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"full_vs_lora worker ({method}) failed with exit code {proc.returncode}; its stderr is above.")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"[bench] full_vs_lora {method}{' (checkpointed)' if gradient_checkpointing else ''}: {json.dumps(result)}",
          file=sys.stderr, flush=True)
    return result


def memory_sweep_table(full: Sequence[dict[str, Any]], lora: Sequence[dict[str, Any]], goal: float) -> list[dict[str, Any]]:
    """Pair the two variants' :func:`memory_by_batch_size` rows: LoRA's share of full fine-tuning's peak per batch size."""
    rows = []
    for f, l in zip(full, lora):
        ratio = l["peak_tensor_bytes"] / f["peak_tensor_bytes"]
        rows.append({"batch_size": f["batch_size"], "prompt_tokens": f["prompt_tokens"], "full_bytes": f["peak_tensor_bytes"],
                     "lora_bytes": l["peak_tensor_bytes"], "ratio": ratio, "met": ratio <= goal})
    return rows


def _compare_full_lora(config: SuiteConfig, gradient_checkpointing: bool) -> dict[str, Any]:
    cfg = config.full_vs_lora
    full = _run_worker(config, "full", gradient_checkpointing)
    lora = _run_worker(config, "lora", gradient_checkpointing)
    ratio = lora["peak_memory_bytes"] / full["peak_memory_bytes"] if full["peak_memory_bytes"] else float("nan")
    sweep = {}
    if "memory_by_batch_size" in full and "memory_by_batch_size" in lora:
        sweep["memory_by_batch_size"] = memory_sweep_table(full["memory_by_batch_size"], lora["memory_by_batch_size"], cfg.goal_memory_ratio)
    return _result(
        "peak training memory (bytes)", full["peak_memory_bytes"], lora["peak_memory_bytes"], ratio,
        f"LoRA <= {cfg.goal_memory_ratio:.0%} of full", ratio <= cfg.goal_memory_ratio, ratio_unit="%",
        full=full, lora=lora, batch_size=cfg.batch_size, timed_steps=cfg.timed_steps,
        gradient_checkpointing=gradient_checkpointing,
        step_time_ratio=lora["seconds_per_step"] / full["seconds_per_step"],
        optimizer_state_ratio=lora["optimizer_state_bytes"] / full["optimizer_state_bytes"],
        lora_settings={"r": cfg.lora.r, "alpha": cfg.lora.alpha, "target_modules": list(cfg.lora.target_modules)},
        dtype=config.dtype, **sweep,
    )


def bench_full_vs_lora(config: SuiteConfig) -> dict[str, Any]:
    """Full fine-tuning vs LoRA: time per AdamW step, peak training memory, optimizer state (fresh process each),
    as the course trains (activations kept) and, when configured, both with gradient checkpointing."""
    result = _compare_full_lora(config, gradient_checkpointing=False)
    if config.full_vs_lora.with_gradient_checkpointing:
        result["checkpointed"] = _compare_full_lora(config, gradient_checkpointing=True)
    return result


# --------------------------------------------------------------------------------------------------
# 4. PPO step
# --------------------------------------------------------------------------------------------------


def bench_ppo_step(config: SuiteConfig) -> dict[str, Any]:
    """Timed :meth:`Seq2SeqPPO.step` calls on a LoRA policy with a roberta-shaped reward model, with the breakdown."""
    from genai_labs.data import filter_by_length
    from genai_labs.detox import reward_function
    from genai_labs.finetune import add_lora
    from genai_labs.ppo import Seq2SeqPPO
    from genai_labs.prompts import ppo_prompt

    import datasets

    cfg = config.ppo
    ppo = replace(cfg.ppo, seed=config.seed)
    tokenizer, reward_tokenizer = world_tokenizers()
    rows, source = dialogue_rows()
    dialogues = filter_by_length(datasets.Dataset.from_dict({"dialogue": [r["dialogue"] for r in rows]}), min_chars=200, max_chars=1000)
    prompts = prompts_that_fit(tokenizer, dialogues["dialogue"], ppo_prompt, ppo.batch_size * cfg.steps, config.max_prompt_tokens)
    base = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    # sampling over the full 32k vocabulary would mostly draw ids the tokenizer cannot decode: suppress them
    base.generation_config.suppress_tokens = list(range(len(tokenizer), base.config.vocab_size)) or None
    policy = add_lora(base, cfg.lora, seed=config.seed)
    del base
    classifier = build_reward_model(config.reward, reward_tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    trainer = Seq2SeqPPO(policy, tokenizer, reward_function(classifier, reward_tokenizer, label="nothate"), ppo)
    steps = []
    from tqdm.auto import tqdm

    for step in tqdm(range(cfg.steps), desc="PPO steps", disable=not config.progress, leave=False):
        with Timer() as t:
            stats = trainer.step(prompts[step * ppo.batch_size : (step + 1) * ppo.batch_size])
        steps.append({"wall_s": t.wall_s, "cpu_s": t.cpu_s, **{k: v for k, v in stats.items() if k.startswith("time_")},
                      "response_length_mean": stats["response_length_mean"]})
    mean = {key: sum(s[key] for s in steps) / len(steps) for key in steps[0]}
    low, high = cfg.course_seconds_per_step
    return _result(
        "seconds per PPO step", (low + high) / 2, mean["wall_s"], None,  # different machines and lengths: no ratio
        f"report (course: {low:g}-{high:g} s/step on 8 vCPUs)", None,
        seconds_per_step=mean["wall_s"], breakdown={k: mean[k] for k in ("time_rollout_s", "time_scoring_s", "time_optimization_s")},
        per_step=steps, batch_size=ppo.batch_size, mini_batch_size=ppo.mini_batch_size, ppo_epochs=ppo.ppo_epochs,
        response_lengths=[ppo.response_length_min, ppo.response_length_max],
        course_response_lengths=[PPOConfig().response_length_min, PPOConfig().response_length_max],
        data=source, dtype=config.dtype,
        note="baseline = the original lab's 72-103 s/step (midpoint) on an 8-vCPU machine, not re-measured here",
    )


# --------------------------------------------------------------------------------------------------
# 5. GPU (course scale, bf16, MFU)
# --------------------------------------------------------------------------------------------------


def bench_gpu(config: SuiteConfig) -> dict[str, Any]:
    """The suite at course scale in bf16 on the GPU, with model FLOPs utilisation of the training steps."""
    if not torch.cuda.is_available() and config.device == "cuda":
        return {"skipped": "no GPU"}
    device = torch.device(config.device)
    peak = matmul_flops_per_s(device, _dtype(config.dtype))
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else str(device),
                               "dtype": config.dtype, "matmul_flops_per_s": peak}
    for name, bench in (("generation", bench_generation), ("training_input", bench_training_input),
                        ("full_vs_lora", bench_full_vs_lora), ("ppo_step", bench_ppo_step)):
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


# --------------------------------------------------------------------------------------------------
# Runner, JSON and Markdown
# --------------------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[SuiteConfig], dict[str, Any]]] = {
    "generation": bench_generation,
    "training_input": bench_training_input,
    "full_vs_lora": bench_full_vs_lora,
    "ppo_step": bench_ppo_step,
}


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
        rows = [row for key in RUNNERS if key in result for row in _rows(f"gpu: {key}", result[key])]
        mfu = result.get("mfu", {})
        rows.append("| gpu: MFU | " + ", ".join(f"{k} {v:.1%}" for k, v in mfu.items() if isinstance(v, float)) + " | | | | | |")
        return rows
    ratio = "-" if result["ratio"] is None else f"{result['ratio']:.0%}" if result.get("ratio_unit") == "%" else f"{result['ratio']:.2f}x"
    rows = [f"| {name} | {result['metric']} | {_fmt(float(result['baseline']))} | {_fmt(float(result['package']))} | {ratio} | "
            f"{result['goal']} | {_fmt(result['met'])} |"]
    if "checkpointed" in result:
        rows += _rows(f"{name} (both with gradient checkpointing)", result["checkpointed"])
    return rows


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (baseline = the course's way, package = genai_labs')."""
    lines = ["| benchmark | metric | baseline (course) | genai_labs | ratio | goal | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
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
        lines.append(f"- generation: {g['n_dialogues']} dialogues, batch {g['batch_size']}, {g['max_new_tokens']} new tokens; "
                     f"outputs identical {g['identical_count']}/{g['n_dialogues']}; prompt tokens mean {g['prompt_tokens']['mean']:.0f} "
                     f"(max {g['prompt_tokens']['max']}); CPU-time ratio {g['cpu_time_ratio']:.2f}x; the encoder alone takes "
                     f"{g['encoder_seconds']:.1f} s, which caps any batched speedup at {g['speedup_ceiling']:.2f}x.")
    if "metric" in b.get("training_input", {}):
        t = b["training_input"]
        lines.append(f"- training input: batch {t['batch_size']}, {t['timed_steps']} timed steps each; tokens processed "
                     f"pad-512 {t['tokens']['fixed_tokens']:,} vs dynamic {t['tokens']['dynamic_tokens']:,} "
                     f"({t['tokens']['fixed_over_dynamic']:.2f}x, needed {t['tokens']['needed_tokens']:,}); CPU-time ratio {t['cpu_time_ratio']:.2f}x.")
    if "metric" in b.get("full_vs_lora", {}):
        f = b["full_vs_lora"]
        lines.append(f"- full vs LoRA (r {f['lora_settings']['r']}, alpha {f['lora_settings']['alpha']}, {'/'.join(f['lora_settings']['target_modules'])}), "
                     f"batch {f['batch_size']}: s/step full {f['full']['seconds_per_step']:.2f} vs LoRA {f['lora']['seconds_per_step']:.2f} "
                     f"({f['step_time_ratio']:.2f}x); optimizer state {format_bytes(f['full']['optimizer_state_bytes'])} vs "
                     f"{format_bytes(f['lora']['optimizer_state_bytes'])} ({f['optimizer_state_ratio']:.2%}); trainable params "
                     f"{f['full']['trainable_params']:,} vs {f['lora']['trainable_params']:,}.")
        if f.get("memory_by_batch_size"):
            sweep = f["memory_by_batch_size"]
            lines.append("- full vs LoRA, peak live tensor memory of one step by batch size (typical, median-length dialogues): "
                         + "; ".join(f"batch {r['batch_size']} ({r['prompt_tokens']:,} prompt tokens) {format_bytes(r['full_bytes'])} vs "
                                     f"{format_bytes(r['lora_bytes'])} ({r['ratio']:.0%})" for r in sweep)
                         + f"; goal met at batch size {', '.join(str(r['batch_size']) for r in sweep if r['met']) or 'none'}.")
        if "metric" in f.get("checkpointed", {}):
            c = f["checkpointed"]
            lines.append(f"- full vs LoRA, both with gradient checkpointing: peak {format_bytes(c['full']['peak_memory_bytes'])} vs "
                         f"{format_bytes(c['lora']['peak_memory_bytes'])} ({c['ratio']:.0%}); s/step {c['full']['seconds_per_step']:.2f} vs "
                         f"{c['lora']['seconds_per_step']:.2f} (recomputation costs {c['full']['seconds_per_step'] / f['full']['seconds_per_step'] - 1:+.0%} "
                         f"and {c['lora']['seconds_per_step'] / f['lora']['seconds_per_step'] - 1:+.0%} step time).")
    if "metric" in b.get("ppo_step", {}):
        p = b["ppo_step"]
        br = p["breakdown"]
        lines.append(f"- PPO: batch {p['batch_size']}, mini-batch {p['mini_batch_size']}, responses {p['response_lengths'][0]}-"
                     f"{p['response_lengths'][1]} tokens (course {p['course_response_lengths'][0]}-{p['course_response_lengths'][1]}), "
                     f"{len(p['per_step'])} step(s): {p['seconds_per_step']:.1f} s/step = rollout {br['time_rollout_s']:.1f} + scoring "
                     f"{br['time_scoring_s']:.2f} + optimisation {br['time_optimization_s']:.1f} s.")
    return "\n".join(lines)


def write_markdown(path: Path, results: dict[str, Any]) -> Path:
    """Write ``benchmarks.md`` (machine, table, details) atomically."""
    m = results["machine"]
    text = "\n".join([
        f"# genai-labs benchmarks ({results['suite']})", "",
        f"Machine: {m['cpu']}, {m['cores_usable']} usable cores, {m['torch_threads']} torch threads, {m['ram_gib']} GiB RAM, "
        f"GPU: {m['gpu']}; torch {m['versions'].get('torch')}, transformers {m['versions'].get('transformers')}, "
        f"peft {m['versions'].get('peft')}; {m['date']}; load average at start {m['load_average_at_start']}, at end {results.get('load_average_at_end')}.",
        "", markdown_table(results), "", details_markdown(results), "",
    ])
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


def run_benchmarks(out: Path, *, quick: bool = False, only: Sequence[str] | None = None, config: SuiteConfig | None = None) -> dict[str, Any]:
    """Run the suite (or the benchmarks named in ``only``), write ``<out>/benchmarks.json`` and ``<out>/benchmarks.md``
    atomically after each benchmark, print the table and return the results.

    ``quick`` uses tiny models and a handful of examples (seconds; checks the suite, numbers not meaningful);
    ``config`` replaces the standard sizes. The ``gpu`` block runs only when CUDA is available. With ``only``, the
    other benchmarks of an earlier run of the same suite in ``out`` are kept (each result carries its ``finished_at``).
    """
    config = config or suite_config("quick" if quick else "cpu")
    names = list(only) if only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}.")
    out = ensure_writable_folder(Path(out), option="--out")  # before any benchmark: not after minutes of measuring
    kept = _earlier_results(out / "benchmarks.json", config.name) if only else {}
    results: dict[str, Any] = {"suite": config.name, "quick": config.name == "quick", "machine": machine_info(),
                               "config": asdict(config), "benchmarks": {k: v for k, v in kept.items() if k not in names}}
    for name in names:
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        if name == "gpu":
            if not torch.cuda.is_available():
                result = {"skipped": "no GPU"}
            else:
                gpu = suite_config("quick" if quick else "gpu", progress=config.progress)
                gpu = replace(gpu, device="cuda", dtype="bfloat16") if quick else gpu
                result = bench_gpu(gpu)
        else:
            result = RUNNERS[name](config)
        result["wall_seconds_total"] = time.perf_counter() - started
        result["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        results["benchmarks"][name] = result
        results["load_average_at_end"] = load_average()
        write_json_atomic(out / "benchmarks.json", results)  # after each benchmark: a later failure keeps these
        write_markdown(out / "benchmarks.md", plain(results))
    print(markdown_table(results))
    print(details_markdown(results))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m genai_labs.bench`` (the fine-tuning worker entry, or the suite like ``genai-labs bench``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER_FLAG]:
        payload = json.loads(argv[1])
        result = finetune_variant(_config_from_dict(payload["config"]), payload["method"],
                                  gradient_checkpointing=bool(payload.get("gradient_checkpointing", False)))
        print(json.dumps(plain(result)), flush=True)
        return 0
    import argparse

    parser = argparse.ArgumentParser(prog="python -m genai_labs.bench", description="Run the genai-labs benchmark suite.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=None)
    args = parser.parse_args(argv)
    run_benchmarks(args.out, quick=args.quick, only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
