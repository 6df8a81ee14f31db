"""Build and cache the tiny world's models: tokenizer + tiny FLAN-T5 + toxicity classifier (all labs).

``ensure_world_assets()`` returns the cached build, building it once (~2-3 minutes on 2 CPU cores) into
``default_cache_dir() / f"world-{BUILD_VERSION}"``. The build runs in a temporary folder beside the
target and is moved into place with one ``os.replace`` (:func:`genai_labs.core.atomic_io.build_folder_atomic`,
which also makes it world-readable), under an ``fcntl.flock`` lock, so a crash leaves nothing half-written
and two processes (pytest and a notebook) never build twice. The same seed gives
bit-identical weights on the same machine (fixed thread count, seeded data order and initialisation).

Layout: ``flan-t5/`` and ``toxicity-roberta/`` (``save_pretrained`` folders with their tokenizers,
safetensors only) and ``build_info.json`` (seed, steps, topic accuracy, zero-shot ROUGE-1, classifier
accuracy, seconds).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from genai_labs.core.atomic_io import build_folder_atomic, file_lock, lock_path, write_json_atomic
from genai_labs.core.folders import default_cache_dir
from genai_labs.core.torch_runtime import quiet_transformers, torch_threads
from genai_labs.models import count_parameters
from genai_labs.toxicity_classifier import RewardTrainConfig, classifier_accuracy, train_toxicity_classifier
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.pretraining import (
    PretrainConfig,
    TinyT5Architecture,
    build_tiny_t5,
    pretrain_t5,
    topic_accuracy,
    zero_shot_rouge1,
)
from genai_labs.world.tokenizer import TokenizerConfig, train_world_tokenizer

BUILD_VERSION = "v2"  # bump when the build recipe changes: a new cache folder is built
T5_SUBDIR = "flan-t5"
REWARD_SUBDIR = "toxicity-roberta"
BUILD_INFO = "build_info.json"


@dataclass(frozen=True)
class WorldBuildConfig:
    """Everything the world build trains, with the sizes it evaluates on (world build, CLI, tests)."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    architecture: TinyT5Architecture = field(default_factory=TinyT5Architecture)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    reward: RewardTrainConfig = field(default_factory=RewardTrainConfig)
    eval_rows: int = 200  # validation dialogues for topic accuracy and zero-shot ROUGE-1 (0 = skip)


@dataclass(frozen=True)
class WorldAssets:
    """Where the built world models are (all labs load them with ``from_pretrained``)."""

    root: Path
    t5_dir: Path
    reward_dir: Path

    @classmethod
    def at(cls, root: Path) -> WorldAssets:
        """The asset paths of a build folder."""
        root = Path(root)
        return cls(root=root, t5_dir=root / T5_SUBDIR, reward_dir=root / REWARD_SUBDIR)

    def build_info(self) -> dict[str, Any]:
        """The build's recorded numbers (seed, steps, accuracies, ROUGE-1, seconds)."""
        return json.loads((self.root / BUILD_INFO).read_text(encoding="utf-8"))


def _train_and_save(out: Path, *, seed: int, config: WorldBuildConfig, progress: bool) -> dict[str, Any]:
    """Train every world model and save it under ``out`` (which exists and is empty); returns build info."""
    data = world_data_dir()
    train = read_jsonl(data / "train.jsonl")
    validation = read_jsonl(data / "validation.jsonl")[: config.eval_rows]
    toxicity = read_jsonl(data / "toxicity.jsonl")
    tox_train = [r for r in toxicity if r["split"] == "train"]
    tox_test = [r for r in toxicity if r["split"] == "test"]
    seconds: dict[str, float] = {}
    info: dict[str, Any] = {"build_version": BUILD_VERSION, "seed": seed, "steps": config.pretrain.steps}

    stages = tqdm(total=4, desc="building the tiny world", disable=not progress)
    with quiet_transformers(), torch_threads(config.pretrain.num_threads):
        clock = time.perf_counter()
        texts = [r["dialogue"] for r in train] + [r["summary"] for r in train] + [r["text"] for r in tox_train]
        tokenizer = train_world_tokenizer(texts, config.tokenizer)
        seconds["tokenizer"] = time.perf_counter() - clock
        stages.update(1)

        clock = time.perf_counter()
        model = build_tiny_t5(tokenizer, config.architecture, seed=seed)
        history = pretrain_t5(model, tokenizer, train, config.pretrain, seed=seed, progress=progress)
        seconds["pretrain"] = time.perf_counter() - clock
        info["t5_parameters"] = count_parameters(model)[1]
        info["final_loss"] = sum(history.losses[-20:]) / max(1, len(history.losses[-20:]))
        stages.update(1)

        clock = time.perf_counter()
        if validation:
            info["topic_accuracy"] = topic_accuracy(model, tokenizer, validation)
            info["zero_shot_rouge1"] = zero_shot_rouge1(model, tokenizer, validation)
        info["eval_rows"] = len(validation)
        seconds["evaluation"] = time.perf_counter() - clock
        model.save_pretrained(out / T5_SUBDIR)
        tokenizer.save_pretrained(out / T5_SUBDIR)
        stages.update(1)

        clock = time.perf_counter()
        classifier, reward_tokenizer, _ = train_toxicity_classifier(
            [r["text"] for r in tox_train], [r["label"] for r in tox_train], config=config.reward, seed=seed, progress=progress
        )
        info["classifier_accuracy"] = classifier_accuracy(
            classifier, reward_tokenizer, [r["text"] for r in tox_test], [r["label"] for r in tox_test]
        )
        info["classifier_parameters"] = count_parameters(classifier)[1]
        classifier.save_pretrained(out / REWARD_SUBDIR)
        reward_tokenizer.save_pretrained(out / REWARD_SUBDIR)
        seconds["classifier"] = time.perf_counter() - clock
        stages.update(1)
    stages.close()
    info["seconds"] = {k: round(v, 2) for k, v in seconds.items()} | {"total": round(sum(seconds.values()), 2)}
    info["config"] = asdict(config)
    return info


def build_world_assets(
    out_dir: Path,
    *,
    seed: int = 0,
    steps: int | None = None,
    progress: bool = True,
    config: WorldBuildConfig = WorldBuildConfig(),
    overwrite: bool = False,
) -> WorldAssets:
    """Build the world's models into ``out_dir`` atomically (:func:`~genai_labs.core.atomic_io.build_folder_atomic`).

    ``steps`` overrides the T5 pre-training steps (short builds for tests). An existing ``out_dir`` is an
    error unless ``overwrite``. ``build_info.json`` is written last. Takes no lock: to (re)build the shared cache
    use :func:`ensure_world_assets` (``force=True`` to rebuild), which calls this under the cache's lock.
    """
    out_dir = Path(out_dir)
    if steps is not None:
        config = replace(config, pretrain=replace(config.pretrain, steps=steps))
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass overwrite=True to rebuild it")

    def build(tmp: Path) -> None:
        info = _train_and_save(tmp, seed=seed, config=config, progress=progress)
        write_json_atomic(tmp / BUILD_INFO, info)

    build_folder_atomic(out_dir, build)
    return WorldAssets.at(out_dir)


def build_leftovers(root: Path) -> list[Path]:
    """Temporary and moved-aside folders a killed build of ``root`` left beside it (current and older naming)."""
    patterns = (f".{root.name}.*.tmp", f".{root.name}.old-*", f".{root.name}.tmp-*")
    return sorted({path for pattern in patterns for path in root.parent.glob(pattern)})


def _is_complete(root: Path) -> bool:
    return (root / BUILD_INFO).is_file() and (root / T5_SUBDIR).is_dir() and (root / REWARD_SUBDIR).is_dir()


def world_assets_dir(cache_dir: Path | None = None) -> Path:
    """The cached build's folder: ``<cache>/world-<BUILD_VERSION>``."""
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"world-{BUILD_VERSION}"


def ensure_world_assets(cache_dir: Path | None = None, *, progress: bool = True, force: bool = False) -> WorldAssets:
    """The tiny world's models, built once (seed 0, default recipe) and cached afterwards (all labs, CLI).

    Safe across processes: the first caller builds under a file lock, the others wait and reuse it.
    ``force`` rebuilds (under the same lock) even when a complete build exists (CLI ``--force``).
    """
    root = world_assets_dir(cache_dir)
    if _is_complete(root) and not force:
        return WorldAssets.at(root)
    with file_lock(lock_path(root)):
        if _is_complete(root) and not force:  # another process built it while we waited
            return WorldAssets.at(root)
        for stale in build_leftovers(root):  # left by a killed build; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        # here the build is missing, incomplete (edited by hand) or forced: the new one replaces it atomically
        return build_world_assets(root, seed=0, progress=progress, overwrite=True)
