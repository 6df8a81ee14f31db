"""The tiny FLAN's pre-training mixture (world.pretraining) and the world's well-formedness check (world.well_formed)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch
from transformers import AutoTokenizer

from genai_labs.core.folders import WORLD_MODELS_DIR
from genai_labs.prompts import flan_prompt, flan_shot, training_prompt
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.dialogues import FAMILIES, FAMILIES_BY_NAME, STYLES, generate_splits, style_summary
from genai_labs.world.pretraining import (
    ANNEAL_PHASE,
    LONG_PHASE,
    MAIN_PHASE,
    ONE_SHOT_PHASE,
    TASKS,
    PretrainConfig,
    PretrainingStream,
    TinyT5Architecture,
    build_tiny_t5,
    pretrain_t5,
    pretraining_corpus,
    text_example,
)
from genai_labs.world.well_formed import is_well_formed, slot_pools, summary_style, well_formed_share


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(WORLD_MODELS_DIR / "flan-t5")


@pytest.fixture(scope="module")
def corpus():
    return pretraining_corpus(300, seed=0)


# --------------------------------------------------------------------------------------------------
# Well-formedness
# --------------------------------------------------------------------------------------------------


def test_every_summary_the_world_writes_is_well_formed_in_its_style(corpus) -> None:
    for split in ("train", "validation", "test"):
        rows = read_jsonl(world_data_dir() / f"{split}.jsonl")
        assert well_formed_share([r["summary"] for r in rows]) == 1.0
        assert {summary_style(r["summary"]) for r in rows} == {"observer"}
    rng = random.Random(0)
    for dialogue in corpus[:100]:
        for style in STYLES:
            assert summary_style(style_summary(dialogue, style, rng)) == style


def test_what_is_not_the_world_s_grammar_is_not_well_formed() -> None:
    row = read_jsonl(world_data_dir() / "train.jsonl")[0]
    summary = row["summary"]
    words = summary.split()
    family = FAMILIES_BY_NAME[row["family"]]
    assert is_well_formed("  " + summary.replace(" ", "  ") + "\n")  # whitespace is forgiven, nothing else
    assert not is_well_formed(" ".join(words[:5] + words[2:5] + words[5:]))  # a phrase repeated
    assert not is_well_formed(" ".join(words[:-3]))  # cut off
    assert not is_well_formed(summary.replace(".", "", 1))
    assert not is_well_formed(summary.lower())
    day = next(v for k, v in row["slots"].items() if v in summary and k in slot_pools(family))
    assert not is_well_formed(summary.replace(day, "the Oce room", 1))  # not a value the world uses there
    assert not is_well_formed("#Person2# calls #Person1# a stupid idiot.")  # an insult report alone
    assert not is_well_formed("")
    assert summary_style("They talk about a room at the Royal Hotel.") == "gist"
    assert summary_style("Hotel booking: a twin room from Friday.") == "headline"
    assert not is_well_formed("They talk about a room at the Royal Hotel. #Person2# calls #Person1# a stupid idiot.")
    with pytest.raises(TypeError, match="list of summaries"):
        well_formed_share(summary)
    assert well_formed_share([]) == 0.0


def test_every_family_has_every_style() -> None:
    for family in FAMILIES:
        assert family.summaries and family.gists and family.headlines
        assert all(g.startswith("They ") for g in family.gists)  # a first word no observer summary starts with
        assert all(h.split(":")[0].split(" ")[0][0].isupper() for h in family.headlines)


# --------------------------------------------------------------------------------------------------
# The pre-training mixture
# --------------------------------------------------------------------------------------------------


def test_the_corpus_is_fresh_and_deterministic(corpus) -> None:
    seen = {str(row["dialogue"]) for rows in generate_splits(0).values() for row in rows}
    assert not seen & {d.text for d in corpus}
    assert [d.text for d in pretraining_corpus(300, seed=0)] == [d.text for d in corpus]
    assert [d.text for d in pretraining_corpus(50, seed=1)] != [d.text for d in corpus[:50]]


def test_demonstration_episodes_answer_in_the_style_of_their_shots(corpus) -> None:
    rng = random.Random(3)
    pick = lambda: corpus[rng.randrange(len(corpus))]
    for style in STYLES:
        for _ in range(20):
            example = text_example(f"shots_{style}", pick(), rng, pick, (0.5, 0.3, 0.2))
            assert 1 <= len(example.shots) <= 3 and example.prompt.startswith(flan_prompt("")[:10])
            assert summary_style(example.answer) == style
            for shot in example.shots:  # the course's shot format, the shot's summary in the same style
                dialogue, summary = shot.split("\n\nWhat was going on?\n")
                assert shot == flan_shot(dialogue.removeprefix("\nDialogue:\n\n"), summary.removesuffix("\n\n\n"))
                assert summary_style(summary.removesuffix("\n\n\n")) == style


def test_zero_shot_tasks_answer_with_their_default_style(corpus) -> None:
    rng = random.Random(4)
    pick = lambda: corpus[0]
    dialogue = corpus[1]
    assert summary_style(text_example("zero_gist", dialogue, rng, pick, (1.0,)).answer) == "gist"
    assert summary_style(text_example("zero_headline", dialogue, rng, pick, (1.0,)).answer) == "headline"
    assert text_example("topic", dialogue, rng, pick, (1.0,)).answer == dialogue.family.topic
    cont = text_example("continue", dialogue, rng, pick, (1.0,))
    lines = dialogue.text.split("\n")
    assert cont.answer in lines[2:] and cont.prompt == "\n".join(lines[: lines.index(cont.answer)])
    instruction = {text_example("zero_gist", dialogue, rng, pick, (1.0,)).prompt for _ in range(60)}
    assert training_prompt(dialogue.text) in instruction and len(instruction) >= 5  # several templates per task
    with pytest.raises(ValueError, match="unknown pre-training task"):
        text_example("poetry", dialogue, rng, pick, (1.0,))


def test_stream_batches_fit_the_context_and_repeat_for_a_seed(corpus, tokenizer) -> None:
    config = PretrainConfig(batch_size=8, length_group=2, max_source_length=300)
    phase = replace(MAIN_PHASE, shot_count_weights=(0.0, 0.0, 1.0))  # three shots: most do not fit 300 tokens
    config = replace(config, phases=(phase,))
    first = PretrainingStream(corpus, tokenizer, config, seed=0)
    again = PretrainingStream(corpus, tokenizer, config, seed=0)
    for step in range(4):
        a, b = first.batch(0, step), again.batch(0, step)
        assert a["input_ids"].shape[0] == 8 and a["input_ids"].shape[1] <= 300
        assert all(a[k].equal(b[k]) for k in a)
        assert ((a["labels"] == -100) | (a["labels"] >= 0)).all()
    # a batch depends only on (seed, phase, step): drawn out of order, it is the same batch (what resuming needs)
    late = PretrainingStream(corpus, tokenizer, config, seed=0).batch(0, 3)
    assert all(late[k].equal(first.batch(0, 3)[k]) for k in late)
    assert not first.batch(0, 0)["input_ids"].equal(PretrainingStream(corpus, tokenizer, config, seed=1).batch(0, 0)["input_ids"])
    assert set(TASKS) == {task for task, _ in MAIN_PHASE.task_weights}
    assert ONE_SHOT_PHASE.shot_count_weights[0] > MAIN_PHASE.shot_count_weights[0]
    assert PretrainConfig().steps == MAIN_PHASE.steps + ONE_SHOT_PHASE.steps + LONG_PHASE.steps + ANNEAL_PHASE.steps
    assert dict(LONG_PHASE.task_weights)["slot"] > dict(MAIN_PHASE.task_weights)["slot"]  # the long phase asks for slots
    # the last phase goes on with the long phase's mixture at half its learning rate
    assert ANNEAL_PHASE.task_weights == LONG_PHASE.task_weights and ANNEAL_PHASE.learning_rate < LONG_PHASE.learning_rate


def test_an_interrupted_pretraining_resumes_to_the_same_weights(corpus, tokenizer, tmp_path) -> None:
    """A build killed mid-way goes on from its last checkpoint and ends with the weights of an uninterrupted run."""
    arch = TinyT5Architecture(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=1, num_decoder_layers=1)
    phases = (replace(MAIN_PHASE, steps=4, warmup_steps=1), replace(ONE_SHOT_PHASE, steps=3, warmup_steps=1))
    config = PretrainConfig(phases=phases, batch_size=4, length_group=2, checkpoint_every=2)

    whole = build_tiny_t5(tokenizer, arch, seed=0)
    history = pretrain_t5(whole, tokenizer, corpus, config, progress=False)

    class Interrupted(Exception):
        pass

    def stop_at(step: int):
        def probe(model) -> float:
            calls.append(1)
            if len(calls) == step:
                raise Interrupted
            return 0.0

        return probe

    # stopped at step 3: resumes mid-phase from step 2 (optimizer and schedule restored); stopped at step 5: from the
    # end of phase 1 (step 4), the next phase starting afresh
    for stop, folder in ((3, tmp_path / "mid-phase"), (5, tmp_path / "phase-end")):
        calls: list[int] = []
        first_try = build_tiny_t5(tokenizer, arch, seed=0)
        with pytest.raises(Interrupted):
            pretrain_t5(
                first_try, tokenizer, corpus, config, progress=False, checkpoint_dir=folder, recipe="r", probe=stop_at(stop),
                probe_every=1,
            )  # fmt: skip
        assert len(calls) == stop and (folder / "pretraining-checkpoint.pt").is_file()
        resumed = build_tiny_t5(tokenizer, arch, seed=0)
        again = pretrain_t5(resumed, tokenizer, corpus, config, progress=False, checkpoint_dir=folder, recipe="r")
        assert again.losses == history.losses and len(again.losses) == 7
        assert again.resumed_at == stop - 1 and history.resumed_at == 0  # recorded in build_info.json
        assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
    # a checkpoint of another recipe is not resumed
    other = build_tiny_t5(tokenizer, arch, seed=0)
    fresh = pretrain_t5(
        other,
        tokenizer,
        corpus,
        replace(config, checkpoint_every=100),
        progress=False,
        checkpoint_dir=tmp_path / "phase-end",
        recipe="other",
    )
    assert fresh.losses == history.losses
