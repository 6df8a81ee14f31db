"""Profiles: one typed config that names every model, dataset and size knob the labs use (all labs).

A profile is the labs' single "smoke switch": ``tiny`` (default) runs the offline miniature
world on a laptop CPU in minutes, ``course`` runs the real FLAN-T5 / DialogSum / RoBERTa hate-speech
models of the original course, ``laptop`` is the course on ``google/flan-t5-small`` with small samples.

This module holds the schema (one frozen dataclass per lab, each checking its ranges with
:mod:`genai_labs.core.validation`), the three presets and :func:`load_profile`. Select with ``GENAI_LABS_PROFILE`` or
``load_profile("course")``. Every field can be overridden with keyword arguments (nested fields with a double
underscore, ``lab2__lora__r=8``) or environment variables (``GENAI_LABS_DATASET=../shared/datasets/dialogsum``,
``GENAI_LABS_LAB2__LORA__R=8``; parsed by :mod:`genai_labs.core.overrides`). An unknown ``GENAI_LABS_*`` name and an
out-of-range value are errors that name the setting and the fix; ``genai-labs profile <name>`` prints every field.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from genai_labs.core.overrides import PROFILE_ENV, apply_overrides, env_overrides
from genai_labs.core.sources import WORLD_DATASET, WORLD_MODEL, WORLD_REWARD_MODEL
from genai_labs.core.validation import (
    ConfigError,
    bounds,
    check_types,
    dropout_rate,
    non_empty,
    one_of,
    require,
    settings_root,
)

DEFAULT_PROFILE = "tiny"

DEVICES = ("auto", "cpu", "cuda")  # Profile.device; genai_labs.core.torch_runtime.choose_device maps them to a torch device
# transformers' TrainingArguments.train_sampling_strategy values (it silently samples at random for any other)
TRAIN_SAMPLING_STRATEGIES = ("random", "sequential", "group_by_length", "batch_rebalance")
LORA_BIASES = ("none", "all", "lora_only")  # peft's LoraConfig.bias
MAX_SEED = 2**32 - 1  # numpy's seeds stop here


def _check_training(config: FineTuneConfig | LoraSettings) -> None:
    """The transformers Trainer settings Lab 2's full and LoRA runs share."""
    bounds(config, "learning_rate", gt=0)
    bounds(config, "num_train_epochs", gt=0)
    require(config, "max_steps", config.max_steps == -1 or config.max_steps >= 1, ">= 1, or -1 to run num_train_epochs")
    bounds(config, "per_device_train_batch_size", ge=1)
    bounds(config, "weight_decay", ge=0)
    bounds(config, "warmup_steps", ge=0)
    non_empty(config, "lr_scheduler_type")
    bounds(config, "logging_steps", ge=1)
    bounds(config, "save_steps", ge=0, note=" (0: no checkpoints)")
    bounds(config, "save_total_limit", ge=0, note=" (0: keep all)")
    one_of(config, "train_sampling_strategy", TRAIN_SAMPLING_STRATEGIES)


@dataclass(frozen=True)
class Lab1Config:
    """Lab 1 (prompting and generation parameters) sizes."""

    example_indices: tuple[int, ...] = (40, 200)  # test dialogues shown side by side
    one_shot_indices: tuple[int, ...] = (40,)
    few_shot_indices: tuple[int, ...] = (40, 80, 120)
    target_index: int = 200  # the dialogue summarised with in-context examples
    eval_examples: int = 100  # test dialogues scored with ROUGE per prompt style (0 = whole split)
    max_new_tokens: int = 50
    batch_size: int = 16
    n_diversity_samples: int = 5  # sampled summaries per dialogue and temperature (the sampling study)
    sampling_examples: int = 50  # the first scored dialogues the sampling study samples (0 = all of them)
    temperatures: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)  # the sampling study's temperatures (plain sampling, top_k 0)

    def __post_init__(self) -> None:
        check_types(self)
        for name in ("example_indices", "one_shot_indices", "few_shot_indices"):
            require(self, name, all(i >= 0 for i in getattr(self, name)), "row indices >= 0 (e.g. 4,8,12)")
        bounds(self, "target_index", ge=0)
        bounds(self, "eval_examples", ge=0, note=" (0: the whole test split)")
        bounds(self, "max_new_tokens", ge=1)
        bounds(self, "batch_size", ge=1)
        bounds(self, "n_diversity_samples", ge=1)
        bounds(self, "sampling_examples", ge=0, note=" (0: every scored dialogue)")
        require(
            self,
            "temperatures",
            bool(self.temperatures) and all(t > 0 for t in self.temperatures),
            "temperatures > 0 (e.g. 0.5,1,2)",
        )


@dataclass(frozen=True)
class FineTuneConfig:
    """Lab 2 full fine-tuning settings (transformers Trainer)."""

    learning_rate: float = 1e-5
    num_train_epochs: float = 1.0
    max_steps: int = -1  # -1: run the epochs
    per_device_train_batch_size: int = 8
    weight_decay: float = 0.01
    warmup_steps: int = 0
    lr_scheduler_type: str = "linear"
    logging_steps: int = 10
    max_source_length: int = 512
    max_target_length: int = 128
    save_steps: int = 500  # checkpoint every N optimizer steps (0 = none); interrupted runs resume from the last
    save_total_limit: int = 2  # checkpoints kept per run (0 = all)
    dropout_rate: float | None = None  # None: the model's own (FLAN-T5: 0.1); the tiny model trains faster without
    train_sampling_strategy: str = "random"  # or "group_by_length": less padding (tiny, v3 world: lower ROUGE-1)

    def __post_init__(self) -> None:
        check_types(self)
        _check_training(self)
        bounds(self, "max_source_length", ge=1)
        bounds(self, "max_target_length", ge=1)
        dropout_rate(self, "dropout_rate")


@dataclass(frozen=True)
class LoraSettings:
    """Lab 2 LoRA (PEFT) settings; the course keeps r=32, alpha=32 on q and v."""

    r: int = 32
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q", "v")
    modules_to_save: tuple[str, ...] = ()  # small modules trained in full next to the adapter (tiny: layer norms)
    bias: str = "none"
    learning_rate: float = 1e-3
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    weight_decay: float = 0.01
    warmup_steps: int = 0
    lr_scheduler_type: str = "linear"
    logging_steps: int = 10
    save_steps: int = 500  # checkpoint every N optimizer steps (0 = none)
    save_total_limit: int = 2
    model_dropout_rate: float | None = None  # the frozen model's own dropout while training (None: keep it)
    train_sampling_strategy: str = "random"  # or "group_by_length": less padding (tiny, v3 world: lower ROUGE-1)

    def __post_init__(self) -> None:
        check_types(self)
        _check_training(self)
        bounds(self, "r", ge=1)
        bounds(self, "alpha", gt=0)
        dropout_rate(self, "dropout")
        require(self, "target_modules", bool(self.target_modules), "at least one module name (e.g. q,v)")
        one_of(self, "bias", LORA_BIASES)
        dropout_rate(self, "model_dropout_rate")


@dataclass(frozen=True)
class Lab2Config:
    """Lab 2 (full fine-tuning vs LoRA) data sizes, trainings and evaluation."""

    train_every: int = 100  # keep every Nth training dialogue (course: index % 100 == 0)
    train_first: int = 0  # then keep the first N (0 = all)
    eval_examples: int = 0  # test dialogues scored (0 = whole split)
    example_index: int = 200
    full: FineTuneConfig = field(default_factory=FineTuneConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    replay_fraction: float = 0.1  # share of skill examples mixed into training (forgetting mitigation)
    skill_examples: int = 200  # held-out examples of the pre-trained skill used to measure forgetting
    generation_batch_size: int = 16
    max_new_tokens: int = 64
    bootstrap_resamples: int = 1000

    def __post_init__(self) -> None:
        check_types(self)
        bounds(self, "train_every", ge=1, note=" (1: every training dialogue)")
        bounds(self, "train_first", ge=0, note=" (0: all)")
        bounds(self, "eval_examples", ge=0, note=" (0: the whole test split)")
        bounds(self, "example_index", ge=0)
        bounds(self, "replay_fraction", ge=0, lt=1, note=" (the skill examples' share of the mixed training set)")
        bounds(self, "skill_examples", ge=0, note=" (0: the whole test split)")
        bounds(self, "generation_batch_size", ge=1)
        bounds(self, "max_new_tokens", ge=1)
        bounds(self, "bootstrap_resamples", ge=1)


@dataclass(frozen=True)
class PPOConfig:
    """Lab 3 PPO settings (classic Ziegler et al. 2019 recipe, as the old trl PPOTrainer did it)."""

    learning_rate: float = 1.41e-5
    steps: int = 10
    batch_size: int = 16
    mini_batch_size: int = 4
    ppo_epochs: int = 1
    gamma: float = 1.0
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    init_kl_coef: float = 0.2
    adaptive_kl: bool = True
    target_kl: float = 6.0
    kl_horizon: int = 10_000
    max_grad_norm: float = 1.0
    whiten_advantages: bool = True
    min_new_tokens: int = 5
    response_length_min: int = 100  # response length drawn uniformly from [min, max)
    response_length_max: int = 400
    # PPO scores softmax(logits / temperature) with eos banned for the first min_new_tokens: a top-k or top-p cut would
    # make the rollout sample from a distribution PPO does not optimise, so both stay off (the course's 0 and 1.0)
    top_k: int = 0
    top_p: float = 1.0
    temperature: float = 1.0  # rollouts sample at it; every log-probability and the entropy use logits / temperature
    value_head_dropout: float = 0.1
    disable_dropout: bool = True  # policy dropout off, so the PPO ratio compares the same function (as trl does now)
    checkpoint_every: int = 0  # 0: only at the end
    # no seed here: PPO takes the profile's one seed (Seq2SeqPPO(..., seed=profile.seed))

    def __post_init__(self) -> None:
        check_types(self)
        bounds(self, "learning_rate", gt=0)
        for name in ("steps", "batch_size", "mini_batch_size", "ppo_epochs"):
            bounds(self, name, ge=1)
        bounds(self, "gamma", ge=0, le=1)
        bounds(self, "lam", ge=0, le=1)
        bounds(self, "cliprange", gt=0)
        bounds(self, "cliprange_value", gt=0)
        bounds(self, "vf_coef", ge=0)
        bounds(self, "init_kl_coef", ge=0, note=" (0: no KL penalty)")
        bounds(self, "target_kl", gt=0)  # the adaptive controller divides by both
        bounds(self, "kl_horizon", ge=1)
        bounds(self, "max_grad_norm", ge=0, note=" (0: no clipping)")
        bounds(self, "min_new_tokens", ge=0)
        bounds(self, "response_length_min", ge=1)
        require(
            self,
            "response_length_max",
            self.response_length_max >= self.response_length_min,
            f">= response_length_min ({self.response_length_min}); lengths are drawn from [min, max)",
        )
        off = (
            "off: PPO scores the full softmax(logits / temperature), so the rollout must sample from it "
            "(lower the temperature to sample more sharply)"
        )
        require(self, "top_k", self.top_k == 0, f"0 ({off})")
        require(self, "top_p", self.top_p == 1.0, f"1.0 ({off})")
        bounds(self, "temperature", gt=0, note=" (1.0: the model's own distribution, the course's)")
        dropout_rate(self, "value_head_dropout")
        bounds(self, "checkpoint_every", ge=0, note=" (0: only at the end)")


@dataclass(frozen=True)
class DPOConfig:
    """Lab 3 DPO settings (Direct Preference Optimization, Rafailov et al. 2023): the policy trained on the world's
    preference pairs directly, through a transformers ``Trainer`` whose loss is DPO's (``lab3.dpo``)."""

    # how far the policy may move from its reference: the implicit reward is beta * (log pi - log pi_ref), so a small
    # beta lets the log-probabilities move a lot before a pair's loss flattens
    beta: float = 0.1
    learning_rate: float = 5e-6
    max_steps: int = 0  # optimizer steps; 0: no DPO (course/laptop: the world's pairs are not DialogSum's)
    per_device_train_batch_size: int = 8  # preference pairs per step
    warmup_steps: int = 0
    lr_scheduler_type: str = "linear"
    logging_steps: int = 10

    def __post_init__(self) -> None:
        check_types(self)
        bounds(self, "beta", gt=0)
        bounds(self, "learning_rate", gt=0)
        bounds(self, "max_steps", ge=0, note=" (0: DPO is skipped)")
        bounds(self, "per_device_train_batch_size", ge=1)
        bounds(self, "warmup_steps", ge=0)
        non_empty(self, "lr_scheduler_type")
        bounds(self, "logging_steps", ge=1)


@dataclass(frozen=True)
class Lab3Config:
    """Lab 3 (RLHF / PPO detoxification) data sizes, reward and evaluation settings."""

    prompt_min_chars: int = 200  # course: 200 < len(dialogue) <= 1000
    prompt_max_chars: int = 1000
    eval_prompts: int = 100  # held-out prompts scored for toxicity before/after
    eval_new_tokens: int = 100
    eval_samples: int = 1  # sampled summaries per held-out prompt; a prompt's toxicity is their mean P(toxic)
    reward_label: str = "nothate"  # the reward is this label's logit, found by name in id2label
    toxic_label: str = "hate"
    adapter_path: str = ""  # Lab 2 LoRA adapter to start from ("" = train it on the spot)
    # >0 (tiny world): PPO's reward is a reward model trained in the lab on the world's preference pairs with trl's
    # RewardTrainer, this many epochs; 0: it is the reward_label logit of the profile's classifier (the course)
    reward_train_epochs: int = 0
    reward_learning_rate: float = 1e-3  # the preference reward model's (a tiny model trained from scratch)
    reward_batch_size: int = 16  # preference pairs per step (the model scores twice as many summaries)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    bootstrap_resamples: int = 1000

    def __post_init__(self) -> None:
        check_types(self)
        bounds(self, "prompt_min_chars", ge=0)
        require(
            self,
            "prompt_max_chars",
            self.prompt_max_chars > self.prompt_min_chars,
            f"> prompt_min_chars ({self.prompt_min_chars}); prompts keep min < len(dialogue) <= max",
        )
        bounds(self, "eval_prompts", ge=0, note=" (0: the whole test split)")
        bounds(self, "eval_new_tokens", ge=1)
        non_empty(self, "reward_label", "toxic_label")
        require(
            self, "toxic_label", self.toxic_label != self.reward_label, f"a label other than reward_label ({self.reward_label!r})"
        )
        bounds(self, "reward_train_epochs", ge=0, note=" (0: the reward is the profile's classifier, as in the course)")
        bounds(self, "reward_learning_rate", gt=0)
        bounds(self, "reward_batch_size", ge=1)
        bounds(self, "eval_samples", ge=1)
        bounds(self, "bootstrap_resamples", ge=1)


@settings_root
@dataclass(frozen=True)
class Profile:
    """Everything a lab run needs: sources, seed, device and per-lab sizes."""

    name: str
    model: str
    model_revision: str | None
    dataset: str
    dataset_revision: str | None
    reward_model: str
    reward_model_revision: str | None
    seed: int = 42
    device: str = "auto"  # one of DEVICES
    lab1: Lab1Config = field(default_factory=Lab1Config)
    lab2: Lab2Config = field(default_factory=Lab2Config)
    lab3: Lab3Config = field(default_factory=Lab3Config)

    def __post_init__(self) -> None:
        check_types(self)
        non_empty(self, "name", "model", "dataset", "reward_model")
        bounds(self, "seed", ge=0, le=MAX_SEED)
        one_of(self, "device", DEVICES)

    def describe(self) -> str:
        """One-screen banner of what will run (first cell of every lab)."""
        lines = [
            f"profile        : {self.name}",
            f"model          : {self.model}" + (f" @ {self.model_revision}" if self.model_revision else ""),
            f"dataset        : {self.dataset}",
            f"reward model   : {self.reward_model}",
            f"seed / device  : {self.seed} / {self.device}",
            "switch profile : GENAI_LABS_PROFILE=tiny|laptop|course (and GENAI_LABS_<FIELD>=... overrides)",
        ]
        return "\n".join(lines)


def _course() -> Profile:
    return Profile(
        name="course",
        model="google/flan-t5-base",
        model_revision="7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
        dataset="knkarthick/dialogsum",
        dataset_revision=None,
        reward_model="facebook/roberta-hate-speech-dynabench-r4-target",
        reward_model_revision=None,
        seed=42,
        lab1=Lab1Config(eval_examples=100),
        lab2=Lab2Config(
            train_every=1,
            full=FineTuneConfig(learning_rate=1e-4, num_train_epochs=3, per_device_train_batch_size=16, max_source_length=512),
            lora=LoraSettings(r=32, alpha=32, learning_rate=1e-3, num_train_epochs=3, per_device_train_batch_size=16),
            max_new_tokens=200,
            skill_examples=200,
        ),
        # DPO (lab3.dpo.max_steps 0) is skipped: no preference pairs of DialogSum summaries exist (lab3.dpo_skip_reason)
        lab3=Lab3Config(eval_prompts=100, ppo=PPOConfig(), dpo=DPOConfig()),
    )


def _laptop() -> Profile:
    course = _course()
    return replace(
        course,
        name="laptop",
        model="google/flan-t5-small",
        model_revision=None,
        lab1=replace(course.lab1, eval_examples=30),
        lab2=replace(
            course.lab2,
            train_every=25,
            eval_examples=50,
            full=replace(course.lab2.full, num_train_epochs=1, per_device_train_batch_size=8),
            lora=replace(course.lab2.lora, num_train_epochs=1, per_device_train_batch_size=8),
        ),
        lab3=replace(course.lab3, eval_prompts=30, ppo=replace(course.lab3.ppo, response_length_min=20, response_length_max=60)),
    )


def _tiny() -> Profile:
    return Profile(
        name="tiny",
        model=WORLD_MODEL,
        model_revision=None,
        dataset=WORLD_DATASET,
        dataset_revision=None,
        reward_model=WORLD_REWARD_MODEL,
        reward_model_revision=None,
        seed=0,
        device="cpu",
        lab1=Lab1Config(
            example_indices=(4, 20),
            # short training dialogues, so that two of the three shots fit the 512-token context beside most dialogues;
            # the one-shot example comes last (nearest the dialogue), the shot kept when the others do not fit
            one_shot_indices=(1,),
            few_shot_indices=(64, 21, 1),
            target_index=20,
            eval_examples=100,  # as in the course profile: Lab 1 stays about a minute on 2 cores
            max_new_tokens=48,
            batch_size=100,  # the tiny model generates fastest in large batches
        ),
        lab2=Lab2Config(
            train_every=1,
            example_index=20,
            full=FineTuneConfig(
                learning_rate=3e-3,  # chosen on the v3 world (4e-3 scored lower); on v4, 1e-3 gave the same fact precision
                num_train_epochs=1,
                max_steps=250,  # 2 epochs: the notebook's time budget holds three trainings
                per_device_train_batch_size=16,
                weight_decay=0.0,
                warmup_steps=20,
                max_source_length=256,
                max_target_length=64,
                save_steps=100,
                dropout_rate=0.0,
            ),
            lora=LoraSettings(
                r=10,  # the largest rank that keeps the adapter at <= 10% of the weights (9.8% of the wrapped model)
                alpha=20,
                dropout=0.0,
                target_modules=("q", "k", "v", "o", "wi_0", "wi_1", "wo", "lm_head"),
                modules_to_save=("layer_norm", "final_layer_norm"),
                learning_rate=6e-3,
                max_steps=400,  # 1.6x full fine-tuning's steps (the acceptance allows 2x)
                per_device_train_batch_size=16,
                weight_decay=0.0,
                warmup_steps=20,
                save_steps=200,
                model_dropout_rate=0.0,
            ),
            replay_fraction=0.1,
            skill_examples=200,
            max_new_tokens=48,
            generation_batch_size=64,
            bootstrap_resamples=1000,
        ),
        lab3=Lab3Config(
            prompt_min_chars=0,
            prompt_max_chars=100_000,
            eval_prompts=200,
            eval_new_tokens=48,
            # four samples per prompt: one sample's P(hate) is nearly 0 or 1, so with one the paired interval of a
            # change is mostly sampling noise
            eval_samples=4,
            reward_train_epochs=3,  # the preference reward model (trl's RewardTrainer): 3 epochs over the world's pairs
            reward_learning_rate=1e-3,
            reward_batch_size=16,
            ppo=PPOConfig(
                learning_rate=3e-4,  # 1e-4 left the reward flat within 30 steps; 1e-3 drove the KL past 20 (question 4)
                steps=30,
                batch_size=32,
                mini_batch_size=8,
                ppo_epochs=2,
                # long enough for a whole world summary with its insult report: a rollout cut off by its length
                # budget reads as a cut-off summary, which the reward model was taught to score low
                response_length_min=48,
                response_length_max=64,
                init_kl_coef=0.5,
                target_kl=2.0,
                kl_horizon=1000,  # the course's 10,000 samples would leave beta fixed over 30 steps of 32
                value_head_dropout=0.0,
                # Rollouts (and Lab 3's evaluation samples) at T 0.8, below the course's 1.0: the tiny summarizer's
                # samples at 1.0 are well-formed less often. PPO's log-probabilities and entropy use the same
                # softmax(logits / 0.8), so PPO optimises the distribution it samples from.
                temperature=0.8,
            ),
            dpo=DPOConfig(
                # beta 0.1 left the implicit reward's held-out pair accuracy near 0.87 after 60 steps: the insult
                # pairs kept pulling while the garbled ones were learned slowly; at 0.5 the easy pairs saturate sooner
                beta=0.5,
                learning_rate=1e-3,  # the adapter's (LoRA: large, as Lab 2's); 3e-3 cost 0.06 ROUGE-1 and half the form
                max_steps=80,  # 1,280 of the 2,800 training pairs (60 left seed 1's held-out pair accuracy at 0.898)
                per_device_train_batch_size=16,
            ),
        ),
    )


PROFILES: dict[str, Callable[[], Profile]] = {"tiny": _tiny, "laptop": _laptop, "course": _course}


def load_profile(name: str | None = None, *, env: Mapping[str, str] | None = None, **overrides: Any) -> Profile:
    """Build a profile: defaults of ``name`` (or ``$GENAI_LABS_PROFILE``), then env overrides, then kwargs.

    Used by every lab's first cell. ``overrides`` use ``__`` for nested fields: ``lab2__lora__r=8``. All
    overrides are applied together, so related fields (``response_length_min``/``_max``) can move at once.
    """
    env = os.environ if env is None else env
    name = name or env.get(PROFILE_ENV) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ConfigError(
            f"Unknown profile {name!r} (from {PROFILE_ENV} or load_profile's name). Choose one of: {', '.join(PROFILES)}."
        )
    keywords = {key: (value, f"keyword argument {key}") for key, value in overrides.items()}
    return apply_overrides(PROFILES[name](), {**env_overrides(env, Profile), **keywords})


def preset_value(profile: str, field_name: str) -> Any:
    """The value preset ``profile`` gives field ``field_name`` (None for an unknown profile or field): which source a
    profile names by default, for the ways out of a "cannot reach this source" message."""
    return getattr(PROFILES[profile](), field_name, None) if profile in PROFILES else None


def profile_as_dict(profile: Profile) -> dict[str, Any]:
    """Plain nested dict of a profile (for reports and figures.json)."""
    return dataclasses.asdict(profile)
