"""Benchmark 2: dynamic padding (tokenize_for_training + make_collator) vs the course's pad-to-512, train steps.

    python benchmarks/bench_training_input.py [--quick] [--batch-size 2] [--steps 2] [--out DIR]
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
    p.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    args = p.parse_args()

    def adjust(config):
        changes = {k: v for k, v in {"batch_size": args.batch_size, "timed_steps": args.steps}.items() if v is not None}
        return replace(config, training_input=replace(config.training_input, **changes))

    run("training_input", args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
