"""Fast unit tests of Lab 2's training code (genai_labs.lab2: training_data, finetune, checkpoints, runs) on a tiny random T5."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from types import SimpleNamespace

import datasets
import pytest
import torch
from test_atomic_io import not_published, private_umask
from transformers import T5Config, T5ForConditionalGeneration

from genai_labs.core.atomic_io import file_lock
from genai_labs.core.profiles import FineTuneConfig, LoraSettings, load_profile
from genai_labs.data import load_jsonl_folder
from genai_labs.lab2.checkpoints import InterruptAtStep, last_complete_checkpoint
from genai_labs.lab2.finetune import add_lora, build_trainer, planned_steps, training_flops
from genai_labs.lab2.runs import (
    FINAL_DIR,
    RUN_INFO_FILE,
    TrainResult,
    cached_run,
    config_hash,
    dataset_hash,
    run_key,
    runs_dir,
    train_and_save,
    train_run,
)
from genai_labs.lab2.study import base_fingerprint
from genai_labs.lab2.training_data import (
    LABEL_PAD_ID,
    make_collator,
    mix_replay,
    padding_cost,
    skill_examples,
    tokenize_for_training,
)
from genai_labs.metrics import normalize_answer
from genai_labs.models import count_parameters, flan_t5_base_config, t5_forward_flops, untie_lm_head
from genai_labs.prompts import training_prompt
from genai_labs.world.data_files import write_jsonl
from genai_labs.world.dialogues import generate_dialogues
from genai_labs.world.pretraining import TinyT5Architecture, build_tiny_t5
from genai_labs.world.tokenizer import TokenizerConfig, train_world_tokenizer

DIALOGUES = [
    "#Person1#: Hello, how can I help you?\n#Person2#: I'd like a ticket to Cambridge, please.",
    "#Person1#: Hi Tom.\n#Person2#: Hi Anna. Shall we go to the cinema on Friday at eight o'clock?\n#Person1#: Sure.",
    "#Person1#: Good morning. My armchair is late.\n#Person2#: Sorry, it will come tomorrow.",
    "#Person1#: Can I borrow your bike?\n#Person2#: Yes, but bring it back on Sunday.\n#Person1#: Thanks, I will.",
]
SUMMARIES = [
    "#Person2# buys a ticket to Cambridge.",
    "Tom and Anna will go to the cinema on Friday.",
    "#Person1#'s armchair is late and will come tomorrow.",
    "#Person2# lends #Person1# a bike until Sunday.",
]
TOPICS = ["train ticket", "making plans", "late delivery", "borrowing things"]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return train_world_tokenizer(DIALOGUES * 3 + SUMMARIES * 3 + TOPICS, TokenizerConfig(vocab_size=300, n_sentinels=4))


@pytest.fixture(scope="module")
def tiny_model(tiny_tokenizer):
    arch = TinyT5Architecture(d_model=32, d_kv=8, d_ff=48, num_layers=1, num_decoder_layers=1, num_heads=2)
    return build_tiny_t5(tiny_tokenizer, arch, seed=0).eval()


@pytest.fixture(scope="module")
def train_set():
    rows = {"id": [f"t{i}" for i in range(16)], "dialogue": DIALOGUES * 4, "summary": SUMMARIES * 4, "topic": TOPICS * 4}
    return datasets.Dataset.from_dict(rows)


FAST = FineTuneConfig(
    learning_rate=1e-2,
    max_steps=6,
    per_device_train_batch_size=4,
    weight_decay=0.0,
    logging_steps=2,
    max_source_length=64,
    max_target_length=24,
    save_steps=2,
    save_total_limit=0,
)
FAST_LORA = LoraSettings(
    r=4, alpha=8, dropout=0.0, learning_rate=1e-2, max_steps=6, per_device_train_batch_size=4, logging_steps=2, save_steps=3
)


def _train(kind, base, tokenizer, data, settings, output_dir, *, interrupt_after=None) -> TrainResult:
    """A Lab 2 run trained into ``output_dir`` (not cached), as the notebook builds it; ``interrupt_after`` crashes it."""
    callbacks = [InterruptAtStep(interrupt_after)] if interrupt_after is not None else []
    trainer = build_trainer(kind, base, tokenizer, data, settings, output_dir=output_dir, seed=0, max_source_length=64,
                            max_target_length=24, callbacks=callbacks)  # fmt: skip
    return train_and_save(trainer, method=kind, base_model=base)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _logits(model, tokenizer, texts):
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch, labels=batch["input_ids"]).logits


# --------------------------------------------------------------------------------------------- preprocessing


def test_tokenize_for_training_keeps_rows_unpadded(tiny_tokenizer, train_set):
    tok = tokenize_for_training(train_set.select(range(4)), tiny_tokenizer, max_source_length=64, max_target_length=24)
    assert tok.column_names == ["input_ids", "attention_mask", "labels"]
    lengths = {len(ids) for ids in tok["input_ids"]}
    assert len(lengths) > 1  # no padding: rows keep their own lengths
    for ids, mask, labels in zip(tok["input_ids"], tok["attention_mask"], tok["labels"]):
        assert ids[-1] == tiny_tokenizer.eos_token_id and labels[-1] == tiny_tokenizer.eos_token_id
        assert tiny_tokenizer.pad_token_id not in ids and tiny_tokenizer.pad_token_id not in labels
        assert all(m == 1 for m in mask)
    assert tok["input_ids"][0] == tiny_tokenizer(training_prompt(DIALOGUES[0]))["input_ids"]


def test_truncation_lengths(tiny_tokenizer, train_set):
    tok = tokenize_for_training(train_set.select(range(4)), tiny_tokenizer, max_source_length=10, max_target_length=5)
    assert max(len(x) for x in tok["input_ids"]) == 10 and max(len(x) for x in tok["labels"]) == 5


def test_collator_pads_per_batch_and_masks_labels(tiny_tokenizer, tiny_model, train_set):
    tok = tokenize_for_training(train_set.select(range(4)), tiny_tokenizer, max_source_length=64, max_target_length=24)
    collator = make_collator(tiny_tokenizer, tiny_model)
    features = [tok[i] for i in range(4)]
    batch = collator(features)
    longest_src = max(len(f["input_ids"]) for f in features)
    longest_tgt = max(len(f["labels"]) for f in features)
    assert batch["input_ids"].shape == (4, longest_src)  # dynamic: the batch's longest, not 512
    assert batch["labels"].shape == (4, longest_tgt)
    for row, f in enumerate(features):
        n, m = len(f["input_ids"]), len(f["labels"])
        assert batch["attention_mask"][row, :n].all() and not batch["attention_mask"][row, n:].any()
        assert (batch["input_ids"][row, n:] == tiny_tokenizer.pad_token_id).all()
        assert (batch["labels"][row, m:] == LABEL_PAD_ID).all()
        assert (batch["labels"][row, :m] != LABEL_PAD_ID).all()
    assert "decoder_input_ids" in batch and (batch["decoder_input_ids"][:, 0] == tiny_model.config.decoder_start_token_id).all()

    # Padding never counts: the batch loss is the token-weighted mean of each example's own loss.
    with torch.no_grad():
        batch_loss = tiny_model(**batch).loss.item()
        total = tokens = 0.0
        for f in features:
            single = collator([f])
            total += tiny_model(**single).loss.item() * len(f["labels"])
            tokens += len(f["labels"])
    assert batch_loss == pytest.approx(total / tokens, rel=1e-4)


def test_padding_cost_hand_checked():
    tok = datasets.Dataset.from_dict(
        {
            "input_ids": [[1] * 3, [1] * 5, [1] * 2],
            "attention_mask": [[1] * 3, [1] * 5, [1] * 2],
            "labels": [[1] * 2, [1], [1] * 4],
        }
    )
    cost = padding_cost(tok, pad_to=8, batch_size=2)
    assert cost["needed_tokens"] == 10 + 7
    assert cost["dynamic_tokens"] == 2 * (5 + 2) + 1 * (2 + 4)  # 20
    assert cost["fixed_tokens"] == 3 * (8 + 8)  # 48
    assert cost["dynamic_waste"] == pytest.approx(1 - 17 / 20)
    assert cost["fixed_waste"] == pytest.approx(1 - 17 / 48)


def test_mix_replay_share_and_columns(train_set):
    skills = skill_examples(train_set)
    assert skills[0]["target"] == TOPICS[0] and "What is the topic" in skills[0]["prompt"]
    mixed = mix_replay(train_set, skills, 0.2, seed=0)
    assert len(mixed) == 16 + 4  # 4 / 20 = 20% of the mixed set
    assert mixed["task"].count("topic") == 4
    assert set(mixed.column_names) == {"prompt", "target", "task"}
    assert mixed["prompt"] == mix_replay(train_set, skills, 0.2, seed=0)["prompt"]  # seeded
    assert len(mix_replay(train_set, skills, 0.0, seed=0)) == 16


def test_normalize_answer():
    assert normalize_answer("  Late delivery. ") == normalize_answer("late   delivery") == "late delivery"


# --------------------------------------------------------------------------------------------- training


def test_train_full_trains_a_copy(tiny_tokenizer, tiny_model, train_set, tmp_path):
    before = _state(tiny_model)
    fingerprint = base_fingerprint(tiny_model, tiny_tokenizer, DIALOGUES)
    result = _train("full", tiny_model, tiny_tokenizer, train_set, FAST, tmp_path / "full")
    after = _state(tiny_model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert base_fingerprint(tiny_model, tiny_tokenizer, DIALOGUES) == fingerprint
    assert not tiny_model.training
    assert result.model is not tiny_model
    assert any(not torch.equal(before[k], v) for k, v in result.model.state_dict().items())
    assert result.optimizer_steps == 6 and result.trainable_params == result.total_params
    assert result.optimizer_state_bytes >= 2 * 4 * result.trainable_params  # AdamW: two fp32 moments
    losses = [row["loss"] for row in result.history if "loss" in row]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert (tmp_path / "full" / "final" / "config.json").is_file()
    assert not (tmp_path / "full" / ".staging").exists()


def test_train_lora_adapter_roundtrip(tiny_tokenizer, tiny_model, train_set, tmp_path):
    before = _state(tiny_model)
    result = _train("lora", tiny_model, tiny_tokenizer, train_set, FAST_LORA, tmp_path / "lora")
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())
    assert 0 < result.trainable_fraction < 0.2
    assert (result.adapter_dir / "adapter_config.json").is_file()
    assert result.adapter_bytes < result.full_checkpoint_bytes
    base_logits = _logits(tiny_model, tiny_tokenizer, DIALOGUES)
    on = _logits(result.model, tiny_tokenizer, DIALOGUES)
    with result.model.disable_adapter():
        off = _logits(result.model, tiny_tokenizer, DIALOGUES)
    assert torch.equal(off, base_logits)  # adapter off == base exactly
    assert not torch.allclose(on, base_logits)
    torch.testing.assert_close(_logits(result.merged_model, tiny_tokenizer, DIALOGUES), on, rtol=1e-4, atol=1e-4)


def test_lora_starts_as_identity(tiny_tokenizer, tiny_model):
    wrapped = add_lora(tiny_model, LoraSettings(r=4, alpha=8), seed=0).eval()
    assert torch.equal(_logits(wrapped, tiny_tokenizer, DIALOGUES), _logits(tiny_model, tiny_tokenizer, DIALOGUES))


def test_resume_from_last_complete_checkpoint(tiny_tokenizer, tiny_model, train_set, tmp_path):
    config = dataclasses.replace(FAST, save_steps=2)
    reference = _train("full", tiny_model, tiny_tokenizer, train_set, config, tmp_path / "straight")

    run = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        _train("full", tiny_model, tiny_tokenizer, train_set, config, run, interrupt_after=5)
    assert last_complete_checkpoint(run).name == "checkpoint-4"
    (run / "checkpoint-9").mkdir()  # a half-written checkpoint (no trainer state) is never resumed from
    assert last_complete_checkpoint(run).name == "checkpoint-4"
    (run / "checkpoint-9").rmdir()

    resumed = _train("full", tiny_model, tiny_tokenizer, train_set, config, run)
    assert resumed.resumed_from is not None and resumed.resumed_from.endswith("checkpoint-4")
    assert resumed.optimizer_steps == 6
    for (name, a), b in zip(reference.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_lora_checkpoints_hold_only_the_adapter_ask_no_hub_and_resume_exactly(
    tiny_tokenizer, tiny_model, train_set, tmp_path, monkeypatch
):
    """Checkpoints save the adapter as the final save does (save_embedding_layers=False): peft's "auto" would
    copy the frozen lm_head (adapter on lm_head) or ask the Hub about a hub-named base model on every checkpoint."""
    import peft.utils.save_and_load as peft_save
    from safetensors import safe_open

    def no_network(*args, **kwargs):
        raise AssertionError("peft asked the Hugging Face Hub while saving a checkpoint")

    monkeypatch.setattr(peft_save, "check_file_exists_on_hf_hub", no_network)
    base = copy.deepcopy(tiny_model)
    base.name_or_path = "google/flan-t5-base"  # as the course's model, loaded by hub id
    for targets in (("q", "v"), ("q", "v", "lm_head")):
        settings = dataclasses.replace(FAST_LORA, target_modules=targets, save_steps=2)
        run = tmp_path / "-".join(targets)
        with pytest.raises(KeyboardInterrupt), private_umask():
            _train("lora", base, tiny_tokenizer, train_set, settings, run, interrupt_after=5)
        assert not_published(run / "checkpoint-4") == []  # another user of a shared cache can resume it
        with safe_open(str(run / "checkpoint-4" / "adapter_model.safetensors"), "pt") as saved:
            assert saved.keys() and all("lora_" in key for key in saved.keys()), targets  # noqa: SIM118 (safe_open)
        resumed = _train("lora", base, tiny_tokenizer, train_set, settings, run)
        assert resumed.resumed_from.endswith("checkpoint-4")
        straight = _train("lora", base, tiny_tokenizer, train_set, settings, tmp_path / f"straight-{run.name}")
        torch.testing.assert_close(
            _logits(resumed.model, tiny_tokenizer, DIALOGUES),
            _logits(straight.model, tiny_tokenizer, DIALOGUES),
            rtol=1e-5,
            atol=1e-6,
        )


def _toy_profile(**lab2_changes) -> SimpleNamespace:
    """The parts of a profile Lab 2's cache reads, with the fast settings above."""
    lab2 = {"lora": FAST_LORA, "full": FAST, "train_every": 1, "train_first": 0, "replay_fraction": 0.0, **lab2_changes}
    return SimpleNamespace(
        lab2=SimpleNamespace(**lab2), dataset="toy", dataset_revision="", model="toy", model_revision="", seed=0
    )


def test_cached_run_is_published_readable_and_reloads(tiny_tokenizer, tiny_model, train_set, tmp_path, capsys):
    """Lab 2's cache (final/, run_info.json) is 0755/0644 even under umask 077 (shared caches), without checkpoints."""
    profile = _toy_profile()
    with private_umask():
        trained = train_run("lora", profile, tiny_model, tiny_tokenizer, train_set, cache_dir=tmp_path, base_weights="w")
    run_dir = trained.run_dir
    assert not list(run_dir.glob("checkpoint-*"))  # a finished run keeps only what a later call loads
    published = [run_dir / FINAL_DIR, run_dir / RUN_INFO_FILE]
    assert [wrong for path in published for wrong in not_published(path)] == []
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no staging or temporary folders left
    assert json.loads((run_dir / RUN_INFO_FILE).read_text())["summary"]["optimizer_steps"] == 6
    (run_dir / FINAL_DIR).chmod(0o700)  # as runs cached before the fix were left
    (run_dir / RUN_INFO_FILE).chmod(0o600)
    os.utime(run_dir / RUN_INFO_FILE, (1e9, 1e9))  # loaded long ago
    cached = train_run("lora", profile, tiny_model, tiny_tokenizer, train_set, cache_dir=tmp_path, base_weights="w")
    assert cached.cached and not trained.cached and cached.history == trained.history
    assert f"loaded the finished lora run from {run_dir} (trained " in capsys.readouterr().out  # and says so
    assert (run_dir / RUN_INFO_FILE).stat().st_mtime > time.time() - 600  # "last used", for genai-labs cache --older-than
    lock = run_dir.parent / f".{run_dir.name}.lock"
    with file_lock(lock, shared=True):  # another process loading the run: loads share the lock
        train_run("lora", profile, tiny_model, tiny_tokenizer, train_set, cache_dir=tmp_path, base_weights="w")
    train_run("lora", profile, tiny_model, tiny_tokenizer, train_set, cache_dir=tmp_path, base_weights="w", force=True)
    assert not [p for p in run_dir.parent.iterdir() if ".old-" in p.name]  # the replaced run is gone whole
    assert not_published(run_dir / FINAL_DIR) == [] and not_published(run_dir / RUN_INFO_FILE) == []  # opened on load
    assert torch.equal(_logits(cached.model, tiny_tokenizer, DIALOGUES), _logits(trained.model, tiny_tokenizer, DIALOGUES))


def _trainer(kind, tokenizer, model, data, settings, cache_dir, *, seed=0):
    """The trainer of a Lab 2 run as the notebook builds it, training into the cache's runs folder."""
    return build_trainer(kind, model, tokenizer, data, settings, output_dir=runs_dir(cache_dir), seed=seed,
                         max_source_length=64, max_target_length=24)  # fmt: skip


def test_an_edited_lora_config_trains_and_caches_a_new_run(tiny_tokenizer, tiny_model, train_set, tmp_path, capsys):
    """A config a learner edits is a config that runs: LoraConfig(r=2) beside the profile's r=4 trains a run of exactly
    that rank, cached under its own key, while the default run stays in the cache and still loads."""
    profile = _toy_profile()
    default = train_run("lora", profile, tiny_model, tiny_tokenizer, train_set, cache_dir=tmp_path, base_weights="w")
    edited_trainer = _trainer("lora", tiny_tokenizer, tiny_model, train_set, dataclasses.replace(FAST_LORA, r=2), tmp_path)
    edited_run = cached_run("lora", edited_trainer, profile, tiny_model, base_weights="w")
    assert edited_run.folder != default.run_dir and edited_run.folder.parent == default.run_dir.parent
    edited = edited_run.train()
    assert not edited.cached and edited.run_dir == edited_run.folder
    assert json.loads((edited.adapter_dir / "adapter_config.json").read_text())["r"] == 2  # trained with the edit
    assert (default.run_dir / RUN_INFO_FILE).is_file()  # the default run stays
    again = train_run("lora", profile, tiny_model, tiny_tokenizer, train_set, cache_dir=tmp_path, base_weights="w")
    assert again.cached and again.run_dir == default.run_dir
    reloaded = cached_run("lora", _trainer("lora", tiny_tokenizer, tiny_model, train_set, dataclasses.replace(FAST_LORA, r=2),
                                           tmp_path), profile, tiny_model, base_weights="w").train()  # fmt: skip
    assert reloaded.cached and reloaded.run_dir == edited.run_dir
    assert "loaded the finished lora run" in capsys.readouterr().out
    # an edited TrainingArguments is a new run too
    trainer = _trainer("full", tiny_tokenizer, tiny_model, train_set, FAST, tmp_path)
    faster = _trainer("full", tiny_tokenizer, tiny_model, train_set, dataclasses.replace(FAST, learning_rate=0.5), tmp_path)
    assert (
        cached_run("full", trainer, profile, tiny_model, base_weights="w").key
        != cached_run("full", faster, profile, tiny_model, base_weights="w").key
    )


def _key(kind, tokenizer, model, data, *, seed=0, base_weights="w") -> str:
    trainer = build_trainer(kind, model, tokenizer, data, FAST_LORA if kind == "lora" else FAST, output_dir="unused",
                            seed=seed, max_source_length=64, max_target_length=24)  # fmt: skip
    return run_key(kind, trainer, base_weights)


def test_the_key_covers_the_data_content_base_weights_and_seed(tiny_tokenizer, tiny_model, train_set, tmp_path):
    """Same trainer inputs, same key; a world regenerated with another seed, an edited local dataset, other base
    weights or another seed: a new key (never a stale run)."""
    key = _key("full", tiny_tokenizer, tiny_model, train_set)
    assert _key("full", tiny_tokenizer, tiny_model, train_set) == key
    assert _key("full", tiny_tokenizer, tiny_model, train_set, base_weights="other") != key
    assert _key("full", tiny_tokenizer, tiny_model, train_set, seed=1) != key
    assert _key("lora", tiny_tokenizer, tiny_model, train_set) != key
    # a world regenerated with another seed: the same kind of data, other content
    worlds = [datasets.Dataset.from_list(generate_dialogues(16, seed=seed, split="train")) for seed in (0, 1)]
    world_keys = [_key("full", tiny_tokenizer, tiny_model, world) for world in worlds]
    assert world_keys[0] != world_keys[1]
    # an edited local dataset: one summary changed in the folder's train.jsonl
    folder = tmp_path / "dialogsum"
    folder.mkdir()
    rows = [dict(row) for row in train_set]
    for split in ("train", "validation", "test"):
        write_jsonl(folder / f"{split}.jsonl", rows)
    before = _key("full", tiny_tokenizer, tiny_model, load_jsonl_folder(folder).train)
    rows[3]["summary"] = "#Person2# lends #Person1# a car until Monday."
    write_jsonl(folder / "train.jsonl", rows)
    assert _key("full", tiny_tokenizer, tiny_model, load_jsonl_folder(folder).train) != before
    assert dataset_hash(train_set) == dataset_hash(train_set.select(range(len(train_set))))  # content, not layout
    # peft keeps target_modules as a set, whose order changes between processes: keys hash sets sorted
    assert config_hash({"target_modules": {"q", "v", "wo"}}) == config_hash({"target_modules": ["q", "v", "wo"]})


def test_lora_trainable_count_on_course_shaped_flan_t5_base():
    """FLAN-T5-base (d_model 768, d_ff 2048, 12+12 layers, 12 heads, vocab 32128, untied): r=32 on q, v."""
    config = flan_t5_base_config()
    settings = load_profile("course").lab2.lora
    assert (settings.r, settings.alpha, settings.target_modules, settings.dropout) == (32, 32, ("q", "v"), 0.05)
    torch.manual_seed(0)
    base = untie_lm_head(T5ForConditionalGeneration(config))  # transformers 5 ties on init; FLAN-T5 is untied
    assert count_parameters(base) == (247_577_856, 247_577_856)
    peft_model = add_lora(base, settings, seed=0)
    trainable, total = count_parameters(peft_model)
    # r * (768 in + 768 out) per adapted Linear; q and v in 12 encoder self-, 12 decoder self- and 12 cross-attentions
    assert trainable == 36 * 2 * 32 * (768 + 768) == 3_538_944
    assert total == 247_577_856 + 3_538_944
    assert round(100 * trainable / total, 2) == 1.41


def test_training_flops_counts_the_examples_the_run_will_see() -> None:
    config = T5Config(vocab_size=100, d_model=16, d_ff=32, d_kv=4, num_layers=1, num_decoder_layers=1, num_heads=4)
    tokenized = datasets.Dataset.from_dict({"input_ids": [[5] * 10, [5] * 30], "labels": [[6] * 4, [6] * 8]})
    per_example = (t5_forward_flops(config, 1, 10, 4) + t5_forward_flops(config, 1, 30, 8)) / 2
    by_steps = FineTuneConfig(max_steps=7, per_device_train_batch_size=3)
    assert planned_steps(by_steps, 2) == 7
    assert training_flops(config, tokenized, by_steps) == pytest.approx(3 * per_example * 7 * 3)
    by_epochs = LoraSettings(num_train_epochs=3, per_device_train_batch_size=1)  # 2 steps per epoch
    assert planned_steps(by_epochs, 2) == 6
    assert training_flops(config, tokenized, by_epochs) == pytest.approx(3 * per_example * 6)
    with pytest.raises(ValueError, match="tokenized is empty"):
        training_flops(config, tokenized.select([]), by_steps)
