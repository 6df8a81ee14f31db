"""``genai-labs cache`` (genai_labs.instructor.cache): listing the labs' cache and pruning only what no lab can use."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from genai_labs.core.atomic_io import file_lock
from genai_labs.instructor.cache import cache_entries, entries_table, prune_cache
from genai_labs.instructor.cli import main

LORA, FULL, REPLAY = "lora-0123456789abcdef", "full-fedcba9876543210", "replay-00112233aabbccdd"
OLD_BUILD = "world-v2"


def _file(path: Path, size: int = 1000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def _age(path: Path, days: float) -> None:
    when = time.time() - days * 86400
    for p in [path, *path.rglob("*")]:
        os.utime(p, (when, when))


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    """A cache as a few package versions and lab runs leave it."""
    root = tmp_path / "cache"
    current = root / OLD_BUILD  # the models genai-labs built on first use before it shipped them in data/world-models/
    _file(current / "flan-t5" / "model.safetensors", 5000)
    _file(root / "world-v0" / "flan-t5" / "model.safetensors", 4000)  # built by an even older package version
    _file(root / f".{current.name}.a1b2.tmp" / "flan-t5" / "config.json", 300)  # a killed build's temporary folder
    _file(root / "world-data-seed3" / "dialogsum_train.jsonl", 200)
    lab2 = root / "lab2"
    _file(lab2 / LORA / "final" / "adapter_model.safetensors", 100)  # finished, with checkpoints of an older version
    _file(lab2 / LORA / "run_info.json", 10)
    _file(lab2 / LORA / "checkpoint-4" / "trainer_state.json", 700)
    _file(lab2 / LORA / "checkpoint-4" / "optimizer.pt", 2000)
    _file(lab2 / FULL / "final" / "model.safetensors", 3000)  # finished, last used 40 days ago
    _file(lab2 / FULL / "run_info.json", 10)
    _age(lab2 / FULL, 40)
    _file(lab2 / REPLAY / "checkpoint-2" / "trainer_state.json", 50)  # interrupted: resumes
    _age(lab2 / REPLAY, 40)
    _file(root / "notes" / "mine.txt", 10)  # not the labs': never listed or touched
    return root


def _by_name(entries) -> dict:
    return {e.path.name: e for e in entries}


def test_listing_names_every_entry_and_what_prune_would_do(cache: Path) -> None:
    entries = _by_name(cache_entries(cache))
    current = OLD_BUILD
    assert set(entries) == {current, "world-v0", f".{current}.a1b2.tmp", "world-data-seed3", LORA, FULL, REPLAY}
    for build in (current, "world-v0"):
        assert entries[build].prune == "remove" and "ships its world models in data/world-models/" in entries[build].state
    assert entries[f".{current}.a1b2.tmp"].prune == "remove"
    assert (entries[LORA].state, entries[LORA].prune, entries[LORA].prune_bytes) == ("finished", "remove checkpoints", 2700)
    assert (entries[FULL].prune, entries[FULL].size_bytes) == ("", 3010) and entries[FULL].age_days == pytest.approx(40, abs=0.01)
    assert entries[REPLAY].state == "interrupted (resumes from checkpoint-2)" and entries[REPLAY].prune == ""
    assert entries["world-data-seed3"].prune == ""
    older = _by_name(cache_entries(cache, older_than_days=30))
    assert older[FULL].prune == "remove" and older[REPLAY].prune == "remove" and older[LORA].prune == "remove checkpoints"
    table = entries_table(list(entries.values()), cache)
    assert "lab2/" + LORA in table and "--prune frees 11.7 KiB" in table.splitlines()[-1]
    with pytest.raises(ValueError, match="older_than_days"):
        cache_entries(cache, older_than_days=-1)


def test_prune_removes_only_what_no_lab_uses(cache: Path) -> None:
    done = prune_cache(cache)
    assert [outcome for _, outcome in done] == ["removed"] * 4
    assert not (cache / OLD_BUILD).exists() and not (cache / "world-v0").exists()
    assert not (cache / f".{OLD_BUILD}.a1b2.tmp").exists()
    lora = cache / "lab2" / LORA
    assert sorted(p.name for p in lora.iterdir()) == ["final", "run_info.json"]  # what a later load needs stays
    assert (cache / "lab2" / FULL / "final").is_dir() and (cache / "lab2" / REPLAY / "checkpoint-2").is_dir()
    assert (cache / "world-data-seed3").is_dir() and (cache / "notes" / "mine.txt").is_file()
    assert prune_cache(cache) == []  # nothing left to do
    prune_cache(cache, older_than_days=30)
    assert not (cache / "lab2" / FULL).exists() and not (cache / "lab2" / REPLAY).exists() and lora.is_dir()


def test_prune_leaves_what_another_process_holds(cache: Path) -> None:
    with file_lock(cache / "lab2" / f".{LORA}.lock"):  # a notebook training this run right now
        done = {entry.path.name: outcome for entry, outcome in prune_cache(cache)}
    assert done[LORA] == "busy" and (cache / "lab2" / LORA / "checkpoint-4").is_dir()
    assert done["world-v0"] == "removed"
    with file_lock(cache / "lab2" / f".{FULL}.lock", shared=True):  # a notebook loading this old run right now
        done = {entry.path.name: outcome for entry, outcome in prune_cache(cache, older_than_days=30)}
    assert done[FULL] == "busy" and (cache / "lab2" / FULL / "final").is_dir() and done[REPLAY] == "removed"


def test_other_versions_leftovers_and_unreadable_entries(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import genai_labs.instructor.cache as cache_module

    _file(cache / "world-v99" / "flan-t5" / "config.json")  # a newer genai-labs sharing this cache
    current = OLD_BUILD
    _file(cache / f".{current}.old-1-2")  # a file, not a folder: not ours to remove
    (cache / f".{current}.tmp-3").symlink_to(cache / "notes")  # a symlink: never followed or removed
    _file(cache / "lab2" / f".{LORA}.old-5-6" / "final" / "model.safetensors")  # a removal cut short
    entries = _by_name(cache_entries(cache))
    assert entries["world-v99"].prune == "" and entries["world-v99"].state.startswith("newer version")
    assert f".{current}.old-1-2" not in entries and f".{current}.tmp-3" not in entries
    assert entries[f".{LORA}.old-5-6"].kind == "leftover" and entries[f".{LORA}.old-5-6"].prune == "remove"
    prune_cache(cache)
    assert (cache / "world-v99").is_dir() and (cache / "notes" / "mine.txt").is_file()
    assert not (cache / "lab2" / f".{LORA}.old-5-6").exists()

    def private(run: Path, older_than_days: float | None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_module, "_lab2_entry", private)  # another user's 0700 run folder
    entries = _by_name(cache_entries(cache))
    assert entries[LORA].state == "unreadable (Permission denied)" and entries[LORA].prune == ""


def test_cli(cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GENAI_LABS_CACHE", str(cache))
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert "world-v0" in out and "older version" in out and (cache / "world-v0").is_dir()  # listing removes nothing
    assert main(["cache", "--prune"]) == 0
    out = capsys.readouterr().out
    assert f"removed {cache / 'world-v0'} (3.9 KiB)" in out and f"removed checkpoints of {cache / 'lab2' / LORA}" in out
    assert out.strip().endswith("freed 11.7 KiB")
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(SystemExit) as exit_info:
            main(["cache", "--older-than", bad])
        assert exit_info.value.code == 2
        assert "--older-than" in capsys.readouterr().err
    import genai_labs.instructor.cache as cache_module

    def refuse(path: Path) -> None:
        raise PermissionError(13, "Permission denied")

    _file(cache / "world-v1" / "flan-t5" / "config.json")  # owned by another user: the removal fails
    monkeypatch.setattr(cache_module, "remove_folder_atomic", refuse)
    assert main(["cache", "--prune"]) == 1
    captured = capsys.readouterr()
    assert f"could not remove {cache / 'world-v1'}: Permission denied" in captured.err
    assert captured.out.strip().endswith("freed 0 B")  # nothing claimed that was not removed
    monkeypatch.setenv("GENAI_LABS_CACHE", str(cache / "missing"))
    assert main(["cache"]) == 0 and "nothing cached" in capsys.readouterr().out


def test_world_build_checkpoints_are_listed_and_only_other_versions_pruned(tmp_path: Path) -> None:
    from genai_labs.world.assets import BUILD_VERSION, RESUME_ROOT

    root = tmp_path / "cache"
    current = f"{BUILD_VERSION}-seed0-0123456789abcdef"
    _file(root / RESUME_ROOT / current / "pretraining-checkpoint.pt", 900)
    _file(root / RESUME_ROOT / "v1-seed0-fedcba9876543210" / "pretraining-checkpoint.pt", 800)
    entries = _by_name(cache_entries(root))
    assert entries[current].kind == "world resume" and entries[current].prune == ""
    assert entries["v1-seed0-fedcba9876543210"].prune == "remove"
    prune_cache(root)
    assert (root / RESUME_ROOT / current).is_dir() and not (root / RESUME_ROOT / "v1-seed0-fedcba9876543210").exists()
