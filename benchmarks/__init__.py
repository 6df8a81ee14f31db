"""The benchmark suite of the genai-labs checkout (outside the learners' ``genai_labs`` package): ``suite`` runs it
all (``genai-labs bench``), each ``bench_*`` module holds one benchmark and runs it alone
(``python -m benchmarks.bench_generation --quick``)."""
