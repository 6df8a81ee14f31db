"""The benchmark suite (benchmarks/, outside the package) in --quick mode: it runs, and writes the JSON and Markdown it
promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import suite
from benchmarks.bench_full_vs_lora import typical_examples
from benchmarks.config import BENCHMARKS, config_from_dict, suite_config
from genai_labs.models import flan_t5_base_config, t5_forward_flops


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory, world_assets) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    config = suite_config("quick", progress=False)
    return suite.run_suite(out, quick=True, config=config), out


def test_quick_suite_writes_json_and_markdown(quick_results: tuple[dict, Path]) -> None:
    _results, out = quick_results
    on_disk = json.loads((out / "benchmarks.json").read_text())
    assert on_disk["suite"] == "quick" and on_disk["quick"] is True
    assert set(on_disk["benchmarks"]) == set(BENCHMARKS)
    machine = on_disk["machine"]
    for key in ("cpu", "cores", "torch_threads", "ram_gib", "gpu", "versions", "date"):
        assert key in machine
    assert machine["versions"]["torch"] == torch.__version__.split("+")[0] or machine["versions"]["torch"].startswith(
        torch.__version__[:4]
    )
    for name in ("generation", "training_input", "full_vs_lora", "ppo_step"):
        result = on_disk["benchmarks"][name]
        for key in ("metric", "baseline", "package", "ratio", "goal", "met"):
            assert key in result, (name, key)
        assert result["baseline"] > 0 and result["package"] > 0
    markdown = (out / "benchmarks.md").read_text()
    assert "| benchmark | metric |" in markdown and "generation" in markdown and "ppo_step" in markdown
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_quick_numbers_are_consistent(quick_results: tuple[dict, Path]) -> None:
    b = quick_results[0]["benchmarks"]
    generation = b["generation"]
    assert generation["identical_outputs"] and generation["identical_count"] == generation["n_dialogues"]
    assert 0 < generation["encoder_seconds"] < generation["seconds"]["batched"]  # the encoder is part of generating
    assert generation["speedup_ceiling"] > generation["ratio"]
    tokens = b["training_input"]["tokens"]
    assert tokens["fixed_tokens"] > tokens["dynamic_tokens"] >= tokens["needed_tokens"]
    full, lora = b["full_vs_lora"]["full"], b["full_vs_lora"]["lora"]
    assert lora["trainable_params"] < full["trainable_params"] == full["total_params"]
    assert 0 < lora["optimizer_state_bytes"] < full["optimizer_state_bytes"]
    assert (
        0 <= full["optimizer_state_bytes"] - 2 * 4 * full["trainable_params"] < 4096
    )  # AdamW: two fp32 moments (+ step counters)
    checkpointed = b["full_vs_lora"]["checkpointed"]
    assert checkpointed["full"]["gradient_checkpointing"] and checkpointed["lora"]["gradient_checkpointing"]
    assert not full["gradient_checkpointing"] and checkpointed["ratio"] > 0
    for method in ("full", "lora"):  # recomputing activations changes the memory, not the arithmetic
        assert checkpointed[method]["losses"] == pytest.approx(b["full_vs_lora"][method]["losses"], rel=1e-4)
        assert checkpointed[method]["optimizer_state_bytes"] == b["full_vs_lora"][method]["optimizer_state_bytes"]
    sweep = b["full_vs_lora"]["memory_by_batch_size"]
    assert [row["batch_size"] for row in sweep] == [1, 2]
    for row in sweep:  # LoRA keeps no weight gradients or AdamW moments for the frozen weights
        assert 0 < row["lora_bytes"] < row["full_bytes"] and row["ratio"] == pytest.approx(row["lora_bytes"] / row["full_bytes"])
    assert sweep[1]["prompt_tokens"] > sweep[0]["prompt_tokens"] and sweep[1]["lora_bytes"] > sweep[0]["lora_bytes"]
    ppo = b["ppo_step"]
    assert set(ppo["breakdown"]) == {"time_rollout_s", "time_scoring_s", "time_optimization_s"}
    assert ppo["seconds_per_step"] >= sum(ppo["breakdown"].values()) * 0.99
    if not torch.cuda.is_available():
        assert b["gpu"]["skipped"] == "no GPU"


def test_t5_flops_formula_matches_parameter_count() -> None:
    config = flan_t5_base_config()
    # one token in, one token out, no attention-score terms of note: 2 FLOPs per weight touched (embeddings excluded)
    dense = 12 * (4 + 3 * 2048 / 768) * 768**2 + 12 * (8 + 3 * 2048 / 768) * 768**2 + 768 * 32128
    assert t5_forward_flops(config, 1, 1, 1) == pytest.approx(2 * dense, rel=1e-3)


def test_config_round_trips_through_json() -> None:
    from dataclasses import asdict

    for kind in ("cpu", "quick", "gpu"):
        config = suite_config(kind)
        assert config_from_dict(json.loads(json.dumps(asdict(config)))) == config


def test_typical_examples_are_the_median_length_ones() -> None:
    tokenized = {"input_ids": [[0] * n for n in (5, 100, 50, 48, 53, 1)]}

    class Rows(dict):
        def __getitem__(self, key):
            return super().__getitem__(key) if isinstance(key, str) else {"input_ids": self["input_ids"][key]}

    picked = typical_examples(Rows(tokenized), 3)
    assert sorted(len(row["input_ids"]) for row in picked) == [48, 50, 53]
