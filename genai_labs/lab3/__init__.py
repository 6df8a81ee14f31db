"""Lab 3, RLHF with PPO to detoxify the summarizer: what the notebook ``labs/03_rlhf_ppo.ipynb`` calls.

``reward_model`` holds the reward (a reward model trained on preference pairs with trl's ``RewardTrainer`` in the
tiny profile, the course's classifier logit otherwise) and the toxicity judge (another classifier in the tiny
profile; in ``course`` the reward's own classifier); ``detox`` the lab's experiment (prompts, the policy from Lab 2's
LoRA adapter, each policy measured: judge toxicity with a paired interval, reward, well-formed share, the ROUGE price;
the no-KL comparison; PPO runs cached under a key of their settings); ``ppo`` the PPO trainer for encoder-decoder
policies (rollout, update, and the math they call); ``dpo`` Direct Preference Optimization on the same preference
pairs (the loss for encoder-decoder policies, its ``Trainer``, the side-by-side table); ``value_head`` the value head
and the reference adapter; ``figures`` the key figures.
"""

from genai_labs.evaluate_modules import rouge_module_path, toxicity_module_path
from genai_labs.lab3.detox import (
    CachedPPORun,
    PolicyEvaluation,
    ToxicityReport,
    cached_ppo_run,
    comparison_table,
    evaluate_policy,
    measure_toxicity,
    no_kl_config,
    prompt_sets,
    quality_price,
    reward_gain_table,
    sample_indices,
    sample_table,
    starting_policy,
    toxicity_change,
)
from genai_labs.lab3.dpo import (
    DPOCollator,
    DPOResult,
    Seq2SeqDPOTrainer,
    dpo_dataset,
    dpo_loss,
    dpo_skip_reason,
    dpo_train_set,
    implicit_reward,
    implicit_reward_accuracy,
    measure_dpo,
    ppo_policy,
    side_by_side,
)
from genai_labs.lab3.figures import record
from genai_labs.lab3.ppo import Seq2SeqPPO
from genai_labs.lab3.reward_model import (
    Judge,
    Reward,
    classifier_reward,
    fresh_reward_model,
    judge_for,
    preference_pairs,
    preference_reward,
    reward_example_texts,
)
from genai_labs.lab3.value_head import reference_memory_savings, trainable_parameter_breakdown

__all__ = [
    "CachedPPORun",
    "DPOCollator",
    "DPOResult",
    "Judge",
    "PolicyEvaluation",
    "Reward",
    "Seq2SeqDPOTrainer",
    "Seq2SeqPPO",
    "ToxicityReport",
    "cached_ppo_run",
    "classifier_reward",
    "comparison_table",
    "dpo_dataset",
    "dpo_loss",
    "dpo_skip_reason",
    "dpo_train_set",
    "evaluate_policy",
    "fresh_reward_model",
    "implicit_reward",
    "implicit_reward_accuracy",
    "judge_for",
    "measure_dpo",
    "measure_toxicity",
    "no_kl_config",
    "ppo_policy",
    "preference_pairs",
    "preference_reward",
    "prompt_sets",
    "quality_price",
    "record",
    "reference_memory_savings",
    "reward_example_texts",
    "reward_gain_table",
    "rouge_module_path",
    "sample_indices",
    "sample_table",
    "side_by_side",
    "starting_policy",
    "toxicity_change",
    "toxicity_module_path",
    "trainable_parameter_breakdown",
]
