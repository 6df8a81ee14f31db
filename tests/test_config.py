"""Profiles (genai_labs.config): presets, overrides, errors."""

from __future__ import annotations

import pytest

from genai_labs.config import ConfigError, load_profile, profile_as_dict


def test_default_is_tiny_and_offline() -> None:
    profile = load_profile(env={})
    assert profile.name == "tiny"
    assert profile.model.startswith("tiny-world/") and profile.dataset.startswith("tiny-world/")


def test_course_names_the_real_sources() -> None:
    course = load_profile("course", env={})
    assert course.model == "google/flan-t5-base"
    assert course.dataset == "knkarthick/dialogsum"
    assert course.reward_model == "facebook/roberta-hate-speech-dynabench-r4-target"
    assert (course.lab2.lora.r, course.lab2.lora.alpha, course.lab2.lora.target_modules) == (32, 32, ("q", "v"))
    assert course.lab3.ppo.learning_rate == pytest.approx(1.41e-5)
    assert (course.lab3.ppo.batch_size, course.lab3.ppo.mini_batch_size, course.lab3.ppo.steps) == (16, 4, 10)


def test_laptop_preset_uses_flan_t5_small() -> None:
    assert load_profile("laptop", env={}).model == "google/flan-t5-small"


def test_profile_from_environment_and_overrides() -> None:
    env = {"GENAI_LABS_PROFILE": "course", "GENAI_LABS_DATASET": "../shared/datasets/dialogsum", "GENAI_LABS_LAB2__LORA__R": "8"}
    profile = load_profile(env=env, seed=7)
    assert profile.name == "course" and profile.dataset == "../shared/datasets/dialogsum"
    assert profile.lab2.lora.r == 8 and profile.seed == 7
    assert load_profile("tiny", env={}, lab1__few_shot_indices="1,2").lab1.few_shot_indices == (1, 2)


def test_unknown_profile_names_choices() -> None:
    with pytest.raises(ConfigError, match="Unknown profile 'huge'.*tiny, laptop, course"):
        load_profile("huge", env={})


def test_bad_override_names_field() -> None:
    with pytest.raises(ConfigError, match="lab2__lora__rank"):
        load_profile("tiny", env={}, lab2__lora__rank=3)
    with pytest.raises(ConfigError, match="'seed'.*int"):
        load_profile("tiny", env={"GENAI_LABS_SEED": "abc"})


def test_profile_dict_is_plain() -> None:
    data = profile_as_dict(load_profile("tiny", env={}))
    assert data["lab3"]["ppo"]["cliprange"] == 0.2
