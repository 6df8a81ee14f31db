"""The one hand-written training loop: AdamW, linear warm-up then linear decay, gradient clipping.

Used where the transformers ``Trainer`` would be more machinery than the job needs: the tiny world's pre-training
(``world.pretraining``) and the small toxicity classifier (``toxicity_classifier``; the world build and Lab 3's
reward model). Lab 2 trains with the ``Trainer`` itself, since that is what the lab teaches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm


@dataclass(frozen=True)
class LoopSettings:
    """Optimizer and schedule of :func:`train_steps`."""

    steps: int
    learning_rate: float
    warmup_steps: int  # the learning rate grows linearly over these steps, then decays linearly
    final_lr_fraction: float = 0.0  # the learning rate at the last step, as a share of the peak
    weight_decay: float = 0.0
    decay_vectors: bool = True  # False: 1-D weights (biases, norms) get no weight decay
    max_grad_norm: float = 1.0


def lr_factor(step: int, settings: LoopSettings) -> float:
    """The learning rate at ``step`` as a share of the peak: ``(step + 1) / warmup`` during the warm-up, then a
    straight line down to ``final_lr_fraction`` at the last step."""
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    span = max(1, settings.steps - settings.warmup_steps)
    if settings.final_lr_fraction == 0.0:
        # the same line as below for a final fraction of 0, written the way the classifier's recipe always computed
        # it: the two forms differ in the last bit, and the trained weights (and every figure) with them
        return max(0.0, (settings.steps - step) / span)
    return 1.0 - (1.0 - settings.final_lr_fraction) * min(1.0, (step - settings.warmup_steps) / span)


def parameter_groups(model: torch.nn.Module, settings: LoopSettings) -> list[dict[str, Any]]:
    """AdamW's parameter groups: every weight decayed, or (``decay_vectors=False``) the 1-D ones left out."""
    if settings.decay_vectors:
        return [{"params": list(model.parameters()), "weight_decay": settings.weight_decay}]
    return [
        {"params": [p for p in model.parameters() if p.ndim >= 2], "weight_decay": settings.weight_decay},
        {"params": [p for p in model.parameters() if p.ndim < 2], "weight_decay": 0.0},
    ]


def optimizer_step(
    model: torch.nn.Module,
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    max_grad_norm: float,
) -> float:
    """One update: backward, clip the gradient norm, step the optimizer and the schedule, clear the gradients.
    Returns the loss (this loop and the world's resumable pre-training, ``world.pretraining``)."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def train_steps(
    model: torch.nn.Module,
    step_loss: Callable[[int], torch.Tensor],
    settings: LoopSettings,
    *,
    description: str,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` in place for ``settings.steps`` steps; ``step_loss(step)`` returns the loss of that step's batch.

    Returns the loss of every step. The model is in training mode during the loop and in eval mode afterwards
    (also when a step raises). Deterministic for a seed and a thread count: the caller seeds torch before calling.
    """
    optimizer = torch.optim.AdamW(parameter_groups(model, settings), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, settings))
    losses: list[float] = []
    bar = tqdm(total=settings.steps, desc=description, disable=not progress, leave=False)
    model.train()
    try:
        for step in range(settings.steps):
            losses.append(optimizer_step(model, step_loss(step), optimizer, scheduler, settings.max_grad_norm))
            bar.update(1)
            if len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{sum(losses[-10:]) / 10:.3f}")
    finally:
        bar.close()
        model.eval()
    return losses
