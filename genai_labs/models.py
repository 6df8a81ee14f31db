"""The labs' models: loading the seq2seq summarizer (all labs) and the toxicity classifier (Lab 3), T5's untied
``lm_head``, parameter counts and FLOPs, and the course's architectures for random stand-ins (tests, benchmarks).

Every load returns a fresh instance, so a lab can hold the original, the fully fine-tuned and the LoRA
model side by side without one mutating another. Sources are resolved per profile: the tiny world's
built-in models, a local ``save_pretrained`` folder, or a hub id (pinned revision, safetensors only,
never ``trust_remote_code``; fails fast offline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import hf_hub_download
from safetensors import safe_open
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    RobertaConfig,
    T5Config,
)

from genai_labs.core.folders import WORLD_BUILD_TIME, WORLD_MODELS_DIR
from genai_labs.core.profiles import Profile, preset_value
from genai_labs.core.sources import (
    WORLD_MODEL,
    WORLD_REWARD_MODEL,
    SourceUnavailableError,
    is_world_source,
    local_source,
    require_hub,
)
from genai_labs.core.torch_runtime import choose_device, choose_dtype, quiet_transformers


@dataclass(frozen=True)
class ResolvedSource:
    """Where a model will be loaded from: a local folder, or a hub id with its revision."""

    location: str
    revision: str | None
    is_local: bool


def world_model_folder(source: str, *, field: str) -> Path:
    """The committed folder of a tiny-world model source (``data/world-models/<name>``), checked to be complete."""
    folders = {WORLD_MODEL: WORLD_MODELS_DIR / "flan-t5", WORLD_REWARD_MODEL: WORLD_MODELS_DIR / "toxicity-roberta"}
    if source not in folders:
        raise ValueError(f"{source!r} (field {field!r}) is the tiny world's dataset, not a model.")
    folder = folders[source]
    if not (folder / "model.safetensors").is_file():
        raise SourceUnavailableError(
            f"The tiny world's model {source!r} (field {field!r}) is not at {folder}. A source checkout has it committed "
            "(data/world-models/): use the repository's checkout (pip install -e .), restore the folder with git, or "
            f"rebuild it with `genai-labs world --models` ({WORLD_BUILD_TIME})."
        )
    return folder


def _resolve(source: str, revision: str | None, *, field: str, profile: Profile, kind: str = "model") -> ResolvedSource:
    if is_world_source(source):
        return ResolvedSource(str(world_model_folder(source, field=field)), None, True)
    folder = local_source(source, kind=kind, field=field, profile=profile.name)
    if folder is not None:
        return ResolvedSource(str(folder), None, True)
    require_hub(source, kind=kind, field=field, profile=profile.name, revision=revision, preset=preset_value(profile.name, field))
    return ResolvedSource(source, revision, False)


class CheckpointError(ValueError):
    """A tensor a model needs could not be read from its checkpoint; the message names the source and the cause."""


def _checkpoint_file(resolved: ResolvedSource, filename: str) -> Path:
    """One file of a checkpoint (local folder or hub cache); raises :class:`CheckpointError` naming source and cause."""
    if resolved.is_local:
        path = Path(resolved.location) / filename
        if not path.is_file():
            raise CheckpointError(f"{resolved.location}: the checkpoint has no file {filename!r}.")
        return path
    try:
        return Path(hf_hub_download(resolved.location, filename, revision=resolved.revision))
    except Exception as error:  # hub errors have many types; the cause is kept and named
        raise CheckpointError(
            f"{resolved.location} (revision {resolved.revision}): cannot get {filename!r}: {type(error).__name__}: {error}"
        ) from error


def _has_file(resolved: ResolvedSource, filename: str) -> bool:
    try:
        _checkpoint_file(resolved, filename)
    except CheckpointError:
        return False
    return True


def _checkpoint_tensor(resolved: ResolvedSource, name: str) -> torch.Tensor | None:
    """Read one tensor by name from a safetensors checkpoint (local folder or hub cache) (all labs: T5's ``lm_head``).

    None only when the checkpoint's ``config.json`` says its embeddings are tied (``tie_word_embeddings``, T5's
    default) and the tensor is absent, as a tied checkpoint stores it once. Anything else that stops the read (a
    missing file or index, a failed download, a damaged file, an untied checkpoint without the tensor) raises
    :class:`CheckpointError` with the source and the cause: a head silently copied from the embedding is a wrong model.
    """
    index_name = "model.safetensors.index.json"
    try:
        if _has_file(resolved, index_name):
            weight_map = json.loads(_checkpoint_file(resolved, index_name).read_text())["weight_map"]
            filename = weight_map.get(name)
        else:
            filename = "model.safetensors"
        if filename is not None:
            with safe_open(str(_checkpoint_file(resolved, filename)), framework="pt") as handle:
                if name in handle.keys():  # noqa: SIM118 (safe_open has no __contains__)
                    return handle.get_tensor(name)
        tied = json.loads(_checkpoint_file(resolved, "config.json").read_text()).get("tie_word_embeddings", True)
    except CheckpointError:
        raise
    except Exception as error:  # a damaged index, config or safetensors file
        raise CheckpointError(f"{resolved.location}: cannot read {name!r}: {type(error).__name__}: {error}") from error
    if tied:
        return None
    raise CheckpointError(
        f"{resolved.location}: its config.json says tie_word_embeddings=false, but the checkpoint has no {name!r}; "
        "the model would get a copy of the embedding as its head. Save the model again with save_pretrained."
    )


def untie_lm_head(model: PreTrainedModel, lm_head: torch.Tensor | None = None) -> PreTrainedModel:
    """Give a T5 model's ``lm_head`` its own weights (FLAN-T5 is untied; transformers 5 ties it at init and on load).

    ``lm_head`` holds the head's weights: the checkpoint's own when loading (:func:`load_seq2seq`), freshly initialised
    ones when building a model (:func:`initial_lm_head`; the world build and the benchmarks); None copies the shared
    embedding. The config then records ``tie_word_embeddings=False``, so a saved model says what its weights are.
    """
    head, shared = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or head.weight.data_ptr() != shared.weight.data_ptr():
        if lm_head is not None and not torch.equal(head.weight.detach().cpu(), lm_head.to(head.weight.dtype)):
            head.weight = torch.nn.Parameter(lm_head.to(head.weight.device, head.weight.dtype))
        model.config.tie_word_embeddings = False
        return model
    weights = lm_head if lm_head is not None else shared.weight.detach().clone()
    head.weight = torch.nn.Parameter(weights.to(shared.weight.device, shared.weight.dtype).clone())
    model.config.tie_word_embeddings = False
    return model


def initial_lm_head(model: PreTrainedModel) -> torch.Tensor:
    """Fresh weights for a new T5's untied ``lm_head``, drawn as T5 v1.1 initialises it: normal, std ``d_model**-0.5``
    (from torch's global RNG; the world build and the benchmarks pass them to :func:`untie_lm_head`)."""
    head = torch.empty_like(model.get_output_embeddings().weight)
    torch.nn.init.normal_(head, mean=0.0, std=model.config.d_model**-0.5)
    return head


def load_seq2seq(
    profile: Profile, *, source: str | None = None, device: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A fresh seq2seq model (eval mode) and its tokenizer for the profile (all labs).

    ``source`` overrides ``profile.model`` (a local folder or hub id). FLAN-T5's untied ``lm_head`` is
    restored from the checkpoint when transformers ties it on load.
    """
    resolved = _resolve(
        source or profile.model, profile.model_revision if source is None else None, field="model", profile=profile
    )
    target = choose_device(device or profile.device)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(resolved.location, revision=resolved.revision)
        model = AutoModelForSeq2SeqLM.from_pretrained(
            resolved.location, revision=resolved.revision, use_safetensors=True, dtype=choose_dtype(target)
        )
    if getattr(model.config, "model_type", "") == "t5":
        untie_lm_head(model, _checkpoint_tensor(resolved, "lm_head.weight"))
    return model.to(target).eval(), tokenizer


def load_reward_model(
    profile: Profile, *, source: str | None = None, device: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A fresh toxicity classifier and its tokenizer for the profile (Lab 3's reward model), eval mode, fp32."""
    resolved = _resolve(
        source or profile.reward_model,
        profile.reward_model_revision if source is None else None,
        field="reward_model",
        profile=profile,
    )
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(resolved.location, revision=resolved.revision)
        model = AutoModelForSequenceClassification.from_pretrained(
            resolved.location, revision=resolved.revision, use_safetensors=True
        )
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
        + 4 * batch * target_len * target_len * inner
        + 4 * batch * target_len * source_len * inner
    )
    return float(encoder + decoder + 2 * dec_tokens * d * config.vocab_size)


# The course's architectures, for models with random weights of exactly their shape: the tests' stand-ins for the hub
# models and the benchmarks (speed and memory do not depend on the weights' values).


def flan_t5_base_config(**changes: Any) -> T5Config:
    """google/flan-t5-base's architecture (gated-GELU, untied ``lm_head``, 12+12 layers, d_model 768, vocabulary
    32,128), with ``changes`` applied (smaller sizes, the tokenizer's special ids)."""
    shape: dict[str, Any] = {
        "vocab_size": 32128, "d_model": 768, "d_ff": 2048, "d_kv": 64, "num_layers": 12, "num_decoder_layers": 12,
        "num_heads": 12, "feed_forward_proj": "gated-gelu", "dropout_rate": 0.1, "decoder_start_token_id": 0,
        "pad_token_id": 0, "eos_token_id": 1,
        "tie_word_embeddings": False,  # FLAN-T5 (T5 v1.1): no decoder-output scaling, lm_head untied
    }  # fmt: skip
    return T5Config(**{**shape, **changes})


def roberta_hate_classifier_config(**changes: Any) -> RobertaConfig:
    """facebook/roberta-hate-speech-dynabench-r4-target's architecture (roberta-base: 12 layers, hidden 768, vocabulary
    50,265) with its labels ``id2label {0: nothate, 1: hate}``, with ``changes`` applied."""
    shape: dict[str, Any] = {
        "vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1,
        "num_labels": 2, "id2label": {0: "nothate", 1: "hate"}, "label2id": {"nothate": 0, "hate": 1},
    }  # fmt: skip
    return RobertaConfig(**{**shape, **changes})
