"""Lab 1, prompting and generation parameters: what the notebook ``labs/01_prompting.ipynb`` calls.

``prompt_study`` holds the lab's experiments (prompt styles side by side, ROUGE per style and the paired comparisons,
the forms the answers take, generation settings, the sampling study by temperature), ``sampling`` the next-token
transforms of temperature, top-k and top-p, ``figures`` the lab's key figures. The shared pieces it builds on
(``prompts``, ``generation``, ``metrics``) live one level up.
"""

from genai_labs.lab1.figures import record
from genai_labs.lab1.prompt_study import (
    StyleShots,
    answer_forms,
    most_uncertain_step,
    next_token_logits,
    one_shot_forms,
    sampling_dialogues,
    sampling_study,
    settings_table,
    shot_in_every_form,
    shots_from,
    side_by_side,
    style_comparisons,
    style_predictions,
    style_prompts,
    style_rouge,
)
from genai_labs.lab1.sampling import plot_next_token_distributions, sampling_distribution
from genai_labs.prompts import STYLES
from genai_labs.world.well_formed import world_grammar_applies  # the notebook asks it; one copy, in the world

__all__ = [
    "STYLES",
    "StyleShots",
    "answer_forms",
    "most_uncertain_step",
    "next_token_logits",
    "one_shot_forms",
    "plot_next_token_distributions",
    "record",
    "sampling_dialogues",
    "sampling_distribution",
    "sampling_study",
    "settings_table",
    "shot_in_every_form",
    "shots_from",
    "side_by_side",
    "style_comparisons",
    "style_predictions",
    "style_prompts",
    "style_rouge",
    "world_grammar_applies",
]
