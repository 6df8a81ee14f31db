"""How the labs run torch and transformers: device and dtype, CPU threads, seeded blocks, dropout, quiet logs.

Small context managers and setters every lab and the world build use, so that a seed gives the same numbers and a
notebook's output stays readable.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from transformers.utils import logging as hf_logging

from genai_labs.core.profiles import DEVICES


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' info/warning logs, its load/save progress bars and peft/transformers deprecation
    notices inside the block, restoring them afterwards (all labs keep notebook stderr clean).

    Loading an untied T5 (FLAN-T5 itself, and the tiny world's) logs a tied-weights warning in transformers 5.
    """
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads, then restore (bit-reproducible CPU training; 1 avoids
    oversubscription when several processes share few cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's global RNG seeded with ``seed``, then restore the RNG as it was (Lab 2's LoRA
    initialisation: the adapter's A matrices are drawn here)."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def choose_device(requested: str = "auto") -> torch.device:
    """``cuda`` when asked for or available under ``auto``, else ``cpu`` (all labs)."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA GPU is visible; set device='auto' or 'cpu'.")
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(map(repr, DEVICES))}, got {requested!r}.")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def choose_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it, fp32 otherwise (CPU bf16 is slow and inexact for training)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def set_dropout(model: torch.nn.Module, rate: float, *, attention: bool = False) -> None:
    """Set every dropout layer's probability (and the config's ``dropout_rate``) of a model.

    T5's attention applies a second dropout to its attention weights from a plain float attribute; ``attention``
    sets that one too. Lab 2's trainings (``dropout_rate``) and Lab 3's PPO set both (in the tiny model the
    attention-weight dropout alone took a fifth of a training step); the world's pre-training leaves the
    attention rate at the model's own (its cached weights were trained that way).
    """
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = rate
        elif attention and isinstance(getattr(module, "dropout", None), float):
            module.dropout = rate
    if hasattr(model, "config") and hasattr(model.config, "dropout_rate"):
        model.config.dropout_rate = rate
