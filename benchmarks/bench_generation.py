"""Benchmark 1: batched ``generate_texts`` vs the course's one-by-one loop (greedy, 50 new tokens, outputs compared).

    python benchmarks/bench_generation.py [--quick] [--n-dialogues 16] [--batch-size 16] [--out DIR]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, run  # noqa: E402


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--n-dialogues", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    args = p.parse_args()

    def adjust(config):
        changes = {k: v for k, v in {"n_dialogues": args.n_dialogues, "batch_size": args.batch_size}.items() if v is not None}
        return replace(config, generation=replace(config.generation, **changes))

    run("generation", args, adjust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
