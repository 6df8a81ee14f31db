"""Lab 3's key figures for ``figures.json``: toxicity before and after PPO with its interval, ROUGE, KL (instructor runs)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from genai_labs.core.run_figures import record_figures
from genai_labs.lab3.detox import RewardModel


def record(change: dict[str, float], quality: pd.DataFrame, history: pd.DataFrame, reward: RewardModel) -> None:
    """Record Lab 3's figures (``lab3.*`` in the README's schema); prints nothing. Outside ``genai-labs run`` nothing
    is written.

    ``change`` is :func:`~genai_labs.lab3.detox.toxicity_change`, ``quality`` :func:`~genai_labs.lab3.detox.quality_price`,
    ``history`` the PPO trainer's per-step table and ``reward`` the reward model used.
    """
    record_figures("lab3", lab3_figures(change, quality, history, reward))


def lab3_figures(change: dict[str, float], quality: pd.DataFrame, history: pd.DataFrame, reward: RewardModel) -> dict[str, Any]:
    """The figures :func:`record` saves."""
    return {
        "toxicity_mean": {"before": change["before"], "after": change["after"]},
        "toxicity_change_ci": [change["ci_low"], change["ci_high"]],
        "toxicity_relative_change": change["relative_change"],
        "rouge1": {"before": float(quality.loc["reference", "rouge1"]), "after": float(quality.loc["ppo", "rouge1"])},
        "kl_final": float(history["kl_ref"].iloc[-1]),
        "ppo_steps": len(history),
        "reward_model_accuracy": reward.held_out_accuracy,
    }
