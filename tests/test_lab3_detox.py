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
