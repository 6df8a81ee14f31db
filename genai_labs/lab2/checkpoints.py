"""Lab 2's trainer and its checkpoints: written atomically, resumed from the last complete one, dropped when done.

:class:`AtomicCheckpointTrainer` is the transformers ``Trainer`` every Lab 2 run trains with; each checkpoint
appears under its final name only once fully written, so :func:`last_complete_checkpoint` can always resume from
what it finds. :class:`TrainingProgress` draws one progress bar per run and :class:`InterruptAtStep` stops a run
on purpose (the tests of resuming). The folder helpers measure and clean runs (Lab 2's cache, ``genai-labs cache``).
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from tqdm.auto import tqdm
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from genai_labs.core.atomic_io import make_readable
from genai_labs.core.torch_runtime import quiet_transformers

# A Trainer checkpoint is resumable once this file is in it (the trainer state is written last).
CHECKPOINT_STATE_FILE = "trainer_state.json"


def last_complete_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The highest-step ``checkpoint-N`` folder of a run that holds a trainer state, else None (Lab 2).

    Checkpoints are renamed into place only once fully written (see :class:`AtomicCheckpointTrainer`), and
    half-written staging folders are ignored, so whatever this returns can be resumed from.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for path in run_dir.iterdir():
        prefix = f"{PREFIX_CHECKPOINT_DIR}-"
        step = path.name[len(prefix) :]
        if path.is_dir() and path.name.startswith(prefix) and step.isdigit() and (path / CHECKPOINT_STATE_FILE).is_file():
            found.append((int(step), path))
    return max(found)[1] if found else None


class AtomicCheckpointTrainer(Trainer):
    """A transformers ``Trainer`` whose checkpoints appear atomically, with one progress bar instead of printed logs
    (Lab 2: every training run).

    Takes the ``Trainer``'s arguments plus ``progress_bar``, the bar's label (None: no bar). Each checkpoint is
    written into ``<run>/.staging`` and renamed to ``<run>/checkpoint-N`` when complete, so an interruption never
    leaves a half-written checkpoint where :func:`last_complete_checkpoint` looks.
    """

    _staging_dir: str | None = None

    def __init__(self, *args: Any, progress_bar: str | None = None, **kwargs: Any) -> None:
        with quiet_transformers():
            super().__init__(*args, **kwargs)
        self.remove_callback(PrinterCallback)  # with disable_tqdm the Trainer prints every log dict
        if progress_bar is not None:
            self.add_callback(TrainingProgress(progress_bar))

    def _get_output_dir(self, trial: Any) -> str:
        return self._staging_dir if self._staging_dir is not None else super()._get_output_dir(trial)

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        """Save as the Trainer does, but a peft adapter with ``save_embedding_layers=False`` (as the final adapter).

        peft's default ("auto") copies the frozen lm_head and embeddings into every checkpoint when the adapter sits
        on lm_head (tiny profile), and otherwise asks the Hugging Face Hub whether the base model's config exists (a
        network request per checkpoint for a hub model such as the course's, which stalls offline). Resuming never
        needs the frozen weights: the run restarts from the same base model.
        """
        model = self.model
        if isinstance(model, PeftModel):
            model.save_pretrained = functools.partial(type(model).save_pretrained, model, save_embedding_layers=False)
        try:
            super()._save(output_dir, state_dict)
        finally:
            model.__dict__.pop("save_pretrained", None)

    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        run_dir = Path(super()._get_output_dir(trial))
        staging = run_dir / ".staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self._staging_dir = str(staging)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_dir = None
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        target = run_dir / name
        make_readable(staging / name)  # what HF wrote follows the umask; published checkpoints are 0755/0644
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / name, target)
        shutil.rmtree(staging, ignore_errors=True)
        if self.args.save_total_limit:
            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self.args.save_total_limit, use_mtime=False)


class InterruptAtStep(TrainerCallback):
    """Raise KeyboardInterrupt after optimizer step ``step`` (tests and the notebook's resume demo)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.step:
            raise KeyboardInterrupt(f"simulated interruption after step {state.global_step}")


class TrainingProgress(TrainerCallback):
    """One tqdm bar per training run (instead of the Trainer's own bars and log prints)."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.description, leave=False)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def folder_stats(path: str | os.PathLike[str]) -> tuple[int, float]:
    """Total bytes of the files under ``path`` and the newest modification time (``genai-labs cache``), skipping
    what vanishes meanwhile (checkpoint rotation during training) or cannot be read; symlinks are not followed."""
    size, newest = 0, os.lstat(path).st_mtime
    for folder, _, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            try:
                info = os.lstat(name)
            except OSError:
                continue
            newest = max(newest, info.st_mtime)
            if name != folder:
                size += info.st_size
    return size, newest


def folder_bytes(path: str | os.PathLike[str]) -> int:
    """Total size of the files under ``path``, or of the file ``path`` (Lab 2: adapter vs full checkpoint on disk)."""
    return Path(path).stat().st_size if Path(path).is_file() else folder_stats(path)[0]


def resume_folders(run_dir: Path) -> list[Path]:
    """A run's ``checkpoint-N`` folders and its ``.staging`` folder (symlinks excluded): what only resuming needs."""
    candidates = [*run_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"), run_dir / ".staging"]
    return [path for path in candidates if path.is_dir() and not path.is_symlink()]


def remove_checkpoints(run_dir: Path) -> list[Path]:
    """Delete a finished run's resume folders (Lab 2's cache, ``genai-labs cache --prune``): ``final/`` and
    ``run_info.json`` hold all that a later call loads, and each checkpoint also carries the optimizer state (about
    3 GB per checkpoint for full fine-tuning of flan-t5-base). Returns those that could not be removed."""
    for path in resume_folders(run_dir):
        shutil.rmtree(path, ignore_errors=True)
    return resume_folders(run_dir)
