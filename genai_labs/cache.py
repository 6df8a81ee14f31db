"""What the labs keep in their cache, and pruning what is no longer used (``genai-labs cache``, instructors).

The cache (``$GENAI_LABS_CACHE``, default ``~/.cache/genai_labs``) holds the tiny world's models
(``world-<version>``), world data generated for other seeds (``world-data-seed<N>``) and Lab 2's trained runs
(``lab2/<kind>-<hash>``). Nothing ever removes an entry by itself: a new package version builds a new
``world-<version>``, and every changed Lab 2 setting trains a new run (a full fine-tuning of flan-t5-base in the
course profile is about 1 GB). :func:`cache_entries` lists them with their size and state; :func:`prune_cache`
removes what no current lab can use (older world builds, folders left by killed builds, resume checkpoints
left in finished runs) and, with ``older_than_days``, the Lab 2 runs not used for that long. It never touches
the current world build, anything another process holds the lock of, or folders it does not recognise.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from genai_labs.atomic_io import file_lock
from genai_labs.checkpoints import folder_bytes, last_complete_checkpoint
from genai_labs.finetune import FINAL_DIR
from genai_labs.finetune_study import RUN_INFO_FILE, RUN_KINDS
from genai_labs.memory import format_bytes
from genai_labs.world.assets import build_leftovers, world_assets_dir
from genai_labs.world.data_files import default_cache_dir

LAB2_DIR = "lab2"
_WORLD_BUILD = re.compile(r"world-v\d+")
_WORLD_DATA = re.compile(r"world-data-seed\d+")
_LAB2_RUN = re.compile(rf"({'|'.join(RUN_KINDS)})-[0-9a-f]{{16}}")


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

    @property
    def age_days(self) -> float:
        return (time.time() - self.last_used) / 86400


def _newest_mtime(path: Path) -> float:
    times = [path.stat().st_mtime, *(p.stat().st_mtime for p in path.rglob("*") if not p.is_symlink())]
    return max(times)


def _lab2_entry(run: Path, older_than_days: float | None) -> CacheEntry:
    info, final = run / RUN_INFO_FILE, run / FINAL_DIR
    size = folder_bytes(run)
    checkpoints = sorted(run.glob("checkpoint-*")) + ([run / ".staging"] if (run / ".staging").exists() else [])
    if info.is_file() and final.is_dir():
        last_used = info.stat().st_mtime  # touched each time the run is loaded
        state = "finished"
        prune, freed = ("remove checkpoints", sum(folder_bytes(p) for p in checkpoints)) if checkpoints else ("", 0)
    else:
        last_used = _newest_mtime(run)
        resumable = last_complete_checkpoint(run)
        state = f"interrupted (resumes from {resumable.name})" if resumable else "interrupted (restarts)"
        prune, freed = "", 0
    if older_than_days is not None and (time.time() - last_used) / 86400 > older_than_days:
        prune, freed = "remove", size
    return CacheEntry(run, "Lab 2 run", size, last_used, state, prune, freed)


def cache_entries(root: Path | None = None, *, older_than_days: float | None = None) -> list[CacheEntry]:
    """Everything the labs keep under ``root`` (default: the cache in use), with what :func:`prune_cache` would do.

    ``older_than_days`` marks Lab 2 runs last used longer ago than that for removal as well.
    """
    if older_than_days is not None and older_than_days < 0:
        raise ValueError(f"older_than_days must be 0 or more days, got {older_than_days}.")
    root = Path(root) if root is not None else default_cache_dir()
    if not root.is_dir():
        return []
    current = world_assets_dir(root)
    entries: list[CacheEntry] = []
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.is_symlink():
            continue
        if _WORLD_BUILD.fullmatch(path.name):
            size = folder_bytes(path)
            if path == current:
                entries.append(CacheEntry(path, "world build", size, _newest_mtime(path), "current", "", 0))
            else:
                state = f"older version (this package uses {current.name})"
                entries.append(CacheEntry(path, "world build", size, _newest_mtime(path), state, "remove", size))
        elif _WORLD_DATA.fullmatch(path.name):
            entries.append(CacheEntry(path, "world data", folder_bytes(path), _newest_mtime(path), "generated", "", 0))
        elif path.name == LAB2_DIR:
            for run in sorted(path.iterdir()):
                if run.is_dir() and not run.is_symlink() and _LAB2_RUN.fullmatch(run.name):
                    entries.append(_lab2_entry(run, older_than_days))
    for build in sorted({p for p in root.iterdir() if _WORLD_BUILD.fullmatch(p.name)} | {current}):
        for leftover in build_leftovers(build):
            size = folder_bytes(leftover)
            entries.append(CacheEntry(leftover, "leftover", size, _newest_mtime(leftover), "left by a killed build", "remove", size))
    return entries


def _lock_of(entry: CacheEntry) -> Path:
    """The lock file the labs hold while they build or train ``entry`` (a leftover shares its build's lock)."""
    if entry.kind == "leftover":
        build_name = entry.path.name[1:].split(".")[0]
        return entry.path.parent / f".{build_name}.lock"
    return entry.path.parent / f".{entry.path.name}.lock"


def prune_cache(root: Path | None = None, *, older_than_days: float | None = None) -> list[tuple[CacheEntry, bool]]:
    """Do what :func:`cache_entries` marks (``genai-labs cache --prune``); returns ``(entry, done)`` for each marked
    entry, ``done`` False when another process held its lock (building or training it) and it was left alone."""
    outcome: list[tuple[CacheEntry, bool]] = []
    for entry in cache_entries(root, older_than_days=older_than_days):
        if not entry.prune:
            continue
        with file_lock(_lock_of(entry), wait=False) as held:
            if held:
                if entry.prune == "remove checkpoints":
                    for path in [*entry.path.glob("checkpoint-*"), entry.path / ".staging"]:
                        shutil.rmtree(path, ignore_errors=True)
                else:
                    shutil.rmtree(entry.path, ignore_errors=True)
            outcome.append((entry, held))
    return outcome


def entries_table(entries: list[CacheEntry], root: Path) -> str:
    """The listing ``genai-labs cache`` prints: one line per entry, then the totals."""
    if not entries:
        return f"{root}: nothing cached"
    lines = [f"{'entry':34s} {'kind':12s} {'size':>9s} {'last used':16s} {'state':44s} prune"]
    for e in entries:
        used = datetime.fromtimestamp(e.last_used, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{str(e.path.relative_to(root)):34s} {e.kind:12s} {format_bytes(e.size_bytes):>9s} {used:16s} "
                     f"{e.state:44s} {e.prune or '-'}")
    total = sum(e.size_bytes for e in entries)
    freed = sum(e.prune_bytes for e in entries)
    lines.append(f"{root}: {format_bytes(total)} in {len(entries)} entries; --prune frees {format_bytes(freed)}")
    return "\n".join(lines)
