"""Lab 3's measurement of a policy: several sampled summaries per prompt, a prompt's toxicity their mean."""

from __future__ import annotations

import numpy as np

from genai_labs.core.profiles import load_profile
from genai_labs.data import load_dialogsum
from genai_labs.lab3.detox import measure_toxicity, toxicity_measurement
from genai_labs.lab3.reward_model import judge_for
from genai_labs.models import load_seq2seq
from genai_labs.prompts import training_prompt


def test_measure_toxicity_averages_each_prompts_samples() -> None:
    profile = load_profile("tiny", env={}, lab3__eval_samples=3, lab3__eval_new_tokens=12)
    model, tokenizer = load_seq2seq(profile)
    toxicity = toxicity_measurement(judge_for(profile))
    prompts = [training_prompt(d) for d in load_dialogsum(profile).test["dialogue"][:4]]
    report = measure_toxicity(model, tokenizer, prompts, toxicity, profile.lab3, seed=0)
    assert len(report.samples) == 12 and report.summaries == report.samples[::3]  # prompt after prompt, first shown
    per_text = toxicity.compute(predictions=report.samples, toxic_label=profile.lab3.toxic_label)["toxicity"]
    assert report.probabilities.shape == (4,)
    assert np.allclose(report.probabilities, np.reshape(per_text, (4, 3)).mean(axis=1))
    again = measure_toxicity(model, tokenizer, prompts, toxicity, profile.lab3, seed=0)
    assert again.samples == report.samples  # seeded


def _evaluation(toxicity: list[float], rouge1: list[float], samples: list[str], dialogues: list[str]):
    import pandas as pd

    from genai_labs.fact_check import fact_scores
    from genai_labs.lab3.detox import PolicyEvaluation, ToxicityReport
    from genai_labs.world.facts import world_facts

    return PolicyEvaluation(
        toxicity=ToxicityReport(summaries=samples, probabilities=np.array(toxicity)),
        rewards=np.zeros(len(toxicity)),
        well_formed=None,
        greedy=samples,
        rouge=pd.DataFrame({"rouge1": rouge1}),
        facts=fact_scores(samples, dialogues, world_facts),
    )


def test_quality_columns_change_against_the_start_only_on_other_rows() -> None:
    from genai_labs.lab3.detox import quality_columns, quality_table

    dialogues = ["#Person1#: See you on Friday.", "#Person1#: It's $800 a month."] * 10
    start = _evaluation([0.6, 0.2] * 10, [0.5, 0.5] * 10, ["We meet on Monday.", "It costs $800."] * 10, dialogues)
    after = _evaluation([0.1, 0.0] * 10, [0.5, 0.6] * 10, ["We meet on Friday.", "It costs $800."] * 10, dialogues)
    table = quality_table({"start": quality_columns(start, start), "after": quality_columns(after, start)})
    assert "well-formed (sampled)" not in table.columns  # no row has one (real DialogSum)
    assert table.loc["start", "P(hate) change vs start"] == "" == table.loc["start", "fact precision change vs start"]
    assert table.loc["after", "P(hate) change vs start"].startswith("-0.35")  # 0.40 -> 0.05
    assert table.loc["after", "fact precision (sampled)"].startswith("1.000")  # Friday and $800 are in the dialogues
    assert table.loc["after", "fact precision change vs start"].startswith("+0.50")  # from 0.5 (Monday is not)
