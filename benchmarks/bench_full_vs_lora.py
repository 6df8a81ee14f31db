"""Benchmark 3: full fine-tuning vs LoRA (r 32, alpha 32, q/v): s/step, peak memory, optimizer state (AdamW).

Each variant runs in a fresh subprocess so that its peak memory is its own.

    python benchmarks/bench_full_vs_lora.py [--quick] [--batch-size 4] [--steps 2] [--out DIR]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, run  # noqa: E402


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="timed AdamW steps per variant")
    args = p.parse_args()

    def adjust(config):
        changes = {k: v for k, v in {"batch_size": args.batch_size, "timed_steps": args.steps}.items() if v is not None}
        return replace(config, full_vs_lora=replace(config.full_vs_lora, **changes))

    run("full_vs_lora", args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
