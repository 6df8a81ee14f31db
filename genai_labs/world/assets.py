"""The tiny world's models, a committed artifact: the tiny FLAN-T5 with its tokenizer, and the toxicity classifier.

The labs load them in seconds from ``data/world-models/`` (:data:`genai_labs.core.folders.WORLD_MODELS_DIR`):
``flan-t5/`` and ``toxicity-roberta/`` (``save_pretrained`` folders with their tokenizers, safetensors only) and
``build_info.json`` (the recipe, the machine, the time and the build's own checks). Pre-training is paid for once,
by :func:`build_world_models` (``genai-labs world --models``, :data:`~genai_labs.core.folders.WORLD_BUILD_TIME`), not on every
learner's machine. The build writes into a temporary folder beside the target and moves it into place with one
``os.replace`` (:func:`genai_labs.core.atomic_io.build_folder_atomic`), so a killed build leaves the old artifact
whole. A seed gives bit-identical weights on one machine: the thread count is part of the recipe, the data order
and the initialisation are seeded, and the tokenizer's scores are canonicalised (``world.tokenizer``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import transformers
from tqdm.auto import tqdm

from genai_labs import prompts, toxicity_classifier, training_loop
from genai_labs.core.atomic_io import build_folder_atomic, write_json_atomic
from genai_labs.core.folders import WORLD_MODELS_DIR, default_cache_dir
from genai_labs.core.run_figures import machine_description
from genai_labs.core.torch_runtime import quiet_transformers, torch_threads
from genai_labs.fact_check import fact_scores
from genai_labs.models import count_parameters
from genai_labs.prompts import flan_prompt
from genai_labs.toxicity_classifier import RewardTrainConfig, classifier_accuracy, train_toxicity_classifier
from genai_labs.world import dialogues, pretraining, tokenizer, toxicity_texts
from genai_labs.world.data_files import read_jsonl, world_data_dir
from genai_labs.world.facts import world_facts
from genai_labs.world.pretraining import (
    PretrainConfig,
    TinyT5Architecture,
    answers_fact_precision,
    build_tiny_t5,
    corpus_texts,
    pretrain_t5,
    pretraining_corpus,
    topic_accuracy,
    zero_shot_rouge1,
)
from genai_labs.world.tokenizer import TokenizerConfig, train_world_tokenizer
from genai_labs.world.well_formed import summary_style, well_formed_share

BUILD_VERSION = "v6"  # v1-v2 pre-trained on first use into the cache; v3 the committed tiny FLAN; v4 copies facts;
# v5 trains 3,000 steps longer (LONG_PHASE), v6 4,000 more at a lower learning rate (ANNEAL_PHASE)
T5_SUBDIR = "flan-t5"
REWARD_SUBDIR = "toxicity-roberta"
BUILD_INFO = "build_info.json"
REBUILD_COMMAND = "genai-labs world --models"
RESUME_ROOT = "world-build"  # in the labs' cache: checkpoints of interrupted builds


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
    probe_rows: int = 60  # validation dialogues for the fact-precision curve during pre-training
    probe_every: int = 500  # steps between two points of that curve (0 = no curve)


RECIPE_CODE = (dialogues, pretraining, tokenizer, toxicity_texts, toxicity_classifier, training_loop)
RECIPE_PROMPTS = (
    prompts.instruction_prompt,
    prompts.training_prompt,
    prompts.ppo_prompt,
    prompts.flan_prompt,
    prompts.flan_shot,
    prompts.topic_prompt,
)


def recipe_code_hash() -> str:
    """SHA-256 of the source that defines the world and its models: the dialogue templates and slot pools, the
    pre-training tasks and loop, the tokenizer, the toxicity texts and classifier, and the prompt templates the
    pre-training uses. The build records it; a test fails when this code changes without a rebuild."""
    digest = hashlib.sha256()
    for source in (*RECIPE_CODE, *RECIPE_PROMPTS):
        digest.update(inspect.getsource(source).replace("\r\n", "\n").encode("utf-8"))
    return digest.hexdigest()


def resume_dir(seed: int, config: WorldBuildConfig) -> Path:
    """Where an interrupted build of this recipe keeps its pre-training checkpoint (in the labs' cache)."""
    key = hashlib.sha256(json.dumps(current_recipe(seed, config), sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return default_cache_dir() / RESUME_ROOT / f"{BUILD_VERSION}-seed{seed}-{key}"


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


def _train_and_save(
    out: Path, *, seed: int, config: WorldBuildConfig, progress: bool, checkpoint_dir: Path | None
) -> dict[str, Any]:
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
        "code_hash": recipe_code_hash(),
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
        probe_rows = validation[: config.probe_rows]
        history = pretrain_t5(
            model,
            tokenizer,
            corpus,
            config.pretrain,
            seed=seed,
            progress=progress,
            checkpoint_dir=checkpoint_dir,
            recipe=json.dumps(current_recipe(seed, config), sort_keys=True) + recipe_code_hash(),
            probe=(lambda m: answers_fact_precision(m, tokenizer, probe_rows)) if probe_rows else None,
            probe_every=config.probe_every,
        )
        seconds["pretrain"] = history.seconds
        info["fact_precision_curve"] = [[step, round(value, 4)] for step, value in history.curve]
        info["resumed_at_step"] = history.resumed_at  # 0: one uninterrupted run
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
            dialogues_ = [r["dialogue"] for r in validation]
            info["zero_shot_fact_precision"] = fact_scores(answers, dialogues_, world_facts).precision
            info["flan_fact_precision"] = answers_fact_precision(model, tokenizer, validation, flan_prompt)
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
    out_dir: Path = WORLD_MODELS_DIR,
    *,
    seed: int = 0,
    config: WorldBuildConfig = WorldBuildConfig(),
    progress: bool = True,
    resume: bool = True,
) -> WorldAssets:
    """Build the world's models into ``out_dir`` (default: the committed ``data/world-models/``), replacing what is
    there in one atomic move (:func:`~genai_labs.core.atomic_io.build_folder_atomic`); ``build_info.json`` is written
    last. ``genai-labs world --models`` runs this with the default recipe; tests build short recipes elsewhere. With
    ``resume``, pre-training checkpoints go to :func:`resume_dir` every few hundred steps and a rerun after an
    interruption goes on from the last one (same weights as an uninterrupted build); they are removed at the end."""

    checkpoint_dir = resume_dir(seed, config) if resume else None

    def build(tmp: Path) -> None:
        info = _train_and_save(tmp, seed=seed, config=config, progress=progress, checkpoint_dir=checkpoint_dir)
        write_json_atomic(tmp / BUILD_INFO, info)

    build_folder_atomic(Path(out_dir), build)
    if checkpoint_dir is not None:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the build is whole: nothing left to resume
    return WorldAssets.at(Path(out_dir))


def recorded_recipe(assets: WorldAssets) -> dict[str, Any]:
    """The recipe a build recorded (its ``config``, seed and version), to hold against the code's (CI)."""
    info = assets.build_info()
    return {"build_version": info["build_version"], "seed": info["seed"], "config": info["config"]}


def current_recipe(seed: int = 0, config: WorldBuildConfig | None = None) -> dict[str, Any]:
    """The recipe the code builds today, in the form :func:`recorded_recipe` reads (JSON round trip: tuples become lists)."""
    config = WorldBuildConfig() if config is None else config
    return json.loads(json.dumps({"build_version": BUILD_VERSION, "seed": seed, "config": asdict(config)}))
