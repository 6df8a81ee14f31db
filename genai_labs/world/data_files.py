"""Write the miniature world's data as JSONL files (bit-for-bit deterministic for a seed).

Used by the tiny world (foundation); Labs 1-3 read its output: ``train.jsonl``, ``validation.jsonl``,
``test.jsonl`` (DialogSum layout plus ``family``, ``rude``, ``slots``), ``toxicity.jsonl`` and ``preferences.jsonl``
(Lab 3's preference pairs, ``world.preferences``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genai_labs.core.atomic_io import write_text_atomic
from genai_labs.core.folders import CHECKOUT, default_cache_dir
from genai_labs.world.dialogues import generate_splits
from genai_labs.world.preferences import generate_preferences
from genai_labs.world.toxicity_texts import generate_toxicity_texts

WORLD_DATA_FILES: dict[str, str] = {
    "train": "train.jsonl",
    "validation": "validation.jsonl",
    "test": "test.jsonl",
    "toxicity": "toxicity.jsonl",
    "preferences": "preferences.jsonl",
}


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write one JSON object per line, atomically and world-readable (:func:`~genai_labs.core.atomic_io.write_text_atomic`)."""
    return write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read the rows of a JSONL file."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def world_data_dir(seed: int = 0) -> Path:
    """The folder of the world's JSONL files (all labs, tiny profile).

    The repository's committed ``data/world`` when present (a source checkout), else a copy generated
    into the cache (an installed package): the generator is deterministic, so both hold the same bytes.
    """
    committed = CHECKOUT / "data" / "world"
    if seed == 0 and all((committed / name).is_file() for name in WORLD_DATA_FILES.values()):
        return committed
    generated = default_cache_dir() / f"world-data-seed{seed}"
    if not all((generated / name).is_file() for name in WORLD_DATA_FILES.values()):
        write_world_data(generated, seed=seed)
    return generated


def write_world_data(out_dir: Path, seed: int = 0) -> dict[str, Path]:
    """Generate all world data files into ``out_dir``; returns {name: path} for ``WORLD_DATA_FILES``.

    Used by the tiny world (foundation); Labs 1-3 read its output. The same seed gives byte-identical files.
    """
    out_dir = Path(out_dir)
    tables: dict[str, list[dict[str, Any]]] = dict(generate_splits(seed))
    tables["toxicity"] = list(generate_toxicity_texts(seed=seed))
    split_dialogues = {str(row["dialogue"]) for split in ("train", "validation", "test") for row in tables[split]}
    tables["preferences"] = generate_preferences(seed, seen=split_dialogues)  # fresh dialogues only
    return {name: write_jsonl(out_dir / WORLD_DATA_FILES[name], tables[name]) for name in WORLD_DATA_FILES}
