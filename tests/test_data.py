"""DialogSum loaders (genai_labs.data): the world, local JSONL folders, the real data, bad files, offline hub."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from genai_labs.core.overrides import resolve_path_overrides
from genai_labs.core.profiles import load_profile
from genai_labs.core.sources import SourceUnavailableError, looks_like_local_path
from genai_labs.data import DataFileError, filter_by_length, load_dialogsum, load_jsonl_folder, split_prompts, subsample


def _write(folder: Path, name: str, rows: list[dict] | str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows)
    (folder / name).write_text(text)


def _row(i: int, summary: str = "s") -> dict:
    return {"id": f"r{i}", "dialogue": f"#Person1#: hi {i}\n#Person2#: hello", "summary": summary, "topic": "t"}


def test_world_has_dialogsum_shape() -> None:
    data = load_dialogsum(load_profile("tiny", env={}))
    assert data.sizes() == {"train": 2000, "validation": 200, "test": 200}
    assert set(data.train.column_names) >= {"id", "dialogue", "summary", "topic"}
    assert all(len(refs) == 3 for refs in data.test["references"])
    assert len(data.test_rows()) == 600
    assert data.test[0]["summary"] == data.test[0]["references"][0]


def test_local_folder_groups_test_references(tmp_path: Path) -> None:
    _write(tmp_path, "train.jsonl", [_row(i) for i in range(5)])
    _write(tmp_path, "validation.jsonl", [_row(9)])
    test_rows = [{**_row(1, f"ref {k}"), "id": f"test_1_{k}"} for k in (1, 2, 3)] + [{**_row(2, "only"), "id": "test_2_1"}]
    _write(tmp_path, "test.jsonl", test_rows)
    data = load_jsonl_folder(tmp_path)
    assert data.test["references"] == [["ref 1", "ref 2", "ref 3"], ["only"]]
    assert data.test["id"] == ["test_1", "test_2"]
    assert data.test_rows()["summary"] == ["ref 1", "ref 2", "ref 3", "only"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not valid JSON"),
        (json.dumps({"dialogue": "", "summary": "x"}) + "\n", "field 'dialogue' is empty"),
        (json.dumps({"dialogue": "#Person1#: hi"}) + "\n", "field 'summary' is missing"),
        ("", "holds no rows"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    _write(tmp_path, "train.jsonl", content)
    _write(tmp_path, "validation.jsonl", [_row(1)])
    with pytest.raises(DataFileError, match=message):
        load_jsonl_folder(tmp_path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="Missing data file .*train.jsonl"):
        load_jsonl_folder(tmp_path)
    with pytest.raises(SourceUnavailableError, match=f"no such folder: {tmp_path / 'nope'}"):
        load_dialogsum(load_profile("course", env={}, dataset=str(tmp_path / "nope")))


def test_subsample_and_filters() -> None:
    data = load_dialogsum(load_profile("tiny", env={}))
    every = subsample(data.train, every=100)
    assert len(every) == 20 and every[1]["id"] == data.train[100]["id"]
    assert len(subsample(data.train, every=100, first=5)) == 5
    with pytest.raises(ValueError, match="every must be >= 1"):
        subsample(data.train, every=0)
    short = filter_by_length(data.train, min_chars=0, max_chars=400)
    assert 0 < len(short) < len(data.train) and all(len(t) <= 400 for t in short["dialogue"])
    train, test = split_prompts(data.train, test_fraction=0.2, seed=0)
    assert (len(train), len(test)) == (1600, 400)


def test_course_profile_on_the_real_dialogsum(real_dialogsum_dir: Path) -> None:
    data = load_dialogsum(load_profile("course", env={}, dataset=str(real_dialogsum_dir)))
    assert data.sizes() == {"train": 12460, "validation": 500, "test": 500}
    assert len(subsample(data.train, every=100)) == 125  # the course's index % 100 == 0
    lab3 = filter_by_length(data.train, min_chars=200, max_chars=1000)
    assert len(lab3) == 10022  # the course's Lab 3 prompt count


def test_offline_hub_fails_fast_with_both_ways_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(SourceUnavailableError) as err:
        load_dialogsum(load_profile("course", env={}))
    assert time.perf_counter() - started < 5
    assert "'course'" in str(err.value) and "knkarthick/dialogsum" in str(err.value)
    assert "GENAI_LABS_PROFILE=tiny" in str(err.value) and "GENAI_LABS_DATASET" in str(err.value)


def test_unreachable_hub_fails_within_5_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub endpoint that accepts the connection but never answers (a local socket that is never read)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.perf_counter()
        with pytest.raises(SourceUnavailableError, match="unreachable"):
            load_dialogsum(load_profile("course", env={}))
        assert time.perf_counter() - started < 5


def _mini_dialogsum(folder: Path) -> Path:
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        _write(folder, name, [_row(i) for i in range(3)])
    return folder


@pytest.mark.parametrize(
    ("source", "is_path"),
    [
        ("./data", True),
        ("../shared/datasets/dialogsum", True),
        ("/abs/dialogsum", True),
        ("~/dialogsum", True),
        ("data/world/", True),
        ("a/b/c", True),
        ("google/flan-t5-base", False),
        ("data/world", False),
        ("gpt2", False),
    ],
)
def test_looks_like_local_path(source: str, is_path: bool) -> None:
    assert looks_like_local_path(source) is is_path


def test_relative_folder_loads_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``data/world`` has the hub's owner/name form, but an existing folder wins (as in transformers)."""
    _mini_dialogsum(tmp_path / "data" / "world")
    monkeypatch.chdir(tmp_path)
    assert load_dialogsum(load_profile("tiny", env={"GENAI_LABS_DATASET": "data/world"})).sizes()["train"] == 3


def test_resolved_overrides_survive_a_kernel_in_labs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``genai-labs run`` resolves against the directory it started in; the kernel then runs in labs/."""
    _mini_dialogsum(tmp_path / "data" / "world")
    (tmp_path / "labs").mkdir()
    env = resolve_path_overrides({"GENAI_LABS_DATASET": "data/world"}, tmp_path)
    monkeypatch.chdir(tmp_path / "labs")
    assert load_dialogsum(load_profile("tiny", env=env)).source == str(tmp_path / "data" / "world")


def test_missing_relative_path_says_no_such_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for source in ("./data/world", "data/world/", "data/deep/world"):
        with pytest.raises(SourceUnavailableError) as err:
            load_dialogsum(load_profile("tiny", env={"GENAI_LABS_DATASET": source}))
        message = str(err.value)
        assert f"no such folder: {tmp_path / source.strip('./').rstrip('/')}" in message, message
        assert "hub" not in message and "GENAI_LABS_PROFILE" not in message


def test_tiny_profile_is_never_told_to_switch_to_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing owner/name-shaped folder in the tiny profile: tried on the hub, the advice is to drop the override."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(SourceUnavailableError) as err:
        load_dialogsum(load_profile("tiny", env={"GENAI_LABS_DATASET": "data/world"}))
    assert time.perf_counter() - started < 5
    message = str(err.value)
    assert "GENAI_LABS_PROFILE=tiny" not in message
    assert "unset GENAI_LABS_DATASET" in message and "'tiny-world/dialogsum'" in message
    assert f"no such folder: {tmp_path / 'data' / 'world'}" in message
