"""Lab 1's experiment functions (genai_labs.lab1.prompt_study) on the tiny world and on a course-shaped stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_labs.core.profiles import load_profile
from genai_labs.data import load_dialogsum
from genai_labs.generation import GenerationSettings
from genai_labs.lab1.prompt_study import (
    STYLES,
    diversity_by_temperature,
    most_uncertain_step,
    next_token_logits,
    settings_table,
    shots_from,
    side_by_side,
    style_predictions,
    style_rouge,
)
from genai_labs.models import load_seq2seq


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
        GenerationSettings(max_new_tokens=8),
    )
    assert list(table["style"]) == list(STYLES)
    assert list(table["shots used"])[:4] == [0, 0, 0, 1]
    assert 1 <= table["shots used"].iloc[4] <= 3  # three shots overflow 512 tokens here: the oldest are dropped
    assert (table["prompt tokens"] <= tokenizer.model_max_length).all()


def test_style_rouge_is_reproducible(tiny) -> None:
    profile, model, tokenizer, data = tiny
    subset = data.test.select(range(6))
    shots = shots_from(data.train, profile.lab1)
    settings = GenerationSettings(max_new_tokens=12)
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
            "greedy": GenerationSettings(max_new_tokens=6),
            "hot": GenerationSettings(max_new_tokens=6, do_sample=True, temperature=2.0),
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
                "greedy": GenerationSettings(max_new_tokens=6),
                "hot": GenerationSettings(max_new_tokens=6, do_sample=True, temperature=2.0),
            },
            seed=0,
        )
    )
    logits, _ = next_token_logits(model, tokenizer, prompt, step=1)
    assert logits.shape == (model.config.vocab_size,)
    diversity = diversity_by_temperature(model, tokenizer, [prompt], [0.1, 2.0], samples=4, max_new_tokens=8)
    assert diversity["distinct-1"].iloc[1] >= diversity["distinct-1"].iloc[0]


def test_most_uncertain_step_stays_inside_the_answer(tiny) -> None:
    import torch

    profile, model, tokenizer, data = tiny
    prompt = data.test[profile.lab1.target_index]["dialogue"]
    greedy = settings_table(model, tokenizer, prompt, {"greedy": GenerationSettings(max_new_tokens=20)})["output"].iloc[0]
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
        model, tokenizer, data.test, [target], shots_from(data.test, profile.lab1), GenerationSettings(max_new_tokens=2)
    )
    assert list(table["style"]) == list(STYLES) and len(table) == 5
