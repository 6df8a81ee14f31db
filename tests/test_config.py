"""Profiles (genai_labs.core.profiles, .overrides, .validation): presets, overrides, errors."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

import genai_labs.core.profiles as profiles_module
from genai_labs.core.folders import CACHE_ENV, default_cache_dir
from genai_labs.core.overrides import NON_FIELD_ENV_VARS, coerce, resolve_path_overrides
from genai_labs.core.profiles import PROFILES, Lab1Config, PPOConfig, Profile, load_profile, profile_as_dict
from genai_labs.core.validation import ConfigError, field_paths

REPO = Path(__file__).resolve().parents[1]


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


# -- built-in profiles and the module's own examples -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_builtin_profile_passes_its_own_checks(name: str) -> None:
    profile = load_profile(name, env={})
    assert dataclasses.replace(profile) == profile  # __post_init__ runs again on the same values
    assert profile_as_dict(profile)["name"] == name


def test_docstring_examples_work() -> None:
    examples = dict(re.findall(r"``(GENAI_LABS_[A-Z0-9_]+)=([^`]+)``", profiles_module.__doc__))
    assert examples["GENAI_LABS_LAB2__LORA__R"] == "8"
    profile = load_profile("course", env=examples)
    assert profile.lab2.lora.r == 8 and profile.dataset == examples["GENAI_LABS_DATASET"]


# -- unknown GENAI_LABS_* names ----------------------------------------------------------------------------


def test_env_typo_names_the_variable_and_the_fix() -> None:
    with pytest.raises(ConfigError) as err:
        load_profile("tiny", env={"GENAI_LABS_LAB2__LORA_R": "8"})
    message = str(err.value)
    assert "GENAI_LABS_LAB2__LORA_R" in message and "Did you mean GENAI_LABS_LAB2__LORA__R" in message
    assert "double underscore" in message and "Rename or unset" in message
    with pytest.raises(ConfigError, match="GENAI_LABS_DATSET.*Did you mean GENAI_LABS_DATASET"):
        load_profile("tiny", env={"GENAI_LABS_DATSET": "x"})
    with pytest.raises(ConfigError, match="GENAI_LABS_PROFILES.*Did you mean GENAI_LABS_PROFILE"):
        load_profile("tiny", env={"GENAI_LABS_PROFILES": "course"})


def test_non_field_variables_are_allowed() -> None:
    env = dict.fromkeys(NON_FIELD_ENV_VARS, "/somewhere") | {"GENAI_LABS_PROFILE": "tiny", "OTHER_VAR": "1"}
    assert load_profile(env=env) == load_profile("tiny", env={})


def test_every_genai_labs_variable_the_project_mentions_is_known() -> None:
    """Variables read or documented anywhere (package, labs, README, CI, benchmarks) are fields or allowed."""
    files = [*REPO.joinpath("genai_labs").rglob("*.py"), *REPO.joinpath("labs").glob("*.ipynb"), REPO / "README.md",
             *REPO.joinpath("benchmarks").rglob("*.py"), REPO / ".ci" / "run"]  # fmt: skip
    mentioned = {m for f in files if f.is_file() for m in re.findall(r"GENAI_LABS_[A-Z0-9_]*[A-Z0-9]", f.read_text())}
    fields = {"GENAI_LABS_" + path.upper() for path in field_paths(Profile, groups=False)}
    assert mentioned - fields - set(NON_FIELD_ENV_VARS) == set()


# -- range and type checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"lab1__batch_size": -3}, r"lab1\.batch_size \(GENAI_LABS_LAB1__BATCH_SIZE.*is -3; it must be >= 1"),
        ({"lab1__few_shot_indices": "1,-2"}, r"lab1\.few_shot_indices.*>= 0"),
        ({"lab2__lora__r": 0}, r"lab2\.lora\.r \(GENAI_LABS_LAB2__LORA__R.*>= 1"),
        ({"lab2__lora__dropout": 1.0}, r"lab2\.lora\.dropout.*in \[0, 1\)"),
        ({"lab2__lora__bias": "some"}, r"lab2\.lora\.bias.*one of 'none', 'all', 'lora_only'"),
        ({"lab2__lora__target_modules": ""}, r"lab2\.lora\.target_modules.*at least one module"),
        ({"lab2__full__learning_rate": 0.0}, r"lab2\.full\.learning_rate.*> 0"),
        ({"lab2__full__max_steps": 0}, r"lab2\.full\.max_steps.*or -1"),
        ({"lab2__full__train_sampling_strategy": "group_by_lenght"}, r"train_sampling_strategy.*'group_by_length'"),
        ({"lab2__full__dropout_rate": -0.1}, r"dropout_rate.*or None"),
        ({"lab2__replay_fraction": 1.0}, r"lab2\.replay_fraction.*< 1"),
        ({"lab2__train_every": 0}, r"lab2\.train_every.*>= 1"),
        ({"lab3__ppo__target_kl": 0.0}, r"lab3\.ppo\.target_kl \(GENAI_LABS_LAB3__PPO__TARGET_KL.*> 0"),
        ({"lab3__ppo__kl_horizon": 0}, r"lab3\.ppo\.kl_horizon.*>= 1"),
        ({"lab3__ppo__top_p": 0.9}, r"lab3\.ppo\.top_p.*is 0\.9; it must be 1\.0 \(off: PPO scores the full softmax"),
        ({"lab3__ppo__top_k": 50}, r"lab3\.ppo\.top_k.*is 50; it must be 0 \(off: PPO scores the full softmax"),
        ({"lab3__ppo__gamma": 1.1}, r"lab3\.ppo\.gamma.*<= 1"),
        ({"lab3__ppo__mini_batch_size": 0}, r"lab3\.ppo\.mini_batch_size.*>= 1"),
        ({"lab3__ppo__response_length_max": 3}, r"response_length_max.*>= response_length_min"),
        ({"lab3__ppo__learning_rate": float("nan")}, r"lab3\.ppo\.learning_rate.*finite"),
        ({"lab3__prompt_max_chars": 0}, r"lab3\.prompt_max_chars.*> prompt_min_chars"),
        ({"lab3__toxic_label": "nothate"}, r"lab3\.toxic_label.*other than reward_label"),
        ({"device": "gpu"}, r"device \(GENAI_LABS_DEVICE.*one of 'auto', 'cpu', 'cuda'"),
        ({"seed": -1}, r"seed.*>= 0"),
        ({"dataset": " "}, r"dataset.*non-empty"),
    ],
)
def test_out_of_range_values_name_the_field_and_the_range(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_profile("tiny", env={}, **override)


def test_env_values_are_range_checked_and_name_their_variable() -> None:
    with pytest.raises(ConfigError, match=r"is -3; it must be >= 1.*environment variable GENAI_LABS_LAB1__BATCH_SIZE"):
        load_profile("tiny", env={"GENAI_LABS_LAB1__BATCH_SIZE": "-3"})
    with pytest.raises(ConfigError, match="kl_horizon"):
        load_profile("tiny", env={"GENAI_LABS_LAB3__PPO__KL_HORIZON": "0"})


def test_bools_are_not_numbers() -> None:
    with pytest.raises(ConfigError, match="lab1__batch_size.*int.*got True"):
        load_profile("tiny", env={}, lab1__batch_size=True)
    with pytest.raises(ConfigError, match="learning_rate.*float.*got False"):
        load_profile("tiny", env={}, lab3__ppo__learning_rate=False)
    with pytest.raises(ConfigError, match="'lab1__batch_size'.*int.*'true'"):
        load_profile("tiny", env={"GENAI_LABS_LAB1__BATCH_SIZE": "true"})
    with pytest.raises(ConfigError, match=r"lab1\.batch_size.*int.*got True"):
        Lab1Config(batch_size=True)
    assert load_profile("tiny", env={"GENAI_LABS_LAB3__PPO__ADAPTIVE_KL": "off"}).lab3.ppo.adaptive_kl is False


def test_related_overrides_apply_together() -> None:
    """min above the old max is fine when max moves in the same load (env and keywords alike)."""
    env = {"GENAI_LABS_LAB3__PPO__RESPONSE_LENGTH_MIN": "500", "GENAI_LABS_LAB3__PPO__RESPONSE_LENGTH_MAX": "800"}
    assert load_profile("course", env=env).lab3.ppo.response_length_min == 500
    ppo = load_profile(
        "tiny", env={"GENAI_LABS_LAB3__PPO__RESPONSE_LENGTH_MIN": "60"}, lab3__ppo__response_length_max=90
    ).lab3.ppo
    assert (ppo.response_length_min, ppo.response_length_max) == (60, 90)


def test_special_values_stay_accepted() -> None:
    profile = load_profile(
        "tiny",
        env={},
        lab1__eval_examples=0,
        lab2__full__max_steps=-1,
        lab2__full__save_steps=0,
        lab3__ppo__init_kl_coef=0.0,
        lab3__ppo__adaptive_kl=False,
        lab3__ppo__max_grad_norm=0.0,
        lab3__ppo__top_k=0,
        lab3__eval_prompts=0,
        lab2__full__dropout_rate="none",
        lab3__reward_train_epochs=0,
    )
    assert profile.lab2.full.dropout_rate is None and profile.lab3.ppo.init_kl_coef == 0.0
    assert PPOConfig(batch_size=2, mini_batch_size=4).mini_batch_size == 4  # the trainer caps it at the batch


# -- coerce: Optional handling (operator precedence) -------------------------------------------------------


def test_none_only_for_optional_fields() -> None:
    assert coerce(None, float | None, name="x", source="test") is None
    assert coerce("none", str | None, name="x", source="test") is None
    assert coerce("0.1", float | None, name="x", source="test") == 0.1
    with pytest.raises(ConfigError, match="'x'"):
        coerce(None, int | str, name="x", source="test")  # not Optional: None is not a value of it
    with pytest.raises(ConfigError, match="'seed'.*int"):
        load_profile("tiny", env={}, seed=None)


# -- resolve_path_overrides ---------------------------------------------------------------------------------


def test_resolve_path_overrides(tmp_path: Path) -> None:
    (tmp_path / "data" / "world").mkdir(parents=True)
    env = {
        "GENAI_LABS_DATASET": "data/world",  # exists under base_dir: made absolute
        "GENAI_LABS_MODEL": "google/flan-t5-small",  # a hub id: kept
        "GENAI_LABS_REWARD_MODEL": "./missing",  # explicit relative path: absolute even if missing
        "GENAI_LABS_LAB3__ADAPTER_PATH": "../adapters/lora",
        "GENAI_LABS_CACHE": ".cache/genai",  # always a path
        "GENAI_LABS_PROFILE": "tiny",
        "GENAI_LABS_SEED": "3",
        "HOME_LIKE": "data/world",
    }
    resolved = resolve_path_overrides(env, tmp_path)
    assert resolved["GENAI_LABS_DATASET"] == str(tmp_path / "data" / "world")
    assert resolved["GENAI_LABS_MODEL"] == "google/flan-t5-small"
    assert resolved["GENAI_LABS_REWARD_MODEL"] == str(tmp_path / "missing")
    assert resolved["GENAI_LABS_LAB3__ADAPTER_PATH"] == str(tmp_path.parent / "adapters" / "lora")
    assert resolved["GENAI_LABS_CACHE"] == str(tmp_path / ".cache" / "genai")
    assert {k: resolved[k] for k in ("GENAI_LABS_PROFILE", "GENAI_LABS_SEED", "HOME_LIKE")} == {
        "GENAI_LABS_PROFILE": "tiny",
        "GENAI_LABS_SEED": "3",
        "HOME_LIKE": "data/world",
    }
    assert env["GENAI_LABS_DATASET"] == "data/world"  # a copy: the input is untouched


def test_resolve_path_overrides_keeps_absolute_world_and_home_values(tmp_path: Path) -> None:
    (tmp_path / "tiny-world" / "dialogsum").mkdir(parents=True)
    env = {
        "GENAI_LABS_DATASET": "tiny-world/dialogsum",
        "GENAI_LABS_MODEL": "/abs/model",
        "GENAI_LABS_REWARD_MODEL": "~/models/roberta",
        "GENAI_LABS_LAB3__ADAPTER_PATH": "",
    }
    assert resolve_path_overrides(env, tmp_path) == env
    assert resolve_path_overrides({"GENAI_LABS_DATASET": "a/b/c"}, tmp_path) == {
        "GENAI_LABS_DATASET": str(tmp_path / "a" / "b" / "c")
    }


def test_acceptance_environment_is_clean_with_its_own_cache(acceptance_environment: Path) -> None:
    """The acceptance tests' environment (tests/conftest.py): no ambient GENAI_LABS_* variable, their own cache."""
    assert [name for name in os.environ if name.startswith("GENAI_LABS_") and name != CACHE_ENV] == []
    assert default_cache_dir() == acceptance_environment and acceptance_environment.is_dir()
    assert load_profile() == load_profile("tiny", env={})
