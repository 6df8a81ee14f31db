"""Lab 2 acceptance in the tiny profile: full fine-tuning vs LoRA vs replay, and catastrophic forgetting.

One module fixture runs :func:`genai_labs.lab2.study.run_lab2` once (fixed seeds), in a clean environment with the
acceptance tests' own cache folder (``acceptance_environment``, tests/conftest.py): the learner's default cache and
``GENAI_LABS_*`` variables play no part; Lab 3's acceptance module reuses the LoRA adapter trained here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_labs.core.profiles import load_profile
from genai_labs.lab2.study import COURSE_PUBLISHED_ROUGE, Lab2Results, run_lab2, summarize

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab2(acceptance_environment: Path) -> Lab2Results:
    return run_lab2(load_profile("tiny"), progress=False)


def test_full_fine_tuning_learns_to_summarize(lab2: Lab2Results) -> None:
    assert lab2.gain("full") >= 0.20
    assert lab2.rouge1("full") >= lab2.constant_baseline[1] + 0.10
    # Summaries of this dialogue, not of its scenario: distinct texts (issue 22)
    assert lab2.distinct_share["full"] >= 0.90
    diff = lab2.differences.query("system == 'full' and metric == 'rouge1'").iloc[0]
    assert diff["ci_low"] > 0  # the paired CI of the gain excludes zero


def test_lora_recovers_most_of_the_gain_cheaply(lab2: Lab2Results) -> None:
    full, lora = lab2.runs["full"], lab2.runs["lora"]
    # LoRA recovers >= 70% of full fine-tuning's ROUGE-1 gain, and that gain is real (paired CI above 0).
    diff = lab2.differences.query("system == 'lora' and metric == 'rouge1'").iloc[0]
    assert diff["ci_low"] > 0 and lab2.gain("lora") >= 0.70 * lab2.gain("full"), (lab2.gain("lora"), lab2.gain("full"))
    assert lab2.distinct_share["lora"] >= 0.90
    assert lora.optimizer_steps <= 2 * full.optimizer_steps
    assert lora.trainable_fraction <= 0.10
    assert full.trainable_fraction == 1.0
    assert lora.adapter_bytes is not None and lora.adapter_bytes < 0.2 * lora.full_checkpoint_bytes


def test_forgetting_is_measured_and_replay_mitigates_it(lab2: Lab2Results) -> None:
    skill = lab2.skill
    assert set(skill) == {"original", "full", "lora", "lora_adapter_off", "replay"}
    # Adapter off is the frozen base: the very same answers as the original model.
    assert skill["lora_adapter_off"].predictions == skill["original"].predictions
    assert skill["original"].accuracy > 0
    # v6: full fine-tuning forgets the topic skill (0.000 of the original's 1.000), LoRA keeps it (0.985), replay
    # brings it back (1.000); v5's LoRA had lost it too (0.000)
    assert skill["full"].accuracy <= 0.5 * skill["original"].accuracy
    assert skill["lora"].accuracy >= skill["full"].accuracy + 0.5
    assert skill["replay"].accuracy >= 0.80 * skill["original"].accuracy
    assert lab2.gain("replay") >= 0.80 * lab2.gain("full")
    assert 0.05 <= lab2.profile.lab2.replay_fraction <= 0.10


def test_original_model_untouched(lab2: Lab2Results) -> None:
    assert lab2.base_unchanged
    cfg = lab2.profile.lab2
    again = summarize(
        lab2.base_model,
        lab2.tokenizer,
        list(lab2.data.test["dialogue"]),
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.generation_batch_size,
    )
    assert again == lab2.predictions["original"]


def test_single_reference_table_sits_next_to_the_course_figures(lab2: Lab2Results) -> None:
    """The course scored one row per human summary; the single-reference mean is at most the multi-reference best."""
    table = lab2.course_comparison()
    assert list(table.index) == ["original", "full", "lora"]
    ours = table.xs("this run (single reference)", axis=1, level=1)
    course = table.xs("course, published (flan-t5-base)", axis=1, level=1)
    assert course.equals(COURSE_PUBLISHED_ROUGE.loc[list(table.index)])  # the published figures sit beside ours
    multi = lab2.rouge.query("metric == 'rouge1'").set_index("system")["mean"]
    for name in ("original", "full", "lora"):
        assert 0 < ours.loc[name, "rouge1"] <= multi[name] + 1e-12
    assert len(lab2.rouge_single_reference.query("metric == 'rouge1'")) == len(lab2.predictions)
    assert int(lab2.rouge_single_reference["n"].iloc[0]) == sum(len(r) for r in lab2.data.test["references"])


def test_fine_tuning_beats_in_context_learning(lab2: Lab2Results) -> None:
    """Full fine-tuning's zero-shot answer against the original model's one-shot answer on the same test dialogues."""
    assert lab2.gain("full") >= 0.15
    row = lab2.full_vs_in_context.query("baseline == 'one_shot' and metric == 'rouge1'").iloc[0]
    assert row["diff"] >= 0.05 and row["ci_low"] > 0, row
    # the example is paid for in context on every request; the fine-tuned model needs the plain prompt only
    assert lab2.prompt_tokens["one_shot"] > 1.5 * lab2.prompt_tokens["full"]


def test_fine_tuned_summaries_are_well_formed(lab2: Lab2Results) -> None:
    """The world's exact grammar check: what a learner reads is a sentence, not only a good ROUGE score."""
    assert lab2.well_formed is not None
    assert lab2.well_formed["full"] >= 0.85, lab2.well_formed
    assert lab2.well_formed["lora"] >= 0.75, lab2.well_formed


def test_fine_tuned_summaries_report_the_dialogue_s_facts(lab2: Lab2Results) -> None:
    """Issue 22: the dialogue holds the facts a fine-tuned summary names. Targets full 0.90, LoRA 0.85, replay 0.85,
    all facts right (full) 0.70; measured with the v6 world model 0.929 / 0.936 / 0.928 and 0.76 (v5: 0.90 / 0.91 /
    0.90 / 0.675; v4: 0.78 / 0.83 / 0.78 / 0.40; v3: 0.17 / 0.16 / 0.15 / 0.005)."""
    facts = lab2.facts
    assert facts.loc["full", "fact precision"] >= 0.90, facts
    assert facts.loc["lora", "fact precision"] >= 0.85, facts
    assert facts.loc["replay", "fact precision"] >= 0.85, facts
    assert facts.loc["full", "all facts right"] >= 0.70, facts
    table = lab2.results_table()
    assert list(table.index) == list(lab2.predictions) and {"ROUGE-1", "well-formed", "fact precision"} <= set(table.columns)
