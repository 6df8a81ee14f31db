"""What the labs keep in their cache, and pruning what is no longer used (``genai-labs cache``, instructors).

The cache (``$GENAI_LABS_CACHE``, default ``~/.cache/genai_labs``) holds world data generated for other seeds
(``world-data-seed<N>``), Lab 2's trained runs (``lab2/<kind>-<hash>``) and the checkpoint of an interrupted
``genai-labs world --models`` (``world-build/<version>-seed<N>-<hash>``); older genai-labs versions also built the
tiny world's models there on first use (``world-v1``, ``world-v2``), which this one ships in the checkout
(``data/world-models/``). Nothing ever removes an entry by itself: every changed Lab 2 setting trains a new run (a
full fine-tuning of flan-t5-base in the course profile is about 1 GB). :func:`cache_entries` lists them with their
size and state; :func:`prune_cache` removes what no current lab can use (older world builds, folders left by killed
builds, resume checkpoints left in finished runs) and, with ``older_than_days``, the Lab 2 runs not used for that
long. It never touches anything another process holds the lock of, or folders it does not recognise.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from genai_labs.core.atomic_io import file_lock, lock_path, remove_folder_atomic
from genai_labs.core.folders import default_cache_dir
from genai_labs.lab2.checkpoints import folder_stats, last_complete_checkpoint, remove_checkpoints, resume_folders
from genai_labs.lab2.finetune import RUN_KINDS
from genai_labs.lab2.memory import format_bytes
from genai_labs.lab2.runs import FINAL_DIR, LAB2_CACHE_DIR, RUN_INFO_FILE
from genai_labs.world.assets import BUILD_VERSION, RESUME_ROOT

_WORLD_BUILD = re.compile(r"world-v(\d+)")
_WORLD_DATA = re.compile(r"world-data-seed\d+")
_WORLD_RESUME = re.compile(r"v(\d+)-seed\d+-[0-9a-f]{16}")
_LAB2_RUN = re.compile(rf"({'|'.join(RUN_KINDS)})-[0-9a-f]{{16}}")
_LAB2_LEFTOVER = re.compile(rf"\.(({'|'.join(RUN_KINDS)})-[0-9a-f]{{16}})\.old-.+")  # a removal cut short


@dataclass(frozen=True)
class CacheEntry:
    """One thing in the cache: what it is, its size, when it was last used, and what pruning does with it."""

    path: Path
    kind: str  # "world build", "world data", "Lab 2 run", "leftover"
    size_bytes: int
    last_used: float  # seconds since the epoch
    state: str  # e.g. "current", "older version", "finished", "interrupted (resumes from checkpoint-40)"
    prune: str  # "" (kept), "remove" or "remove checkpoints"
    prune_bytes: int  # what pruning frees
    lock: Path | None = None  # the lock the labs hold while building, training, loading or removing it

    @property
    def age_days(self) -> float:
        return (time.time() - self.last_used) / 86400


def build_leftovers(root: Path) -> list[Path]:
    """Temporary and moved-aside folders a killed build of ``root`` left beside it (every naming genai-labs used)."""
    patterns = (f".{root.name}.*.tmp", f".{root.name}.old-*", f".{root.name}.tmp-*")
    return sorted({path for pattern in patterns for path in root.parent.glob(pattern)})


def _world_build_entry(path: Path) -> CacheEntry:
    """A world build an older genai-labs made in the cache: removable; kept if a newer version's (it may use it)."""
    size, newest = folder_stats(path)
    lock = lock_path(path)
    match = _WORLD_BUILD.fullmatch(path.name)
    assert match is not None
    if int(match.group(1)) > int(BUILD_VERSION.lstrip("v")):
        return CacheEntry(path, "world build", size, newest, "newer version (a newer genai-labs uses it)", "", 0, lock)
    state = "older version (this genai-labs ships its world models in data/world-models/)"
    return CacheEntry(path, "world build", size, newest, state, "remove", size, lock)


def _world_resume_entry(path: Path) -> CacheEntry:
    """The checkpoint of an interrupted ``genai-labs world --models`` (this version's resumes; an older one's goes)."""
    size, newest = folder_stats(path)
    match = _WORLD_RESUME.fullmatch(path.name)
    assert match is not None
    if int(match.group(1)) == int(BUILD_VERSION.lstrip("v")):
        return CacheEntry(path, "world resume", size, newest, "interrupted world build (the next one resumes)", "", 0)
    return CacheEntry(path, "world resume", size, newest, "interrupted build of another version", "remove", size)


def _lab2_entry(run: Path, older_than_days: float | None) -> CacheEntry:
    info, final = run / RUN_INFO_FILE, run / FINAL_DIR
    size, newest = folder_stats(run)
    lock = lock_path(run)
    if info.is_file() and final.is_dir():
        last_used = info.stat().st_mtime  # touched each time the run is loaded
        checkpoints = resume_folders(run)
        state = "finished"
        prune, freed = ("remove checkpoints", sum(folder_stats(p)[0] for p in checkpoints)) if checkpoints else ("", 0)
    else:
        last_used = newest
        resumable = last_complete_checkpoint(run)
        state = f"interrupted (resumes from {resumable.name})" if resumable else "interrupted (restarts)"
        prune, freed = "", 0
    if older_than_days is not None and (time.time() - last_used) / 86400 > older_than_days:
        prune, freed = "remove", size
    return CacheEntry(run, "Lab 2 run", size, last_used, state, prune, freed, lock)


def _leftover_entry(path: Path, owner_lock: Path) -> CacheEntry:
    size, newest = folder_stats(path)
    return CacheEntry(path, "leftover", size, newest, "left by a killed build or removal", "remove", size, owner_lock)


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _entries_in(root: Path, older_than_days: float | None) -> list[CacheEntry]:
    entries: list[CacheEntry] = []
    builds: set[Path] = set()
    for path in sorted(root.iterdir()):
        if not _is_folder(path):
            continue
        if _WORLD_BUILD.fullmatch(path.name):
            builds.add(path)
            entries.append(_entry_or_unreadable(path, lambda p=path: _world_build_entry(p)))
        elif _WORLD_DATA.fullmatch(path.name):
            entries.append(
                _entry_or_unreadable(path, lambda p=path: CacheEntry(p, "world data", *folder_stats(p), "generated", "", 0))
            )
        elif path.name == RESUME_ROOT:
            for resume in sorted(path.iterdir()):
                if _is_folder(resume) and _WORLD_RESUME.fullmatch(resume.name):
                    entries.append(_entry_or_unreadable(resume, lambda p=resume: _world_resume_entry(p)))
        elif path.name == LAB2_CACHE_DIR:
            try:
                runs = sorted(path.iterdir())
            except OSError as err:
                entries.append(CacheEntry(path, "unreadable", 0, 0.0, f"unreadable ({err.strerror or err})", "", 0))
                continue
            for run in runs:
                if not _is_folder(run):
                    continue
                if _LAB2_RUN.fullmatch(run.name):
                    entries.append(_entry_or_unreadable(run, lambda r=run: _lab2_entry(r, older_than_days)))
                elif (match := _LAB2_LEFTOVER.fullmatch(run.name)) is not None:
                    lock = lock_path(path / match.group(1))
                    entries.append(_entry_or_unreadable(run, lambda r=run, lk=lock: _leftover_entry(r, lk)))
    for build in sorted(builds):
        for leftover in build_leftovers(build):
            if _is_folder(leftover):
                lock = lock_path(build)
                entries.append(_entry_or_unreadable(leftover, lambda p=leftover, lk=lock: _leftover_entry(p, lk)))
    return entries


def _entry_or_unreadable(path: Path, make: Callable[[], CacheEntry]) -> CacheEntry:
    """``make()``, or an entry that says why ``path`` could not be read (another user's private folder) and is kept."""
    try:
        return make()
    except OSError as err:
        return CacheEntry(path, "unreadable", 0, 0.0, f"unreadable ({err.strerror or err})", "", 0)


def cache_entries(root: Path | None = None, *, older_than_days: float | None = None) -> list[CacheEntry]:
    """Everything the labs keep under ``root`` (default: the cache in use), with what :func:`prune_cache` would do.

    ``older_than_days`` marks Lab 2 runs last used longer ago than that for removal as well.
    """
    if older_than_days is not None and not older_than_days >= 0:
        raise ValueError(f"older_than_days must be 0 or more days, got {older_than_days}.")
    root = Path(root) if root is not None else default_cache_dir()
    if not root.is_dir():
        return []
    return _entries_in(root, older_than_days)


def _prune_one(entry: CacheEntry, older_than_days: float | None) -> str:
    """Prune one marked entry under its lock (taken without waiting); returns ``removed``, ``busy`` or ``failed: …``."""
    try:
        lock = file_lock(entry.lock, wait=False) if entry.lock is not None else contextlib.nullcontext(True)
        with lock as held:
            if not held:
                return "busy"
            if not entry.path.exists():
                return "gone"  # another prune was first
            if entry.kind == "Lab 2 run":  # decided before the lock: look again (loaded or finished meanwhile?)
                entry = _lab2_entry(entry.path, older_than_days)
                if not entry.prune:
                    return "busy"
            if entry.prune == "remove checkpoints":
                left = remove_checkpoints(entry.path)
                return f"failed: could not remove {', '.join(p.name for p in left)}" if left else "removed"
            remove_folder_atomic(entry.path)
            return "removed"
    except OSError as err:
        return f"failed: {err.strerror or err}"


def prune_cache(root: Path | None = None, *, older_than_days: float | None = None) -> list[tuple[CacheEntry, str]]:
    """Do what :func:`cache_entries` marks (``genai-labs cache --prune``); returns ``(entry, outcome)`` for each marked
    entry: ``removed``; ``busy`` when another process was building, training or loading it, or used it meanwhile
    (left alone); ``gone`` when another process removed it first; or ``failed: <reason>`` (another user's files in a
    shared cache)."""
    return [
        (entry, _prune_one(entry, older_than_days))
        for entry in cache_entries(root, older_than_days=older_than_days)
        if entry.prune
    ]


def entries_table(entries: list[CacheEntry], root: Path) -> str:
    """The listing ``genai-labs cache`` prints: one line per entry, then the totals."""
    if not entries:
        return f"{root}: nothing cached"
    lines = [f"{'entry':34s} {'kind':12s} {'size':>9s} {'last used':16s} {'state':44s} prune"]
    for e in entries:
        used = datetime.fromtimestamp(e.last_used, tz=timezone.utc).strftime("%Y-%m-%d %H:%M") if e.last_used else "-"
        lines.append(
            f"{e.path.relative_to(root)!s:34s} {e.kind:12s} {format_bytes(e.size_bytes):>9s} {used:16s} "
            f"{e.state:44s} {e.prune or '-'}"
        )
    total = sum(e.size_bytes for e in entries)
    freed = sum(e.prune_bytes for e in entries)
    lines.append(f"{root}: {format_bytes(total)} in {len(entries)} entries; --prune frees {format_bytes(freed)}")
    return "\n".join(lines)
