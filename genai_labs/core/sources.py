"""Where models and datasets come from: a local path, the offline tiny world, or the Hugging Face hub.

Used by every lab through ``genai_labs.models`` and ``genai_labs.data`` (and by the profiles, which name the tiny
world's sources). A hub id that cannot be reached
fails within a few seconds with a message naming the profile, the source and the two ways out, instead of
the libraries' own retry loops (``load_dataset`` retries for ~23 s offline).
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

from huggingface_hub import snapshot_download

# Special sources served by the offline miniature world (genai_labs.world), named by the tiny profile.
WORLD_MODEL = "tiny-world/flan-t5"
WORLD_DATASET = "tiny-world/dialogsum"
WORLD_REWARD_MODEL = "tiny-world/toxicity-roberta"

HUB_PROBE_TIMEOUT_S = 3.0
WORLD_SOURCES = (WORLD_MODEL, WORLD_DATASET, WORLD_REWARD_MODEL)


class SourceUnavailableError(RuntimeError):
    """A model or dataset source cannot be reached; the message says how to run anyway."""


def is_world_source(source: str) -> bool:
    """True for the tiny world's built-in sources (``tiny-world/...``)."""
    return source in WORLD_SOURCES


def local_path(source: str | os.PathLike[str]) -> Path | None:
    """The source as an existing local directory or file, else None (it is then a hub id)."""
    path = Path(source).expanduser()
    return path if path.exists() else None


def looks_like_local_path(source: str) -> bool:
    """True when ``source`` reads as a file-system path, not a hub id (all labs' model and dataset fields).

    Paths start with ``.``, ``/`` or ``~``, or hold a path separator without being the hub's ``owner/name``
    (exactly one slash): ``./data``, ``../shared/dialogsum``, ``data/world/`` and ``a/b/c`` are paths;
    ``google/flan-t5-base`` and ``data/world`` are hub ids unless such a folder exists.
    """
    if source.startswith((".", "/", "~")) or os.path.isabs(source):
        return True
    separators = {os.sep, os.altsep} - {None}
    if any(sep in source for sep in separators - {"/"}):
        return True
    return source.count("/") >= 2


def _absolute(source: str) -> Path:
    """Where a relative ``source`` points from the working directory (for "no such folder" messages)."""
    return Path(source).expanduser().absolute()


def local_source(source: str, *, kind: str, field: str, profile: str) -> Path | None:
    """The existing local file or folder ``source`` names, or None when it is a hub id (all labs' loaders).

    A source that reads as a path but does not exist raises ``SourceUnavailableError`` ("no such folder")
    instead of being tried on the hub. ``kind`` ("model" or "dataset") and ``field`` name it in the message.
    """
    path = local_path(source)
    if path is not None or not looks_like_local_path(source):
        return path
    what = "a folder of train/validation/test .jsonl files" if kind == "dataset" else "a save_pretrained folder"
    raise SourceUnavailableError(
        f"Profile {profile!r}: the {kind} {source!r} (field {field!r}) names a local path, but there is "
        f"no such folder: {_absolute(source)}.\nPoint {_env_name(field)} at {what}; a relative path counts from "
        f"the working directory ({Path.cwd()}; labs/ inside a lab notebook), so an absolute path is safest."
    )


def _env_name(field: str) -> str:
    return f"GENAI_LABS_{field.upper()}"


def hub_offline() -> bool:
    """True when the user asked the Hugging Face libraries to stay offline."""
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _probe(url: str, timeout: float) -> str | None:
    """Return None if ``url`` answers (any HTTP status), else a short reason. Never blocks past ``timeout``."""
    result: list[str | None] = []

    def attempt() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
            result.append(None)
        except urllib.error.HTTPError as err:  # the hub answered
            result.append(None if err.code < 500 else f"HTTP {err.code}")
        except Exception as err:  # DNS, refused, timeout, proxy...
            result.append(f"{type(err).__name__}: {err}")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else "timed out"


def _cached_locally(repo_id: str, kind: str, revision: str | None) -> bool:
    try:
        snapshot_download(repo_id, repo_type=kind, revision=revision, local_files_only=True)
        return True
    except Exception:
        return False


def require_hub(
    repo_id: str, *, kind: str, field: str, profile: str, revision: str | None = None, preset: str | None = None
) -> None:
    """Check quickly that hub repo ``repo_id`` can be loaded; raise ``SourceUnavailableError`` if not.

    ``kind`` is "model" or "dataset"; ``field`` the profile field that named it (for the message); ``preset`` what
    ``profile``'s preset names in that field (``core.profiles.preset_value``). A copy already in the local Hugging Face
    cache counts as available. The ways out never suggest the tiny profile to a profile whose own source for
    ``field`` is already a tiny-world one.
    """
    if _cached_locally(repo_id, kind, revision):
        return
    if hub_offline():
        reason = "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
    else:
        api = "datasets" if kind == "dataset" else "models"
        reason = _probe(f"{_endpoint()}/api/{api}/{repo_id}", HUB_PROBE_TIMEOUT_S)
        if reason is None:
            return
        reason = f"the hub is unreachable ({reason})"
    built_in = preset
    not_local = (
        f" It is not a local folder either: no such folder: {_absolute(repo_id)}."
        if "/" in repo_id and repo_id != built_in
        else ""
    )
    if isinstance(built_in, str) and is_world_source(built_in):
        offline = (
            f"use the {profile!r} profile's own offline {kind}: unset {_env_name(field)} "
            f"(or drop the {field}= argument), which gives {built_in!r}"
        )
    else:
        offline = "run offline in the miniature world: GENAI_LABS_PROFILE=tiny (the default profile)"
    raise SourceUnavailableError(
        f"Profile {profile!r} needs the {kind} {repo_id!r} (field {field!r}), but {reason}.{not_local}\n"
        "Two ways out:\n"
        f"  1. {offline};\n"
        f"  2. point {field!r} at a local copy, e.g. {_env_name(field)}=/path/to/local/{kind} "
        f"or load_profile({profile!r}, {field}='/path/to/local/{kind}')"
        + (" (a folder of train/validation/test .jsonl files)." if kind == "dataset" else " (a save_pretrained folder).")
    )
