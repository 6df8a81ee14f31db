"""Where things are on disk: the source checkout's folders, the cache, and output folders checked before work starts.

:data:`CHECKOUT` is the repository this package runs from (a source checkout or an editable install): it holds the
lab notebooks (``labs/``), the world's committed data (``data/world/``) and models (``data/world-models/``) and the
benchmark suite (``benchmarks/``); an
installed copy of the package has none of them, and the code that needs them says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from genai_labs.core.validation import ConfigError

CACHE_ENV = "GENAI_LABS_CACHE"
CHECKOUT = Path(__file__).resolve().parents[2]  # genai_labs/core/folders.py -> the repository root
WORLD_MODELS_DIR = CHECKOUT / "data" / "world-models"  # the tiny world's committed models (genai_labs.world.assets)
WORLD_BUILD_TIME = "about 90 minutes on 2 CPU cores"  # what `genai-labs world --models` takes (build_info.json's seconds)


def shared_dialogsum_dir() -> Path:
    """The real DialogSum copy beside this checkout, ``../shared/datasets/dialogsum`` (train/validation JSONL files):
    the tests and benchmarks use it where it exists."""
    return CHECKOUT.parent / "shared" / "datasets" / "dialogsum"


def default_cache_dir() -> Path:
    """Where the labs cache what takes minutes to rebuild: ``$GENAI_LABS_CACHE`` or ``~/.cache/genai_labs`` (all labs)."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "genai_labs")).expanduser()


def ensure_writable_folder(path: Path, *, option: str) -> Path:
    """Create ``path`` (with parents) if missing and check it is a folder this user can write to.

    Used for ``genai-labs run --out``, ``world --data-out`` and ``bench --out``, before any work starts; raises
    :class:`ConfigError` naming ``option`` and the fix instead of a traceback (the command exits 2).
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{option} {path}: this is an existing file, not a folder; choose a folder (created if missing).")
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as error:
        raise ConfigError(
            f"{option} {path}: cannot use this folder ({error.strerror or error}); choose a folder you can write to."
        ) from None
    return path
