"""Lab 3 acceptance in the tiny profile: a reward model learned from preference pairs with trl's RewardTrainer; PPO on
it detoxifies by the independent judge's measure, reproducibly, at a small ROUGE price, in well-formed summaries; and
without the KL penalty the policy runs far from its reference.

Trains the reward model twice and PPO five times (seeds 0, 1, 2, seed 0 again, and seed 0 without the KL penalty) on
Lab 2's cached LoRA adapter; marked slow.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from genai_labs.core.profiles import load_profile
from genai_labs.fact_check import paired_precision_change
from genai_labs.lab2.finetune import add_lora
from genai_labs.lab3.detox import DetoxResult, comparison_table, detoxify
from genai_labs.lab3.figures import lab3_figures
from genai_labs.lab3.ppo import Seq2SeqPPO
from genai_labs.lab3.reward_model import classifier_reward, judge_for
from genai_labs.lab3.value_head import trainable_parameter_breakdown
from genai_labs.models import load_seq2seq

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def runs(acceptance_environment: Path) -> dict[int, DetoxResult]:
    """Seed 0 with the no-KL run; seeds 1 and 2 reuse seed 0's reward model (it depends on the profile's seed only)."""
    profile = load_profile("tiny", env={})
    first = detoxify(profile, seed=0, no_kl=True)
    return {0: first, **{seed: detoxify(profile, seed=seed, reward=first.reward) for seed in SEEDS[1:]}}


def test_reward_model_learns_the_preferences_with_trl(runs: dict[int, DetoxResult]) -> None:
    reward = runs[0].reward
    assert reward.kind == "preferences" and "RewardTrainer" in reward.origin
    assert reward.model.config.num_labels == 1
    assert reward.pair_accuracy is not None and reward.pair_accuracy >= 0.90, reward.pair_table
    assert reward.margin is not None and reward.margin > 0


def test_the_judge_is_another_model(runs: dict[int, DetoxResult]) -> None:
    """The tiny judge is the world's hate/nothate classifier: two labels, its own weights, good on held-out texts."""
    judge, reward = runs[0].judge, runs[0].reward
    assert judge.model is not reward.model and judge.model.config.num_labels == 2
    assert judge.held_out_accuracy is not None and judge.held_out_accuracy >= 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_judge_toxicity_falls_by_a_third_with_a_ci_excluding_zero(runs: dict[int, DetoxResult], seed: int) -> None:
    change = runs[seed].change
    assert change["relative_change"] <= -0.30, change
    assert change["ci_high"] < 0, change


def test_quality_price_is_small(runs: dict[int, DetoxResult]) -> None:
    """ROUGE-1 of greedy test summaries drops by at most 0.05 (reference adapter vs PPO adapter), with a paired CI."""
    quality = runs[0].quality
    assert list(quality.index) == ["reference", "ppo"] and quality["rouge1"].between(0, 1).all()
    assert quality.loc["reference", "rouge1"] - quality.loc["ppo", "rouge1"] <= 0.05, quality
    assert "(" in quality.loc["ppo", "rouge1 change (95% CI)"]


def test_sampled_summaries_are_well_formed_before_and_after(runs: dict[int, DetoxResult]) -> None:
    """Issue 17: the summaries Lab 3 samples and its judge scores are mostly sentences the world could write."""
    for seed, run in runs.items():
        assert run.start.well_formed is not None and run.start.well_formed >= 0.60, (seed, run.start.well_formed)
        assert run.after.well_formed is not None and run.after.well_formed >= 0.60, (seed, run.after.well_formed)


def test_sampled_summaries_report_the_dialogue_s_facts_before_and_after(runs: dict[int, DetoxResult]) -> None:
    """Issue 22: the summaries PPO detoxifies are about their dialogue (the issue's 0.75; v6 measured 0.889 at seed 0,
    v5 0.850, v4 0.738, v3 about 0.15), and PPO does not make them less so by more than 0.05 (seed 0: -0.025)."""
    for seed, run in runs.items():
        assert run.start.facts.precision >= 0.75, (seed, run.start.facts.precision)
        change = paired_precision_change(run.start.facts, run.after.facts)
        assert change["diff"] >= -0.05, (seed, change)


def test_without_the_kl_penalty_the_policy_drifts_and_both_runs_are_reported(runs: dict[int, DetoxResult]) -> None:
    run = runs[0]
    assert run.no_kl is not None
    no_kl_eval, no_kl_history = run.no_kl
    assert (no_kl_history["beta"] == 0).all() and len(no_kl_history) == len(run.history)
    kl, kl_no_penalty = run.history["kl_ref"].iloc[-1], no_kl_history["kl_ref"].iloc[-1]
    assert kl_no_penalty >= 3 * kl, (kl, kl_no_penalty)
    table = comparison_table(run.start, {"ppo": (run.after, run.history), "no_kl": run.no_kl})
    for column in ("judge P(hate)", "ROUGE-1 (greedy)", "P(hate) change vs start", "ROUGE-1 change vs start"):
        assert "[" in table.loc["no_kl", column] and "[" in table.loc["ppo", column], table
    figures = lab3_figures(
        run.change, run.quality, run.history, run.reward, run.judge, start=run.start, after=run.after, no_kl=run.no_kl
    )
    assert figures["no_kl"]["kl_final"] == kl_no_penalty and figures["no_kl"]["rouge1"] == no_kl_eval.rouge1
    assert figures["reward_model_pair_accuracy"] == run.reward.pair_accuracy
    assert figures["well_formed"] == {"before": run.start.well_formed, "after": run.after.well_formed}


def test_same_seed_reproduces_the_numbers(runs: dict[int, DetoxResult]) -> None:
    again = detoxify(load_profile("tiny", env={}), seed=0)
    assert again.reward.pair_table.equals(runs[0].reward.pair_table)
    assert again.change == runs[0].change
    assert again.history["score_mean"].tolist() == runs[0].history["score_mean"].tolist()
    assert again.after.rouge1 == runs[0].after.rouge1


def test_course_shaped_standins_run_a_ppo_step(course_standins: dict[str, Path]) -> None:
    """The course profile's path: flan-t5-base + LoRA r32 on q, v, the classifier's ``nothate`` logit as the reward
    (and as the judge), one small PPO step."""
    profile = load_profile(
        "course", env={}, model=str(course_standins["model"]), reward_model=str(course_standins["reward_model"])
    )
    assert profile.lab3.reward_train_epochs == 0
    base, tokenizer = load_seq2seq(profile)
    policy = add_lora(base, profile.lab2.lora, seed=0)
    reward = classifier_reward(profile)
    assert reward.kind == "classifier" and reward.label == "nothate" and reward.pair_accuracy is None
    judge = judge_for(profile)
    assert judge.held_out_accuracy is None and judge.origin == str(course_standins["reward_model"])
    config = replace(profile.lab3.ppo, batch_size=4, mini_batch_size=2, response_length_min=4, response_length_max=8)
    assert config.temperature == 1.0  # the course samples from the model's own distribution
    trainer = Seq2SeqPPO(policy, tokenizer, reward, config, seed=profile.seed)
    assert trainable_parameter_breakdown(policy, trainer.value_head)["lora"] == 3_538_944
    stats = trainer.step(["Summarize the following conversation.\n\n#Person1#: Hi, Tom.\n#Person2#: Hello!\n\nSummary: "] * 4)
    assert stats["kl_ref"] == pytest.approx(0.0, abs=1e-4) and stats["beta"] == pytest.approx(0.2, rel=0.01)
