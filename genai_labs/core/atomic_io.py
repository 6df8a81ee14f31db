"""Atomic writes: a file or folder appears whole under its final name or not at all (every lab's caches and reports).

Each writer builds its result under a temporary name in the target's own folder, then renames it into place with
``os.replace`` (atomic on one file system). A crash or Ctrl-C leaves the old version, never a half-written one.
What is published is readable by everyone (files 0644, folders 0755): ``mkstemp``/``mkdtemp`` would leave them
private to the user who wrote them, and instructors share caches with their students.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

FILE_MODE = 0o644
FOLDER_MODE = 0o755

T = TypeVar("T")


def lock_path(folder: str | os.PathLike[str]) -> Path:
    """The lock file that guards a cached ``folder`` (a world build, a Lab 2 run): ``.<name>.lock`` beside it. The labs
    build, train and load under it, and ``genai-labs cache --prune`` removes under it."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.lock"


def _aside_path(path: Path) -> Path:
    """A hidden, unique name beside ``path`` to move it to before deleting it (``.<name>.old-<pid>-<ns>``)."""
    return path.parent / f".{path.name}.old-{os.getpid()}-{time.time_ns()}"


def _open_lock_file(path: Path) -> int:
    """Open (creating it 0644 if missing) a lock file: read-write where allowed (flock on NFS needs it for an
    exclusive lock), else read-only, which local flock accepts (another user's lock file in a shared cache)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not path.exists():
            raise
        fd = os.open(path, os.O_RDONLY)
    if os.fstat(fd).st_mode & 0o444 != 0o444:  # created under a private umask: other users could not open it
        with contextlib.suppress(OSError):
            os.fchmod(fd, FILE_MODE)
    return fd


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, wait: bool = True, shared: bool = False, required: bool = True) -> Iterator[bool]:
    """Hold an ``fcntl.flock`` on ``path`` (created if missing) inside the block; yields whether it is held.

    Exclusive (the default): one process at a time builds, trains or removes a cached thing (the world's models,
    a Lab 2 run); the others wait, then find it built. ``shared``: loading a finished thing, which many processes
    may do at once but never while it is being replaced or removed. ``wait=False`` (``genai-labs cache --prune``)
    yields ``False`` at once when another process holds the lock; the block must then leave the thing alone.
    ``required=False`` yields ``False`` instead of raising when the lock file cannot be opened or created (a
    read-only shared cache), for readers that can go on without it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_lock_file(path)
    except OSError:
        if required:
            raise
        yield False
        return
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def remove_folder_atomic(path: str | os.PathLike[str]) -> None:
    """Remove a folder so that it disappears whole: renamed aside to a hidden ``.<name>.old-…`` first, then deleted
    (an interruption leaves that hidden folder, never a half-deleted one under the real name). Raises ``OSError``
    (permission) when it could not be moved; a missing folder is fine."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    aside = _aside_path(path)
    os.replace(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:  # bytes as given, on every OS
            handle.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def make_readable(folder: Path) -> None:
    """Give ``folder`` and everything under it the published modes (0755 folders, 0644 files; owner's bits kept)."""
    os.chmod(folder, FOLDER_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), FOLDER_MODE)
        for name in files:
            file = os.path.join(root, name)
            os.chmod(file, os.stat(file).st_mode | FILE_MODE)


def build_folder_atomic(target: str | os.PathLike[str], build: Callable[[Path], T]) -> T:
    """Run ``build(tmp_folder)``, then move the folder to ``target``, replacing an existing one; returns what
    ``build`` returned. On any error the temporary folder is removed and ``target`` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        result = build(tmp)
        make_readable(tmp)
        if target.exists():  # renaming onto a non-empty folder fails: move the old one aside first
            old = _aside_path(target)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented, key-sorted JSON (through :func:`plain`) to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(plain(data), indent=2, sort_keys=True) + "\n")


def plain(value: Any) -> Any:
    """Convert numpy/torch scalars, tuples and nested containers to JSON-ready Python values (non-finite floats: None)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    return str(value)
