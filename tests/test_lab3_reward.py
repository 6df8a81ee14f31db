"""Lab 3's reward: the world's preference pairs (genai_labs.world.preferences) and the reward model trained on them with
trl's RewardTrainer (genai_labs.lab3.reward_model)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
from trl import RewardConfig, RewardTrainer

from genai_labs.core.profiles import load_profile
from genai_labs.core.validation import ConfigError
from genai_labs.lab3.reward_model import (
    PreferencePairs,
    fresh_reward_model,
    pair_accuracy,
    preference_pairs,
    preference_reward,
    reward_config,
    reward_scores,
    train_preference_reward,
)
from genai_labs.metrics import classifier_logits
from genai_labs.world.data_files import WORLD_DATA_FILES, read_jsonl, world_data_dir
from genai_labs.world.dialogues import generate_splits
from genai_labs.world.preferences import PAIR_KEYS, PREFERENCE_KINDS, garble, generate_preferences

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"train": 60, "test": 20}


@pytest.fixture(scope="module")
def split_dialogues() -> set[str]:
    return {str(row["dialogue"]) for rows in generate_splits(0).values() for row in rows}


# ------------------------------------------------------------------------------------------ the pairs


def test_preferences_are_deterministic_and_seeded() -> None:
    assert generate_preferences(0, sizes=SMALL) == generate_preferences(0, sizes=SMALL)
    assert generate_preferences(1, sizes=SMALL) != generate_preferences(0, sizes=SMALL)


def test_preference_rows_have_every_kind_and_two_different_summaries() -> None:
    rows = generate_preferences(0, sizes=SMALL)
    assert all(list(row) == list(PAIR_KEYS) for row in rows)
    assert {row["kind"] for row in rows} == set(PREFERENCE_KINDS)
    assert all(row["chosen"] != row["rejected"] and row["chosen"] and row["rejected"] for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)
    # every dialogue gives one fluent_over_garbled pair, and a rude one also an insult pair
    per_split = Counter(row["split"] for row in rows if row["kind"] == "fluent_over_garbled")
    assert per_split == Counter(SMALL)


def test_insult_pairs_share_the_content_summary() -> None:
    """The chosen and the rejected summary of an insult pair differ only in the insult's report."""
    for row in generate_preferences(0, sizes=SMALL):
        if row["kind"] == "plain_over_insult":
            assert row["chosen"] in row["rejected"]
        if row["kind"] == "neutral_over_insult":
            chosen, rejected = set(row["chosen"].split()), set(row["rejected"].split())
            assert len(chosen & rejected) >= len(chosen) // 2


def test_garble_repeats_a_phrase_or_cuts_the_summary() -> None:
    text = "#Person1# and #Person2# talk about a flat on Monday near the park."
    rng = random.Random(0)
    for _ in range(50):
        garbled = garble(text, rng)
        assert garbled != text
        assert len(garbled.split()) > len(text.split()) or text.startswith(garbled)


def test_preference_dialogues_are_in_no_split_and_splits_are_disjoint(split_dialogues: set[str]) -> None:
    rows = generate_preferences(0, seen=split_dialogues, sizes=SMALL)
    train = {row["dialogue"] for row in rows if row["split"] == "train"}
    test = {row["dialogue"] for row in rows if row["split"] == "test"}
    assert not (train | test) & split_dialogues
    assert not train & test


def test_committed_file_is_what_the_generator_writes(split_dialogues: set[str]) -> None:
    committed = read_jsonl(world_data_dir() / WORLD_DATA_FILES["preferences"])
    assert committed == generate_preferences(0, seen=split_dialogues)
    committed_test = {row["dialogue"] for row in committed if row["split"] == "test"}
    assert not committed_test & {row["dialogue"] for row in committed if row["split"] == "train"}


def test_preference_pairs_for_trl() -> None:
    pairs = preference_pairs()
    assert pairs.train.column_names == ["chosen", "rejected"]  # RewardTrainer's implicit-prompt layout
    table = pairs.table()
    assert list(table.index) == list(PREFERENCE_KINDS) and (table > 0).all().all()
    assert int(table["train"].sum()) == len(pairs.train) and int(table["test"].sum()) == len(pairs.test)
    assert list(pairs.examples()["kind"]) == list(PREFERENCE_KINDS)


# ------------------------------------------------------------------------------------------ the reward model


def test_an_edited_reward_config_is_used_as_it_is(tmp_path) -> None:
    """Issue 23: the notebook's RewardConfig trains what it says; the reward names the arguments it was trained with."""
    profile = load_profile("tiny", env={})
    args = reward_config(profile.lab3, seed=0, output_dir=str(tmp_path))
    assert isinstance(args, RewardConfig) and args.activation_checkpointing is False and args.disable_dropout
    assert args.learning_rate == profile.lab3.reward_learning_rate
    full = preference_pairs()
    pairs = PreferencePairs(train=full.train.select(range(32)), test=full.test[:12], train_kinds=full.train_kinds)
    model, tokenizer = fresh_reward_model(pairs, seed=0)
    edited = dataclasses.replace(args, learning_rate=3e-4, num_train_epochs=1, seed=5)
    trainer = RewardTrainer(model=model, args=edited, train_dataset=pairs.train, processing_class=tokenizer)
    reward = preference_reward(trainer, pairs)
    assert "1 epochs, learning rate 0.0003, batch 16, seed 5" in reward.origin


def test_lab3_reward_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="reward_learning_rate"):
        load_profile("tiny", env={}, lab3__reward_learning_rate=0.0)
    with pytest.raises(ConfigError, match="reward_batch_size"):
        load_profile("tiny", env={}, lab3__reward_batch_size=0)
    with pytest.raises(ConfigError, match="reward_train_epochs"):
        load_profile("tiny", env={}, lab3__reward_train_epochs=-1)


def test_reward_scores_read_the_text_as_trl_trained_it() -> None:
    """trl's RewardTrainer appends eos to every text; the reward reads ``text + eos`` too (once)."""
    pairs = preference_pairs()
    model, tokenizer = fresh_reward_model(pairs, seed=0)
    texts = [pairs.test[0]["chosen"], pairs.test[0]["rejected"] + tokenizer.eos_token]
    expected = classifier_logits(model, tokenizer, [texts[0] + tokenizer.eos_token, texts[1]])[:, 0]
    assert reward_scores(model, tokenizer, texts).tolist() == expected.tolist()


def test_a_short_reward_trainer_run_learns_the_preferences() -> None:
    """800 training pairs, 2 epochs (100 steps, a few seconds): held-out pair accuracy rises from the untrained
    model's to >= 0.8, and every kind gets a positive mean margin."""
    full = preference_pairs()
    pairs = PreferencePairs(train=full.train.select(range(800)), test=full.test, train_kinds=full.train_kinds)
    profile = load_profile("tiny", env={}, lab3__reward_train_epochs=2)
    untrained = pair_accuracy(*fresh_reward_model(pairs, seed=profile.seed), pairs.test)
    reward = train_preference_reward(profile, pairs=pairs)
    assert reward.kind == "preferences" and "RewardTrainer" in reward.origin
    assert reward.pair_accuracy is not None and reward.pair_accuracy >= 0.8
    assert reward.pair_accuracy > float(untrained.loc["all", "accuracy"]) + 0.2
    assert (reward.pair_table.loc[list(PREFERENCE_KINDS), "margin"] > 0).all()
    assert int(reward.pair_table.loc["all", "pairs"]) == len(pairs.test)
    scores = reward([""] * 2, [pairs.test[0]["chosen"], pairs.test[0]["rejected"]])  # PPO's reward_fn(prompts, responses)
    assert scores.shape == (2,) and float(scores[0]) > float(scores[1])
