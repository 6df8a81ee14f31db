"""Lab 1's experiment functions (genai_labs.lab1.prompt_study) on the tiny world and on a course-shaped stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import GenerationConfig

from genai_labs.core.profiles import load_profile
from genai_labs.data import load_dialogsum
from genai_labs.generation import generate_texts
from genai_labs.lab1.prompt_study import (
    STYLES,
    answer_forms,
    most_uncertain_step,
    next_token_logits,
    one_shot_forms,
    sampling_study,
    settings_table,
    shot_in_every_form,
    shots_from,
    side_by_side,
    style_comparisons,
    style_predictions,
    style_rouge,
)
from genai_labs.models import load_seq2seq
from genai_labs.prompts import training_prompt
from genai_labs.world.well_formed import world_grammar_applies


@pytest.fixture(scope="module")
def tiny():
    profile = load_profile("tiny", env={})
    model, tokenizer = load_seq2seq(profile)
    return profile, model, tokenizer, load_dialogsum(profile)


def test_side_by_side_has_every_style(tiny) -> None:
    profile, model, tokenizer, data = tiny
    table = side_by_side(
        model,
        tokenizer,
        data.test,
        [profile.lab1.target_index],
        shots_from(data.test, profile.lab1),
        GenerationConfig(max_new_tokens=8),
    )
    assert list(table["style"]) == list(STYLES)
    assert list(table["shots used"])[:4] == [0, 0, 0, 1]
    assert 1 <= table["shots used"].iloc[4] <= 3  # three shots overflow 512 tokens here: the oldest are dropped
    assert table["model summary"].nunique() >= 3  # the tiny FLAN answers each way of asking in its own way
    assert (table["prompt tokens"] <= tokenizer.model_max_length).all()


def test_style_rouge_is_reproducible(tiny) -> None:
    profile, model, tokenizer, data = tiny
    subset = data.test.select(range(6))
    shots = shots_from(data.train, profile.lab1)
    settings = GenerationConfig(max_new_tokens=12)
    first = style_predictions(model, tokenizer, subset["dialogue"], shots, settings, progress=False)
    again = style_predictions(model, tokenizer, subset["dialogue"], shots, settings, progress=False)
    assert first == again and set(first) == set(STYLES)
    table, differences = style_rouge(first, subset["references"], resamples=100)
    assert set(table["system"]) == set(STYLES) and (table["ci_low"] <= table["mean"]).all()
    assert set(differences["system"]) == set(STYLES) - {"instruction"}


def test_generation_settings_and_distribution(tiny) -> None:
    _profile, model, tokenizer, data = tiny
    prompt = data.test[0]["dialogue"]
    table = settings_table(
        model,
        tokenizer,
        prompt,
        {
            "greedy": GenerationConfig(max_new_tokens=6),
            "hot": GenerationConfig(max_new_tokens=6, do_sample=True, temperature=2.0),
        },
        seed=0,
    )
    assert list(table["setting"]) == ["greedy", "hot"]
    assert table.equals(
        settings_table(
            model,
            tokenizer,
            prompt,
            {
                "greedy": GenerationConfig(max_new_tokens=6),
                "hot": GenerationConfig(max_new_tokens=6, do_sample=True, temperature=2.0),
            },
            seed=0,
        )
    )
    logits, _ = next_token_logits(model, tokenizer, prompt, step=1)
    assert logits.shape == (model.config.vocab_size,)


def test_sampling_study_counts_diversity_and_rouge_per_temperature(tiny) -> None:
    _profile, model, tokenizer, data = tiny
    subset = data.test.select(range(8))
    prompts = [training_prompt(d) for d in subset["dialogue"]]
    greedy = generate_texts(model, tokenizer, prompts, GenerationConfig(max_new_tokens=20), progress=False)
    kwargs = {"temperatures": (0.1, 2.0), "samples": 3, "max_new_tokens": 20, "resamples": 50, "seed": 0}
    table = sampling_study(model, tokenizer, prompts, subset["references"], greedy, **kwargs)
    assert list(table["temperature"]) == [0.1, 2.0]
    assert list(table.columns) == [
        "temperature", "distinct_2", "varied_share", "rouge1", "rouge1_vs_greedy", "ci_low", "ci_high", "well_formed",
    ]  # fmt: skip
    assert table["distinct_2"].iloc[1] > table["distinct_2"].iloc[0] and table["varied_share"].iloc[1] == 1.0
    assert table["well_formed"].iloc[1] < table["well_formed"].iloc[0]  # T = 2 breaks the grammar
    assert (table["ci_low"] <= table["rouge1_vs_greedy"]).all() and (table["rouge1_vs_greedy"] <= table["ci_high"]).all()
    assert table.equals(sampling_study(model, tokenizer, prompts, subset["references"], greedy, **kwargs))  # seeded


def test_comparisons_and_forms_answer_the_lab_s_questions(tiny) -> None:
    profile, model, tokenizer, data = tiny
    assert world_grammar_applies(profile) and not world_grammar_applies(load_profile("course", env={}))
    subset = data.test.select(range(10))
    predictions = style_predictions(
        model, tokenizer, subset["dialogue"], shots_from(data.train, profile.lab1), GenerationConfig(max_new_tokens=48),
        progress=False,
    )  # fmt: skip
    comparisons = style_comparisons(predictions, subset["references"], resamples=50)
    assert [c.split(" vs ")[0] for c in comparisons["comparison"]] == ["instruction", "flan", "one_shot", "few_shot"]
    assert comparisons["comparison"].iloc[2].split(" vs ")[1] in ("no_prompt", "instruction", "flan")
    assert comparisons["answers_differ"].between(0, 1).all()
    forms = answer_forms(predictions)
    assert list(forms.index) == list(STYLES) and list(forms.columns) == ["observer", "gist", "headline", "well_formed"]
    assert forms.loc["instruction", "gist"] >= 0.8 and forms.loc["flan", "headline"] >= 0.8
    assert ((forms[["observer", "gist", "headline"]].sum(axis=1) - forms["well_formed"]).abs() < 1e-9).all()


def test_one_shot_forms_follow_the_example(tiny) -> None:
    profile, model, tokenizer, data = tiny
    shot = data.test[profile.lab1.one_shot_indices[0]]
    forms = shot_in_every_form(shot)
    assert list(forms) == ["observer", "gist", "headline"] and forms["observer"] == shot["summary"]
    table = one_shot_forms(
        model, tokenizer, shot["dialogue"], forms, data.test[profile.lab1.target_index]["dialogue"],
        GenerationConfig(max_new_tokens=48),
    )  # fmt: skip
    assert list(table["example's form"]) == ["observer", "gist", "headline"]
    assert (table["answer form"] == table["example's form"]).sum() >= 2
    with pytest.raises(ValueError, match="tiny-world row"):
        shot_in_every_form({"dialogue": "x", "summary": "y"})


def test_most_uncertain_step_stays_inside_the_answer(tiny) -> None:
    import torch

    profile, model, tokenizer, data = tiny
    prompt = data.test[profile.lab1.target_index]["dialogue"]
    greedy = settings_table(model, tokenizer, prompt, {"greedy": GenerationConfig(max_new_tokens=20)})["output"].iloc[0]
    n_answer = len(tokenizer(greedy, add_special_tokens=False)["input_ids"])
    step = most_uncertain_step(model, tokenizer, prompt, max_new_tokens=20)
    assert 0 <= step <= n_answer  # the step emitting </s> is the last one
    entropy = lambda s: float(
        torch.distributions.Categorical(logits=next_token_logits(model, tokenizer, prompt, step=s)[0]).entropy()
    )
    assert all(entropy(step) >= entropy(s) for s in range(n_answer + 1))
    logits, prefix = next_token_logits(model, tokenizer, prompt, step=n_answer)
    assert prefix == greedy and int(logits.argmax()) == tokenizer.eos_token_id
    with pytest.raises(ValueError, match="past the end of the greedy answer"):
        next_token_logits(model, tokenizer, prompt, step=n_answer + 1)


def test_style_rouge_names_a_missing_baseline() -> None:
    with pytest.raises(ValueError, match="baseline='instruction'.*'mine'"):
        style_rouge({"mine": ["a"], "flan": ["b"]}, [["a"]])
    _table, differences = style_rouge({"mine": ["a b"], "flan": ["b"]}, [["a b"]], baseline="flan", resamples=10)
    assert list(differences["system"].unique()) == ["mine"]


def test_course_shaped_standin_runs_lab1(course_standins: dict[str, Path]) -> None:
    """The course profile's Lab 1 path (flan-t5-base architecture, course indices 40/80/120 -> 200) on two dialogues."""
    profile = load_profile(
        "course", env={}, model=str(course_standins["model"]), dataset=str(Path(__file__).resolve().parents[1] / "data" / "world")
    )
    model, tokenizer = load_seq2seq(profile)
    data = load_dialogsum(profile)
    target = 200 if len(data.test) > 200 else 150  # the world's test split has 200 dialogues
    table = side_by_side(
        model, tokenizer, data.test, [target], shots_from(data.test, profile.lab1), GenerationConfig(max_new_tokens=2)
    )
    assert list(table["style"]) == list(STYLES) and len(table) == 5
