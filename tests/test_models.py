"""Model loading (genai_labs.models): the tiny world, course-shaped stand-ins through the hub-id code path, offline errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from genai_labs.core.profiles import DEVICES, load_profile
from genai_labs.core.sources import SourceUnavailableError
from genai_labs.core.torch_runtime import choose_device
from genai_labs.models import (
    CheckpointError,
    ResolvedSource,
    _checkpoint_tensor,
    count_parameters,
    load_reward_model,
    load_seq2seq,
)


def test_tiny_loads_fresh_untied_instances() -> None:
    profile = load_profile("tiny", env={})
    first, tokenizer = load_seq2seq(profile)
    second, _ = load_seq2seq(profile)
    assert first is not second and not first.training
    assert first.lm_head.weight.data_ptr() != first.shared.weight.data_ptr()
    with torch.no_grad():
        first.lm_head.weight.zero_()  # mutating one instance leaves the other alone
    assert second.lm_head.weight.abs().sum() > 0
    assert tokenizer.pad_token_id == 0 and tokenizer.eos_token_id == 1


def test_tiny_reward_model_labels() -> None:
    classifier, _ = load_reward_model(load_profile("tiny", env={}))
    assert classifier.config.id2label == {0: "nothate", 1: "hate"}


def test_course_shaped_standins_load_through_the_same_functions(course_standins: dict[str, Path]) -> None:
    profile = load_profile(
        "course", env={}, model=str(course_standins["model"]), reward_model=str(course_standins["reward_model"])
    )
    model, _tokenizer = load_seq2seq(profile)
    assert count_parameters(model) == (247_577_856, 247_577_856)  # flan-t5-base, as the course prints
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    assert torch.allclose(model.lm_head.weight, model.shared.weight * 0.5)  # the checkpoint's own untied head
    classifier, classifier_tokenizer = load_reward_model(profile)
    assert classifier.config.id2label == {0: "nothate", 1: "hate"}
    logits = classifier(**classifier_tokenizer(["I didn't like the movie."], return_tensors="pt")).logits
    assert logits.shape == (1, 2)
    del model, classifier


def test_hub_model_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(SourceUnavailableError, match="google/flan-t5-base.*field 'model'"):
        load_seq2seq(load_profile("course", env={}))
    with pytest.raises(SourceUnavailableError, match="roberta-hate-speech.*field 'reward_model'"):
        load_reward_model(load_profile("course", env={}))
    assert time.perf_counter() - started < 5


def test_missing_local_model_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match=f"field 'model'.*no such folder: {tmp_path / 'missing'}"):
        load_seq2seq(load_profile("course", env={}, model=str(tmp_path / "missing")))


def test_missing_relative_model_folder_is_not_tried_on_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        SourceUnavailableError, match=f"field 'reward_model'.*no such folder: {tmp_path / 'models' / 'x' / 'y'}"
    ) as err:
        load_reward_model(load_profile("course", env={}, reward_model="models/x/y"))
    assert "GENAI_LABS_REWARD_MODEL" in str(err.value) and "hub" not in str(err.value)


def test_tiny_profile_hub_override_offline_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceUnavailableError) as err:
        load_seq2seq(load_profile("tiny", env={"GENAI_LABS_MODEL": "google/flan-t5-small"}))
    assert "GENAI_LABS_PROFILE=tiny" not in str(err.value)
    assert "unset GENAI_LABS_MODEL" in str(err.value) and "'tiny-world/flan-t5'" in str(err.value)


def test_choose_device_accepts_the_config_devices() -> None:
    assert choose_device("cpu").type == "cpu" and "cpu" in DEVICES
    with pytest.raises(ValueError, match="'auto', 'cpu', 'cuda'"):
        choose_device("gpu")


def test_checkpoint_tensor_raises_with_source_and_cause(tmp_path: Path) -> None:
    """T5's untied head is read from the checkpoint; a read that fails names the source and the cause instead of
    handing back None (which would copy the embedding into the head: a wrong model, no message)."""
    folder = tmp_path / "t5"
    folder.mkdir()
    head = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    save_file({"shared.weight": torch.zeros(2, 3), "lm_head.weight": head}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"tie_word_embeddings": False}))
    source = ResolvedSource(str(folder), None, True)
    assert torch.equal(_checkpoint_tensor(source, "lm_head.weight"), head)
    save_file({"shared.weight": torch.zeros(2, 3)}, folder / "model.safetensors")  # untied config, no head
    with pytest.raises(CheckpointError, match=rf"{folder}.*tie_word_embeddings=false.*no 'lm_head.weight'"):
        _checkpoint_tensor(source, "lm_head.weight")
    (folder / "config.json").write_text(json.dumps({"tie_word_embeddings": True}))
    assert _checkpoint_tensor(source, "lm_head.weight") is None  # a tied checkpoint stores the head once
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match=rf"{folder}: cannot read 'lm_head.weight': \w+"):
        _checkpoint_tensor(source, "lm_head.weight")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=rf"{folder}: the checkpoint has no file 'model.safetensors'"):
        _checkpoint_tensor(source, "lm_head.weight")
