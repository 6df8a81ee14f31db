"""Benchmark 4: one Seq2SeqPPO step (batch 16, mini-batch 4) on a LoRA policy + roberta-shaped reward model.

The default CPU run uses 32-64-token responses; ``--course-lengths`` uses the course's 100-400 (minutes per
step on two CPU cores).

    python -m benchmarks.bench_ppo [--quick] [--steps 1] [--course-lengths | --lengths MIN MAX] [--out DIR]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import datasets
from tqdm.auto import tqdm

from benchmarks.config import SuiteConfig
from benchmarks.course_models import build_reward_model, build_t5, dialogue_rows, prompts_that_fit, world_tokenizers
from benchmarks.measure import Timer, result
from benchmarks.runner import run_script, script_arguments
from genai_labs.core.profiles import PPOConfig
from genai_labs.data import filter_by_length
from genai_labs.lab2.finetune import add_lora
from genai_labs.lab3.ppo import Seq2SeqPPO
from genai_labs.lab3.reward_model import Reward
from genai_labs.prompts import ppo_prompt


def bench_ppo_step(config: SuiteConfig) -> dict[str, Any]:
    """Timed :meth:`Seq2SeqPPO.step` calls on a LoRA policy with a roberta-shaped reward model, with the breakdown."""
    cfg = config.ppo
    ppo = cfg.ppo
    tokenizer, reward_tokenizer = world_tokenizers()
    rows, source = dialogue_rows()
    dialogues = filter_by_length(
        datasets.Dataset.from_dict({"dialogue": [r["dialogue"] for r in rows]}), min_chars=200, max_chars=1000
    )
    prompts = prompts_that_fit(tokenizer, dialogues["dialogue"], ppo_prompt, ppo.batch_size * cfg.steps, config.max_prompt_tokens)
    base = build_t5(config.t5, tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    # sampling over the full 32k vocabulary would mostly draw ids the tokenizer cannot decode: suppress them
    base.generation_config.suppress_tokens = list(range(len(tokenizer), base.config.vocab_size)) or None
    policy = add_lora(base, cfg.lora, seed=config.seed)
    del base
    classifier = build_reward_model(config.reward, reward_tokenizer, seed=config.seed, device=config.device, dtype=config.dtype)
    reward = Reward(classifier, reward_tokenizer, origin="a roberta-shaped classifier", kind="classifier", label="nothate")
    trainer = Seq2SeqPPO(policy, tokenizer, reward, ppo, seed=config.seed)  # the course's reward: the "nothate" logit
    steps = []
    for step in tqdm(range(cfg.steps), desc="PPO steps", disable=not config.progress, leave=False):
        with Timer() as t:
            stats = trainer.step(prompts[step * ppo.batch_size : (step + 1) * ppo.batch_size])
        steps.append(
            {
                "wall_s": t.wall_s,
                "cpu_s": t.cpu_s,
                **{k: v for k, v in stats.items() if k.startswith("time_")},
                "response_length_mean": stats["response_length_mean"],
            }
        )
    mean = {key: sum(s[key] for s in steps) / len(steps) for key in steps[0]}
    low, high = cfg.course_seconds_per_step
    return result(
        "seconds per PPO step",
        (low + high) / 2,
        mean["wall_s"],
        None,  # different machines and lengths: no ratio
        f"report (course: {low:g}-{high:g} s/step on 8 vCPUs)",
        None,
        seconds_per_step=mean["wall_s"],
        breakdown={k: mean[k] for k in ("time_rollout_s", "time_scoring_s", "time_optimization_s")},
        per_step=steps,
        batch_size=ppo.batch_size,
        mini_batch_size=ppo.mini_batch_size,
        ppo_epochs=ppo.ppo_epochs,
        response_lengths=[ppo.response_length_min, ppo.response_length_max],
        course_response_lengths=[PPOConfig().response_length_min, PPOConfig().response_length_max],
        data=source,
        dtype=config.dtype,
        note="baseline = the original lab's 72-103 s/step (midpoint) on an 8-vCPU machine, not re-measured here",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run this benchmark alone (``--quick``: tiny sizes) into ``--out`` (default ``benchmarks/results/ppo_step``)."""
    parser = script_arguments(__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--course-lengths", action="store_true", help="the course's 100-400 new tokens per response")
    parser.add_argument("--lengths", type=int, nargs=2, metavar=("MIN", "MAX"), default=None, help="response lengths [MIN, MAX)")
    args = parser.parse_args(argv)

    def adjust(config: SuiteConfig) -> SuiteConfig:
        ppo = config.ppo.ppo
        if args.course_lengths:
            ppo = replace(
                ppo, response_length_min=PPOConfig().response_length_min, response_length_max=PPOConfig().response_length_max
            )
        if args.lengths:
            ppo = replace(ppo, response_length_min=args.lengths[0], response_length_max=args.lengths[1])
        return replace(config, ppo=replace(config.ppo, ppo=ppo, steps=args.steps or config.ppo.steps))

    run_script("ppo_step", bench_ppo_step, args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
