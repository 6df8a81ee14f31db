"""Tests for genai_labs.prompts: the course templates and Lab 1's budgeted prompt builder."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from genai_labs.core.profiles import load_profile
from genai_labs.data import read_dialogsum_jsonl
from genai_labs.generation import check_prompt_lengths
from genai_labs.lab1.prompt_study import shots_from, style_prompts
from genai_labs.models import flan_t5_base_config
from genai_labs.prompts import (
    RELATIVE_POSITION_READ_LIMIT,
    STYLES,
    PromptBudgetError,
    PromptBuild,
    build_prompt,
    context_limit,
    count_tokens,
    flan_prompt,
    flan_shot,
    instruction_prompt,
    ppo_prompt,
    prompt_token_table,
    read_limit,
    training_prompt,
)

DIALOGUE = "#Person1#: Hi.\n#Person2#: Hello."
SHOTS = [
    ("#Person1#: Tea?\n#Person2#: Yes.", "#Person2# wants tea."),
    ("#Person1#: Late again.\n#Person2#: Sorry.", "#Person2# is late."),
    ("#Person1#: Bye.", "#Person1# leaves."),
]


@pytest.fixture(scope="module")
def tokenizer(word_tokenizer) -> PreTrainedTokenizerFast:
    """Word-level: every whitespace-separated piece is one token (all of them <unk>), plus </s>."""
    return word_tokenizer()


def n_words(text: str) -> int:
    return len(text.split()) + 1  # + </s>


def test_templates_exact() -> None:
    assert instruction_prompt("D") == "\nSummarize the following conversation.\n\nD\n\nSummary:\n"
    assert training_prompt("D") == "Summarize the following conversation.\n\nD\n\nSummary: "
    assert ppo_prompt("D") == "Summarize the following conversation.\n\nD\n\nSummary:\n"
    assert flan_prompt("D") == "\nDialogue:\n\nD\n\nWhat was going on?\n"
    assert flan_shot("D", "S") == "\nDialogue:\n\nD\n\nWhat was going on?\nS\n\n\n"


def test_build_prompt_exact_text_per_style() -> None:
    assert build_prompt("no_prompt", "D").text == "D"
    assert build_prompt("instruction", "D").text == "\nSummarize the following conversation.\n\nD\n\nSummary:\n"
    assert build_prompt("flan", "D").text == "\nDialogue:\n\nD\n\nWhat was going on?\n"
    one = build_prompt("one_shot", "D", shots=[("A", "a.")])
    assert one.text == "\nDialogue:\n\nA\n\nWhat was going on?\na.\n\n\n\nDialogue:\n\nD\n\nWhat was going on?\n"
    few = build_prompt("few_shot", "D", shots=[("A", "a."), ("B", "b.")])
    assert few.text == (
        "\nDialogue:\n\nA\n\nWhat was going on?\na.\n\n\n"
        "\nDialogue:\n\nB\n\nWhat was going on?\nb.\n\n\n"
        "\nDialogue:\n\nD\n\nWhat was going on?\n"
    )
    assert few == PromptBuild(few.text, None, (0, 1), (), None)


def test_shot_order_is_kept() -> None:
    text = build_prompt("few_shot", DIALOGUE, shots=SHOTS).text
    positions = [text.index(summary) for _, summary in SHOTS]
    assert positions == sorted(positions)
    assert text.endswith(flan_prompt(DIALOGUE))
    reversed_text = build_prompt("few_shot", DIALOGUE, shots=SHOTS[::-1]).text
    assert reversed_text == "".join(flan_shot(d, s) for d, s in SHOTS[::-1]) + flan_prompt(DIALOGUE)


def test_style_and_shot_validation() -> None:
    with pytest.raises(ValueError, match="unknown prompt style 'zero_shot'"):
        build_prompt("zero_shot", DIALOGUE)
    with pytest.raises(ValueError, match="exactly 1 shot"):
        build_prompt("one_shot", DIALOGUE, shots=SHOTS)
    with pytest.raises(ValueError, match="at least one"):
        build_prompt("few_shot", DIALOGUE)
    with pytest.raises(ValueError, match="takes no shots"):
        build_prompt("flan", DIALOGUE, shots=SHOTS[:1])
    with pytest.raises(ValueError, match="on_overflow"):
        build_prompt("flan", DIALOGUE, on_overflow="truncate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a tokenizer"):
        build_prompt("flan", DIALOGUE, max_tokens=10)


def test_token_counts_include_eos(tokenizer) -> None:
    build = build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer)
    assert build.n_tokens == n_words(build.text) == count_tokens(tokenizer, build.text)
    assert build.limit is None  # this tokenizer reports no real model_max_length
    assert build.shots_used == (0, 1, 2) and build.shots_dropped == ()


def test_drop_shots_earliest_first(tokenizer) -> None:
    full = build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer)
    without_first = n_words("".join(flan_shot(d, s) for d, s in SHOTS[1:]) + flan_prompt(DIALOGUE))
    build = build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer, max_tokens=full.n_tokens - 1)
    assert build.shots_used == (1, 2) and build.shots_dropped == (0,)
    assert build.n_tokens == without_first and build.limit == full.n_tokens - 1
    assert build.text == "".join(flan_shot(d, s) for d, s in SHOTS[1:]) + flan_prompt(DIALOGUE)

    zero = n_words(flan_prompt(DIALOGUE))
    build = build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer, max_tokens=zero)
    assert build.shots_used == () and build.shots_dropped == (0, 1, 2)
    assert build.text == flan_prompt(DIALOGUE) and build.n_tokens == zero

    fits = build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer, max_tokens=full.n_tokens)
    assert fits.shots_dropped == () and fits.text == full.text


def test_model_max_length_is_the_default_budget(tokenizer) -> None:
    limited = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend_tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=n_words(flan_prompt(DIALOGUE)),
    )
    build = build_prompt("one_shot", DIALOGUE, shots=SHOTS[:1], tokenizer=limited)
    assert build.limit == limited.model_max_length and build.shots_dropped == (0,)


def test_error_mode_names_count_limit_and_fixes(tokenizer) -> None:
    full = build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer)
    with pytest.raises(PromptBudgetError, match=rf"{full.n_tokens} tokens, over the limit of 20") as err:
        build_prompt("few_shot", DIALOGUE, shots=SHOTS, tokenizer=tokenizer, max_tokens=20, on_overflow="error")
    assert "fewer or shorter shots" in str(err.value) and "raise max_tokens" in str(err.value)


@pytest.mark.parametrize("on_overflow", ["drop_shots", "error"])
@pytest.mark.parametrize("style", STYLES)
def test_target_dialogue_never_truncated(tokenizer, style: str, on_overflow: str) -> None:
    shots = SHOTS[:1] if style == "one_shot" else SHOTS if style == "few_shot" else []
    with pytest.raises(PromptBudgetError, match="never truncated"):
        build_prompt(style, DIALOGUE, shots=shots, tokenizer=tokenizer, max_tokens=3, on_overflow=on_overflow)


def test_prompt_token_table(tokenizer) -> None:
    table = prompt_token_table(DIALOGUE, tokenizer, shots=SHOTS, max_tokens=40)
    assert list(table["style"]) == list(STYLES)
    assert list(table["n_shots"]) == [0, 0, 0, 1, 3]
    assert table.set_index("style").loc["flan", "n_tokens"] == n_words(flan_prompt(DIALOGUE))
    few = table.set_index("style").loc["few_shot"]
    assert few["n_tokens"] > 40 and not few["fits"]  # reported, not dropped
    assert list(prompt_token_table(DIALOGUE, tokenizer)["style"]) == ["no_prompt", "instruction", "flan"]


def test_one_budget_rule_shared_with_generation(tokenizer) -> None:
    from genai_labs import generation
    from genai_labs.lab1 import prompt_study

    assert generation.context_limit is context_limit  # one implementation of the token budget
    assert prompt_study.STYLES is STYLES  # one list of Lab 1's styles
    assert context_limit(tokenizer) is None  # ~1e30 model_max_length: no real limit
    assert context_limit(None) is None and context_limit(tokenizer, 12) == 12
    limited = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, model_max_length=64)
    assert context_limit(limited) == 64
    with pytest.raises(ValueError, match="max_tokens must be >= 1"):
        build_prompt("flan", DIALOGUE, tokenizer=tokenizer, max_tokens=0)
    with pytest.raises(ValueError, match="max_input_tokens must be >= 1"):
        context_limit(tokenizer, 0)


def test_a_dialogue_too_long_for_its_shots_is_read_whole_up_to_the_read_limit(tokenizer) -> None:
    """Shots go first; a dialogue over the budget even alone is the zero-shot prompt, read whole, when it fits
    ``read_whole_up_to``; over that it raises (never truncated)."""
    long_dialogue = " ".join(["word"] * 30)
    zero_shot = n_words(flan_prompt(long_dialogue))
    build = build_prompt("few_shot", long_dialogue, shots=SHOTS, tokenizer=tokenizer, max_tokens=20, read_whole_up_to=100)
    assert build.text == flan_prompt(long_dialogue) and build.n_tokens == zero_shot > build.limit == 20
    assert build.shots_used == () and build.shots_dropped == (0, 1, 2)
    with pytest.raises(PromptBudgetError, match="never truncated"):
        build_prompt("few_shot", long_dialogue, shots=SHOTS, tokenizer=tokenizer, max_tokens=20, read_whole_up_to=zero_shot - 1)


def test_course_prompt_rules_meet_every_real_validation_dialogue(real_dialogsum_dir: Path, world_assets) -> None:
    """The ``course`` profile's prompt rules over every real DialogSum validation dialogue, with a stand-in tokenizer
    (the tiny world's, 512-token context) and flan-t5-base's config: Lab 1's five styles with the course's shots and
    Lab 2's prompt all build and pass generation's length check; the prompts past 512 tokens are read whole and
    counted, and in-context shots never push a prompt past 512."""
    profile = load_profile("course", env={})
    tokenizer = AutoTokenizer.from_pretrained(world_assets.t5_dir)
    assert tokenizer.model_max_length == 512
    model = SimpleNamespace(config=flan_t5_base_config())  # read_limit only reads the config: relative positions
    limit = read_limit(model, tokenizer)
    assert limit == RELATIVE_POSITION_READ_LIMIT
    train = read_dialogsum_jsonl(real_dialogsum_dir / "train.jsonl")
    shots = shots_from(train, profile.lab1)  # type: ignore[arg-type]  # rows: split[i]["dialogue"] as a Dataset reads
    dialogues = [row["dialogue"] for row in read_dialogsum_jsonl(real_dialogsum_dir / "validation.jsonl")]
    past_context = 0
    for dialogue in dialogues:
        builds = style_prompts(dialogue, shots, tokenizer, read_whole_up_to=limit)
        lengths = [build.n_tokens for build in builds.values()] + [count_tokens(tokenizer, training_prompt(dialogue))]
        check_prompt_lengths(lengths, limit)  # what generate_texts checks: never raises on the course's data
        past_context += any(n > 512 for n in lengths)
        for build in builds.values():
            assert build.n_tokens <= 512 or not build.shots_used  # shots never take a prompt past the context
    assert 0 < past_context < len(dialogues) // 4  # some long dialogues, read whole
