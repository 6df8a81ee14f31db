"""Lab 3, RLHF with PPO to detoxify the summarizer: what the notebook ``labs/03_rlhf_ppo.ipynb`` calls.

``detox`` holds the lab's experiment (prompts, the reward model and reward, the policy from Lab 2's LoRA adapter,
toxicity measured before and after with a paired interval, the ROUGE price); ``ppo`` the PPO trainer for
encoder-decoder policies; ``value_head`` the value head and the reference adapter; ``figures`` the key figures.
"""

from genai_labs.lab3.detox import (
    classifier_demo,
    measure_toxicity,
    prompt_sets,
    quality_price,
    reward_function,
    reward_gain_table,
    reward_model_for,
    starting_policy,
    toxicity_change,
)
from genai_labs.lab3.figures import record
from genai_labs.lab3.ppo import Seq2SeqPPO
from genai_labs.lab3.value_head import reference_memory_savings, trainable_parameter_breakdown

__all__ = [
    "Seq2SeqPPO",
    "classifier_demo",
    "measure_toxicity",
    "prompt_sets",
    "quality_price",
    "record",
    "reference_memory_savings",
    "reward_function",
    "reward_gain_table",
    "reward_model_for",
    "starting_policy",
    "toxicity_change",
    "trainable_parameter_breakdown",
]
