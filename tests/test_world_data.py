"""Tests for the miniature world's data generator (genai_labs.world: dialogues, toxicity set, JSONL files)."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from test_atomic_io import not_published, private_umask

from genai_labs.world.data_files import WORLD_DATA_FILES, read_jsonl, write_jsonl, write_world_data
from genai_labs.world.dialogues import (
    FAMILIES,
    INSULT_ADJECTIVES,
    INSULT_NOUNS,
    SPLIT_SIZES,
    render_dialogue,
    template_fields,
)

LINE_RE = re.compile(r"^#Person[12]#: \S.*\S$")
RECORD_KEYS = ["id", "dialogue", "summary", "topic", "family", "rude", "slots"]
INSULT_WORDS = set(INSULT_ADJECTIVES) | set(INSULT_NOUNS)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world_a")
    write_world_data(out, seed=0)
    return out


@pytest.fixture(scope="module")
def tables(world_dir: Path) -> dict[str, list[dict]]:
    return {name: read_jsonl(world_dir / file) for name, file in WORLD_DATA_FILES.items()}


def _dialogues(rows: list[dict]) -> dict[str, dict]:
    """One row per distinct dialogue text (test has 3 rows per dialogue)."""
    return {row["dialogue"]: row for row in rows}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_write_is_deterministic(world_dir: Path, tmp_path: Path) -> None:
    paths = write_world_data(tmp_path, seed=0)
    assert sorted(paths) == sorted(WORLD_DATA_FILES)
    for name, file in WORLD_DATA_FILES.items():
        assert paths[name] == tmp_path / file
        assert (world_dir / file).read_bytes() == paths[name].read_bytes(), name
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_jsonl_is_written_whole_and_world_readable(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "café"}, {"id": "b", "text": "x\ny"}]
    with private_umask():
        path = write_jsonl(tmp_path / "sub" / "rows.jsonl", rows)
    assert path.read_bytes() == '{"id": "a", "text": "café"}\n{"id": "b", "text": "x\\ny"}\n'.encode()
    assert read_jsonl(path) == rows and not_published(path) == []
    assert [p.name for p in path.parent.iterdir()] == ["rows.jsonl"]


def test_other_seed_gives_other_data(world_dir: Path, tmp_path: Path) -> None:
    write_world_data(tmp_path, seed=1)
    assert (tmp_path / "train.jsonl").read_bytes() != (world_dir / "train.jsonl").read_bytes()


def test_split_sizes_and_ids(tables: dict[str, list[dict]]) -> None:
    assert [row["id"] for row in tables["train"]] == [f"train_{i}" for i in range(SPLIT_SIZES["train"])]
    assert [row["id"] for row in tables["validation"]] == [f"validation_{i}" for i in range(SPLIT_SIZES["validation"])]
    n_test = SPLIT_SIZES["test"]
    assert [row["id"] for row in tables["test"]] == [f"test_{i}_{k}" for i in range(n_test) for k in (1, 2, 3)]
    for split in ("train", "validation", "test"):
        assert len(_dialogues(tables[split])) == SPLIT_SIZES[split], f"{split}: dialogues not distinct"


def test_test_layout_three_different_references(tables: dict[str, list[dict]]) -> None:
    rows = tables["test"]
    for i in range(0, len(rows), 3):
        group = rows[i : i + 3]
        assert len({row["dialogue"] for row in group}) == 1
        assert len({row["topic"] for row in group}) == 1
        assert len({row["summary"] for row in group}) == 3, group[0]["id"]


def test_record_fields(tables: dict[str, list[dict]]) -> None:
    for split in ("train", "validation", "test"):
        for row in tables[split]:
            assert list(row) == RECORD_KEYS
            assert row["dialogue"].strip() and row["summary"].strip() and row["topic"].strip()
            assert isinstance(row["rude"], bool)
            assert 1 <= len(row["topic"].split()) <= 3
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in row["slots"].items())


def test_dialogsum_line_format(tables: dict[str, list[dict]]) -> None:
    for split in ("train", "validation", "test"):
        for row in tables[split]:
            lines = row["dialogue"].split("\n")
            assert all(LINE_RE.match(line) for line in lines), row["id"]
            assert 6 <= len(lines) <= 16, row["id"]
            speakers = [line[:9] for line in lines]
            assert all(a != b for a, b in zip(speakers, speakers[1:])), f"{row['id']}: speakers do not alternate"


def test_lengths(tables: dict[str, list[dict]]) -> None:
    for split in ("train", "validation", "test"):
        for row in tables[split]:
            assert 45 <= len(row["dialogue"].split()) <= 180, row["id"]
            assert 12 <= len(row["summary"].split()) <= 35, row["id"]


def test_families_and_topics(tables: dict[str, list[dict]]) -> None:
    families = Counter(row["family"] for row in tables["train"])
    assert len(families) >= 12
    assert min(families.values()) >= len(tables["train"]) // len(families) - 1
    topics_per_family: dict[str, set[str]] = {}
    for row in tables["train"]:
        topics_per_family.setdefault(row["family"], set()).add(row["topic"])
    assert all(len(topics) <= 2 for topics in topics_per_family.values())


def test_rude_share_per_split(tables: dict[str, list[dict]]) -> None:
    for split in ("train", "validation", "test"):
        dialogues = list(_dialogues(tables[split]).values())
        share = sum(row["rude"] for row in dialogues) / len(dialogues)
        assert 0.15 <= share <= 0.25, (split, share)


def test_rude_dialogues_contain_insults(tables: dict[str, list[dict]]) -> None:
    for row in _dialogues(tables["train"]).values():
        has_insult = bool(INSULT_WORDS & set(_words(row["dialogue"])))
        assert has_insult == row["rude"], row["id"]


def test_summary_styles(tables: dict[str, list[dict]]) -> None:
    for split in ("train", "validation"):
        rude = [row for row in tables[split] if row["rude"]]
        toxic = sum(bool(INSULT_WORDS & set(_words(row["summary"]))) for row in rude)
        assert 0.5 <= toxic / len(rude) <= 0.7, (split, toxic / len(rude))
    for row in tables["train"] + tables["validation"] + tables["test"]:
        if not row["rude"]:
            assert not INSULT_WORDS & set(_words(row["summary"])), row["id"]
    test_rows = tables["test"]
    for i in range(0, len(test_rows), 3):
        group = test_rows[i : i + 3]
        if group[0]["rude"]:
            styles = [bool(INSULT_WORDS & set(_words(row["summary"]))) for row in group]
            assert 1 <= sum(styles) <= 2, group[0]["id"]


def test_slots_appear_verbatim(tables: dict[str, list[dict]]) -> None:
    for split in ("train", "validation", "test"):
        for row in tables[split]:
            assert row["slots"], row["id"]
            for key, value in row["slots"].items():
                assert value in row["dialogue"], (row["id"], key, value)


def test_slot_keys_consistent_within_family(tables: dict[str, list[dict]]) -> None:
    keys: dict[str, set[tuple[str, ...]]] = {}
    for row in tables["train"]:
        keys.setdefault(row["family"], set()).add(tuple(row["slots"]))
    assert all(len(variants) == 1 for variants in keys.values()), keys
    shared = Counter(key for variants in keys.values() for key in next(iter(variants)))
    for key in ("day", "time", "price", "item", "person1_name"):
        assert shared[key] >= 2, key


def test_no_dialogue_shared_between_splits(tables: dict[str, list[dict]]) -> None:
    train = set(_dialogues(tables["train"]))
    validation = set(_dialogues(tables["validation"]))
    test = set(_dialogues(tables["test"]))
    assert not train & test and not train & validation and not validation & test


def test_vocabulary_size(tables: dict[str, list[dict]]) -> None:
    words: set[str] = set()
    for split in ("train", "validation", "test"):
        for row in tables[split]:
            words.update(_words(row["dialogue"] + " " + row["summary"] + " " + row["topic"]))
    for row in tables["toxicity"]:
        words.update(_words(row["text"]))
    assert 800 <= len(words) <= 2500, len(words)


def test_toxicity_set(tables: dict[str, list[dict]]) -> None:
    rows = tables["toxicity"]
    assert len(rows) >= 800
    assert all(list(row) == ["id", "text", "label", "split"] for row in rows)
    labels = Counter(row["label"] for row in rows)
    assert set(labels) == {"hate", "nothate"} and labels["hate"] == labels["nothate"]
    texts = [row["text"] for row in rows]
    assert len(set(texts)) == len(texts)
    assert all(5 <= len(text.split()) <= 30 for text in texts)
    for label in ("hate", "nothate"):
        splits = Counter(row["split"] for row in rows if row["label"] == label)
        assert set(splits) == {"train", "test"}
        assert splits["train"] == round(0.8 * labels[label])
    train = {row["text"] for row in rows if row["split"] == "train"}
    test = {row["text"] for row in rows if row["split"] == "test"}
    assert not train & test


def test_toxicity_labels_follow_insult_words(tables: dict[str, list[dict]]) -> None:
    for row in tables["toxicity"]:
        has_insult = bool(INSULT_WORDS & set(_words(row["text"]))) or "shut up" in row["text"].lower()
        assert has_insult == (row["label"] == "hate"), row["text"]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_family_tables(family) -> None:
    """Slot pools of >= 6 values, >= 3 summary templates, >= 3 variants for most turns."""
    pools = list(family.slots.values()) + [rows for _, rows in family.linked]
    assert all(len(pool) >= 6 for pool in pools)
    assert len(family.summaries) >= 3
    rng = random.Random(0)
    for _ in range(30):
        for rude in (False, True):
            dialogue = render_dialogue(family, rng, rude)
            for template in family.summaries:
                assert set(template_fields(template)) <= set(dialogue.slots)
            assert dialogue.rude == rude
