"""Compact PPO for encoder-decoder (FLAN-T5 + LoRA) policies: Lab 3 detoxification.

trl 1.x dropped its PPO trainer, and its GRPO/RLOO trainers do not handle encoder-decoder models, so Lab 3
uses this re-implementation of the classic recipe (Ziegler et al. 2019, as the old trl ``PPOTrainer`` did it):

* prompts are never truncated: one longer than the policy's context raises
  :class:`~genai_labs.generation.PromptTooLongError` (as ``generate_texts`` does), before the first step;
* rollout (:meth:`Seq2SeqPPO.rollout`): sampled summaries (``do_sample``, ``temperature``, eos banned for the first
  ``min_new_tokens``) of a length drawn uniformly from ``[response_length_min, response_length_max)``. Every
  log-probability (policy, old policy, reference) and the entropy are those of the distribution the rollout sampled
  from (:func:`sampling_logits`: ``softmax(logits / temperature)`` with the same eos ban), so PPO optimises what it
  samples; ``top_k`` / ``top_p`` cuts, which would change it, are refused by ``PPOConfig``. At the course's
  temperature 1.0 that is the model's own distribution;
* reward: ``reward_fn(prompts, responses)`` scores each summary (the lab: a reward model's scalar, or the
  hate-speech classifier's ``nothate`` logit);
* update (:meth:`Seq2SeqPPO.update`): the score added at the last response token plus a per-token KL penalty
  ``-beta (log pi - log pi_ref)`` against the frozen reference adapter, GAE advantages (whitened), clipped policy
  and value losses, ``ppo_epochs`` x shuffled minibatches, gradient clipping, adaptive (or fixed) KL coefficient.

:meth:`Seq2SeqPPO.step` is rollout, reward, update on one batch, and :meth:`Seq2SeqPPO.train` loops over steps
(tests, instructor runs); the notebook writes the same loop out. The math lives in small pure functions (tested in
``tests/test_ppo.py``); :class:`Seq2SeqPPO` wires them. Where trl
has a public helper that does exactly what a hand-written function did, it is used instead: the log-probability of
each chosen token and the entropy from logits (``trl.trainer.utils``). Dropout is not one of them (see
:class:`Seq2SeqPPO`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from peft import PeftModel
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from torch import nn
from tqdm.auto import tqdm
from trl.trainer.utils import entropy_from_logits, selective_log_softmax

from genai_labs.core.atomic_io import build_folder_atomic
from genai_labs.core.profiles import PPOConfig
from genai_labs.core.torch_runtime import set_dropout
from genai_labs.generation import check_prompt_lengths
from genai_labs.lab3.value_head import (
    REFERENCE_ADAPTER,
    ValueHead,
    adapter_parameters,
    add_reference_adapter,
    trained_adapter_name,
    use_adapter,
    value_head_for,
)
from genai_labs.prompts import context_limit

RewardFn = Callable[[list[str], list[str]], torch.Tensor]
StepCallback = Callable[[dict[str, float], "Seq2SeqPPO"], Any]
CHECKPOINT_FILE = "trainer_state.pt"
CHECKPOINT_FORMAT = 1

# ----------------------------------------------------------------------------------------------------------------
# Pure math (Lab 3; unit-tested one by one)
# ----------------------------------------------------------------------------------------------------------------


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Lab 3: mean of ``x`` over positions where ``mask`` is 1 (all dims, or along ``dim``)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Lab 3: variance of ``x`` over masked positions (Bessel-corrected by default, like old trl)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        if n > 1:
            var = var * n / (n - 1)
    return var


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Lab 3: normalise ``x`` to mean 0, variance 1 over masked positions; masked-out positions become 0."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask.to(x.dtype)


def kl_penalty_rewards(
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    scores: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: per-token rewards ``-beta (log pi - log pi_ref)`` with each sequence's score added at its last token.

    Returns ``(rewards, kl)``, both ``(B, T)`` and zero where ``mask`` is 0. A row with no response token gets
    no score.
    """
    mask_f = mask.to(logprobs.dtype)
    kl = (logprobs - ref_logprobs) * mask_f
    rewards = -beta * kl
    lengths = mask.long().sum(1)
    last = (lengths - 1).clamp(min=0)
    has_tokens = (lengths > 0).to(rewards.dtype)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last] += scores.to(rewards.dtype) * has_tokens
    return rewards, kl


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: generalised advantage estimation over response tokens; returns ``(advantages, returns)``.

    ``delta_t = r_t + gamma V_{t+1} - V_t`` and ``A_t = delta_t + gamma lam A_{t+1}``; the value after the last
    masked-in token is 0 (episode end). ``returns = A + V``. Masked-out positions are 0 in both outputs.
    """
    mask_f = mask.to(values.dtype)
    values = values * mask_f
    rewards = rewards * mask_f
    T = rewards.shape[1]
    advantages = torch.zeros_like(values)
    last_gae = torch.zeros_like(values[:, 0])
    for t in reversed(range(T)):
        next_values = values[:, t + 1] if t + 1 < T else torch.zeros_like(last_gae)
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        last_gae = (delta + gamma * lam * last_gae) * mask_f[:, t]
        advantages[:, t] = last_gae
    returns = (advantages + values) * mask_f
    return advantages, returns


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: PPO clipped surrogate ``mean(max(-A r, -A clip(r, 1-eps, 1+eps)))``; returns ``(loss, clipfrac)``.

    ``clipfrac`` is the share of tokens where the clipped term is the larger one (the ratio left the trust region
    in the direction the advantage pushes), i.e. where the token contributes no gradient.
    """
    ratio = torch.exp(logprobs - old_logprobs)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    loss = masked_mean(torch.max(loss_unclipped, loss_clipped), mask)
    clipfrac = masked_mean((loss_clipped > loss_unclipped).float(), mask)
    return loss, clipfrac


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cliprange_value: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab 3: clipped value loss ``0.5 mean(max((V - R)^2, (clip(V, V_old +- eps) - R)^2))``; returns ``(loss, clipfrac)``."""
    clipped = torch.max(torch.min(values, old_values + cliprange_value), old_values - cliprange_value)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(loss_unclipped, loss_clipped), mask)
    clipfrac = masked_mean((loss_clipped > loss_unclipped).float(), mask)
    return loss, clipfrac


def approx_kl(logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Lab 3: ``0.5 mean((log pi - log pi_old)^2)`` over masked tokens (how far one PPO update moved the policy)."""
    return 0.5 * masked_mean((logprobs - old_logprobs) ** 2, mask)


class FixedKLController:
    """Lab 3: constant KL coefficient beta."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    def update(self, current: float, n_steps: int) -> None:
        """No-op (beta stays fixed)."""

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


class AdaptiveKLController:
    """Lab 3: adaptive beta (Ziegler et al. 2019, old trl): steer the measured KL towards ``target``.

    ``error = clip(current / target - 1, -0.2, 0.2)``; ``beta *= 1 + error * n_steps / horizon``.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        self.value = float(init_kl_coef)
        self.target = float(target)
        self.horizon = int(horizon)

    def update(self, current: float, n_steps: int) -> None:
        """Move beta up when KL is above target, down when below (``n_steps``: samples since the last update)."""
        proportional_error = min(max(current / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value, "target": self.target, "horizon": float(self.horizon)}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


KLController = FixedKLController | AdaptiveKLController


def kl_controller_from_config(config: PPOConfig) -> KLController:
    """Lab 3: adaptive controller when ``config.adaptive_kl`` else a fixed one, starting at ``init_kl_coef``."""
    if config.adaptive_kl:
        return AdaptiveKLController(config.init_kl_coef, config.target_kl, config.kl_horizon)
    return FixedKLController(config.init_kl_coef)


# ----------------------------------------------------------------------------------------------------------------
# Rollouts on an encoder-decoder policy
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Rollout:
    """Lab 3: one batch of sampled responses.

    ``decoder_ids`` is ``(B, 1 + T)``: the decoder start token followed by the response tokens (pad after the end);
    ``response_mask`` ``(B, T)`` marks real response tokens (up to and including the first eos, within the sampled
    length). ``min_new_tokens``: eos was banned at the first that many positions (scoring bans it too).
    """

    prompts: list[str]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    decoder_ids: torch.Tensor
    response_mask: torch.Tensor
    responses: list[str]
    lengths: torch.Tensor  # the sampled length budget of each response
    min_new_tokens: int = 0
    seconds: float = 0.0  # how long sampling took
    finished_at: float = 0.0  # time.perf_counter() when it was done (the update times the reward from there)

    @property
    def response_ids(self) -> torch.Tensor:
        return self.decoder_ids[:, 1:]


def sample_response_lengths(n: int, low: int, high: int, generator: torch.Generator) -> torch.Tensor:
    """Lab 3: ``n`` response lengths uniform in ``[low, high)`` (the course's ``LengthSampler``)."""
    high = max(high, low + 1)
    return torch.randint(low, high, (n,), generator=generator)


def response_mask_from_ids(response_ids: torch.Tensor, eos_token_id: int | None, lengths: torch.Tensor) -> torch.Tensor:
    """Lab 3: 1 for response tokens up to and including the first eos and within ``lengths``, else 0."""
    B, T = response_ids.shape
    positions = torch.arange(T, device=response_ids.device).unsqueeze(0).expand(B, T)
    mask = positions < lengths.to(response_ids.device).unsqueeze(1)
    if eos_token_id is not None:
        is_eos = response_ids == eos_token_id
        eos_before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()  # eos tokens strictly before t
        mask &= eos_before == 0
    return mask.long()


def sampling_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    *,
    min_new_tokens: int = 0,
    eos_token_id: int | None = None,
    suppress_tokens: Sequence[int] = (),
) -> torch.Tensor:
    """Lab 3: the logits of the distribution the rollout samples from, ``(B, T, V)`` float32: ``logits / temperature``
    with eos banned at the first ``min_new_tokens`` response positions (``generate``'s ``min_new_tokens``) and the
    model's ``generation_config.suppress_tokens`` (if any) banned everywhere.

    ``generate`` bans a token with ``-inf``; here the float32 minimum stands in, which gives it the same probability 0
    (``exp`` underflows) and keeps the entropy finite.
    """
    scaled = logits.float() / temperature
    banned = torch.finfo(scaled.dtype).min
    if (min_new_tokens > 0 and eos_token_id is not None) or suppress_tokens:
        scaled = scaled.clone()
    if min_new_tokens > 0 and eos_token_id is not None:
        scaled[:, :min_new_tokens, eos_token_id] = banned
    if suppress_tokens:
        scaled[..., list(suppress_tokens)] = banned
    return scaled


# generation_config fields whose logits processors PPO's scoring does not apply, with the value that switches each off
# (Lab 3: the rollout would sample from a distribution PPO does not optimise, so a policy setting one is refused)
UNSCORED_GENERATION_FIELDS: dict[str, Any] = {
    "begin_suppress_tokens": None,
    "bad_words_ids": None,
    "sequence_bias": None,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "min_length": 0,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "exponential_decay_length_penalty": None,
    "min_p": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "top_h": None,
    "watermarking_config": None,
}


def check_rollout_generation_config(generation_config: Any) -> None:
    """Lab 3: raise ``ValueError`` naming each field of the policy's ``generation_config`` that would make the rollout
    sample from a distribution PPO does not score (:data:`UNSCORED_GENERATION_FIELDS`), with the fix."""
    set_fields = [
        f"{name}={value!r}"
        for name, off in UNSCORED_GENERATION_FIELDS.items()
        if (value := getattr(generation_config, name, None)) is not None and value != off
    ]
    if set_fields:
        raise ValueError(
            f"The policy's generation_config sets {', '.join(set_fields)}: the rollout would sample from a distribution "
            "PPO's log-probabilities do not score. Unset them before PPO (model.generation_config.<field> = None)."
        )


def policy_forward(
    model: nn.Module,
    value_head: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    decoder_ids: torch.Tensor,
    response_mask: torch.Tensor,
    temperature: float = 1.0,
    *,
    min_new_tokens: int = 0,
    eos_token_id: int | None = None,
    suppress_tokens: Sequence[int] = (),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lab 3: teacher-forced pass over ``decoder_ids``; returns ``(logprobs, values, logits)`` per response token.

    Position t's logits (after decoder token t) score response token t+1, and the value is taken at the same
    state, so all outputs are aligned with ``decoder_ids[:, 1:]`` (shape ``(B, T)``; logits ``(B, T, V)``).
    ``logprobs`` are those of the sampling distribution (:func:`sampling_logits`, through trl's
    ``selective_log_softmax``); ``logits`` are returned as the model gave them.
    """
    decoder_mask = torch.cat([torch.ones_like(response_mask[:, :1]), response_mask[:, :-1]], dim=1)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        decoder_input_ids=decoder_ids[:, :-1],
        decoder_attention_mask=decoder_mask,
        output_hidden_states=True,
        use_cache=False,
    )
    logits = out.logits
    values = value_head(out.decoder_hidden_states[-1])
    processed = sampling_logits(
        logits, temperature, min_new_tokens=min_new_tokens, eos_token_id=eos_token_id, suppress_tokens=suppress_tokens
    )
    return selective_log_softmax(processed, decoder_ids[:, 1:]), values, logits


# ----------------------------------------------------------------------------------------------------------------
# Trainer
# ----------------------------------------------------------------------------------------------------------------


def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype("int64")), *[np_state[i] for i in (2, 3, 4)]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# What to do about a prompt longer than the policy's context (Lab 3; :func:`generation.check_prompt_lengths`). PPO
# never truncates: a cut dialogue would be summarised, and rewarded, as if it were whole.
PPO_PROMPT_FIX = (
    "Drop long dialogues before PPO (Lab 3: lower Lab3Config.prompt_max_chars, which detox.prompt_sets applies, or "
    "filter with data.filter_by_length), or pass Seq2SeqPPO(..., max_input_tokens=...) if the model really accepts "
    "longer inputs."
)


def _as_prompt_list(prompts: Any, column: str) -> list[str]:
    if hasattr(prompts, "column_names"):  # datasets.Dataset
        return list(prompts[column])
    return list(prompts)


class Seq2SeqPPO:
    """Lab 3: PPO trainer for a peft LoRA seq2seq policy with a value head and a reference adapter.

    ``model`` is a ``PeftModel`` over ``T5ForConditionalGeneration``; its active adapter is trained. A frozen copy of
    that adapter is added as ``reference_adapter`` (the reference policy) unless it already exists.
    ``reward_fn(prompts, responses)`` returns one score per response. With ``config.disable_dropout`` the policy's
    dropout is switched off (in place), as trl does. ``seed`` is the profile's (``profile.seed``): constructing the
    trainer seeds torch with it (like the old trl ``PPOTrainer``), and it orders the prompts and minibatches.
    Prompts longer than ``max_input_tokens`` (default: the tokenizer's ``model_max_length``) raise
    :class:`~genai_labs.generation.PromptTooLongError`; none is truncated. A policy whose ``generation_config`` adds
    a logits processor the scoring does not apply is refused (:func:`check_rollout_generation_config`); its
    ``suppress_tokens`` are scored as ``generate`` applies them.

    One step is :meth:`rollout`, the reward, :meth:`update` (:meth:`step`); :meth:`train` loops over steps.
    """

    def __init__(
        self,
        model: PeftModel,
        tokenizer: Any,
        reward_fn: RewardFn,
        config: PPOConfig,
        *,
        seed: int,
        value_head: ValueHead | None = None,
        reference_adapter: str = REFERENCE_ADAPTER,
        max_input_tokens: int | None = None,
        prompt_column: str = "query",
    ) -> None:
        torch.manual_seed(seed)
        self.model = model
        self.tokenizer = tokenizer
        self.reward_fn = reward_fn
        self.config = config
        self.seed = seed
        self.prompt_limit = context_limit(tokenizer, max_input_tokens)
        self.prompt_column = prompt_column
        self.device = next(model.parameters()).device
        self.adapter_name = trained_adapter_name(model)
        self.reference_adapter = reference_adapter
        if reference_adapter not in model.peft_config:
            add_reference_adapter(model, reference_adapter, source=self.adapter_name)
        model.set_adapter(self.adapter_name)  # trained adapter active and trainable, reference frozen
        for param in adapter_parameters(model, reference_adapter).values():
            param.requires_grad_(False)
        if config.disable_dropout:
            # Otherwise train-mode log-probs differ from the rollout's: noisy ratios and clipping. Not trl's
            # disable_dropout_in_model: it zeroes nn.Dropout modules only and misses T5's attention-weight dropout (a
            # plain float attribute, which attention=True sets too).
            set_dropout(model, 0.0, attention=True)
        self.value_head = value_head if value_head is not None else value_head_for(model, config.value_head_dropout)
        self.value_head.to(self.device)
        params = [p for p in model.parameters() if p.requires_grad] + list(self.value_head.parameters())
        self.optimizer = torch.optim.Adam(params, lr=config.learning_rate)
        self.kl_ctl = kl_controller_from_config(config)
        self.generator = torch.Generator().manual_seed(seed)
        self.step_count = 0
        self.history: list[dict[str, float]] = []
        gen_cfg = model.generation_config
        check_rollout_generation_config(gen_cfg)
        self.suppress_tokens = tuple(gen_cfg.suppress_tokens or ())  # generate bans them; the scoring bans them too
        self.eos_token_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else gen_cfg.eos_token_id
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else gen_cfg.pad_token_id

    # -- rollout -------------------------------------------------------------------------------------------------

    def check_prompts(self, prompts: Sequence[str]) -> None:
        """Lab 3: raise :class:`PromptTooLongError` naming the first prompt longer than the policy's context."""
        if self.prompt_limit is not None and prompts:
            lengths = [len(ids) for ids in self.tokenizer(list(prompts), verbose=False)["input_ids"]]
            check_prompt_lengths(lengths, self.prompt_limit, model="policy", fix=PPO_PROMPT_FIX)

    def _encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer(prompts, padding=True, return_tensors="pt", verbose=False)  # no truncation: checked
        check_prompt_lengths(enc["attention_mask"].sum(1).tolist(), self.prompt_limit, model="policy", fix=PPO_PROMPT_FIX)
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    @torch.no_grad()
    def rollout(self, prompts: Sequence[str], lengths: torch.Tensor | None = None) -> Rollout:
        """Lab 3: sample one response per prompt from the current policy (eval mode, seeded by torch's RNG).

        Lengths are drawn from the length sampler unless given; a batch is generated to the longest budget and
        each response is cut at its own budget (same distribution as generating each one separately).
        """
        started = time.perf_counter()
        cfg = self.config
        prompts = list(prompts)
        if lengths is None:
            lengths = sample_response_lengths(len(prompts), cfg.response_length_min, cfg.response_length_max, self.generator)
        input_ids, attention_mask = self._encode(prompts)
        self.model.eval()
        max_new = int(lengths.max())
        min_new = min(cfg.min_new_tokens, int(lengths.min()))
        out = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            do_sample=True,
            top_k=cfg.top_k,  # 0 (PPOConfig refuses another): no cut the scoring would not make
            top_p=cfg.top_p,  # 1.0, likewise
            temperature=cfg.temperature,  # the log-probabilities (sampling_logits) use the same temperature
            num_beams=1,
            repetition_penalty=1.0,
            max_new_tokens=max_new,
            min_new_tokens=min_new,  # eos banned so long; the log-probabilities ban it too
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
        )
        response_ids = out[:, 1:]  # strip the decoder start token
        mask = response_mask_from_ids(response_ids, self.eos_token_id, lengths)
        width = max(int(mask.sum(1).max()), 1)
        response_ids = response_ids[:, :width].masked_fill(mask[:, :width] == 0, self.pad_token_id)
        mask = mask[:, :width]
        decoder_ids = torch.cat([out[:, :1], response_ids], dim=1)
        texts = self.tokenizer.batch_decode(response_ids, skip_special_tokens=True)
        return Rollout(
            prompts=prompts,
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_ids=decoder_ids,
            response_mask=mask,
            responses=texts,
            lengths=lengths,
            min_new_tokens=min_new,
            seconds=time.perf_counter() - started,
            finished_at=time.perf_counter(),
        )

    # -- one PPO step --------------------------------------------------------------------------------------------

    def step(self, prompts: Sequence[str]) -> dict[str, float]:
        """Lab 3: one PPO step on a batch of prompts, :meth:`rollout`, ``reward_fn``, :meth:`update` (what the
        notebook's loop writes out); returns the step's statistics."""
        roll = self.rollout(prompts)
        return self.update(roll, self.reward_fn(roll.prompts, roll.responses))

    def update(self, roll: Rollout, scores: Any) -> dict[str, float]:
        """Lab 3: one PPO update from a rollout and its ``scores`` (one per response): the per-token KL-penalised
        rewards, GAE advantages, ``ppo_epochs`` passes of clipped policy and value losses over shuffled minibatches,
        then beta's update. Returns the step's statistics (also appended to :attr:`history`); ``time_scoring_s`` is the
        time from the rollout's end to this call, the reward's when the reward runs in between."""
        cfg = self.config
        started = time.perf_counter()
        scoring_seconds = started - roll.finished_at
        scores = torch.as_tensor(scores, dtype=torch.float32).detach().reshape(-1).to(self.device)
        if scores.shape[0] != len(roll.prompts):
            raise ValueError(f"{scores.shape[0]} scores for {len(roll.prompts)} responses: give one score per response.")

        mask = roll.response_mask
        beta = self.kl_ctl.value
        with torch.no_grad():
            old_logprobs, old_values, entropy = self._score_rollout(roll)
            with use_adapter(self.model, self.reference_adapter):
                ref_logprobs, _, _ = self._score_rollout(roll)
            rewards, kl = kl_penalty_rewards(old_logprobs, ref_logprobs, scores, mask, beta)
            advantages, returns = compute_gae(rewards, old_values, mask, cfg.gamma, cfg.lam)
            if cfg.whiten_advantages:
                advantages = whiten(advantages, mask)

        train_stats = self._optimize(roll, old_logprobs, old_values * mask, advantages, returns)

        kl_per_seq = kl.sum(1)
        total_reward = rewards.sum(1)
        n = len(roll.prompts)
        self.kl_ctl.update(float(kl_per_seq.mean()), n)
        self.step_count += 1
        stats = {
            "step": float(self.step_count),
            "score_mean": float(scores.mean()),
            "score_std": float(scores.std()) if n > 1 else 0.0,
            "reward_total_mean": float(total_reward.mean()),
            "reward_total_std": float(total_reward.std()) if n > 1 else 0.0,
            "kl_ref": float(kl_per_seq.mean()),
            "beta": float(beta),
            "entropy": float(entropy),
            **train_stats,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "response_length_mean": float(mask.sum(1).float().mean()),
            "time_rollout_s": roll.seconds,
            "time_scoring_s": scoring_seconds,
            "time_optimization_s": time.perf_counter() - started,
        }
        self.history.append(stats)
        return stats

    @torch.no_grad()
    def _score_rollout(self, roll: Rollout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probs, values and mean token entropy of a rollout (eval mode, in ``mini_batch_size`` chunks)."""
        self.model.eval()
        self.value_head.eval()
        chunk = max(1, self.config.mini_batch_size)
        logprobs, values, entropy_sum = [], [], torch.zeros((), device=self.device)
        for start in range(0, roll.decoder_ids.shape[0], chunk):
            part = slice(start, start + chunk)
            lp, v, logits = policy_forward(
                self.model,
                self.value_head,
                roll.input_ids[part],
                roll.attention_mask[part],
                roll.decoder_ids[part],
                roll.response_mask[part],
                self.config.temperature,
                min_new_tokens=roll.min_new_tokens,
                eos_token_id=self.eos_token_id,
                suppress_tokens=self.suppress_tokens,
            )
            logprobs.append(lp)
            values.append(v)
            processed = sampling_logits(
                logits,
                self.config.temperature,
                min_new_tokens=roll.min_new_tokens,
                eos_token_id=self.eos_token_id,
                suppress_tokens=self.suppress_tokens,
            )
            entropy = entropy_from_logits(processed)  # of the sampling distribution
            entropy_sum += (entropy * roll.response_mask[part]).sum()
        entropy = entropy_sum / roll.response_mask.sum().clamp(min=1)
        return torch.cat(logprobs), torch.cat(values), entropy

    def _optimize(
        self,
        roll: Rollout,
        old_logprobs: torch.Tensor,
        old_values: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
    ) -> dict[str, float]:
        cfg = self.config
        B = old_logprobs.shape[0]
        mb = max(1, min(cfg.mini_batch_size, B))
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.model.train()
        self.value_head.train()
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "clipfrac": 0.0, "value_clipfrac": 0.0, "approx_kl": 0.0}
        n = 0
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(B, generator=self.generator)
            for start in range(0, B, mb):
                idx = order[start : start + mb].to(self.device)
                m = roll.response_mask[idx]
                logprobs, values, _ = policy_forward(
                    self.model,
                    self.value_head,
                    roll.input_ids[idx],
                    roll.attention_mask[idx],
                    roll.decoder_ids[idx],
                    m,
                    cfg.temperature,
                    min_new_tokens=roll.min_new_tokens,
                    eos_token_id=self.eos_token_id,
                    suppress_tokens=self.suppress_tokens,
                )
                pg_loss, clipfrac = clipped_policy_loss(logprobs, old_logprobs[idx], advantages[idx], m, cfg.cliprange)
                vf_loss, vf_clipfrac = clipped_value_loss(values, old_values[idx], returns[idx], m, cfg.cliprange_value)
                loss = pg_loss + cfg.vf_coef * vf_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm and cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                self.optimizer.step()
                sums["policy_loss"] += pg_loss.item()
                sums["value_loss"] += vf_loss.item()
                sums["clipfrac"] += float(clipfrac)
                sums["value_clipfrac"] += float(vf_clipfrac)
                sums["approx_kl"] += float(approx_kl(logprobs.detach(), old_logprobs[idx], m))
                n += 1
        self.model.eval()
        self.value_head.eval()
        return {k: v / max(n, 1) for k, v in sums.items()}

    # -- training loop -------------------------------------------------------------------------------------------

    def batch_for_step(self, prompts: Sequence[str], step: int) -> list[str]:
        """Lab 3: the prompts of (0-based) ``step``: consecutive slices of seeded per-epoch shuffles (resumable)."""
        n, bs = len(prompts), self.config.batch_size
        out: list[str] = []
        for pos in range(step * bs, (step + 1) * bs):
            epoch, i = divmod(pos, n)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + 7919 * epoch))
            out.append(prompts[int(perm[i])])
        return out

    def train(
        self,
        prompts: Any,
        steps: int | None = None,
        *,
        callback: StepCallback | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Lab 3: run PPO up to ``steps`` total steps (default ``config.steps``); returns the history DataFrame.

        ``prompts``: a list of strings or a ``datasets.Dataset`` (column ``prompt_column``). ``callback(stats,
        trainer)`` runs after each step (return ``True`` to stop early). With ``checkpoint_dir`` a checkpoint is
        written every ``config.checkpoint_every`` steps (0: only at the end); ``resume_from`` loads one and continues
        from its step, reproducing the uninterrupted run. Every prompt's length is checked before the first step
        (:meth:`check_prompts`).
        """
        prompt_list = _as_prompt_list(prompts, self.prompt_column)
        if not prompt_list:
            raise ValueError("train() needs at least one prompt.")
        self.check_prompts(prompt_list)
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        total = self.config.steps if steps is None else steps
        every = self.config.checkpoint_every
        bar = tqdm(total=total, initial=min(self.step_count, total), desc="PPO", disable=not progress, leave=True)
        try:
            while self.step_count < total:
                stats = self.step(self.batch_for_step(prompt_list, self.step_count))
                bar.update(1)
                bar.set_postfix(score=f"{stats['score_mean']:.3f}", kl=f"{stats['kl_ref']:.2f}")
                if checkpoint_dir is not None and every > 0 and self.step_count % every == 0:
                    self.save_checkpoint(checkpoint_dir)
                if callback is not None and callback(stats, self):
                    break
        finally:
            bar.close()
        if checkpoint_dir is not None:
            self.save_checkpoint(checkpoint_dir)
        return pd.DataFrame(self.history)

    # -- checkpoints ---------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Lab 3: everything needed to resume: adapters, value head, optimizer, KL controller, step, RNG, history."""
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step_count,
            "adapter": get_peft_model_state_dict(self.model, adapter_name=self.adapter_name, save_embedding_layers=False),
            "reference_adapter": get_peft_model_state_dict(
                self.model, adapter_name=self.reference_adapter, save_embedding_layers=False
            ),
            "value_head": self.value_head.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "kl_ctl": self.kl_ctl.state_dict(),
            "rng": _rng_state(self.generator),
            "history": list(self.history),
            "config": asdict(self.config),
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Lab 3: restore :meth:`state_dict` output into this trainer (same model architecture and adapter)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"Unknown PPO checkpoint format {state.get('format')!r}.")
        set_peft_model_state_dict(self.model, state["adapter"], adapter_name=self.adapter_name)
        set_peft_model_state_dict(self.model, state["reference_adapter"], adapter_name=self.reference_adapter)
        self.model.set_adapter(self.adapter_name)
        self.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.kl_ctl.load_state_dict(state["kl_ctl"])
        self.step_count = int(state["step"])
        self.history = [dict(row) for row in state["history"]]
        _set_rng_state(state["rng"], self.generator)

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Lab 3: write a checkpoint folder atomically and world-readable (``core.atomic_io.build_folder_atomic``).

        The folder holds ``trainer_state.pt`` (for :meth:`load_checkpoint`) and ``adapter/`` (the trained LoRA
        adapter in peft format, loadable with ``PeftModel.from_pretrained``).
        """

        def write(folder: Path) -> None:
            torch.save(self.state_dict(), folder / CHECKPOINT_FILE)
            self.model.save_pretrained(folder / "adapter", selected_adapters=[self.adapter_name], save_embedding_layers=False)

        target = Path(path)
        build_folder_atomic(target, write)
        return target

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Lab 3: resume from a folder written by :meth:`save_checkpoint`."""
        state = torch.load(Path(path) / CHECKPOINT_FILE, map_location=self.device, weights_only=True)
        state["rng"]["torch"] = state["rng"]["torch"].cpu()
        state["rng"]["generator"] = state["rng"]["generator"].cpu()
        self.load_state_dict(state)


__all__ = [
    "UNSCORED_GENERATION_FIELDS",
    "AdaptiveKLController",
    "FixedKLController",
    "Rollout",
    "Seq2SeqPPO",
    "approx_kl",
    "check_rollout_generation_config",
    "clipped_policy_loss",
    "clipped_value_loss",
    "compute_gae",
    "kl_controller_from_config",
    "kl_penalty_rewards",
    "masked_mean",
    "masked_var",
    "policy_forward",
    "response_mask_from_ids",
    "sample_response_lengths",
    "sampling_logits",
    "whiten",
]
