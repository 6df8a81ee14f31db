"""Loading the labs' models: the seq2seq summarizer (all labs) and the toxicity classifier (Lab 3).

Every call returns a fresh instance, so a lab can hold the original, the fully fine-tuned and the LoRA
model side by side without one mutating another. Sources are resolved per profile: the tiny world's
built-in models, a local ``save_pretrained`` folder, or a hub id (pinned revision, safetensors only,
never ``trust_remote_code``; fails fast offline).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from genai_labs.config import DEVICES, WORLD_MODEL, WORLD_REWARD_MODEL, Profile
from genai_labs.sources import is_world_source, local_source, require_hub


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


@dataclass(frozen=True)
class ResolvedSource:
    """Where a model will be loaded from: a local folder, or a hub id with its revision."""

    location: str
    revision: str | None
    is_local: bool


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


def _resolve(source: str, revision: str | None, *, field: str, profile: Profile, kind: str = "model") -> ResolvedSource:
    if is_world_source(source):
        from genai_labs.world.assets import ensure_world_assets

        assets = ensure_world_assets()
        folders = {WORLD_MODEL: assets.t5_dir, WORLD_REWARD_MODEL: assets.reward_dir}
        if source not in folders:
            raise ValueError(f"{source!r} (field {field!r}) is the tiny world's dataset, not a model.")
        return ResolvedSource(str(folders[source]), None, True)
    folder = local_source(source, kind=kind, field=field, profile=profile.name)
    if folder is not None:
        return ResolvedSource(str(folder), None, True)
    require_hub(source, kind=kind, field=field, profile=profile.name, revision=revision)
    return ResolvedSource(source, revision, False)


def _checkpoint_tensor(resolved: ResolvedSource, name: str) -> torch.Tensor | None:
    """Read one tensor by name from a safetensors checkpoint (local folder or hub cache), or None."""
    from safetensors import safe_open

    def local_file(filename: str) -> Path | None:
        if resolved.is_local:
            path = Path(resolved.location) / filename
            return path if path.is_file() else None
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(resolved.location, filename, revision=resolved.revision))
        except Exception:
            return None

    index = local_file("model.safetensors.index.json")
    filename = json.loads(index.read_text())["weight_map"].get(name) if index else "model.safetensors"
    path = local_file(filename) if filename else None
    if path is None:
        return None
    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor(name) if name in handle.keys() else None


def untie_lm_head(model: PreTrainedModel, checkpoint_lm_head: torch.Tensor | None = None) -> PreTrainedModel:
    """Give a T5 model's ``lm_head`` its own weights (FLAN-T5 is untied; transformers 5 re-ties it on load).

    Uses the checkpoint's own ``lm_head.weight`` when given, else a copy of the shared embedding.
    """
    head, shared = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or head.weight.data_ptr() != shared.weight.data_ptr():
        if checkpoint_lm_head is not None and not torch.equal(head.weight.detach().cpu(), checkpoint_lm_head.to(head.weight.dtype)):
            head.weight = torch.nn.Parameter(checkpoint_lm_head.to(head.weight.device, head.weight.dtype))
        model.config.tie_word_embeddings = False
        return model
    weights = checkpoint_lm_head if checkpoint_lm_head is not None else shared.weight.detach().clone()
    head.weight = torch.nn.Parameter(weights.to(shared.weight.device, shared.weight.dtype).clone())
    model.config.tie_word_embeddings = False
    return model


def load_seq2seq(profile: Profile, *, source: str | None = None, device: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A fresh seq2seq model (eval mode) and its tokenizer for the profile (all labs).

    ``source`` overrides ``profile.model`` (a local folder or hub id). FLAN-T5's untied ``lm_head`` is
    restored from the checkpoint when transformers ties it on load.
    """
    resolved = _resolve(source or profile.model, profile.model_revision if source is None else None, field="model", profile=profile)
    target = choose_device(device or profile.device)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(resolved.location, revision=resolved.revision)
        model = AutoModelForSeq2SeqLM.from_pretrained(
            resolved.location, revision=resolved.revision, use_safetensors=True, dtype=choose_dtype(target)
        )
    if getattr(model.config, "model_type", "") == "t5":
        untie_lm_head(model, _checkpoint_tensor(resolved, "lm_head.weight"))
    return model.to(target).eval(), tokenizer


def load_reward_model(profile: Profile, *, source: str | None = None, device: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A fresh toxicity classifier and its tokenizer for the profile (Lab 3's reward model), eval mode, fp32."""
    resolved = _resolve(
        source or profile.reward_model, profile.reward_model_revision if source is None else None, field="reward_model", profile=profile
    )
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(resolved.location, revision=resolved.revision)
        model = AutoModelForSequenceClassification.from_pretrained(resolved.location, revision=resolved.revision, use_safetensors=True)
    return model.to(choose_device(device or profile.device)).eval(), tokenizer


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts, each shared tensor counted once (Labs 2-3)."""
    seen: set[int] = set()
    trainable = total = 0
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
    return trainable, total


def parameter_table_row(name: str, model: torch.nn.Module) -> dict[str, object]:
    """One row of a trainable-parameters table: name, trainable, total, percent (Labs 2-3)."""
    trainable, total = count_parameters(model)
    return {"model": name, "trainable": trainable, "total": total, "trainable %": round(100 * trainable / total, 2)}


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


def t5_forward_flops(config: Any, batch: int, source_len: int, target_len: int) -> float:
    """Forward FLOPs of a T5 on ``batch`` sequences of these (padded) lengths: dense layers, attention, lm_head
    (the benchmarks' MFU, Lab 2's GPU time estimate).

    A training step (forward + backward) costs about three times this.
    """
    d, inner, ff = config.d_model, config.num_heads * config.d_kv, config.d_ff
    ff_mats = 3 if "gated" in str(getattr(config, "feed_forward_proj", "")) else 2
    enc_tokens, dec_tokens = batch * source_len, batch * target_len
    encoder = config.num_layers * (
        2 * enc_tokens * (4 * d * inner + ff_mats * d * ff) + 4 * batch * source_len * source_len * inner
    )
    decoder = config.num_decoder_layers * (
        2 * dec_tokens * (6 * d * inner + ff_mats * d * ff)  # self q,k,v,o + cross q,o + ffn
        + 2 * enc_tokens * 2 * d * inner  # cross k,v on the encoder output
        + 4 * batch * target_len * target_len * inner + 4 * batch * target_len * source_len * inner
    )
    return float(encoder + decoder + 2 * dec_tokens * d * config.vocab_size)
