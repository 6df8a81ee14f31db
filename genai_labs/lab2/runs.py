"""Lab 2's training runs: trained once, kept in the cache, loaded on every later call with the same arguments.

A config a learner edits is a config that runs. The notebook builds a run's ``TrainingArguments``, ``LoraConfig`` and
``Trainer`` in its own cells; :func:`cached_run` reads the run's cache key off that trainer (:func:`run_key`): the
arguments it actually holds, the LoRA config of its model, the **content** of its training set (a hash of the
tokenized examples, so the data and the prompt template both count), the base weights and the seed. An edited
argument is a new key, so a new run, trained with exactly those arguments and kept beside the others; a regenerated
world or an edited local dataset never reuses a stale run. A run lives in ``<output_dir>/<kind>-<key>``, with
``output_dir`` the ``TrainingArguments``' (:func:`runs_dir`: ``<cache>/lab2``). :meth:`CachedRun.train` trains it
(:func:`train_and_save`: resume from the last checkpoint, save the result) or, when the finished run is in the cache,
loads it and says so. :func:`train_run` does the same in one call from the profile's settings (replay, the
instructor's run, tests), and :func:`lora_adapter_path` gives Lab 3 its starting adapter.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import datasets
import torch
from peft import PeftModel
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainingArguments

from genai_labs.core.atomic_io import (
    build_folder_atomic,
    file_lock,
    lock_path,
    make_readable,
    remove_folder_atomic,
    write_json_atomic,
)
from genai_labs.core.folders import default_cache_dir
from genai_labs.core.profiles import FineTuneConfig, LoraSettings
from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.generation import model_device
from genai_labs.lab2.checkpoints import folder_bytes, last_complete_checkpoint, remove_checkpoints
from genai_labs.lab2.finetune import RUN_KINDS, build_trainer, load_lora, merge_lora, state_dict_bytes
from genai_labs.lab2.memory import optimizer_state_bytes, peak_rss_bytes
from genai_labs.lab2.training_data import lab2_data
from genai_labs.models import count_parameters, load_seq2seq

FINAL_DIR = "final"
RUN_INFO_FILE = "run_info.json"
CACHE_FORMAT = 2  # 2: keyed by the trainer's own arguments and the training set's content
LAB2_CACHE_DIR = "lab2"
# TrainingArguments that say where and how loudly a run trains, not what it trains: left out of the key
_PLACE_AND_DISPLAY_ARGUMENTS = (
    "output_dir", "logging_dir", "run_name", "hub_token", "disable_tqdm", "log_level", "log_level_replica",
)  # fmt: skip
_RUN_FOLDER = re.compile(rf"({'|'.join(RUN_KINDS)})-[0-9a-f]{{16}}")


@dataclass
class TrainResult:
    """One training run of Lab 2 (full, LoRA or replay) with its cost figures.

    ``model`` is the trained model in eval mode (for LoRA the adapter *reloaded from disk* on a copy of the
    base, so ``with model.disable_adapter():`` gives the base back); ``merged_model`` is LoRA merged into a
    copy for plain inference. ``peak_memory_bytes`` is ``torch.cuda.max_memory_allocated`` on a GPU; on CPU
    it is the growth of the process's peak resident set (``VmHWM``, :func:`genai_labs.lab2.memory.peak_rss_bytes`)
    during training, a lower bound: it reads 0 when an earlier phase of the process already peaked higher
    (``memory_note`` says which). ``optimizer_state_bytes`` counts the AdamW moment tensors. ``train_seconds`` covers
    only the part run by the call that trained (a resumed run's earlier part is in ``history``). ``cached``: loaded.
    """

    method: str
    model: torch.nn.Module
    history: list[dict[str, Any]]
    train_seconds: float
    optimizer_steps: int
    trainable_params: int
    total_params: int
    peak_memory_bytes: int
    memory_note: str
    optimizer_state_bytes: int
    run_dir: Path
    resumed_from: str | None = None
    merged_model: torch.nn.Module | None = None
    adapter_dir: Path | None = None
    adapter_bytes: int | None = None
    full_checkpoint_bytes: int | None = None
    train_examples: int = 0
    trained_at: str | None = None
    cached: bool = False

    @property
    def trainable_fraction(self) -> float:
        """Trainable share of all parameters."""
        return self.trainable_params / self.total_params if self.total_params else float("nan")

    def summary(self) -> dict[str, Any]:
        """A JSON-able row for tables and the cache (no model)."""
        return {
            "method": self.method,
            "train_examples": self.train_examples,
            "optimizer_steps": self.optimizer_steps,
            "train_seconds": round(self.train_seconds, 2),
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "trainable_%": round(100 * self.trainable_fraction, 3),
            "optimizer_state_bytes": self.optimizer_state_bytes,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_note": self.memory_note,
            "resumed_from": self.resumed_from,
            "adapter_bytes": self.adapter_bytes,
            "full_checkpoint_bytes": self.full_checkpoint_bytes,
            "trained_at": self.trained_at,
        }

    @classmethod
    def from_summary(
        cls,
        summary: dict[str, Any],
        history: list[dict[str, Any]],
        *,
        model: torch.nn.Module,
        run_dir: Path,
        merged_model: torch.nn.Module | None = None,
        adapter_dir: Path | None = None,
        cached: bool = False,
    ) -> TrainResult:
        """A result from a :meth:`summary` row (what ``run_info.json`` keeps) and the run's model."""
        return cls(
            method=summary["method"],
            model=model,
            history=history,
            train_seconds=float(summary["train_seconds"]),
            optimizer_steps=int(summary["optimizer_steps"]),
            trainable_params=int(summary["trainable_params"]),
            total_params=int(summary["total_params"]),
            peak_memory_bytes=int(summary["peak_memory_bytes"]),
            memory_note=summary["memory_note"],
            optimizer_state_bytes=int(summary["optimizer_state_bytes"]),
            run_dir=run_dir,
            resumed_from=summary.get("resumed_from"),
            merged_model=merged_model,
            adapter_dir=adapter_dir,
            adapter_bytes=summary.get("adapter_bytes"),
            full_checkpoint_bytes=summary.get("full_checkpoint_bytes"),
            train_examples=int(summary.get("train_examples", 0)),
            trained_at=summary.get("trained_at"),
            cached=cached,
        )


def train_and_save(trainer: Trainer, *, method: str, base_model: PreTrainedModel) -> TrainResult:
    """``trainer.train()`` in its ``output_dir``, resuming from the last complete checkpoint there, then the trained
    model (or LoRA adapter) saved atomically to ``output_dir/final``, with what the run cost (Lab 2).

    A LoRA run's result holds the adapter reloaded from disk on a copy of ``base_model`` and a merged copy;
    ``base_model`` itself is never modified.
    """
    run_dir = Path(trainer.args.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    device = model_device(model)
    trainable, total = count_parameters(model)
    resume = last_complete_checkpoint(run_dir)
    with quiet_transformers():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        rss_before = peak_rss_bytes()
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        seconds = time.perf_counter() - started
        if device.type == "cuda":
            peak, note = int(torch.cuda.max_memory_allocated(device)), "torch.cuda.max_memory_allocated"
        else:
            peak = max(0, peak_rss_bytes() - rss_before)
            note = "CPU: growth of peak RSS (VmHWM) during training; 0 = below an earlier peak"
        model.eval()
        final = run_dir / FINAL_DIR
        if isinstance(model, PeftModel):
            build_folder_atomic(final, lambda tmp: model.save_pretrained(tmp, save_embedding_layers=False))
        else:
            build_folder_atomic(final, lambda tmp: (model.save_pretrained(tmp), trainer.processing_class.save_pretrained(tmp)))
    summary = {
        "method": method,
        "train_examples": len(trainer.train_dataset),
        "optimizer_steps": int(trainer.state.global_step),
        "train_seconds": seconds,
        "trainable_params": trainable,
        "total_params": total,
        "peak_memory_bytes": peak,
        "memory_note": note,
        "optimizer_state_bytes": optimizer_state_bytes(trainer.optimizer),
        "resumed_from": str(resume) if resume else None,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    history = [{"method": method, **entry} for entry in trainer.state.log_history]
    if isinstance(model, PeftModel):
        reloaded = load_lora(base_model, final)
        summary.update(adapter_bytes=folder_bytes(final), full_checkpoint_bytes=state_dict_bytes(base_model))
        return TrainResult.from_summary(
            summary, history, model=reloaded, merged_model=merge_lora(reloaded), adapter_dir=final, run_dir=run_dir
        )
    weights = final / "model.safetensors"
    summary["full_checkpoint_bytes"] = folder_bytes(weights if weights.exists() else final)
    return TrainResult.from_summary(summary, history, model=model, run_dir=run_dir)


# --------------------------------------------------------------------------------------------------
# The cache of runs
# --------------------------------------------------------------------------------------------------


def _stable(value: Any) -> Any:
    """``value`` with its sets as sorted lists (peft keeps ``target_modules`` as a set, whose order changes from one
    process to the next), so equal configs hash alike."""
    if isinstance(value, dict):
        return {str(k): _stable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_stable(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


def config_hash(payload: dict[str, Any]) -> str:
    """Stable short hash of a JSON-able dict (Lab 2 cache keys; sets hash in sorted order)."""
    blob = json.dumps(_stable(payload), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 over a model's named tensors (Lab 2 cache keys: the exact base weights)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def run_settings(kind: str, profile: Any) -> FineTuneConfig | LoraSettings:
    """The profile's settings of a run kind: ``lora`` trains with ``lab2.lora``, ``full`` and ``replay`` with ``lab2.full``."""
    if kind not in RUN_KINDS:
        raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}.")
    return profile.lab2.lora if kind == "lora" else profile.lab2.full


def runs_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache>/lab2``: the ``output_dir`` of Lab 2's ``TrainingArguments``; each run trains in its own subfolder."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / LAB2_CACHE_DIR


def dataset_hash(dataset: datasets.Dataset) -> str:
    """SHA-256 of a dataset's content: every column of every row, in order (Lab 2 cache keys; not its name or its
    fingerprint, so an edited or regenerated file is a new hash)."""
    digest = hashlib.sha256(json.dumps(sorted(dataset.column_names)).encode())
    for batch in dataset.with_format(None).iter(batch_size=1000):
        digest.update(json.dumps(batch, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def trainer_arguments(args: TrainingArguments) -> dict[str, Any]:
    """The ``TrainingArguments`` a run trains with, as a JSON-able dict (its place and display settings left out)."""
    values = args.to_dict()
    return {name: value for name, value in values.items() if name not in _PLACE_AND_DISPLAY_ARGUMENTS}


def _trainable_weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 over the trainable tensors (a LoRA model's adapters as initialised: their random start counts)."""
    digest = hashlib.sha256()
    for name, parameter in sorted(model.named_parameters()):
        if parameter.requires_grad:
            digest.update(name.encode())
            digest.update(parameter.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def run_key(kind: str, trainer: Trainer, base_weights: str) -> str:
    """Cache key of one Lab 2 run, read off the trainer that would train it: its ``TrainingArguments`` (seed and data
    seed included), its model's LoRA config and initial adapter weights, its dropout rates, the content of its training
    set (the tokenized prompts and targets: the data and the prompt template) and the base weights."""
    if kind not in RUN_KINDS:
        raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}.")
    model = trainer.model
    lora = None
    if isinstance(model, PeftModel):
        config = model.peft_config[model.active_adapter].to_dict()
        lora = {k: v for k, v in config.items() if k not in ("base_model_name_or_path", "revision", "inference_mode")}
        lora["initial_weights"] = _trainable_weights_hash(model)
    payload = {
        "format": CACHE_FORMAT,
        "kind": kind,
        "arguments": trainer_arguments(trainer.args),
        "lora": lora,
        "dropout": sorted({round(m.p, 6) for m in model.modules() if isinstance(m, torch.nn.Dropout)}),
        "data": dataset_hash(trainer.train_dataset),
        "base_weights": base_weights,
        "seed": trainer.args.seed,
    }
    return f"{kind}-{config_hash(payload)}"


def _publish_cached_run(info_path: Path, final: Path) -> None:
    """Open up a Lab 2 cached run written before caches were published readable (``final/`` 0700, run info 0600).

    Only the owner may change modes; for anyone else (or a run being replaced meanwhile) it is left as it is.
    """
    published = stat.S_IMODE(final.stat().st_mode) == 0o755 and info_path.stat().st_mode & 0o644 == 0o644
    if published or info_path.stat().st_uid != os.getuid():
        return
    with contextlib.suppress(OSError):
        make_readable(final)
        os.chmod(info_path, stat.S_IMODE(info_path.stat().st_mode) | 0o644)


@dataclass
class CachedRun:
    """One Lab 2 run's place in the cache: its ``trainer``, its ``key`` (:func:`run_key`) and ``folder``
    (``<output_dir>/<key>``), and what loading it needs."""

    kind: str
    profile: Any
    base_model: PreTrainedModel
    trainer: Trainer
    key: str
    folder: Path

    def train(self, *, force: bool = False) -> TrainResult:
        """``trainer.train()`` for this run, or the finished run loaded from the cache (printing where from).

        The trainer trains into :attr:`folder`. ``force`` retrains. One process trains a run at a time (a file lock):
        the others wait, then load it. A finished run keeps ``final/`` and ``run_info.json`` (costs and loss history),
        written last; its resume checkpoints are removed.
        """
        if not force and (finished := self.load_finished()) is not None:
            return finished
        # one process trains a run at a time (a notebook and `genai-labs run` may ask for the same one): the others
        # wait, then load it, instead of writing into the same checkpoints
        with file_lock(lock_path(self.folder)):
            if force:
                remove_folder_atomic(self.folder)
            cached = self.load()
            if cached is not None:
                return cached
            self.trainer.args.output_dir = str(self.folder)  # checkpoints and final/ go to the run's own folder
            result = train_and_save(self.trainer, method=self.kind, base_model=self.base_model)
            write_json_atomic(self.folder / RUN_INFO_FILE, {"summary": result.summary(), "history": result.history})
            remove_checkpoints(self.folder)
        return result

    def load_finished(self) -> TrainResult | None:
        """The finished run from the cache (printing where it came from), or None when it is not there (yet)."""
        # a finished run (run_info.json is written last) loads under a shared lock: many readers at once, never while
        # it is trained or removed; in a read-only shared cache whose lock file is missing, without it
        with file_lock(lock_path(self.folder), shared=True, required=False):
            return self.load()

    def load(self) -> TrainResult | None:
        """The finished run from the cache (printing where it came from), or None; the caller holds the run's lock."""
        info_path, final = self.folder / RUN_INFO_FILE, self.folder / FINAL_DIR
        if not (info_path.is_file() and final.is_dir()):
            return None
        _publish_cached_run(info_path, final)
        with contextlib.suppress(OSError):  # "last used" for `genai-labs cache --older-than` (not ours in a shared cache)
            os.utime(info_path)
        info = json.loads(info_path.read_text())
        summary = info["summary"]
        if self.kind == "lora":
            model = load_lora(self.base_model, final)
            result = TrainResult.from_summary(
                summary, info["history"], model=model, merged_model=merge_lora(model), adapter_dir=final,
                run_dir=self.folder, cached=True,
            )  # fmt: skip
        else:
            model, _ = load_seq2seq(self.profile, source=str(final), device=model_device(self.base_model).type)
            result = TrainResult.from_summary(summary, info["history"], model=model, run_dir=self.folder, cached=True)
        when = f" on {result.trained_at}" if result.trained_at else ""
        print(
            f"loaded the finished {self.kind} run from {self.folder} (trained {result.train_seconds:.0f} s, "
            f"{result.optimizer_steps} steps{when}); delete that folder or pass force=True to retrain."
        )
        return result


def cached_run(
    kind: str, trainer: Trainer, profile: Any, base_model: PreTrainedModel, *, base_weights: str | None = None
) -> CachedRun:
    """The Lab 2 run ``kind`` (``full``, ``lora`` or ``replay``) that ``trainer`` trains, keyed by what it holds
    (:func:`run_key`: its arguments, LoRA config, training data's content, the base weights, the seed) and kept in
    ``<trainer.args.output_dir>/<kind>-<key>``. Any argument edited in the notebook's cells is a new run.

    ``base_weights`` is :func:`weights_hash` of ``base_model`` (computed when not given).
    """
    if kind != "lora" and trainer.processing_class is None:
        raise ValueError("Pass processing_class=tokenizer to the trainer: the finished model is saved with its tokenizer.")
    if kind == "lora" and not isinstance(trainer.model, PeftModel):
        raise ValueError("A lora run trains a peft model: pass get_peft_model(lora_base_copy(...), lora_config) to the trainer.")
    key = run_key(kind, trainer, base_weights or weights_hash(base_model))
    root = Path(trainer.args.output_dir)
    if _RUN_FOLDER.fullmatch(root.name):  # a trainer handed over a second time already trains in its run's folder
        root = root.parent
    return CachedRun(kind=kind, profile=profile, base_model=base_model, trainer=trainer, key=key, folder=root / key)


def train_run(
    kind: str,
    profile: Any,
    base_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_dataset: datasets.Dataset,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_weights: str | None = None,
    progress: bool = False,
    force: bool = False,
) -> TrainResult:
    """Train one Lab 2 run from the profile's settings, or load it from the cache: what the notebook does step by step
    for full fine-tuning and LoRA, in one call (the notebook's replay run, Lab 3, tests). The trainer is built as the
    notebook builds it, so an unedited notebook and this call share their runs.

    ``train_dataset`` is the summarization set (raw or tokenized); for ``replay`` it is the already mixed set.
    """
    cfg = profile.lab2
    trainer = build_trainer(
        kind, base_model, tokenizer, train_dataset, run_settings(kind, profile), output_dir=runs_dir(cache_dir),
        seed=profile.seed, max_source_length=cfg.full.max_source_length, max_target_length=cfg.full.max_target_length,
        progress_bar=f"Lab 2 {kind}" if progress else None,
    )  # fmt: skip
    return cached_run(kind, trainer, profile, base_model, base_weights=base_weights).train(force=force)


def lora_adapter_path(profile: Any, *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = False) -> Path:
    """Folder of Lab 2's trained LoRA adapter for ``profile``, training it (cached) if needed (Lab 3's start)."""
    base, tokenizer = load_seq2seq(profile)
    result = train_run("lora", profile, base, tokenizer, lab2_data(profile).train, cache_dir=cache_dir, progress=progress)
    assert result.adapter_dir is not None
    return result.adapter_dir
