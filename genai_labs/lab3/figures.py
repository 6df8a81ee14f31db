"""Lab 3's key figures for ``figures.json``: the reward model, the judge's toxicity before and after PPO with its
interval, ROUGE, KL, the well-formed shares, the run without the KL penalty and DPO beside them (instructor runs)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from genai_labs.core.run_figures import record_figures
from genai_labs.lab3.detox import PolicyEvaluation
from genai_labs.lab3.dpo import DPOResult
from genai_labs.lab3.reward_model import Judge, Reward


def record(
    change: dict[str, float],
    quality: pd.DataFrame,
    history: pd.DataFrame,
    reward: Reward,
    judge: Judge,
    *,
    start: PolicyEvaluation,
    after: PolicyEvaluation,
    no_kl: tuple[PolicyEvaluation, pd.DataFrame],
    dpo: DPOResult | None = None,
) -> None:
    """Record Lab 3's figures (``lab3.*`` in the README's schema); prints nothing. Outside ``genai-labs run`` nothing
    is written.

    ``change`` is :func:`~genai_labs.lab3.detox.toxicity_change`, ``quality`` :func:`~genai_labs.lab3.detox.quality_price`,
    ``history`` the PPO trainer's per-step table, ``reward`` and ``judge`` the lab's reward and judge, ``start`` and
    ``after`` the policy's evaluations before and after PPO, ``no_kl`` the evaluation and history of the run without
    the KL penalty, ``dpo`` the DPO run (:func:`~genai_labs.lab3.dpo.measure_dpo`; None where the profile skips it).
    """
    record_figures("lab3", lab3_figures(change, quality, history, reward, judge, start=start, after=after, no_kl=no_kl, dpo=dpo))


def lab3_figures(
    change: dict[str, float],
    quality: pd.DataFrame,
    history: pd.DataFrame,
    reward: Reward,
    judge: Judge,
    *,
    start: PolicyEvaluation,
    after: PolicyEvaluation,
    no_kl: tuple[PolicyEvaluation, pd.DataFrame],
    dpo: DPOResult | None = None,
) -> dict[str, Any]:
    """The figures :func:`record` saves."""
    no_kl_eval, no_kl_history = no_kl
    figures: dict[str, Any] = {
        "toxicity_mean": {"before": change["before"], "after": change["after"]},
        "toxicity_change_ci": [change["ci_low"], change["ci_high"]],
        "toxicity_relative_change": change["relative_change"],
        "rouge1": {"before": float(quality.loc["reference", "rouge1"]), "after": float(quality.loc["ppo", "rouge1"])},
        "kl_final": float(history["kl_ref"].iloc[-1]),
        "ppo_steps": len(history),
        "reward_model_pair_accuracy": reward.pair_accuracy,
        "judge_accuracy": judge.held_out_accuracy,
        "well_formed": {"before": start.well_formed, "after": after.well_formed},
        "no_kl": {
            "kl_final": float(no_kl_history["kl_ref"].iloc[-1]),
            "rouge1": no_kl_eval.rouge1,
            "toxicity_mean": float(no_kl_eval.toxicity.probabilities.mean()),
        },
        "facts": {
            name: {"precision": evaluation.facts.precision}
            for name, evaluation in {"before": start, "after": after, "no_kl": no_kl_eval}.items()
        },
    }
    if dpo is not None:
        figures["dpo"] = dpo_figures(dpo)
    return figures


def dpo_figures(dpo: DPOResult) -> dict[str, Any]:
    """``lab3.dpo``: the judge's toxicity before and after DPO with the paired change's 95% CI, the reward model's mean
    score, the per-token KL to the reference from the samples, ROUGE-1, the well-formed share, the implicit-reward
    accuracy on the held-out pairs and the training's wall time."""
    return {
        "toxicity_before": dpo.change["before"],
        "toxicity_after": dpo.change["after"],
        "change_ci_low": dpo.change["ci_low"],
        "change_ci_high": dpo.change["ci_high"],
        "reward_mean": float(dpo.evaluation.rewards.mean()),
        "kl": dpo.run.kl,
        "rouge1": dpo.evaluation.rouge1,
        "well_formed": dpo.evaluation.well_formed,
        "pair_accuracy": dpo.pair_accuracy,
        "train_seconds": dpo.run.train_seconds,
        "fact_precision": dpo.evaluation.facts.precision,
    }
