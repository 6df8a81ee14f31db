"""Lab 3 acceptance in the tiny profile: PPO detoxifies, measurably, reproducibly, at a small ROUGE price.

Trains PPO four times (seeds 0, 0, 1, 2) on the cached Lab 2 LoRA adapter; marked slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_labs.core.profiles import load_profile
from genai_labs.lab3.detox import DetoxResult, detoxify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs() -> dict[int, DetoxResult]:
    profile = load_profile("tiny", env={})
    return {seed: detoxify(profile, seed=seed) for seed in (0, 1, 2)}


def test_toxicity_falls_by_a_third_with_a_ci_excluding_zero(runs: dict[int, DetoxResult]) -> None:
    change = runs[0].change
    assert change["relative_change"] <= -0.30, change
    assert change["ci_high"] < 0, change
    assert runs[0].reward_accuracy is not None and runs[0].reward_accuracy >= 0.95


def test_quality_price_is_small(runs: dict[int, DetoxResult]) -> None:
    """ROUGE-1 of greedy test summaries drops by at most 0.05 (reference adapter vs PPO adapter), with a paired CI."""
    quality = runs[0].quality
    assert list(quality.index) == ["reference", "ppo"] and quality["rouge1"].between(0, 1).all()
    assert quality.loc["reference", "rouge1"] - quality.loc["ppo", "rouge1"] <= 0.05, quality
    assert "(" in quality.loc["ppo", "rouge1 change (95% CI)"]
    assert runs[0].history["kl_ref"].iloc[-1] < 6.0  # the KL penalty held the policy near its reference


def test_three_seeds_all_show_the_fall(runs: dict[int, DetoxResult]) -> None:
    for seed, run in runs.items():
        assert run.change["change"] < 0 and run.change["ci_high"] < 0, (seed, run.change)


def test_same_seed_reproduces_the_numbers(runs: dict[int, DetoxResult]) -> None:
    again = detoxify(load_profile("tiny", env={}), seed=0)
    assert again.change == runs[0].change
    assert again.history["score_mean"].tolist() == runs[0].history["score_mean"].tolist()


def test_course_shaped_standins_run_a_ppo_step(course_standins: dict[str, Path], tmp_path: Path) -> None:
    """The course profile's path (flan-t5-base + LoRA r32 q,v, roberta-base reward) for one small PPO step."""
    from dataclasses import replace

    from genai_labs.lab2.finetune import add_lora
    from genai_labs.lab3.detox import reward_function
    from genai_labs.lab3.ppo import Seq2SeqPPO
    from genai_labs.lab3.value_head import trainable_parameter_breakdown
    from genai_labs.models import load_reward_model, load_seq2seq

    profile = load_profile(
        "course", env={}, model=str(course_standins["model"]), reward_model=str(course_standins["reward_model"])
    )
    base, tokenizer = load_seq2seq(profile)
    policy = add_lora(base, profile.lab2.lora, seed=0)
    classifier, classifier_tokenizer = load_reward_model(profile)
    config = replace(profile.lab3.ppo, batch_size=4, mini_batch_size=2, response_length_min=4, response_length_max=8)
    trainer = Seq2SeqPPO(policy, tokenizer, reward_function(classifier, classifier_tokenizer), config)
    assert trainable_parameter_breakdown(policy, trainer.value_head)["lora"] == 3_538_944
    stats = trainer.step(["Summarize the following conversation.\n\n#Person1#: Hi, Tom.\n#Person2#: Hello!\n\nSummary: "] * 4)
    assert stats["kl_ref"] == pytest.approx(0.0, abs=1e-4) and stats["beta"] == pytest.approx(0.2, rel=0.01)
