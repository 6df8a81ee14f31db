"""DialogSum loading for all labs: from the hub, from a local folder of JSONL files, or from the tiny world.

The tiny world is one of its sources, so this module sits above ``genai_labs.world`` in the layers (the world itself
reads its JSONL files directly and never imports this module).

Every source gives the same shape, a :class:`DialogSum` with ``train``, ``validation`` and ``test`` splits as
``datasets.Dataset`` objects (columns ``id``, ``dialogue``, ``summary``, ``topic``). DialogSum's test split
carries three human summaries per dialogue; :attr:`DialogSum.test` keeps them grouped (one row per dialogue,
``references`` holds all of them, ``summary`` the first) for multi-reference ROUGE, and
:meth:`DialogSum.test_rows` gives the hub layout of one row per reference.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from genai_labs.core.profiles import Profile, preset_value
from genai_labs.core.sources import WORLD_DATASET, is_world_source, local_source, require_hub
from genai_labs.world.data_files import WORLD_DATA_FILES, world_data_dir

SPLITS = ("train", "validation", "test")
REQUIRED_FIELDS = ("dialogue", "summary")
_REFERENCE_ID = re.compile(r"^(?P<base>.+)_(?P<k>\d+)$")


class DataFileError(ValueError):
    """A dataset file is missing or malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class DialogSum:
    """The three DialogSum splits (all labs). ``test`` is grouped: one row per dialogue."""

    train: datasets.Dataset
    validation: datasets.Dataset
    test: datasets.Dataset
    source: str

    def test_rows(self) -> datasets.Dataset:
        """The hub layout of the test split: one row per (dialogue, reference) pair (1,500 rows in the course)."""
        rows = [
            {**{k: row[k] for k in row if k != "references"}, "id": f"{row['id']}_{i + 1}", "summary": ref}
            for row in self.test
            for i, ref in enumerate(row["references"])
        ]
        return datasets.Dataset.from_list(rows)

    def sizes(self) -> dict[str, int]:
        """Rows per split (test counted in dialogues)."""
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def read_dialogsum_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read and validate one DialogSum JSONL file (fields ``dialogue`` and ``summary`` required, non-empty)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"Missing data file {path}. Expected train.jsonl, validation.jsonl and test.jsonl there.")
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFileError(
                    f"{path}, line {number}: not valid JSON ({err.msg}). Each line must be one JSON object "
                    '(JSON Lines), e.g. {"id": "1", "dialogue": "#Person1#: Hi.", "summary": "...", "topic": "..."}.'
                ) from None
            if not isinstance(row, dict):
                raise DataFileError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}.")
            for name in REQUIRED_FIELDS:
                value = row.get(name)
                if not isinstance(value, str) or not value.strip():
                    problem = "is missing" if name not in row else "is empty or not a string"
                    raise DataFileError(
                        f"{path}, line {number}: field {name!r} {problem}. Every row needs a non-empty "
                        f"{name!r} string; fix or drop that row."
                    )
            row.setdefault("id", f"{path.stem}_{number}")
            row.setdefault("topic", "")
            rows.append(row)
    if not rows:
        raise DataFileError(f"{path} holds no rows. Regenerate or re-download it.")
    return rows


def group_references(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group hub-layout test rows (one per reference) into one row per dialogue with ``references``.

    Rows with the same dialogue text are one dialogue; order of first appearance is kept.
    """
    grouped: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = row["dialogue"]
        if key not in grouped:
            match = _REFERENCE_ID.match(str(row["id"]))
            base_id = match.group("base") if match else str(row["id"])
            grouped[key] = {**row, "id": base_id, "references": []}
        grouped[key]["references"].append(row["summary"])
    for row in grouped.values():
        row["summary"] = row["references"][0]
    return list(grouped.values())


def _uniform_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only columns every row has, so ``Dataset.from_list`` sees one schema."""
    common = set(rows[0])
    for row in rows[1:]:
        common &= set(row)
    return [{k: row[k] for k in row if k in common} for row in rows]


def load_jsonl_folder(folder: Path, *, source: str | None = None) -> DialogSum:
    """DialogSum from a folder of ``train/validation/test.jsonl`` (hub schema).

    A folder without ``test.jsonl`` (such as the shared copy of train and validation only) uses the
    validation split as its test split and says so in ``source``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(f"{folder} is not a folder of JSONL files (train.jsonl, validation.jsonl, test.jsonl).")
    train = read_dialogsum_jsonl(folder / "train.jsonl")
    validation = read_dialogsum_jsonl(folder / "validation.jsonl")
    label = source or str(folder)
    if (folder / "test.jsonl").is_file():
        test = read_dialogsum_jsonl(folder / "test.jsonl")
    else:
        test, label = validation, f"{label} (no test.jsonl: validation used as test)"
    return DialogSum(
        train=datasets.Dataset.from_list(_uniform_columns(train)),
        validation=datasets.Dataset.from_list(_uniform_columns(validation)),
        test=datasets.Dataset.from_list(_uniform_columns(group_references(test))),
        source=label,
    )


def load_hub_dialogsum(repo_id: str, *, revision: str | None, profile: str) -> DialogSum:
    """DialogSum from the Hugging Face hub (course profile); fails fast when the hub is out of reach."""
    require_hub(
        repo_id, kind="dataset", field="dataset", profile=profile, revision=revision, preset=preset_value(profile, "dataset")
    )
    raw = datasets.load_dataset(repo_id, revision=revision)
    splits = {name: [dict(row) for row in raw[name]] for name in SPLITS}
    return DialogSum(
        train=datasets.Dataset.from_list(splits["train"]),
        validation=datasets.Dataset.from_list(splits["validation"]),
        test=datasets.Dataset.from_list(group_references(splits["test"])),
        source=repo_id,
    )


def load_dialogsum(profile: Profile) -> DialogSum:
    """Load the profile's dataset (all labs): the tiny world, a local JSONL folder, or a hub id."""
    source = profile.dataset
    if is_world_source(source):
        if source != WORLD_DATASET:
            raise DataFileError(f"{source!r} is a model of the tiny world, not a dataset; use {WORLD_DATASET!r}.")
        return load_jsonl_folder(world_data_dir(), source=WORLD_DATASET)
    folder = local_source(source, kind="dataset", field="dataset", profile=profile.name)
    if folder is not None:
        return load_jsonl_folder(folder)
    return load_hub_dialogsum(source, revision=profile.dataset_revision, profile=profile.name)


def subsample(dataset: datasets.Dataset, *, every: int = 1, first: int = 0) -> datasets.Dataset:
    """Deterministic subsample (Labs 2-3): rows whose index is a multiple of ``every``, then the first ``first``.

    ``every=100`` is the course's ``index % 100 == 0``; ``first=0`` keeps all.
    """
    if every < 1:
        raise ValueError(f"subsample: every must be >= 1, got {every}.")
    if first < 0:
        raise ValueError(f"subsample: first must be >= 0 (0 keeps all), got {first}.")
    indices = list(range(0, len(dataset), every))
    if first:
        indices = indices[:first]
    return dataset.select(indices)


def filter_by_length(dataset: datasets.Dataset, *, min_chars: int = 0, max_chars: int | None = None) -> datasets.Dataset:
    """Keep dialogues with ``min_chars < len(dialogue) <= max_chars`` (Lab 3's prompt filter: 200 < n <= 1000)."""
    upper = max_chars if max_chars is not None else float("inf")
    keep = [i for i, text in enumerate(dataset["dialogue"]) if min_chars < len(text) <= upper]
    return dataset.select(keep)


def split_prompts(
    dataset: datasets.Dataset, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Seeded train/test split of a prompt set (Lab 3: 80/20 as in the course)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"split_prompts: test_fraction must be in (0, 1), got {test_fraction}.")
    parts = dataset.train_test_split(test_size=test_fraction, seed=seed, shuffle=True)
    return parts["train"], parts["test"]


def load_toxicity_texts(split: str) -> tuple[list[str], list[str]]:
    """The tiny world's labeled toxicity set (Lab 3's "human labels"): ``(texts, labels)`` of one split.

    ``split`` is ``"train"`` or ``"test"``; labels are ``"hate"`` / ``"nothate"``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_toxicity_texts: split must be 'train' or 'test', got {split!r}.")
    path = world_data_dir() / WORLD_DATA_FILES["toxicity"]
    rows = [
        row
        for row in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if row["split"] == split
    ]
    return [row["text"] for row in rows], [row["label"] for row in rows]
