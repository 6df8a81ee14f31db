"""Lab 3's reward: a reward model trained on preference pairs with trl's ``RewardTrainer`` (tiny profile), or the
course's hate-speech classifier's ``nothate`` logit (``course``/``laptop``), and the toxicity judge.

The lectures build the reward model from *preferences*: for one prompt, labelers prefer one completion to another,
and a model with one scalar output learns to score the preferred one higher (the Bradley-Terry loss
``-log sigmoid(r(chosen) - r(rejected))``, which trl's ``RewardTrainer`` implements). In the tiny world no person
labels anything: the pairs are preferences the world's rules state (an insult reported neutrally or left out over one
repeated; a fluent summary over the same one garbled), ``data/world/preferences.jsonl`` (``world.preferences``). The
model is the toxicity classifier's tiny RoBERTa shape with one output (``toxicity_classifier.tiny_roberta_config``)
and its own byte-level BPE tokenizer, trained on the summary alone: it never sees the dialogue.

trl's ``RewardTrainer`` appends the tokenizer's eos token to every chosen and rejected text before tokenizing it
(``RewardConfig`` has no switch for that), so the model learned its scores on ``text + eos``;
:func:`reward_scores` scores a summary the same way, or PPO would be rewarded by a model reading inputs it never
saw.

The judge of toxicity is the hate/nothate classifier: in the tiny profile a different model on different data (the
world's, trained on labeled texts); in ``course`` ``facebook/roberta-hate-speech-dynabench-r4-target``, which there is
also the reward, so the judge is not independent of what PPO optimised.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import pandas as pd
import torch
from transformers import PreTrainedTokenizerBase, RobertaForSequenceClassification
from trl import RewardConfig, RewardTrainer

from genai_labs.core.profiles import Lab3Config
from genai_labs.core.sources import WORLD_DATASET
from genai_labs.core.torch_runtime import quiet_transformers
from genai_labs.data import load_toxicity_texts
from genai_labs.metrics import classifier_logits, label_logits
from genai_labs.models import load_reward_model
from genai_labs.toxicity_classifier import RewardTrainConfig, classifier_accuracy, tiny_roberta_config, train_reward_tokenizer
from genai_labs.world.data_files import WORLD_DATA_FILES, read_jsonl, world_data_dir
from genai_labs.world.preferences import PREFERENCE_KINDS

# The tiny reward model's shape: the toxicity classifier's (hidden 64, 2 layers, 1,000-token BPE, 128 positions).
REWARD_MODEL_SHAPE = RewardTrainConfig()
REWARD_WARMUP_STEPS = 30


# ------------------------------------------------------------------------------------------ the pairs


@dataclass(frozen=True)
class PreferencePairs:
    """The world's preference pairs (Lab 3): ``train`` as the ``datasets.Dataset`` trl reads (columns ``chosen`` and
    ``rejected``, the summary alone: no prompt column), ``test`` the held-out rows with their ``kind``."""

    train: datasets.Dataset
    test: list[dict[str, str]] = field(repr=False)
    train_kinds: dict[str, int] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Pairs per kind and split."""
        test_kinds = {kind: sum(row["kind"] == kind for row in self.test) for kind in PREFERENCE_KINDS}
        return pd.DataFrame({"train": self.train_kinds, "test": test_kinds}).loc[list(PREFERENCE_KINDS)]

    def examples(self) -> pd.DataFrame:
        """One held-out pair of each kind (the notebook shows them)."""
        rows = [next(row for row in self.test if row["kind"] == kind) for kind in PREFERENCE_KINDS]
        return pd.DataFrame(rows, columns=["kind", "chosen", "rejected"])


def load_preference_rows(split: str) -> list[dict[str, str]]:
    """The rows of one split (``train``/``test``) of ``data/world/preferences.jsonl`` (Lab 3, tiny world)."""
    if split not in ("train", "test"):
        raise ValueError(f"load_preference_rows: split must be 'train' or 'test', got {split!r}.")
    rows = read_jsonl(world_data_dir() / WORLD_DATA_FILES["preferences"])
    return [row for row in rows if row["split"] == split]


def preference_pairs() -> PreferencePairs:
    """The world's preference pairs, ready for ``RewardTrainer`` (Lab 3, tiny world)."""
    train = load_preference_rows("train")
    return PreferencePairs(
        train=datasets.Dataset.from_dict({"chosen": [r["chosen"] for r in train], "rejected": [r["rejected"] for r in train]}),
        test=load_preference_rows("test"),
        train_kinds={kind: sum(row["kind"] == kind for row in train) for kind in PREFERENCE_KINDS},
    )


# ------------------------------------------------------------------------------------------ the model


def fresh_reward_model(
    pairs: PreferencePairs, *, seed: int = 0
) -> tuple[RobertaForSequenceClassification, PreTrainedTokenizerBase]:
    """An untrained tiny RoBERTa with one output (``num_labels=1``: the reward) and a byte-level BPE tokenizer trained
    on the training pairs' texts (Lab 3, tiny world)."""
    texts = list(pairs.train["chosen"]) + list(pairs.train["rejected"])
    tokenizer = train_reward_tokenizer(texts, REWARD_MODEL_SHAPE)
    torch.manual_seed(seed)
    with quiet_transformers():
        model = RobertaForSequenceClassification(tiny_roberta_config(tokenizer, REWARD_MODEL_SHAPE, num_labels=1))
    return model, tokenizer


def reward_config(config: Lab3Config, *, seed: int, output_dir: str, device: str = "cpu", progress: bool = False) -> RewardConfig:
    """The ``RewardConfig`` Lab 3's notebook spells out, from the profile's settings (tests, ``detox.detoxify``; the
    notebook's own cell is used as it stands)."""
    return RewardConfig(
        output_dir=output_dir,
        num_train_epochs=config.reward_train_epochs,
        per_device_train_batch_size=config.reward_batch_size,
        learning_rate=config.reward_learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=REWARD_WARMUP_STEPS,
        max_length=REWARD_MODEL_SHAPE.max_length,
        disable_dropout=True,
        bf16=False,
        activation_checkpointing=False,  # trl turns it on by default; a tiny model needs no memory saving
        use_cpu=device == "cpu",
        seed=seed,
        save_strategy="no",
        report_to="none",
        logging_steps=50,
        disable_tqdm=not progress,
    )


def reward_scores(model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
    """The reward model's scalar for each text, read as it was trained: the text plus the eos token trl's
    ``RewardTrainer`` appends (unless it already ends with it); ``(n,)`` on CPU (Lab 3)."""
    eos = tokenizer.eos_token
    inputs = [text if text.endswith(eos) else text + eos for text in texts]
    return classifier_logits(model, tokenizer, inputs, batch_size=batch_size)[:, 0]


def pair_accuracy(model: Any, tokenizer: Any, rows: Sequence[dict[str, str]]) -> pd.DataFrame:
    """Held-out pair accuracy (share of pairs whose chosen summary scores higher), the mean reward margin
    ``r(chosen) - r(rejected)`` and the pair count, per kind and over ``all`` (Lab 3)."""
    chosen = reward_scores(model, tokenizer, [row["chosen"] for row in rows]).numpy()
    rejected = reward_scores(model, tokenizer, [row["rejected"] for row in rows]).numpy()
    return pair_table([row["kind"] for row in rows], chosen - rejected)


def pair_table(kinds: Sequence[str], margins: Any) -> pd.DataFrame:
    """Per kind and over ``all``: the share of pairs with a positive margin (chosen over rejected), the mean margin and
    the pair count (Lab 3: the reward model's pair accuracy and DPO's implicit-reward accuracy)."""
    frame = pd.DataFrame({"kind": list(kinds), "margin": margins})
    frame["correct"] = frame["margin"] > 0
    table = frame.groupby("kind").agg(accuracy=("correct", "mean"), margin=("margin", "mean"), pairs=("margin", "size"))
    table = table.reindex([kind for kind in PREFERENCE_KINDS if kind in set(frame["kind"])])
    table.loc["all"] = [frame["correct"].mean(), frame["margin"].mean(), len(frame)]
    table["pairs"] = table["pairs"].astype(int)
    return table


# ------------------------------------------------------------------------------------------ reward and judge


@dataclass(frozen=True)
class Reward:
    """PPO's reward (Lab 3): a preference reward model's scalar (tiny) or a classifier's ``label`` logit (course)."""

    model: Any
    tokenizer: Any
    origin: str
    kind: str  # "preferences" or "classifier"
    label: str | None = None  # the classifier's label whose logit is the reward
    pair_table: pd.DataFrame | None = None  # held-out pair accuracy by kind (preferences)

    @property
    def pair_accuracy(self) -> float | None:
        """Held-out pair accuracy over all kinds (preferences), else None."""
        return None if self.pair_table is None else float(self.pair_table.loc["all", "accuracy"])

    @property
    def margin(self) -> float | None:
        """Mean held-out reward margin r(chosen) - r(rejected) (preferences), else None."""
        return None if self.pair_table is None else float(self.pair_table.loc["all", "margin"])

    def score(self, texts: Sequence[str]) -> torch.Tensor:
        """The reward of each summary, ``(n,)`` float32 on CPU."""
        if self.kind == "preferences":
            return reward_scores(self.model, self.tokenizer, texts).float()
        assert self.label is not None
        return label_logits(self.model, self.tokenizer, list(texts), self.label, batch_size=32).float()

    def __call__(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        """PPO's ``reward_fn(prompts, responses)``: the reward reads the summary alone."""
        return self.score(responses)

    def examples(self, texts: Sequence[str]) -> pd.DataFrame:
        """The reward of a few summaries (the notebook's demo)."""
        return pd.DataFrame({"summary": list(texts), "reward": self.score(texts).numpy()})


def preference_reward(trainer: RewardTrainer, pairs: PreferencePairs) -> Reward:
    """The reward model ``trainer`` trained (Lab 3's notebook, after ``trainer.train()``), scored on the held-out pairs.

    Its ``RewardConfig`` is used as it is (an edited one trains what it says); ``origin`` names the main arguments.
    """
    model, tokenizer, args = trainer.model.eval(), trainer.processing_class, trainer.args
    return Reward(
        model,
        tokenizer,
        origin=(
            f"trained here with trl's RewardTrainer on {len(pairs.train)} preference pairs ({args.num_train_epochs:g} "
            f"epochs, learning rate {args.learning_rate:g}, batch {args.per_device_train_batch_size}, seed {args.seed})"
        ),
        kind="preferences",
        pair_table=pair_accuracy(model, tokenizer, pairs.test),
    )


def train_preference_reward(profile: Any, *, pairs: PreferencePairs | None = None, progress: bool = False) -> Reward:
    """Lab 3's preference reward model end to end, as the notebook trains it (tests, :func:`detox.detoxify`)."""
    pairs = pairs or preference_pairs()
    model, tokenizer = fresh_reward_model(pairs, seed=profile.seed)
    with tempfile.TemporaryDirectory(prefix="genai-labs-reward-") as scratch:
        args = reward_config(profile.lab3, seed=profile.seed, output_dir=scratch, device=profile.device, progress=progress)
        trainer = RewardTrainer(model=model, args=args, train_dataset=pairs.train, processing_class=tokenizer)
        with quiet_transformers():
            trainer.train()
    return preference_reward(trainer, pairs)


def classifier_reward(profile: Any) -> Reward:
    """The course's reward: the ``lab3.reward_label`` (``nothate``) logit of the profile's classifier, the label found
    by name."""
    model, tokenizer = load_reward_model(profile)
    label = profile.lab3.reward_label
    return Reward(model, tokenizer, origin=f"the {label!r} logit of {profile.reward_model}", kind="classifier", label=label)


def reward_for(profile: Any, *, progress: bool = False) -> Reward:
    """The profile's reward: a preference reward model trained here when ``lab3.reward_train_epochs > 0`` (tiny), else
    the classifier's label logit (course)."""
    if profile.lab3.reward_train_epochs > 0:
        return train_preference_reward(profile, progress=progress)
    return classifier_reward(profile)


@dataclass(frozen=True)
class Judge:
    """The toxicity judge (Lab 3): P(``toxic_label``) of a hate/nothate classifier, with where it comes from."""

    model: Any
    tokenizer: Any
    origin: str
    toxic_label: str
    held_out_accuracy: float | None = None  # on the world's labeled toxicity test texts (tiny), else None

    def demo(self, texts: Sequence[str]) -> pd.DataFrame:
        """Logits and probabilities of each label for a few texts."""
        logits = classifier_logits(self.model, self.tokenizer, list(texts))
        probabilities = logits.softmax(dim=-1)
        id2label = self.model.config.id2label
        table = pd.DataFrame({"text": list(texts)})
        for index in sorted(id2label):
            table[f"logit {id2label[index]}"] = logits[:, index].numpy()
        for index in sorted(id2label):
            table[f"P({id2label[index]})"] = probabilities[:, index].numpy()
        return table


def judge_for(profile: Any) -> Judge:
    """The profile's toxicity judge: the classifier ``profile.reward_model`` (tiny: the world's, scored on the world's
    held-out labeled texts; course: the hub classifier, which there is also PPO's reward)."""
    model, tokenizer = load_reward_model(profile)
    accuracy = None
    if profile.dataset == WORLD_DATASET:  # the tiny world: its labeled toxicity texts exist
        texts, labels = load_toxicity_texts("test")
        accuracy = classifier_accuracy(model, tokenizer, texts, labels)
    return Judge(
        model, tokenizer, origin=str(profile.reward_model), toxic_label=profile.lab3.toxic_label, held_out_accuracy=accuracy
    )


def reward_example_texts(pairs: PreferencePairs, n: int = 2) -> list[str]:
    """A few held-out summaries for the reward demo: the chosen and the rejected text of ``n`` pairs of each kind."""
    texts: list[str] = []
    for kind in PREFERENCE_KINDS:
        rows = [row for row in pairs.test if row["kind"] == kind][:n]
        texts += [text for row in rows for text in (row["chosen"], row["rejected"])]
    return list(dict.fromkeys(texts))
