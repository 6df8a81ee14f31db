"""Value head and adapter bookkeeping for the Lab 3 PPO policy (FLAN-T5 + LoRA).

The PPO policy is a peft ``PeftModel`` over ``T5ForConditionalGeneration`` plus a small value head on the
decoder's last hidden states. The frozen reference policy is not a second model copy: it is a second LoRA
adapter ("reference") on the same base model, holding a copy of the trained adapter's weights as they were
before PPO. This module builds those pieces and reports their sizes for the notebook.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from peft import PeftModel
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from torch import nn

REFERENCE_ADAPTER = "reference"


class ValueHead(nn.Module):
    """Lab 3: scalar value per decoder position, ``dropout -> Linear(d_model -> 1)`` on the last hidden states."""

    def __init__(self, hidden_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.summary = nn.Linear(hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, d_model)`` hidden states -> ``(batch, seq)`` values (float32 head, any model dtype)."""
        hidden_states = hidden_states.to(self.summary.weight.dtype)
        return self.summary(self.dropout(hidden_states)).squeeze(-1)


def value_head_for(model: nn.Module, dropout: float = 0.1) -> ValueHead:
    """Lab 3: a fresh value head sized to the model's ``d_model`` (on the model's device)."""
    config = model.config
    hidden = getattr(config, "d_model", None) or config.hidden_size
    device = next(model.parameters()).device
    return ValueHead(hidden, dropout=dropout).to(device)


def trained_adapter_name(model: PeftModel) -> str:
    """Lab 3: name of the adapter PPO trains (the active one; the reference adapter is never it)."""
    name = model.active_adapter
    if isinstance(name, (list, tuple)):
        name = name[0]
    return str(name)


def add_reference_adapter(model: PeftModel, name: str = REFERENCE_ADAPTER, *, source: str | None = None) -> str:
    """Lab 3: freeze a copy of the trained adapter as a second adapter ``name`` on the same base model.

    The copy is the reference policy pi_ref of the KL penalty. ``source`` defaults to the active adapter; it stays
    active and trainable, the new adapter gets ``requires_grad=False``. Calling again with an existing ``name``
    overwrites its weights with the current ones of ``source``. Returns ``name``.
    """
    source = source or trained_adapter_name(model)
    if name == source:
        raise ValueError(f"The reference adapter needs its own name; {name!r} is the trained adapter.")
    if name not in model.peft_config:
        model.add_adapter(name, model.peft_config[source])
    weights = get_peft_model_state_dict(model, adapter_name=source, save_embedding_layers=False)
    result = set_peft_model_state_dict(model, weights, adapter_name=name)
    missing = [k for k in result.missing_keys if f".{name}." in k or k.endswith(f".{name}")]
    if missing:
        raise RuntimeError(f"Reference adapter copy left weights unset: {missing[:3]}")
    model.set_adapter(source)  # source trainable, every other adapter frozen
    for param in adapter_parameters(model, name).values():
        param.requires_grad_(False)
    return name


def adapter_parameters(model: PeftModel, adapter_name: str) -> dict[str, nn.Parameter]:
    """Lab 3: the parameters of one named adapter: its LoRA matrices (``...lora_A.<name>.weight`` etc.) and its
    fully trained module copies (``...modules_to_save.<name>.weight``, e.g. the tiny profile's layer norms)."""
    tag = f".{adapter_name}."
    return {n: p for n, p in model.named_parameters() if tag in n and ("lora_" in n or "modules_to_save" in n)}


@contextmanager
def use_adapter(model: PeftModel, adapter_name: str) -> Iterator[PeftModel]:
    """Lab 3: run the block under another adapter (frozen), then restore the previous one as trainable.

    Used for reference log-probs: ``with torch.no_grad(), use_adapter(model, "reference"): model(...)``.
    """
    previous = trained_adapter_name(model)
    model.set_adapter(adapter_name, inference_mode=True)
    try:
        yield model
    finally:
        model.set_adapter(previous)
        if adapter_name != previous:
            for param in adapter_parameters(model, adapter_name).values():
                param.requires_grad_(False)


def _bytes(params: dict[str, nn.Parameter] | list[nn.Parameter]) -> int:
    values = params.values() if isinstance(params, dict) else params
    return sum(p.numel() * p.element_size() for p in values)


def reference_memory_savings(model: PeftModel, reference_adapter: str = REFERENCE_ADAPTER) -> dict[str, float]:
    """Lab 3: memory of the reference policy as an extra adapter vs a full frozen copy of the policy model.

    ``full_copy_bytes`` counts every parameter except the reference adapter (what ``copy.deepcopy(policy)``
    would add), ``adapter_bytes`` the reference adapter itself; ``saved_bytes`` and ``ratio`` compare them.
    """
    ref = adapter_parameters(model, reference_adapter)
    ref_ids = {id(p) for p in ref.values()}
    full = [p for p in model.parameters() if id(p) not in ref_ids]
    full_bytes, adapter_bytes = _bytes(full), _bytes(ref)
    return {
        "full_copy_bytes": float(full_bytes),
        "adapter_bytes": float(adapter_bytes),
        "saved_bytes": float(full_bytes - adapter_bytes),
        "ratio": full_bytes / max(adapter_bytes, 1),
        "full_copy_mb": full_bytes / 2**20,
        "adapter_mb": adapter_bytes / 2**20,
    }


def trainable_parameter_breakdown(model: PeftModel, value_head: nn.Module) -> dict[str, float]:
    """Lab 3: trainable parameters of the PPO policy by kind, their total, and their share of all weights.

    ``lora``: the low-rank A/B matrices; ``modules_to_save``: whole modules peft trains as full copies beside the
    adapter (the tiny profile's layer norms; 0 in the course profile); ``value_head``: the PPO value head.
    Any other trainable model parameter is reported as ``other`` (only when there is one).
    """
    kinds = {"lora": 0, "modules_to_save": 0, "other": 0}
    for name, param in model.named_parameters():
        if param.requires_grad:
            kind = "lora" if "lora_" in name else "modules_to_save" if "modules_to_save" in name else "other"
            kinds[kind] += param.numel()
    head = sum(p.numel() for p in value_head.parameters() if p.requires_grad)
    trainable = sum(kinds.values()) + head
    every = sum(p.numel() for p in model.parameters()) + sum(p.numel() for p in value_head.parameters())
    counts = {"lora": float(kinds["lora"]), "modules_to_save": float(kinds["modules_to_save"])}
    if kinds["other"]:
        counts["other"] = float(kinds["other"])
    return {
        **counts,
        "value_head": float(head),
        "total": float(trainable),
        "all_parameters": float(every),
        "trainable_percent": 100.0 * trainable / max(every, 1),
    }
