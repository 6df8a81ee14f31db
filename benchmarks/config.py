"""The benchmark suite's sizes: the course-shaped models, each benchmark's settings, and the standard suites.

:func:`suite_config` gives ``cpu`` (the default, bounded for a 2-core machine), ``quick`` (tiny models: checks the
suite runs, its numbers mean nothing) and ``gpu`` (course scale, bf16). The model shapes default to the course's
architectures as the package defines them (``genai_labs.models.flan_t5_base_config`` and
``roberta_hate_classifier_config``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from genai_labs.core.profiles import FineTuneConfig, LoraSettings, PPOConfig
from genai_labs.models import flan_t5_base_config, roberta_hate_classifier_config

BENCHMARKS = ("generation", "training_input", "full_vs_lora", "ppo_step", "gpu")
_FLAN_T5_BASE = flan_t5_base_config()
_ROBERTA = roberta_hate_classifier_config()


@dataclass(frozen=True)
class T5Shape:
    """Architecture of the benchmark's seq2seq model (default: google/flan-t5-base's exact config)."""

    d_model: int = _FLAN_T5_BASE.d_model
    d_ff: int = _FLAN_T5_BASE.d_ff
    d_kv: int = _FLAN_T5_BASE.d_kv
    num_layers: int = _FLAN_T5_BASE.num_layers
    num_decoder_layers: int = _FLAN_T5_BASE.num_decoder_layers
    num_heads: int = _FLAN_T5_BASE.num_heads
    vocab_size: int | None = _FLAN_T5_BASE.vocab_size  # None: the tokenizer's size


@dataclass(frozen=True)
class RobertaShape:
    """Architecture of the benchmark's reward model (default: roberta-base, as the course's hate-speech classifier)."""

    hidden_size: int = _ROBERTA.hidden_size
    num_hidden_layers: int = _ROBERTA.num_hidden_layers
    num_attention_heads: int = _ROBERTA.num_attention_heads
    intermediate_size: int = _ROBERTA.intermediate_size
    vocab_size: int | None = _ROBERTA.vocab_size  # None: the tokenizer's size
    max_position_embeddings: int = _ROBERTA.max_position_embeddings


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
    """Benchmark 4: timed :class:`~genai_labs.lab3.ppo.Seq2SeqPPO` steps (course: batch 16, mini-batch 4, 100-400 tokens)."""

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


def config_from_dict(data: dict[str, Any]) -> SuiteConfig:
    """Inverse of ``asdict(SuiteConfig)`` (the fine-tuning worker receives its config as JSON)."""

    def build(cls: type, values: dict[str, Any]) -> Any:
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            inner = {
                "t5": T5Shape,
                "reward": RobertaShape,
                "generation": GenerationBench,
                "training_input": TrainingInputBench,
                "full_vs_lora": FullVsLoraBench,
                "ppo": PPOBench if cls is SuiteConfig else PPOConfig,
                "full": FineTuneConfig,
                "lora": LoraSettings,
            }.get(f.name)
            if inner is not None and isinstance(value, dict):
                value = build(inner, value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    return build(SuiteConfig, data)
