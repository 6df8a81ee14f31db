"""Tests for the tiny world's models: tokenizer, tiny FLAN-T5, toxicity classifier and the cached build."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import torch
from test_atomic_io import not_published, private_umask
from transformers import AutoModelForSequenceClassification, AutoTokenizer, T5ForConditionalGeneration

from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.metrics import toxicity_probabilities
from genai_labs.prompts import instruction_prompt, ppo_prompt, training_prompt
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
    build_world_assets,
    ensure_world_assets,
    world_assets_dir,
)
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.dialogues import INSULT_ADJECTIVES, INSULT_NOUNS
from genai_labs.world.pretraining import topic_accuracy, zero_shot_rouge1

INSULT_WORDS = set(INSULT_ADJECTIVES) | set(INSULT_NOUNS)
# A short build: a few pre-training steps, one classifier epoch, no evaluation.
SHORT_BUILD = WorldBuildConfig(reward=RewardTrainConfig(epochs=1), eval_rows=0)


@pytest.fixture(scope="session")
def world() -> WorldAssets:
    return ensure_world_assets(progress=False)


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
    assert 1500 <= len(tok) <= 2100


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


def test_t5_zero_shot_summaries_are_weak(t5, validation, world: WorldAssets) -> None:
    model, tok = t5
    assert zero_shot_rouge1(model, tok, validation[:60]) < 0.3
    info = world.build_info()
    assert info["zero_shot_rouge1"] < 0.3 and info["topic_accuracy"] >= 0.95


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
# The cached, atomic, deterministic build
# --------------------------------------------------------------------------------------------------


def test_world_build_is_cached_and_complete(world: WorldAssets) -> None:
    start = time.perf_counter()
    again = ensure_world_assets(progress=False)
    assert time.perf_counter() - start < 1.0 and again == world
    assert world.root == world_assets_dir()
    assert (world.root / BUILD_INFO).is_file() and world.t5_dir == world.root / T5_SUBDIR
    assert world.reward_dir == world.root / REWARD_SUBDIR
    info = world.build_info()
    assert info["classifier_accuracy"] >= 0.95 and info["seed"] == 0
    assert assets_module.build_leftovers(world.root) == []


def _weights(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.suffix == ".safetensors" or p.name == "tokenizer.json"
    }


def test_short_build_is_bit_identical_for_a_seed(tmp_path: Path) -> None:
    a = build_world_assets(tmp_path / "a", seed=0, steps=4, progress=False, config=SHORT_BUILD)
    b = build_world_assets(tmp_path / "b", seed=0, steps=4, progress=False, config=SHORT_BUILD)
    weights_a, weights_b = _weights(a.root), _weights(b.root)
    assert len(weights_a) == 4 and weights_a == weights_b
    assert json.loads((a.root / BUILD_INFO).read_text())["steps"] == 4
    c = build_world_assets(tmp_path / "c", seed=1, steps=4, progress=False, config=SHORT_BUILD)
    assert _weights(c.root)[f"{T5_SUBDIR}/model.safetensors"] != weights_a[f"{T5_SUBDIR}/model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]
    with pytest.raises(FileExistsError):
        build_world_assets(tmp_path / "a", steps=1, progress=False, config=SHORT_BUILD)


def test_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("classifier exploded")

    monkeypatch.setattr(assets_module, "train_toxicity_classifier", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        build_world_assets(tmp_path / "world", steps=2, progress=False, config=SHORT_BUILD)
    assert list(tmp_path.iterdir()) == []


def test_build_is_published_readable_with_build_info_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_train(out: Path, **kwargs) -> dict:
        for sub in (T5_SUBDIR, REWARD_SUBDIR):
            (out / sub).mkdir()
            (out / sub / "model.safetensors").write_bytes(b"\0")
        assert not (out / BUILD_INFO).exists()  # written after the models
        return {"seed": kwargs["seed"], "steps": kwargs["config"].pretrain.steps}

    monkeypatch.setattr(assets_module, "_train_and_save", fake_train)
    with private_umask():
        built = build_world_assets(tmp_path / "world", steps=3, progress=False)
    assert not_published(built.root) == [] and built.build_info() == {"seed": 0, "steps": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["world"]


def test_ensure_force_rebuilds_under_the_lock_and_clears_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[dict] = []

    def fake_train(out: Path, **kwargs) -> dict:
        for sub in (T5_SUBDIR, REWARD_SUBDIR):
            (out / sub).mkdir()
        builds.append({"build": len(builds)})
        return builds[-1]

    monkeypatch.setattr(assets_module, "_train_and_save", fake_train)
    root = world_assets_dir(tmp_path)
    for leftover in (f".{root.name}.abc123.tmp", f".{root.name}.old-1-2", f".{root.name}.tmp-xyz"):  # killed builds
        (tmp_path / leftover).mkdir()
    assert ensure_world_assets(tmp_path, progress=False).build_info() == {"build": 0}
    assert ensure_world_assets(tmp_path, progress=False).build_info() == {"build": 0}  # cached
    assert ensure_world_assets(tmp_path, progress=False, force=True).build_info() == {"build": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{root.name}.lock", root.name]


def test_concurrent_ensure_builds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def fake_build(out_dir: Path, **kwargs) -> WorldAssets:
        calls.append(out_dir)
        time.sleep(0.3)
        for sub in (T5_SUBDIR, REWARD_SUBDIR):
            (out_dir / sub).mkdir(parents=True)
        (out_dir / BUILD_INFO).write_text("{}")
        return WorldAssets.at(out_dir)

    monkeypatch.setattr(assets_module, "build_world_assets", fake_build)
    results: list[WorldAssets] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_world_assets(tmp_path, progress=False))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 3 and len(set(results)) == 1
