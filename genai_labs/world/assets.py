"""The tiny world's models, a committed artifact: the tiny FLAN-T5 with its tokenizer, and the toxicity classifier.

The labs load them in seconds from ``data/world-models/`` (:data:`genai_labs.core.folders.WORLD_MODELS_DIR`):
``flan-t5/`` and ``toxicity-roberta/`` (``save_pretrained`` folders with their tokenizers, safetensors only) and
``build_info.json`` (the recipe, the machine, the time and the build's own checks). Pre-training is paid for once,
by :func:`build_world_models` (``genai-labs world --models``, about 40 minutes on 2 CPU cores), not on every
learner's machine. The build writes into a temporary folder beside the target and moves it into place with one
``os.replace`` (:func:`genai_labs.core.atomic_io.build_folder_atomic`), so a killed build leaves the old artifact
whole. A seed gives bit-identical weights on one machine: the thread count is part of the recipe, the data order
and the initialisation are seeded, and the tokenizer's scores are canonicalised (``world.tokenizer``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import transformers
from tqdm.auto import tqdm

from genai_labs.core.atomic_io import build_folder_atomic, write_json_atomic
from genai_labs.core.folders import WORLD_MODELS_DIR
from genai_labs.core.run_figures import machine_description
from genai_labs.core.torch_runtime import quiet_transformers, torch_threads
from genai_labs.models import count_parameters
from genai_labs.toxicity_classifier import RewardTrainConfig, classifier_accuracy, train_toxicity_classifier
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.pretraining import (
    PretrainConfig,
    TinyT5Architecture,
    build_tiny_t5,
    corpus_texts,
    pretrain_t5,
    pretraining_corpus,
    topic_accuracy,
    zero_shot_rouge1,
)
from genai_labs.world.tokenizer import TokenizerConfig, train_world_tokenizer
from genai_labs.world.well_formed import summary_style, well_formed_share

BUILD_VERSION = "v3"  # v1-v2 were pre-trained on first use into the cache; v3 is the committed tiny FLAN
T5_SUBDIR = "flan-t5"
REWARD_SUBDIR = "toxicity-roberta"
BUILD_INFO = "build_info.json"
REBUILD_COMMAND = "genai-labs world --models"


def judge_recipe() -> RewardTrainConfig:
    """The toxicity classifier's recipe, spelled out so the recorded build does not move with the dataclass's defaults."""
    return RewardTrainConfig(
        label2id={"nothate": 0, "hate": 1},
        vocab_size=1000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        dropout=0.1,
        max_length=128,
        epochs=4,
        batch_size=16,
        learning_rate=1e-3,
        warmup_fraction=0.1,
        weight_decay=0.01,
        num_threads=1,
    )


@dataclass(frozen=True)
class WorldBuildConfig:
    """Everything the world build trains, with the sizes it checks itself on (world build, CLI, tests)."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    tokenizer_corpus_dialogues: int = 3000  # pre-training dialogues (and their summaries) the tokenizer also reads
    architecture: TinyT5Architecture = field(default_factory=TinyT5Architecture)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    reward: RewardTrainConfig = field(default_factory=judge_recipe)  # the hate/nothate classifier (Lab 3's judge)
    eval_rows: int = 200  # validation dialogues for the build's checks (0 = skip them)


@dataclass(frozen=True)
class WorldAssets:
    """Where the world's models are (all labs load them with ``from_pretrained``)."""

    root: Path
    t5_dir: Path
    reward_dir: Path

    @classmethod
    def at(cls, root: Path) -> WorldAssets:
        """The asset paths of a build folder."""
        root = Path(root)
        return cls(root=root, t5_dir=root / T5_SUBDIR, reward_dir=root / REWARD_SUBDIR)

    def build_info(self) -> dict[str, Any]:
        """What the build recorded: recipe, machine, seconds and its own checks."""
        return json.loads((self.root / BUILD_INFO).read_text(encoding="utf-8"))


def _train_and_save(out: Path, *, seed: int, config: WorldBuildConfig, progress: bool) -> dict[str, Any]:
    """Train every world model and save it under ``out`` (which exists and is empty); returns the build info."""
    data = world_data_dir()
    train = read_jsonl(data / "train.jsonl")
    validation = read_jsonl(data / "validation.jsonl")[: config.eval_rows]
    toxicity = read_jsonl(data / "toxicity.jsonl")
    tox_train = [r for r in toxicity if r["split"] == "train"]
    tox_test = [r for r in toxicity if r["split"] == "test"]
    seconds: dict[str, float] = {}
    info: dict[str, Any] = {
        "build_version": BUILD_VERSION,
        "seed": seed,
        "steps": config.pretrain.steps,
        "num_threads": config.pretrain.num_threads,
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine_description(), "torch": torch.__version__, "transformers": transformers.__version__},
        "command": REBUILD_COMMAND,
    }
    stages = tqdm(total=4, desc="building the tiny world", disable=not progress)
    with quiet_transformers(), torch_threads(config.pretrain.num_threads):
        clock = time.perf_counter()
        corpus = pretraining_corpus(config.pretrain.corpus_dialogues, seed)
        texts = [r["dialogue"] for r in train] + [r["summary"] for r in train] + [r["text"] for r in tox_train]
        texts += corpus_texts(corpus, dialogues=config.tokenizer_corpus_dialogues, seed=seed)
        tokenizer = train_world_tokenizer(texts, config.tokenizer)
        seconds["corpus_and_tokenizer"] = time.perf_counter() - clock
        stages.update(1)

        clock = time.perf_counter()
        model = build_tiny_t5(tokenizer, config.architecture, seed=seed)
        history = pretrain_t5(model, tokenizer, corpus, config.pretrain, seed=seed, progress=progress)
        seconds["pretrain"] = time.perf_counter() - clock
        info["t5_parameters"] = count_parameters(model)[1]
        info["vocabulary"] = len(tokenizer)
        info["final_loss"] = sum(history.losses[-50:]) / max(1, len(history.losses[-50:]))
        stages.update(1)

        clock = time.perf_counter()
        if validation:
            info["topic_accuracy"] = topic_accuracy(model, tokenizer, validation)
            info["zero_shot_rouge1"], answers = zero_shot_rouge1(model, tokenizer, validation)
            info["zero_shot_well_formed"] = well_formed_share(answers)
            info["zero_shot_gist_share"] = sum(summary_style(a) == "gist" for a in answers) / len(answers)
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


def build_world_models(
    out_dir: Path = WORLD_MODELS_DIR, *, seed: int = 0, config: WorldBuildConfig = WorldBuildConfig(), progress: bool = True
) -> WorldAssets:
    """Build the world's models into ``out_dir`` (default: the committed ``data/world-models/``), replacing what is
    there in one atomic move (:func:`~genai_labs.core.atomic_io.build_folder_atomic`); ``build_info.json`` is written
    last. ``genai-labs world --models`` runs this with the default recipe; tests build short recipes elsewhere."""

    def build(tmp: Path) -> None:
        info = _train_and_save(tmp, seed=seed, config=config, progress=progress)
        write_json_atomic(tmp / BUILD_INFO, info)

    build_folder_atomic(Path(out_dir), build)
    return WorldAssets.at(Path(out_dir))


def recorded_recipe(assets: WorldAssets) -> dict[str, Any]:
    """The recipe a build recorded (its ``config``, seed and version), to hold against the code's (CI)."""
    info = assets.build_info()
    return {"build_version": info["build_version"], "seed": info["seed"], "config": info["config"]}


def current_recipe(seed: int = 0) -> dict[str, Any]:
    """The recipe the code builds today, in the form :func:`recorded_recipe` reads (JSON round trip: tuples become lists)."""
    return json.loads(json.dumps({"build_version": BUILD_VERSION, "seed": seed, "config": asdict(WorldBuildConfig())}))
