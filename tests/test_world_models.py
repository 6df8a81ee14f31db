"""Tests for the tiny world's models: tokenizer, tiny FLAN-T5, toxicity classifier and the committed build."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from test_atomic_io import not_published, private_umask
from transformers import AutoModelForSequenceClassification, AutoTokenizer, GenerationConfig, T5ForConditionalGeneration

from genai_labs.core.folders import WORLD_MODELS_DIR
from genai_labs.core.profiles import load_profile
from genai_labs.core.sources import WORLD_MODEL, SourceUnavailableError
from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.generation import generate_texts
from genai_labs.metrics import toxicity_probabilities
from genai_labs.models import world_model_folder
from genai_labs.prompts import build_prompt, instruction_prompt, ppo_prompt, training_prompt
from genai_labs.toxicity_classifier import (
    RewardTrainConfig,
    classifier_accuracy,
    train_toxicity_classifier,
)
from genai_labs.world import assets as assets_module
from genai_labs.world.assets import (
    BUILD_INFO,
    REWARD_SUBDIR,
    T5_SUBDIR,
    WorldAssets,
    WorldBuildConfig,
    build_world_models,
    current_recipe,
    judge_recipe,
    recipe_code_hash,
    recorded_recipe,
)
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.dialogues import FAMILIES_BY_NAME, INSULT_ADJECTIVES, INSULT_NOUNS
from genai_labs.world.pretraining import MAIN_PHASE, ONE_SHOT_PHASE, PretrainConfig, topic_accuracy, zero_shot_rouge1
from genai_labs.world.well_formed import summary_style, well_formed_share

INSULT_WORDS = set(INSULT_ADJECTIVES) | set(INSULT_NOUNS)
# A short build: two phases of a few steps on a small corpus, one classifier epoch, no evaluation.
SHORT_BUILD = WorldBuildConfig(
    tokenizer_corpus_dialogues=100,
    pretrain=PretrainConfig(
        phases=(replace(MAIN_PHASE, steps=3, warmup_steps=1), replace(ONE_SHOT_PHASE, steps=2, warmup_steps=1)),
        corpus_dialogues=200,
        batch_size=4,
        length_group=2,
    ),
    reward=replace(judge_recipe(), epochs=1),
    eval_rows=0,
)


@pytest.fixture(scope="session")
def world() -> WorldAssets:
    return WorldAssets.at(WORLD_MODELS_DIR)


@pytest.fixture(scope="session")
def validation() -> list[dict]:
    return read_jsonl(world_data_dir() / "validation.jsonl")


@pytest.fixture(scope="session")
def toxicity() -> list[dict]:
    return read_jsonl(world_data_dir() / "toxicity.jsonl")


@pytest.fixture(scope="session")
def t5(world: WorldAssets):
    with quiet_transformers():
        return T5ForConditionalGeneration.from_pretrained(world.t5_dir), AutoTokenizer.from_pretrained(world.t5_dir)


@pytest.fixture(scope="session")
def classifier(world: WorldAssets):
    with quiet_transformers():
        return (
            AutoModelForSequenceClassification.from_pretrained(world.reward_dir),
            AutoTokenizer.from_pretrained(world.reward_dir),
        )


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------


def test_tokenizer_round_trip_keeps_text_and_newlines(t5, validation) -> None:
    _, tok = t5
    dialogue = validation[0]["dialogue"]
    for text in (dialogue, training_prompt(dialogue), instruction_prompt(dialogue), ppo_prompt(dialogue)):
        ids = tok(text)["input_ids"]
        assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok(instruction_prompt(dialogue))["input_ids"] != tok(ppo_prompt(dialogue))["input_ids"]
    pieces = tok.tokenize("#Person1#: Hello.\n#Person2#: Hi.")
    assert "#Person1#" in pieces and "#Person2#" in pieces and "\n" in pieces
    assert tok.unk_token_id not in tok(training_prompt(dialogue))["input_ids"]


def test_tokenizer_special_ids_follow_t5(t5) -> None:
    _, tok = t5
    assert (tok.pad_token, tok.eos_token, tok.unk_token) == ("<pad>", "</s>", "<unk>")
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    sentinel_ids = tok.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(32)])
    assert sentinel_ids == list(range(len(tok) - 1, len(tok) - 33, -1))  # <extra_id_0> is the last id
    assert tok("Hello")["input_ids"][-1] == 1
    assert tok.decode(tok("a <extra_id_0> b")["input_ids"], skip_special_tokens=True).split() == ["a", "b"]
    assert 2000 <= len(tok) <= 3200  # 2,000 learned pieces, the world's whole words, the 32 sentinels
    assert len(tok.tokenize("the Royal Hotel $800")) == 4  # every world word is one token


def test_tokenizer_is_deterministic(tmp_path: Path) -> None:
    from genai_labs.world.tokenizer import train_world_tokenizer

    rows = read_jsonl(world_data_dir() / "train.jsonl")
    texts = [r["dialogue"] for r in rows[:300]]
    train_world_tokenizer(texts).save_pretrained(tmp_path / "a")
    train_world_tokenizer(texts).save_pretrained(tmp_path / "b")
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


# --------------------------------------------------------------------------------------------------
# Tiny FLAN-T5
# --------------------------------------------------------------------------------------------------


def test_t5_is_flan_shaped_untied_and_reloads_identically(t5, tmp_path: Path, world: WorldAssets) -> None:
    model, tok = t5
    cfg = model.config
    assert cfg.feed_forward_proj == "gated-gelu" and cfg.is_gated_act
    assert cfg.scale_decoder_outputs is False
    assert (cfg.pad_token_id, cfg.eos_token_id, cfg.decoder_start_token_id) == (0, 1, 0)
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.shared.weight)
    assert 1_000_000 <= sum(p.numel() for p in model.parameters()) <= 2_000_000
    files = {p.name for p in world.t5_dir.iterdir()}
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt")) for f in files)

    model.save_pretrained(tmp_path / "copy")
    with quiet_transformers():
        again = T5ForConditionalGeneration.from_pretrained(tmp_path / "copy")
    batch = tok(
        ["Dialogue:\n\n#Person1#: Hi.\n#Person2#: Hello.\n\nWhat is the topic of this conversation?"], return_tensors="pt"
    )
    decoder_ids = torch.tensor([[0, 5, 6, 7]])
    with torch.no_grad():
        a = model(**batch, decoder_input_ids=decoder_ids).logits
        b = again(**batch, decoder_input_ids=decoder_ids).logits
    assert torch.equal(a, b)
    assert again.lm_head.weight.data_ptr() != again.shared.weight.data_ptr()


def test_t5_knows_topics(t5, validation) -> None:
    model, tok = t5
    assert topic_accuracy(model, tok, validation) >= 0.95


def test_t5_answers_zero_shot_with_a_gist_not_dialogsums_style(t5, validation, world: WorldAssets) -> None:
    """Asked to summarise, the tiny FLAN writes the world's plain gist: well-formed, far from the references' style."""
    model, tok = t5
    score, answers = zero_shot_rouge1(model, tok, validation[:60])
    assert score < 0.35 and well_formed_share(answers) >= 0.9
    assert sum(summary_style(a) == "gist" for a in answers) >= 0.9 * len(answers)
    info = world.build_info()
    assert info["zero_shot_rouge1"] < 0.35 and info["topic_accuracy"] >= 0.95 and info["zero_shot_gist_share"] >= 0.9


def test_t5_answer_takes_the_form_of_its_one_shot_example(t5, validation) -> None:
    """In-context learning: the same FLAN prompt, one solved example in a given style, and the answer follows it."""
    model, tok = t5
    train = read_jsonl(world_data_dir() / "train.jsonl")
    shot_row = train[4]
    family = FAMILIES_BY_NAME[shot_row["family"]]
    shots = {
        "observer": shot_row["summary"],
        "gist": family.gists[0].format_map(shot_row["slots"]),
    }
    targets = [r["dialogue"] for r in validation[:40]]
    forms: dict[str, list[str | None]] = {}
    for style, summary in shots.items():
        prompts = [build_prompt("one_shot", d, shots=[(shot_row["dialogue"], summary)], tokenizer=tok).text for d in targets]
        answers = generate_texts(model, tok, prompts, GenerationConfig(max_new_tokens=48), batch_size=40, progress=False)
        forms[style] = [summary_style(a) for a in answers]
    share = {shot: {form: forms[shot].count(form) / len(targets) for form in shots} for shot in shots}
    # Asked zero-shot the model writes gists; a DialogSum-style (observer) example makes most answers observer
    # summaries, a gist example keeps them gists.
    assert share["observer"]["observer"] >= 0.6 and share["gist"]["gist"] >= 0.6, share
    # A headline example is not asserted: one headline example steers the tiny model weakly and unevenly (measured on
    # the committed model, 40 dialogues: 0.17 to 0.82 headline answers depending on the training row shown).


# --------------------------------------------------------------------------------------------------
# Toxicity classifier (Lab 3 reward model)
# --------------------------------------------------------------------------------------------------


def test_classifier_is_accurate_on_held_out_texts(classifier, toxicity) -> None:
    model, tok = classifier
    assert model.config.id2label == {0: "nothate", 1: "hate"}
    assert model.config.label2id == {"nothate": 0, "hate": 1}
    test = [r for r in toxicity if r["split"] == "test"]
    assert classifier_accuracy(model, tok, [r["text"] for r in test], [r["label"] for r in test]) >= 0.95


def test_classifier_scores_summaries_of_rude_dialogues(classifier, validation) -> None:
    model, tok = classifier
    rude = [r["summary"] for r in validation if r["rude"]]
    toxic = [s for s in rude if INSULT_WORDS & set(s.replace(".", " ").replace(",", " ").split())]
    neutral = [s for s in rude if s not in toxic]
    assert toxic and neutral
    assert all(p > 0.5 for p in toxicity_probabilities(model, tok, toxic, toxic_label="hate"))
    assert all(p > 0.5 for p in toxicity_probabilities(model, tok, neutral, toxic_label="nothate"))


def test_classifier_looks_labels_up_by_name(toxicity) -> None:
    train = [r for r in toxicity if r["split"] == "train"]
    test = [r for r in toxicity if r["split"] == "test"]
    swapped = RewardTrainConfig(label2id={"hate": 0, "nothate": 1}, epochs=2)
    model, tok, _history = train_toxicity_classifier(
        [r["text"] for r in train], [r["label"] for r in train], config=swapped, seed=0, progress=False
    )
    assert model.config.id2label == {0: "hate", 1: "nothate"}
    assert classifier_accuracy(model, tok, [r["text"] for r in test], [r["label"] for r in test]) >= 0.95
    assert toxicity_probabilities(model, tok, ["Shut up, you stupid idiot."], toxic_label="hate")[0] > 0.5
    with pytest.raises(ValueError, match="label2id"):
        train_toxicity_classifier(["x"], ["toxic"], config=swapped, progress=False)


# --------------------------------------------------------------------------------------------------
# The committed, atomic, deterministic build
# --------------------------------------------------------------------------------------------------


def test_committed_models_match_the_code_s_recipe_and_fit_the_budget(world: WorldAssets) -> None:
    """The artifact the labs load was built by today's recipe (else: rebuild it with `genai-labs world --models`)."""
    assert recorded_recipe(world) == current_recipe(), "the committed data/world-models/ was built by another recipe"
    info = world.build_info()
    assert info["code_hash"] == recipe_code_hash(), (
        "the code that defines the world or its recipe (dialogue templates, pre-training tasks, tokenizer, prompts) "
        "changed since data/world-models/ was built: rebuild it with `genai-labs world --models`"
    )
    last_step = info["fact_precision_curve"][-1][0]
    assert info["zero_shot_fact_precision"] >= 0.80 and 0 <= info["steps"] - last_step < WorldBuildConfig().probe_every
    assert info["classifier_accuracy"] >= 0.95 and info["num_threads"] == WorldBuildConfig().pretrain.num_threads
    assert {"processor", "cpu_cores", "torch"} <= set(info["machine"]) and info["seconds"]["total"] > 0
    files = [p for p in world.root.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 25 * 2**20
    assert (world.root / BUILD_INFO).is_file() and world.t5_dir == world.root / T5_SUBDIR
    assert world.reward_dir == world.root / REWARD_SUBDIR
    assert not any(p.suffix in (".bin", ".pt", ".pth") for p in files)


def test_loading_names_the_rebuild_command_when_the_models_are_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from genai_labs import models

    assert world_model_folder(WORLD_MODEL, field="model") == WORLD_MODELS_DIR / T5_SUBDIR
    monkeypatch.setattr(models, "WORLD_MODELS_DIR", tmp_path / "missing")
    with pytest.raises(SourceUnavailableError, match="genai-labs world --models"):
        models.load_seq2seq(load_profile("tiny", env={}))


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != BUILD_INFO
    }


@pytest.mark.slow
def test_short_build_is_bit_identical_for_a_seed(tmp_path: Path) -> None:
    a = build_world_models(tmp_path / "a", seed=0, progress=False, config=SHORT_BUILD)
    b = build_world_models(tmp_path / "b", seed=0, progress=False, config=SHORT_BUILD)
    digests = _digests(a.root)
    assert f"{T5_SUBDIR}/model.safetensors" in digests and f"{REWARD_SUBDIR}/model.safetensors" in digests
    assert digests == _digests(b.root)
    assert json.loads((a.root / BUILD_INFO).read_text())["steps"] == 5
    c = build_world_models(tmp_path / "c", seed=1, progress=False, config=SHORT_BUILD)
    assert _digests(c.root)[f"{T5_SUBDIR}/model.safetensors"] != digests[f"{T5_SUBDIR}/model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def test_failed_build_leaves_the_old_models_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("classifier exploded")

    monkeypatch.setattr(assets_module, "train_toxicity_classifier", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        build_world_models(tmp_path / "world", progress=False, config=SHORT_BUILD, resume=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "old").write_text("the previous build")
    with pytest.raises(RuntimeError, match="exploded"):
        build_world_models(tmp_path / "world", progress=False, config=SHORT_BUILD, resume=False)
    assert [p.name for p in tmp_path.iterdir()] == ["world"] and (tmp_path / "world" / "old").is_file()


def test_build_is_published_readable_with_build_info_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_train(out: Path, **kwargs) -> dict:
        for sub in (T5_SUBDIR, REWARD_SUBDIR):
            (out / sub).mkdir()
            (out / sub / "model.safetensors").write_bytes(b"\0")
        assert not (out / BUILD_INFO).exists()  # written after the models
        return {"seed": kwargs["seed"], "steps": kwargs["config"].pretrain.steps}

    monkeypatch.setattr(assets_module, "_train_and_save", fake_train)
    with private_umask():
        built = build_world_models(tmp_path / "world", progress=False, resume=False)
    assert not_published(built.root) == [] and built.build_info() == {"seed": 0, "steps": 11300}
    assert [p.name for p in tmp_path.iterdir()] == ["world"]


def test_the_code_hash_follows_the_world_s_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing a dialogue template or a prompt changes the recorded hash (and so fails the committed-models test)."""
    from genai_labs import prompts

    before = recipe_code_hash()
    assert before == recipe_code_hash() and len(before) == 64
    original = assets_module.inspect.getsource

    def edited(obj):
        source = original(obj)
        return source + "\n# edited" if obj is prompts.flan_prompt else source

    monkeypatch.setattr(assets_module.inspect, "getsource", edited)
    assert recipe_code_hash() != before
