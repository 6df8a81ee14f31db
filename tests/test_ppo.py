"""Tests for Lab 3's seq2seq PPO (genai_labs.lab3.ppo, genai_labs.lab3.value_head) on a tiny random T5 + LoRA."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from test_atomic_io import not_published, private_umask
from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

from genai_labs.core.profiles import PPOConfig, load_profile
from genai_labs.core.validation import ConfigError
from genai_labs.generation import PromptTooLongError
from genai_labs.lab3.detox import cached_ppo_run
from genai_labs.lab3.ppo import (
    AdaptiveKLController,
    FixedKLController,
    Rollout,
    Seq2SeqPPO,
    approx_kl,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    kl_controller_from_config,
    kl_penalty_rewards,
    policy_forward,
    response_mask_from_ids,
    sample_response_lengths,
    sampling_logits,
    whiten,
)
from genai_labs.lab3.reward_model import Reward
from genai_labs.lab3.value_head import (
    REFERENCE_ADAPTER,
    adapter_parameters,
    reference_memory_savings,
    trainable_parameter_breakdown,
    use_adapter,
)

WORDS = [f"w{i}" for i in range(61)]
VOCAB_SIZE = 3 + len(WORDS)  # <pad>, </s>, <unk> and the words (the word_tokenizer fixture)
GOOD_WORDS = {f"w{i}" for i in range(20)}  # the toy reward: share of response words from this set
PROMPTS = [" ".join(WORDS[(3 * i + j) % len(WORDS)] for j in range(6)) for i in range(64)]

TOY_CONFIG = PPOConfig(
    learning_rate=1e-2,
    batch_size=16,
    mini_batch_size=4,
    ppo_epochs=2,
    init_kl_coef=0.05,
    target_kl=1.0,
    min_new_tokens=2,
    response_length_min=4,
    response_length_max=8,
    value_head_dropout=0.0,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer(word_tokenizer) -> PreTrainedTokenizerFast:
    return word_tokenizer(WORDS)


def tiny_policy(
    seed: int = 0, lora_dropout: float = 0.0, dropout_rate: float = 0.0, modules_to_save: list[str] | None = None
) -> PeftModel:
    """A random 1+1-layer T5 (d_model 32, vocab 64) with LoRA on q, v, o."""
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=VOCAB_SIZE,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        dropout_rate=dropout_rate,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    lora = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q", "v", "o"], lora_dropout=lora_dropout, modules_to_save=modules_to_save
    )
    with warnings.catch_warnings():  # peft probes a deprecated transformers property
        warnings.simplefilter("ignore")
        return get_peft_model(T5ForConditionalGeneration(config), lora)


def toy_reward(prompts: list[str], responses: list[str]) -> torch.Tensor:
    """Share of response words from GOOD_WORDS (0 for an empty response)."""
    return torch.tensor([sum(w in GOOD_WORDS for w in r.split()) / max(len(r.split()), 1) for r in responses])


def adapter_state(model: PeftModel, name: str = "default") -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in adapter_parameters(model, name).items()}


# ---------------------------------------------------------------------------------------------------------------
# pure math
# ---------------------------------------------------------------------------------------------------------------


def test_compute_gae_matches_hand_worked_example() -> None:
    # Row 0: 3 tokens, gamma=1, lam=0.95, rewards (0, 0, 1), values (0.5, 0.6, 0.7)
    #   t=2: delta = 1 + 0 - 0.7 = 0.3                 A2 = 0.3
    #   t=1: delta = 0 + 0.7 - 0.6 = 0.1               A1 = 0.1 + 0.95 * 0.3   = 0.385
    #   t=0: delta = 0 + 0.6 - 0.5 = 0.1               A0 = 0.1 + 0.95 * 0.385 = 0.46575
    # Row 1: last position is padding (its reward/value 9 must be ignored), rewards (0, 2), values (1, 0.5)
    #   t=1: delta = 2 + 0 - 0.5 = 1.5                 A1 = 1.5
    #   t=0: delta = 0 + 0.5 - 1 = -0.5                A0 = -0.5 + 0.95 * 1.5 = 0.925
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 9.0]])
    values = torch.tensor([[0.5, 0.6, 0.7], [1.0, 0.5, 9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    advantages, returns = compute_gae(rewards, values, mask, gamma=1.0, lam=0.95)
    torch.testing.assert_close(advantages, torch.tensor([[0.46575, 0.385, 0.3], [0.925, 1.5, 0.0]]))
    torch.testing.assert_close(returns, torch.tensor([[0.96575, 0.985, 1.0], [1.925, 2.0, 0.0]]))


def test_compute_gae_discounting() -> None:
    # gamma=0.5, lam=1: A_t = sum_k gamma^k r_{t+k} - V_t (Monte Carlo advantage); V = 0 -> discounted returns
    rewards = torch.tensor([[1.0, 0.0, 4.0]])
    advantages, returns = compute_gae(rewards, torch.zeros(1, 3), torch.ones(1, 3), gamma=0.5, lam=1.0)
    torch.testing.assert_close(advantages, torch.tensor([[1.0 + 0.25 * 4.0, 2.0, 4.0]]))
    torch.testing.assert_close(returns, advantages)


def test_kl_penalty_rewards_puts_score_on_last_real_token() -> None:
    logprobs = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -2.0, -2.0], [-1.0, -3.0, -5.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    rewards, kl = kl_penalty_rewards(logprobs, ref, torch.tensor([10.0, 20.0]), mask, beta=0.1)
    torch.testing.assert_close(kl, torch.tensor([[0.5, 0.0, -1.0], [0.0, 2.0, 0.0]]))
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.0, 10.1], [0.0, 19.8, 0.0]]))


def test_whiten_is_masked() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, -50.0, 7.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    out = whiten(x, mask)
    kept = out[mask.bool()]
    assert abs(float(kept.mean())) < 1e-6
    assert math.isclose(float(kept.var(unbiased=True)), 1.0, rel_tol=1e-5)
    assert torch.all(out[~mask.bool()] == 0)
    expected = (torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]) - 3.0) / torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]).std()
    torch.testing.assert_close(kept, expected)


@pytest.mark.parametrize("advantage", [1.0, -1.0])
def test_clipping_engages_exactly_outside_trust_region(advantage: float) -> None:
    eps = 0.2
    ratios = torch.tensor([[0.5, 0.79, 0.9, 1.0, 1.1, 1.21, 1.5]])
    old = torch.zeros_like(ratios)
    logprobs = torch.log(ratios).requires_grad_(True)
    adv = torch.full_like(ratios, advantage)
    mask = torch.ones_like(ratios)
    loss, clipfrac = clipped_policy_loss(logprobs, old, adv, mask, eps)
    loss.backward()
    grad = logprobs.grad[0]
    # A > 0 wants the ratio up: clipped (no gradient) only above 1+eps; A < 0 only below 1-eps.
    clipped = ratios[0] > 1 + eps if advantage > 0 else ratios[0] < 1 - eps
    assert torch.all(grad[clipped] == 0)
    assert torch.all(grad[~clipped] != 0)
    # where it flows, the gradient of -A r / n with respect to log r is -A r / n
    torch.testing.assert_close(grad[~clipped], -advantage * ratios[0][~clipped] / ratios.numel())
    assert math.isclose(float(clipfrac), float(clipped.float().mean()), abs_tol=1e-6)
    unclipped_loss = -(adv * ratios)[0][~clipped].sum() - (adv * ratios.clamp(1 - eps, 1 + eps))[0][clipped].sum()
    assert math.isclose(loss.item(), float(unclipped_loss) / ratios.numel(), rel_tol=1e-6)


def test_clipping_ignores_masked_tokens() -> None:
    logprobs = torch.log(torch.tensor([[1.0, 3.0]]))
    loss, clipfrac = clipped_policy_loss(logprobs, torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([[1, 0]]), 0.2)
    assert float(clipfrac) == 0.0
    assert math.isclose(float(loss), -1.0)


def test_clipped_value_loss() -> None:
    old = torch.zeros(1, 3)
    returns = torch.tensor([[1.0, 1.0, -1.0]])
    values = torch.tensor([[0.1, 0.5, 0.5]], requires_grad=True)
    loss, clipfrac = clipped_value_loss(values, old, returns, torch.ones(1, 3), cliprange_value=0.2)
    # token 0 inside the range: (0.1-1)^2; token 1 clipped to 0.2: (0.2-1)^2 > (0.5-1)^2;
    # token 2 moved away from its return: unclipped (0.5+1)^2 > clipped (0.2+1)^2
    expected = 0.5 * (0.81 + 0.64 + 2.25) / 3
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert math.isclose(float(clipfrac), 1 / 3, rel_tol=1e-6)
    loss.backward()
    assert values.grad[0, 1] == 0 and values.grad[0, 0] != 0 and values.grad[0, 2] != 0


def test_approx_kl() -> None:
    lp = torch.tensor([[0.0, -0.2, 5.0]])
    assert math.isclose(float(approx_kl(lp, torch.zeros(1, 3), torch.tensor([[1, 1, 0]]))), 0.5 * 0.04 / 2, rel_tol=1e-5)


def test_adaptive_kl_controller_moves_beta_towards_target() -> None:
    up = AdaptiveKLController(0.2, target=6.0, horizon=10_000)
    up.update(current=12.0, n_steps=256)  # error clipped to +0.2
    assert math.isclose(up.value, 0.2 * (1 + 0.2 * 256 / 10_000))
    down = AdaptiveKLController(0.2, target=6.0, horizon=10_000)
    down.update(current=5.4, n_steps=256)  # error -0.1
    assert math.isclose(down.value, 0.2 * (1 - 0.1 * 256 / 10_000))
    on_target = AdaptiveKLController(0.2, target=6.0, horizon=10_000)
    on_target.update(current=6.0, n_steps=256)
    assert on_target.value == 0.2
    fixed = FixedKLController(0.3)
    fixed.update(100.0, 256)
    assert fixed.value == 0.3
    assert isinstance(kl_controller_from_config(PPOConfig(adaptive_kl=False)), FixedKLController)
    assert isinstance(kl_controller_from_config(PPOConfig()), AdaptiveKLController)


def test_response_mask_and_length_sampler() -> None:
    ids = torch.tensor([[5, 6, 1, 0, 0], [5, 1, 7, 1, 0], [5, 6, 7, 8, 9]])
    mask = response_mask_from_ids(ids, eos_token_id=1, lengths=torch.tensor([5, 5, 3]))
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]]
    lengths = sample_response_lengths(1000, 4, 8, torch.Generator().manual_seed(0))
    assert set(lengths.tolist()) == {4, 5, 6, 7}


# ---------------------------------------------------------------------------------------------------------------
# model path: value head, reference adapter, rollouts
# ---------------------------------------------------------------------------------------------------------------


def rollout_and_forward(tokenizer: PreTrainedTokenizerFast, temperature: float) -> tuple[torch.Tensor, torch.Tensor, Rollout]:
    """A rollout of the random policy at ``temperature`` and its ``policy_forward`` log-probabilities and logits."""
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, replace(TOY_CONFIG, temperature=temperature), seed=0)
    roll = trainer.rollout(PROMPTS[:4])
    with torch.no_grad():
        logprobs, _, logits = policy_forward(
            trainer.model,
            trainer.value_head,
            roll.input_ids,
            roll.attention_mask,
            roll.decoder_ids,
            roll.response_mask,
            temperature,
        )
    return logprobs, logits, roll


def test_policy_forward_logprobs_are_the_chosen_tokens_log_softmax(tokenizer: PreTrainedTokenizerFast) -> None:
    """At temperature 1 (the course's), trl's selective_log_softmax gives plain log_softmax of the chosen tokens."""
    logprobs, logits, roll = rollout_and_forward(tokenizer, 1.0)
    expected = torch.log_softmax(logits.float(), dim=-1).gather(-1, roll.response_ids.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logprobs, expected)


def test_policy_forward_logprobs_use_the_sampling_temperature(tokenizer: PreTrainedTokenizerFast) -> None:
    """Below 1, the log-probabilities are those of softmax(logits / T), the distribution the rollout sampled from."""
    logprobs, logits, roll = rollout_and_forward(tokenizer, 0.7)
    expected = torch.log_softmax(logits.float() / 0.7, dim=-1).gather(-1, roll.response_ids.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logprobs, expected)
    plain = torch.log_softmax(logits.float(), dim=-1).gather(-1, roll.response_ids.unsqueeze(-1)).squeeze(-1)
    assert not torch.allclose(logprobs, plain)


def test_rollout_entropy_is_that_of_the_sampling_distribution(tokenizer: PreTrainedTokenizerFast) -> None:
    """The step's entropy (trl's entropy_from_logits) is the mean over response tokens of H(softmax(logits / T)), with
    eos banned at the first min_new_tokens positions as the rollout bans it."""
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, replace(TOY_CONFIG, temperature=0.5), seed=0)
    roll = trainer.rollout(PROMPTS[:4])
    _, _, entropy = trainer._score_rollout(roll)
    with torch.no_grad():
        _, _, logits = policy_forward(
            trainer.model, trainer.value_head, roll.input_ids, roll.attention_mask, roll.decoder_ids, roll.response_mask
        )
    banned = logits.float() / 0.5
    banned[:, : roll.min_new_tokens, tokenizer.eos_token_id] = float("-inf")
    log_p = torch.log_softmax(banned, dim=-1)
    per_token = -(log_p.exp() * log_p.nan_to_num(neginf=0.0)).sum(-1)
    assert roll.min_new_tokens == TOY_CONFIG.min_new_tokens > 0
    mask = roll.response_mask.float()
    torch.testing.assert_close(entropy, (per_token * mask).sum() / mask.sum())


def test_temperature_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="temperature"):
        replace(TOY_CONFIG, temperature=0.0)


def test_scored_logprobs_are_those_of_the_rollouts_processed_distribution(
    tokenizer: PreTrainedTokenizerFast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23: PPO optimises the distribution it samples. ``generate``'s scores after all its logits processors
    (eos banned for min_new_tokens, the model's suppressed tokens, temperature) give the same log-probabilities as
    PPO's scoring; plain softmax(logits / T) would not."""
    config = replace(TOY_CONFIG, temperature=0.7, min_new_tokens=3, response_length_min=5, response_length_max=6)
    policy = tiny_policy()
    policy.generation_config.suppress_tokens = [5, 6]
    trainer = Seq2SeqPPO(policy, tokenizer, toy_reward, config, seed=0)
    generate, processed = trainer.model.generate, []

    def recording_generate(**kwargs: object) -> torch.Tensor:
        out = generate(**kwargs, output_scores=True, return_dict_in_generate=True)
        processed.append(torch.stack(out.scores, dim=1))  # (B, steps, V): what the rollout sampled from
        return out.sequences

    monkeypatch.setattr(trainer.model, "generate", recording_generate)
    roll = trainer.rollout(PROMPTS[:16])
    T, mask = roll.response_ids.shape[1], roll.response_mask.bool()
    sampled = torch.log_softmax(processed[0][:, :T].float(), dim=-1).gather(-1, roll.response_ids.unsqueeze(-1)).squeeze(-1)
    assert torch.isinf(processed[0][:, : roll.min_new_tokens, tokenizer.eos_token_id]).all() and roll.min_new_tokens == 3
    assert torch.isinf(processed[0][..., [5, 6]]).all() and not torch.isin(roll.response_ids, torch.tensor([5, 6])).any()
    scored, _, _ = trainer._score_rollout(roll)
    torch.testing.assert_close(scored[mask], sampled[mask], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        _, _, logits = policy_forward(
            trainer.model, trainer.value_head, roll.input_ids, roll.attention_mask, roll.decoder_ids, roll.response_mask
        )
    plain = torch.log_softmax(logits.float() / 0.7, dim=-1).gather(-1, roll.response_ids.unsqueeze(-1)).squeeze(-1)
    assert not torch.allclose(plain[:, :3], scored[:, :3])  # the eos ban matters, so the check is not vacuous
    banned = sampling_logits(logits, 0.7, min_new_tokens=3, eos_token_id=tokenizer.eos_token_id)
    assert torch.isfinite(banned).all() and (banned[:, :3, tokenizer.eos_token_id].exp() == 0).all()


def test_a_policy_whose_generation_config_adds_unscored_processors_is_refused(tokenizer: PreTrainedTokenizerFast) -> None:
    policy = tiny_policy()
    policy.generation_config.no_repeat_ngram_size = 2
    with pytest.raises(ValueError, match=r"generation_config sets no_repeat_ngram_size=2: .* do not score"):
        Seq2SeqPPO(policy, tokenizer, toy_reward, TOY_CONFIG, seed=0)


@pytest.mark.parametrize(("setting", "value"), [("top_k", 50), ("top_p", 0.9)])
def test_sampling_cuts_ppo_would_not_score_are_refused(setting: str, value: float) -> None:
    """A top-k or top-p cut changes what the rollout samples but not what PPO scores: refused, naming the field and
    the fix."""
    with pytest.raises(ConfigError, match=rf"lab3\.ppo\.{setting} .* is {value}; it must be .*off.*temperature"):
        replace(TOY_CONFIG, **{setting: value})


def test_ppo_takes_the_profiles_one_seed() -> None:
    """Issue 23: no PPOConfig.seed beside Profile.seed; the trainer is given the profile's."""
    assert not hasattr(PPOConfig(), "seed")
    with pytest.raises(ConfigError, match="seed"):
        load_profile("tiny", env={}, lab3__ppo__seed=1)


def test_value_head_and_logprob_shapes(tokenizer: PreTrainedTokenizerFast) -> None:
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, TOY_CONFIG, seed=0)
    roll = trainer.rollout(PROMPTS[:5])
    B, T = roll.response_mask.shape
    assert roll.decoder_ids.shape == (B, T + 1) and B == 5
    assert torch.all(roll.decoder_ids[:, 0] == 0)  # decoder start token kept only in decoder_ids
    assert roll.response_ids.shape == (B, T)
    assert torch.all(roll.response_mask.sum(1) <= roll.lengths)
    assert torch.all(roll.response_ids[roll.response_mask == 0] == tokenizer.pad_token_id)
    logprobs, values, logits = policy_forward(
        trainer.model, trainer.value_head, roll.input_ids, roll.attention_mask, roll.decoder_ids, roll.response_mask
    )
    assert logprobs.shape == (B, T) and values.shape == (B, T) and logits.shape == (B, T, VOCAB_SIZE)
    assert torch.all(logprobs <= 0)
    assert len(roll.responses) == B and all(isinstance(r, str) for r in roll.responses)


def test_kl_is_exactly_zero_when_policy_equals_reference(tokenizer: PreTrainedTokenizerFast) -> None:
    model = tiny_policy()
    with torch.no_grad():  # a non-trivial adapter (LoRA B starts at zero)
        for param in adapter_parameters(model, "default").values():
            param.add_(0.3 * torch.randn_like(param))
    trainer = Seq2SeqPPO(model, tokenizer, toy_reward, TOY_CONFIG, seed=0)
    assert REFERENCE_ADAPTER in model.peft_config
    ref_params = adapter_parameters(model, REFERENCE_ADAPTER)
    assert ref_params and not any(p.requires_grad for p in ref_params.values())
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not optimised & {id(p) for p in ref_params.values()}

    roll = trainer.rollout(PROMPTS[:6])
    args = (roll.input_ids, roll.attention_mask, roll.decoder_ids, roll.response_mask)
    with torch.no_grad():
        logprobs, _, _ = policy_forward(model, trainer.value_head, *args)
        with use_adapter(model, REFERENCE_ADAPTER):
            ref_logprobs, _, _ = policy_forward(model, trainer.value_head, *args)
        with model.disable_adapter():
            base_logprobs, _, _ = policy_forward(model, trainer.value_head, *args)
    _, kl = kl_penalty_rewards(logprobs, ref_logprobs, torch.zeros(6), roll.response_mask, beta=0.2)
    assert torch.equal(kl, torch.zeros_like(kl))
    assert not torch.allclose(logprobs, base_logprobs)  # the adapter matters, so the check is not vacuous
    # the trained adapter is active and trainable again after the reference pass
    assert model.active_adapter == "default"
    assert all(p.requires_grad for p in adapter_parameters(model, "default").values())

    with torch.no_grad():  # moving the policy moves it away from the (separate) reference
        for param in adapter_parameters(model, "default").values():
            param.add_(0.3 * torch.randn_like(param))
        moved, _, _ = policy_forward(model, trainer.value_head, *args)
        with use_adapter(model, REFERENCE_ADAPTER):
            ref_again, _, _ = policy_forward(model, trainer.value_head, *args)
    assert torch.equal(ref_again, ref_logprobs)
    assert not torch.allclose(moved, ref_logprobs)


def test_reference_copies_fully_trained_modules_and_freezes_them(tokenizer: PreTrainedTokenizerFast) -> None:
    """The tiny profile's adapter also trains layer norms (peft ``modules_to_save``): the reference must copy them."""
    model = tiny_policy(modules_to_save=["layer_norm", "final_layer_norm"])
    with torch.no_grad():
        for param in adapter_parameters(model, "default").values():
            param.add_(0.3 * torch.randn_like(param))
    trainer = Seq2SeqPPO(model, tokenizer, toy_reward, TOY_CONFIG, seed=0)
    trained, reference = adapter_parameters(model, "default"), adapter_parameters(model, REFERENCE_ADAPTER)
    assert any("modules_to_save" in name for name in reference)
    assert len(trained) == len(reference) and not any(p.requires_grad for p in reference.values())
    for name, param in trained.items():
        assert torch.equal(param, reference[name.replace(".default.", f".{REFERENCE_ADAPTER}.")]), name
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not optimised & {id(p) for p in reference.values()}


def test_dropout_is_disabled_so_training_logprobs_match_the_rollout(tokenizer: PreTrainedTokenizerFast) -> None:
    model = tiny_policy(dropout_rate=0.3, lora_dropout=0.2)
    trainer = Seq2SeqPPO(model, tokenizer, toy_reward, TOY_CONFIG, seed=0)
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    assert all(m.dropout == 0.0 for m in model.modules() if isinstance(getattr(m, "dropout", None), float))
    roll = trainer.rollout(PROMPTS[:4])
    args = (roll.input_ids, roll.attention_mask, roll.decoder_ids, roll.response_mask)
    with torch.no_grad():
        model.eval()
        rollout_logprobs, _, _ = policy_forward(model, trainer.value_head, *args)
        model.train()
        train_logprobs, _, _ = policy_forward(model, trainer.value_head, *args)
    assert torch.allclose(train_logprobs, rollout_logprobs)  # the first PPO ratio is exactly 1, not dropout noise
    kept = tiny_policy(dropout_rate=0.3)
    Seq2SeqPPO(kept, tokenizer, toy_reward, replace(TOY_CONFIG, disable_dropout=False), seed=0)
    assert any(m.p == 0.3 for m in kept.modules() if isinstance(m, torch.nn.Dropout))


def test_parameter_breakdown_and_memory_report(tokenizer: PreTrainedTokenizerFast) -> None:
    model = tiny_policy()
    trainer = Seq2SeqPPO(model, tokenizer, toy_reward, TOY_CONFIG, seed=0)
    counts = trainable_parameter_breakdown(model, trainer.value_head)
    lora = sum(p.numel() for p in adapter_parameters(model, "default").values())
    assert counts["lora"] == lora and counts["value_head"] == 32 + 1
    assert counts["modules_to_save"] == 0 and "other" not in counts
    assert counts["total"] == lora + 33
    memory = reference_memory_savings(model)
    assert memory["adapter_bytes"] == lora * 4  # the reference adapter mirrors the trained one, float32
    assert memory["full_copy_bytes"] > memory["adapter_bytes"] and memory["saved_bytes"] > 0


def test_parameter_breakdown_labels_trained_layer_norm_copies(tokenizer: PreTrainedTokenizerFast) -> None:
    """The tiny profile's layer norms (peft ``modules_to_save``) are counted apart from the LoRA matrices."""
    model = tiny_policy(modules_to_save=["layer_norm", "final_layer_norm"])
    trainer = Seq2SeqPPO(model, tokenizer, toy_reward, TOY_CONFIG, seed=0)
    counts = trainable_parameter_breakdown(model, trainer.value_head)
    trained = adapter_parameters(model, "default")
    lora = sum(p.numel() for n, p in trained.items() if "lora_" in n)
    norms = sum(p.numel() for n, p in trained.items() if "modules_to_save" in n)
    assert norms == 7 * 32  # encoder block 2 + final, decoder block 3 (self, cross, feed-forward) + final; d_model 32
    assert counts["lora"] == lora and counts["modules_to_save"] == norms and "other" not in counts
    assert counts["total"] == lora + norms + 33


def test_too_long_prompts_raise_before_training(tokenizer: PreTrainedTokenizerFast) -> None:
    """Like generate_texts, PPO never truncates a prompt: it names the prompt, its length, the limit and the fix."""
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, TOY_CONFIG, max_input_tokens=7, seed=0)  # PROMPTS: 6 words + </s>
    trainer.check_prompts(PROMPTS)
    prompts = [*PROMPTS[:3], PROMPTS[3] + " w1 w2", *PROMPTS[4:]]
    with pytest.raises(PromptTooLongError, match=r"prompts\[3\] has 9 tokens but the policy's context is 7 tokens") as error:
        trainer.train(prompts, steps=1, progress=False)
    assert "max_input_tokens" in str(error.value) and "prompt_max_chars" in str(error.value)
    assert trainer.step_count == 0
    with pytest.raises(PromptTooLongError, match=r"prompts\[1\] has 9"):
        trainer.rollout([PROMPTS[0], prompts[3]])
    tokenizer_limit = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, TOY_CONFIG, seed=0)
    assert tokenizer_limit.prompt_limit is None  # this test tokenizer reports no model_max_length


def test_checkpoint_is_published_readable(tokenizer: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, TOY_CONFIG, seed=0)
    with private_umask():
        trainer.save_checkpoint(tmp_path / "ckpt")
        trainer.save_checkpoint(tmp_path / "ckpt")  # replaces the first one
    assert not_published(tmp_path / "ckpt") == []
    assert (tmp_path / "ckpt" / "adapter" / "adapter_config.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


# ---------------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_ppo_raises_a_toy_reward(tokenizer: PreTrainedTokenizerFast) -> None:
    seen: list[dict[str, float]] = []
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, TOY_CONFIG, seed=0)
    history = trainer.train(PROMPTS, steps=12, callback=lambda stats, _: seen.append(stats), progress=False)
    scores = history["score_mean"].tolist()
    assert len(scores) == 12 and len(seen) == 12
    first, last3 = scores[0], sum(scores[-3:]) / 3
    assert last3 >= first + 0.15, scores
    expected_keys = {
        "step", "score_mean", "score_std", "reward_total_mean", "reward_total_std", "kl_ref", "beta", "entropy",
        "clipfrac", "value_clipfrac", "policy_loss", "value_loss", "approx_kl", "lr", "response_length_mean",
        "time_rollout_s", "time_scoring_s", "time_optimization_s",
    }  # fmt: skip
    assert expected_keys <= set(history.columns)
    assert history["kl_ref"].iloc[0] == 0.0  # first rollout comes from the reference policy itself
    assert history["kl_ref"].iloc[-1] > 0.0
    assert all(TOY_CONFIG.min_new_tokens <= n < TOY_CONFIG.response_length_max for n in history["response_length_mean"])


def test_step_is_rollout_then_reward_then_update(tokenizer: PreTrainedTokenizerFast) -> None:
    """The notebook's loop (rollout, the reward, update) is what ``step`` and ``train`` run: the same statistics and
    weights, step after step."""
    config = replace(TOY_CONFIG, batch_size=8)
    stepped = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, config, seed=3)  # seeds torch's global RNG
    for step in range(2):
        stepped.step(stepped.batch_for_step(PROMPTS, step))
    looped = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, config, seed=3)
    while looped.step_count < 2:
        batch = looped.batch_for_step(PROMPTS, looped.step_count)
        rollout = looped.rollout(batch)
        stats = looped.update(rollout, toy_reward(rollout.prompts, rollout.responses))
        assert stats is looped.history[-1] and rollout.prompts == batch
    untimed = [{k: v for k, v in row.items() if not k.startswith("time_")} for row in (stepped.history + looped.history)]
    assert untimed[:2] == untimed[2:]
    for name, value in adapter_state(stepped.model).items():
        assert torch.equal(value, adapter_state(looped.model)[name]), name
    with pytest.raises(ValueError, match="3 scores for 8 responses"):
        looped.update(looped.rollout(PROMPTS[:8]), torch.zeros(3))


@dataclass(frozen=True)
class ToyReward(Reward):
    """The toy reward as a lab3 Reward (a cached run hashes its weights)."""

    def score(self, texts: Sequence[str]) -> torch.Tensor:
        return toy_reward([], list(texts))


def test_ppo_runs_are_cached_under_a_key_of_what_they_used(tokenizer: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    """Issue 23: an edited PPO setting trains its own run, cached under a key of the settings actually used, the seed,
    the starting weights, the reward and the prompts' content; the same run again is loaded, not retrained."""
    torch.manual_seed(0)
    reward = ToyReward(torch.nn.Linear(2, 1), tokenizer, origin="toy", kind="toy")
    config = replace(TOY_CONFIG, steps=2, batch_size=4, ppo_epochs=1)

    def run(cfg: PPOConfig = config, *, seed: int = 0, prompts: Sequence[str] = PROMPTS, scorer: Reward = reward):
        return cached_ppo_run(Seq2SeqPPO(tiny_policy(), tokenizer, scorer, cfg, seed=seed), prompts, cache_dir=tmp_path)

    first = run()
    history = first.train()
    assert first.folder.parent == tmp_path / "lab3" and (first.folder / "trainer_state.pt").is_file()
    assert not first.loaded and len(history) == 2
    again = run()
    assert again.folder == first.folder
    loaded = again.train()
    assert again.loaded and again.trainer.step_count == 2
    timing = [c for c in history.columns if c.startswith("time_")]
    assert loaded.drop(columns=timing).equals(history.drop(columns=timing))
    for name, value in adapter_state(first.trainer.model).items():
        assert torch.equal(value, adapter_state(again.trainer.model)[name]), name
    other_reward = ToyReward(torch.nn.Linear(2, 1), tokenizer, origin="toy", kind="toy")
    others = [
        run(replace(config, learning_rate=2e-2)),
        run(seed=1),
        run(prompts=[*PROMPTS[:-1], PROMPTS[-1] + " w1"]),
        run(scorer=other_reward),
    ]
    folders = {first.folder, *(other.folder for other in others)}
    assert len(folders) == 5 and not any(other.load() for other in others)
    edited = others[0]
    edited.train()
    assert edited.trainer.history[0]["lr"] == 2e-2 and (first.folder / "trainer_state.pt").is_file()
    with pytest.raises(ValueError, match="before the first PPO step"):
        cached_ppo_run(first.trainer, PROMPTS, cache_dir=tmp_path)


def test_train_stops_when_callback_returns_true(tokenizer: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    config = replace(TOY_CONFIG, batch_size=4, ppo_epochs=1, checkpoint_every=1)
    trainer = Seq2SeqPPO(tiny_policy(), tokenizer, toy_reward, config, seed=0)
    steps_on_disk: list[int] = []

    def callback(stats: dict[str, float], trainer: Seq2SeqPPO) -> bool:
        steps_on_disk.append(torch.load(tmp_path / "ckpt" / "trainer_state.pt", weights_only=True)["step"])
        return stats["step"] >= 2

    history = trainer.train(PROMPTS, steps=5, callback=callback, checkpoint_dir=tmp_path / "ckpt", progress=False)
    assert len(history) == 2 and trainer.step_count == 2
    assert steps_on_disk == [1, 2]  # checkpoint_every=1 wrote a checkpoint before each callback


def test_checkpoint_resume_reproduces_uninterrupted_run(tokenizer: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    config = replace(TOY_CONFIG, batch_size=8, mini_batch_size=4, value_head_dropout=0.1)

    def trainer() -> Seq2SeqPPO:
        return Seq2SeqPPO(tiny_policy(lora_dropout=0.1), tokenizer, toy_reward, config, seed=0)

    straight = trainer()
    full = straight.train(PROMPTS, steps=4, progress=False)

    first = trainer()
    first.train(PROMPTS, steps=2, checkpoint_dir=tmp_path / "ckpt", progress=False)
    assert (tmp_path / "ckpt" / "trainer_state.pt").exists()
    assert (tmp_path / "ckpt" / "adapter" / "adapter_config.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temp folders left behind

    resumed = trainer()
    history = resumed.train(PROMPTS, steps=4, resume_from=tmp_path / "ckpt", progress=False)
    assert resumed.step_count == 4 and len(history) == 4
    timing = [c for c in full.columns if c.startswith("time_")]
    assert history.drop(columns=timing).equals(full.drop(columns=timing))
    for name, value in adapter_state(straight.model).items():
        assert torch.equal(value, adapter_state(resumed.model)[name]), name
    for name, value in straight.value_head.state_dict().items():
        assert torch.equal(value, resumed.value_head.state_dict()[name]), name
    assert resumed.kl_ctl.value == straight.kl_ctl.value
