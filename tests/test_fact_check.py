"""The fact check (genai_labs.fact_check) with the world's exact finder (world.facts) and the generic one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genai_labs.core.folders import shared_dialogsum_dir
from genai_labs.core.profiles import load_profile
from genai_labs.fact_check import (
    check_facts,
    fact_scores,
    fact_table,
    generic_facts,
    holds,
    paired_precision_change,
    precision_interval,
)
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.facts import fact_finder, slot_values, world_facts

DIALOGUE = (
    "#Person1#: Hello, this is Steven from City Homes. How can I help?\n"
    "#Person2#: Hi, I'm Mrs. Moore. I'm calling about a studio flat above a bakery.\n"
    "#Person1#: It's $800 a month, with water included.\n"
    "#Person1#: Sure. How about Friday at three o'clock?"
)
REFERENCE = "#Person2# asks about a studio flat above a bakery, which costs $800 a month, and will see it on Friday."


def test_world_facts_are_slot_values_longest_first() -> None:
    # "a month" is a value too (a loan's or a stay's length in other families): any value of any pool is a fact
    assert world_facts(REFERENCE) == ["a studio flat", "above a bakery", "$800", "a month", "Friday"]
    # a value inside a longer value counts once, as the longer one
    assert world_facts("Mrs. Moore meets Steven.") == ["Mrs. Moore", "Steven"]
    assert "Moore" not in slot_values() or world_facts("Mrs. Moore")[0] == "Mrs. Moore"
    assert world_facts("They talk about the weather.") == []  # none named
    assert world_facts("$8000 on Fridays") == []  # no value inside a longer word or number


def test_check_facts_right_wrong_and_missing() -> None:
    right = check_facts(REFERENCE, DIALOGUE, world_facts, [REFERENCE])
    assert right.supported == (True,) * 5 and right.all_right and all(right.carried)
    wrong = check_facts("#Person2# asks about a cottage near the park for $500 on Monday.", DIALOGUE, world_facts, [REFERENCE])
    assert wrong.named == ("a cottage", "near the park", "$500", "Monday") and not any(wrong.supported)
    assert not wrong.all_right and not any(wrong.carried)
    missing = check_facts("#Person2# asks about a studio flat.", DIALOGUE, world_facts, [REFERENCE])
    assert missing.all_right and missing.carried == (True, False, False, False, False)
    nothing = check_facts("They talk.", DIALOGUE, world_facts, [REFERENCE])
    assert nothing.named == () and not nothing.all_right


def test_fact_scores_pool_over_summaries() -> None:
    summaries = [REFERENCE, "#Person2# asks about a studio flat for $500 on Monday.", "They talk."]
    scores = fact_scores(summaries, [DIALOGUE] * 3, world_facts, [[REFERENCE]] * 3)
    assert scores.precision == pytest.approx(6 / 8)  # 5 of 5, then 1 of 3, then none named
    assert scores.recall == pytest.approx(6 / 15)
    assert scores.all_right_share == pytest.approx(1 / 3)
    np.testing.assert_array_equal(scores.named, [5, 3, 0])
    assert np.isnan(fact_scores(["They talk."], [DIALOGUE], world_facts).precision)
    with pytest.raises(ValueError, match="one dialogue per summary"):
        fact_scores(summaries, [DIALOGUE], world_facts)
    with pytest.raises(TypeError, match="wrap it"):
        fact_scores(REFERENCE, DIALOGUE, world_facts)


def test_the_world_s_references_hold_every_fact_they_name() -> None:
    for split in ("validation", "test"):
        rows = read_jsonl(world_data_dir() / f"{split}.jsonl")
        scores = fact_scores([r["summary"] for r in rows], [r["dialogue"] for r in rows], world_facts)
        assert scores.precision == 1.0 and scores.named.mean() >= 3
    train = read_jsonl(world_data_dir() / "train.jsonl")
    assert fact_scores([r["summary"] for r in train], [r["dialogue"] for r in train], world_facts).precision >= 0.999


def test_generic_facts_on_dialogsum_shaped_text() -> None:
    summary = "#Person1# and Mrs. Brown will meet at the Royal Hotel on Monday at 3 pm. It costs $1,200.50, or 20% off."
    assert generic_facts(summary) == ["Mrs. Brown", "Royal Hotel", "Monday", "3 pm", "$1,200.50", "20%"]
    dialogue = "#Person1#: Mrs. Brown, the Royal Hotel is $1,200.50 on Monday.\n#Person2#: At 3 pm? Is 20% off possible?"
    assert check_facts(summary, dialogue, generic_facts).all_right
    assert not check_facts("Tom pays $900 on Friday.", dialogue, generic_facts).supported[0]
    assert generic_facts("They talk about the weather.") == []
    assert holds("Royal Hotel", "the  Royal\nHotel") and not holds("$80", "$800") and not holds("Tom", "Tommy")


def test_each_profile_gets_its_finder() -> None:
    assert fact_finder(load_profile("tiny", env={})) is world_facts
    assert fact_finder(load_profile("course", env={})) is generic_facts


@pytest.mark.skipif(not (shared_dialogsum_dir() / "validation.jsonl").exists(), reason="real DialogSum not beside the checkout")
def test_generic_finder_on_real_dialogsum_references() -> None:
    """On real DialogSum most facts a human reference names are in its dialogue (names, numbers, days)."""
    rows = [json.loads(line) for line in (shared_dialogsum_dir() / "validation.jsonl").read_text().splitlines()[:300]]
    scores = fact_scores([r["summary"] for r in rows], [r["dialogue"] for r in rows], generic_facts)
    assert scores.named.sum() >= 100 and scores.precision >= 0.7


def test_precision_interval_and_paired_change() -> None:
    good = [REFERENCE] * 20
    bad = ["#Person2# asks about a cottage near the park for $500 on Monday."] * 10 + [REFERENCE] * 10
    dialogues = [DIALOGUE] * 20
    before, after = fact_scores(bad, dialogues, world_facts), fact_scores(good, dialogues, world_facts)
    precision, low, high = precision_interval(before)
    assert low <= precision <= high and 0.0 < low < high < 1.0
    assert precision_interval(after) == (1.0, 1.0, 1.0)
    change = paired_precision_change(before, after)
    assert change["diff"] == pytest.approx(1.0 - before.precision) and change["low"] > 0
    table = fact_table({"bad": before, "good": after})
    assert list(table.index) == ["bad", "good"] and table.loc["good", "all facts right"] == 1.0
    assert table.loc["bad", "fact precision"] == pytest.approx(before.precision)
    with pytest.raises(ValueError, match="same dialogues"):
        paired_precision_change(before, fact_scores(good[:3], dialogues[:3], world_facts))
