"""Atomic writes (genai_labs.core.atomic_io): whole or absent, never half-written, and readable by everyone (all labs)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from genai_labs.core.atomic_io import build_folder_atomic, file_lock, remove_folder_atomic, write_json_atomic, write_text_atomic


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Run the block under umask 077, where ``mkstemp``/``mkdtemp``/``open`` alone would give 0600/0700."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def not_published(root: Path) -> list[str]:
    """``root`` and everything under it that is not world-readable: folders must be 0755, files at least 0644."""
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    wrong = []
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        ok = mode == 0o755 if path.is_dir() else mode & 0o644 == 0o644
        if not ok:
            wrong.append(f"{path} {oct(mode)}")
    return wrong


def test_build_folder_atomic_leaves_no_partial_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"

    def broken(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        build_folder_atomic(target, broken)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert build_folder_atomic(target, lambda folder: (folder / "a.txt").write_text("1")) == 1  # build's result
    build_folder_atomic(target, lambda folder: (folder / "b.txt").write_text("2"))
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary or moved-aside folders left


def test_published_folders_and_files_are_world_readable_under_a_private_umask(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "sub").mkdir()
        (folder / "sub" / "weights.bin").write_bytes(b"\0")
        write_json_atomic(folder / "info.json", {"b": 1})

    with private_umask():
        build_folder_atomic(tmp_path / "run" / "final", build)
        text = write_text_atomic(tmp_path / "run" / "notes.txt", "hello\n")
        info = write_json_atomic(tmp_path / "run" / "run_info.json", {"b": (1, 2), "a": float("nan")})
    assert not_published(tmp_path / "run" / "final") == []
    assert not_published(text) == [] and not_published(info) == []
    assert info.read_text() == '{\n  "a": null,\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert json.loads(info.read_text()) == {"a": None, "b": [1, 2]}


def test_file_lock_excludes_a_second_holder_until_released(tmp_path: Path) -> None:
    import fcntl

    lock = tmp_path / "cache" / "run.lock"
    with file_lock(lock), open(lock) as other, pytest.raises(BlockingIOError):  # other: a second process's open file
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock) as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again


def test_file_lock_without_waiting_and_on_a_read_only_lock_file(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    with private_umask():
        with file_lock(lock) as held:
            assert held is True
            with file_lock(lock, wait=False) as second:  # another holder: told at once, no waiting
                assert second is False
        assert not_published(lock) == []  # 0644: other users of a shared cache can lock it too
    lock.chmod(0o444)  # another user's lock file: flock needs only read access
    with file_lock(lock, wait=False) as held:
        assert held is True


def test_shared_and_optional_locks(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    with file_lock(lock, shared=True) as first, file_lock(lock, shared=True, wait=False) as second:
        assert first and second  # loaders share the lock
        with file_lock(lock, wait=False) as exclusive:
            assert exclusive is False  # but nobody trains or removes the run meanwhile
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    with pytest.raises(OSError), file_lock(blocked / "run.lock"):
        pass
    with file_lock(blocked / "run.lock", shared=True, required=False) as held:
        assert held is False  # a reader that cannot lock (read-only shared cache) goes on without


def test_remove_folder_atomic(tmp_path: Path) -> None:
    run = tmp_path / "lab2" / "lora-1"
    (run / "final").mkdir(parents=True)
    (run / "run_info.json").write_text("{}")
    remove_folder_atomic(run)
    assert not run.exists()
    assert list((tmp_path / "lab2").iterdir()) == []  # nothing left aside
    remove_folder_atomic(run)  # already gone: no error
    assert list((tmp_path / "lab2").iterdir()) == []
