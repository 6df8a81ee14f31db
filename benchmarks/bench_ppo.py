"""Benchmark 4: one Seq2SeqPPO step (batch 16, mini-batch 4) on a LoRA policy + roberta-shaped reward model.

The default CPU run uses 32-64-token responses; ``--course-lengths`` uses the course's 100-400 (minutes per
step on two CPU cores).

    python benchmarks/bench_ppo.py [--quick] [--steps 1] [--course-lengths | --lengths MIN MAX] [--out DIR]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, run  # noqa: E402

from genai_labs.config import PPOConfig  # noqa: E402


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--course-lengths", action="store_true", help="the course's 100-400 new tokens per response")
    p.add_argument("--lengths", type=int, nargs=2, metavar=("MIN", "MAX"), default=None, help="response lengths [MIN, MAX)")
    args = p.parse_args()

    def adjust(config):
        ppo = config.ppo.ppo
        if args.course_lengths:
            ppo = replace(ppo, response_length_min=PPOConfig().response_length_min, response_length_max=PPOConfig().response_length_max)
        if args.lengths:
            ppo = replace(ppo, response_length_min=args.lengths[0], response_length_max=args.lengths[1])
        bench = replace(config.ppo, ppo=ppo, steps=args.steps or config.ppo.steps)
        return replace(config, ppo=bench)

    run("ppo_step", args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
