"""The labs' matplotlib figures that take more than one line (Labs 1-3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display


def plot_means_with_ci(
    table: pd.DataFrame, *, metric: str = "rouge1", label: str = "system", ax: Any = None, title: str = ""
) -> Any:
    """Horizontal bars of ``mean`` with ``[ci_low, ci_high]`` error bars for one metric of a ``rouge_table``."""
    rows = table[table["metric"] == metric] if "metric" in table else table
    ax = ax or plt.subplots(figsize=(6, 0.45 * len(rows) + 1))[1]
    errors = [rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]]
    ax.barh(rows[label].astype(str), rows["mean"], xerr=errors, capsize=4, color="tab:blue", alpha=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (mean, 95% CI)")
    ax.set_title(title or f"{metric} with 95% bootstrap confidence intervals")
    return ax


def plot_curves(history: pd.DataFrame, columns: Sequence[str], *, x: str = "step", axes: Any = None, title: str = "") -> Any:
    """One small panel per column of a training history (PPO statistics, losses)."""
    if axes is None:
        _, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 2.8), squeeze=False)
        axes = axes[0]
    for ax, column in zip(axes, columns):
        ax.plot(history[x], history[column], marker=".")
        ax.set_title(column)
        ax.set_xlabel(x)
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


class LivePlot:
    """A figure that redraws as training goes in a notebook (Lab 3's PPO curves).

    Call it as a step callback ``live(stats, trainer)``; ``extra`` maps a column name to a function of the
    trainer that supplies more per-step values (e.g. the batch's mean toxicity). It redraws every ``every`` steps
    (a redraw costs about a second on a small CPU) and whenever :meth:`show` is called.
    """

    def __init__(self, columns: Sequence[str], *, extra: dict[str, Any] | None = None, title: str = "", every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every must be 1 or more steps between redraws, got {every}.")
        self.every = every
        self.columns = list(columns)
        self.extra = dict(extra or {})
        self.rows: list[dict[str, float]] = []
        self.title = title
        self.figure, axes = plt.subplots(1, len(self.columns), figsize=(3.6 * len(self.columns), 2.8), squeeze=False)
        self.axes = axes[0]
        self._handle = None
        plt.close(self.figure)  # shown through display(), not by the inline backend at cell end

    def __call__(self, stats: dict[str, float], trainer: Any = None) -> bool:
        row = {"step": len(self.rows) + 1, **stats}
        row.update({name: float(supplier(trainer)) for name, supplier in self.extra.items()})
        self.rows.append(row)
        if len(self.rows) % self.every == 0:
            self.show()
        return False

    def show(self) -> None:
        """Redraw the curves of every step so far."""
        history = pd.DataFrame(self.rows)
        for ax in self.axes:
            ax.clear()
        plot_curves(history, self.columns, axes=self.axes, title=self.title)
        if self._handle is None:
            self._handle = display(self.figure, display_id=True)
        else:
            self._handle.update(self.figure)
