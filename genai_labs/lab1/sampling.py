"""Next-token distribution transforms that match ``transformers`` sampling (Lab 1).

Lab 1 plots how temperature, top-k and top-p reshape the next-token distribution. These pure-torch
functions reproduce ``TemperatureLogitsWarper``, ``TopKLogitsWarper`` and ``TopPLogitsWarper`` exactly
(checked in the tests against ``transformers``' own ``LogitsProcessorList``), in the order
``model.generate`` applies them: temperature, then top-k, then top-p.

As in ``generate``: ``temperature == 1.0``, ``top_k == 0`` and ``top_p == 1.0`` switch a transform off;
top-k keeps every token tied with the k-th largest logit; top-p keeps the most likely tokens until their
probability reaches ``top_p``, and always at least ``min_tokens_to_keep`` tokens. Filtered tokens get the
logit ``-inf`` (probability 0). Logits may be 1-D ``(vocab,)`` or batched ``(batch, vocab)``; transforms
act on the last dimension and return new tensors.

Note: ``generate`` uses ``top_k=50`` when a config leaves ``top_k`` unset; here every transform is off
unless asked for, so pass ``top_k=50`` to mirror such a config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes

FILTER_VALUE = -float("inf")


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or logits.dim() not in (1, 2):
        raise ValueError(
            "logits must be a torch.Tensor of shape (vocab,) or (batch, vocab); "
            f"got {type(logits).__name__} with shape {tuple(getattr(logits, 'shape', ()))}."
        )


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits by ``temperature`` (> 0), like ``TemperatureLogitsWarper`` (Lab 1)."""
    _check_logits(logits)
    if not temperature > 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature}. For greedy decoding use do_sample=False instead of temperature=0."
        )
    if temperature == 1.0:
        return logits.clone()
    return logits / float(temperature)


def top_k_mask(logits: torch.Tensor, k: int, *, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Keep the ``k`` largest logits (ties with the k-th value kept), others set to ``-inf`` (Lab 1).

    ``k=0`` switches top-k off (returns a copy). Same rule as ``TopKLogitsWarper``: a token is removed
    when its logit is strictly smaller than the k-th largest logit.
    """
    _check_logits(logits)
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {k!r}.")
    if k == 0:
        return logits.clone()
    k = min(max(k, min_tokens_to_keep), logits.size(-1))
    kth_value = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_value, FILTER_VALUE)


def top_p_mask(logits: torch.Tensor, p: float, *, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filtering like ``TopPLogitsWarper``: others set to ``-inf`` (Lab 1).

    Tokens are sorted by ascending probability; those whose cumulative probability is ``<= 1 - p`` are
    removed, and the ``min_tokens_to_keep`` most likely tokens are always kept. ``p=1.0`` keeps everything
    (``generate`` does not add the warper then).
    """
    _check_logits(logits)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}. Use top_p=1.0 to switch nucleus sampling off.")
    if min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be >= 1, got {min_tokens_to_keep}.")
    if p >= 1.0:
        return logits.clone()
    scores = logits.unsqueeze(0) if logits.dim() == 1 else logits
    sorted_logits, sorted_indices = torch.sort(scores, descending=False, dim=-1)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_remove = cumulative <= (1 - p)
    sorted_remove[..., -min_tokens_to_keep:] = False
    remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
    filtered = scores.masked_fill(remove, FILTER_VALUE)
    return filtered.squeeze(0) if logits.dim() == 1 else filtered


def filter_logits(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    min_tokens_to_keep: int = 1,
) -> torch.Tensor:
    """Temperature, then top-k, then top-p, as ``generate`` applies them when sampling (Lab 1)."""
    scores = apply_temperature(logits, temperature)
    scores = top_k_mask(scores, top_k, min_tokens_to_keep=min_tokens_to_keep)
    return top_p_mask(scores, top_p, min_tokens_to_keep=min_tokens_to_keep)


def sampling_distribution(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    *,
    min_tokens_to_keep: int = 1,
) -> torch.Tensor:
    """The probabilities ``generate(do_sample=True, ...)`` samples the next token from (Lab 1).

    Computed in float32 (or the logits' wider float type); filtered tokens have probability 0.
    """
    if logits.is_floating_point() and logits.dtype != torch.float64:
        logits = logits.float()
    scores = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p, min_tokens_to_keep=min_tokens_to_keep)
    return scores.softmax(dim=-1)


def _setting_label(setting: Mapping[str, Any]) -> str:
    if "label" in setting:
        return str(setting["label"])
    parts = [f"{key}={setting[key]}" for key in ("temperature", "top_k", "top_p") if key in setting]
    return ", ".join(parts) or "unchanged"


def plot_next_token_distributions(
    tokenizer: Any,
    logits: torch.Tensor,
    settings: Sequence[Mapping[str, Any]],
    top: int = 15,
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars of the next-token probabilities under several sampling settings (Lab 1).

    ``logits`` is one next-token logits vector ``(vocab,)``; each setting is a dict with optional
    ``temperature``, ``top_k``, ``top_p`` and ``label``. The x axis shows the ``top`` most likely tokens
    of the unmodified distribution, decoded with ``tokenizer``; returns the matplotlib ``Axes``.
    """
    if logits.dim() != 1:
        raise ValueError(f"plot_next_token_distributions needs one logits vector (vocab,), got {tuple(logits.shape)}.")
    if not settings:
        raise ValueError("settings is empty: pass at least one dict such as {'temperature': 1.0}.")
    allowed = {"temperature", "top_k", "top_p", "label"}
    for i, setting in enumerate(settings):
        unknown = set(setting) - allowed
        if unknown:
            raise ValueError(f"settings[{i}] has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}.")
    top = min(top, logits.numel())
    order = torch.topk(logits.float(), top).indices
    names = [repr(tokenizer.decode([int(i)])) for i in order]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.6 * top), 3.5))
    width = 0.8 / len(settings)
    positions = torch.arange(top, dtype=torch.float32)
    for j, setting in enumerate(settings):
        probs = sampling_distribution(
            logits,
            temperature=float(setting.get("temperature", 1.0)),
            top_k=int(setting.get("top_k", 0)),
            top_p=float(setting.get("top_p", 1.0)),
        )[order]
        offsets = positions + j * width - 0.4 + width / 2
        ax.bar(offsets.tolist(), probs.tolist(), width=width, label=_setting_label(setting))
    ax.set_xticks(positions.tolist())
    ax.set_xticklabels(names, rotation=60, ha="right")
    ax.set_ylabel("probability")
    ax.set_title(f"Next-token distribution (top {top} tokens)")
    ax.legend(fontsize="small")
    return ax
