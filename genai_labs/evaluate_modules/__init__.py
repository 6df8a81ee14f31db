"""``evaluate`` modules of the package's own metrics, loadable offline: ``evaluate.load(rouge_module_path())`` (all labs).

``evaluate.load("rouge")`` and ``evaluate.load("toxicity", ...)`` fetch their scripts from the Hugging Face hub, so
they fail offline, and the course's notebooks used both. Each folder here holds one module script, a thin wrapper
that delegates to :mod:`genai_labs.metrics` (one copy of the logic):

* ``rouge/rouge.py``: ``Rouge``, an ``evaluate.Metric``: ROUGE F-measures with ``rouge_score``, one or several
  references per prediction (the best reference per metric), aggregated as the plain mean
  (:func:`~genai_labs.metrics.rouge_scores`);
* ``toxicity/toxicity.py``: ``Toxicity``, an ``evaluate.Measurement``: the softmax probability of the toxic label,
  found by name (:func:`~genai_labs.metrics.toxicity_probabilities`), with ``evaluate``'s toxicity aggregates.

``evaluate.load(path)`` of a local folder copies the script into its modules cache (``HF_MODULES_CACHE``) and imports
it from there; the script's ``from genai_labs.metrics import ...`` then imports this installed package. The folders
are subpackages, so they ship with the package.
"""

from __future__ import annotations

from pathlib import Path

MODULES_DIR = Path(__file__).resolve().parent


def rouge_module_path() -> str:
    """The folder of the package's ROUGE metric: ``evaluate.load(rouge_module_path())`` (all labs)."""
    return str(MODULES_DIR / "rouge")


def toxicity_module_path() -> str:
    """The folder of the package's toxicity measurement:
    ``evaluate.load(toxicity_module_path(), module_type="measurement", model=..., tokenizer=...)`` (Lab 3)."""
    return str(MODULES_DIR / "toxicity")


__all__ = ["MODULES_DIR", "rouge_module_path", "toxicity_module_path"]
