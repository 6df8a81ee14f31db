"""Lab 1, prompting and generation parameters: what the notebook ``labs/01_prompting.ipynb`` calls.

``prompt_study`` holds the lab's experiments (prompt styles side by side, ROUGE per style, generation settings,
diversity by temperature), ``sampling`` the next-token transforms of temperature, top-k and top-p, ``figures`` the
lab's key figures. The shared pieces it builds on (``prompts``, ``generation``, ``metrics``) live one level up.
"""

from genai_labs.lab1.figures import record
from genai_labs.lab1.prompt_study import (
    StyleShots,
    diversity_by_temperature,
    most_uncertain_step,
    next_token_logits,
    settings_table,
    shots_from,
    side_by_side,
    style_predictions,
    style_prompts,
    style_rouge,
)
from genai_labs.lab1.sampling import plot_next_token_distributions, sampling_distribution
from genai_labs.prompts import STYLES

__all__ = [
    "STYLES",
    "StyleShots",
    "diversity_by_temperature",
    "most_uncertain_step",
    "next_token_logits",
    "plot_next_token_distributions",
    "record",
    "sampling_distribution",
    "settings_table",
    "shots_from",
    "side_by_side",
    "style_predictions",
    "style_prompts",
    "style_rouge",
]
