"""Benchmark 5: the suite at course scale in bf16 on a CUDA GPU, with model FLOPs utilisation (MFU).

Records ``{"skipped": "no GPU"}`` where no GPU is visible.

    python benchmarks/bench_gpu.py [--quick] [--out DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, run  # noqa: E402


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    run("gpu", args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
