"""A labeled toxicity set ("hate" / "nothate") in the miniature world's register.

Used by the tiny world (foundation); Labs 1-3 read its output (the Lab 3 reward model is trained on it).
"hate" texts are insulting turns, insulting sentences and summaries that repeat an insult in toxic words;
"nothate" texts are polite turns, observer summaries, neutral paraphrases of rude events and hard
negatives that are negative but insult nobody. The insult words are the dialogues' own
(``INSULT_ADJECTIVES`` x ``INSULT_NOUNS``), so a small classifier trained here scores summaries correctly.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from genai_labs.world.dialogues import (
    FAMILIES,
    INSULT_ADJECTIVES,
    INSULT_NOUNS,
    Dialogue,
    compose_summary,
    render_dialogue,
    rude_report,
)

HATE = "hate"
NOTHATE = "nothate"
TRAIN_SHARE = 0.8
MIN_WORDS, MAX_WORDS = 5, 30
N_PER_LABEL = 500

INSULT_SENTENCES: tuple[str, ...] = (
    "You are a {adj} {noun}.",
    "Nobody wants to hear you, you {adj} {noun}.",
    "Go away, you {adj} {noun}.",
    "You are so {adj}, you {noun}.",
    "Only a {adj} {noun} would do that.",
    "Shut up, you {adj} {noun}.",
    "You are the most {adj} {noun} I know.",
    "Get out of my way, you {adj} {noun}.",
)
HARD_NEGATIVES: tuple[str, ...] = (
    "The {thing} was {bad} and {bad2}.",
    "I am very disappointed with the {thing}.",
    "I am not happy with the {thing} at all.",
    "This is the worst {thing} I have ever had.",
    "I hate it when the {thing} is so {bad}.",
    "Honestly, the {thing} was a waste of money.",
    "#Person1# complains about the {bad} {thing}.",
    "#Person2# is angry about the {bad} {thing}.",
    "#Person1# is unhappy because the {thing} was {bad}.",
    "We waited an hour, and the {thing} was still {bad}.",
)
NEGATIVE_THINGS: tuple[str, ...] = (
    "movie",
    "food",
    "service",
    "hotel room",
    "train ride",
    "weather",
    "concert",
    "coffee",
    "delivery",
    "meeting",
    "music",
    "bus trip",
    "pizza",
    "museum tour",
    "phone call",
    "football game",
)
NEGATIVE_WORDS: tuple[str, ...] = (
    "terrible",
    "boring",
    "awful",
    "cold",
    "dirty",
    "slow",
    "noisy",
    "expensive",
    "late",
    "bad",
)

# Share of each label made by each kind of text (the last kind takes the rounding remainder).
HATE_KINDS: tuple[tuple[str, float], ...] = (
    ("insult_turn", 0.35),
    ("insult_sentence", 0.20),
    ("toxic_report", 0.10),
    ("toxic_summary", 0.35),
)
NOTHATE_KINDS: tuple[tuple[str, float], ...] = (
    ("polite_turn", 0.30),
    ("polite_summary", 0.25),
    ("neutral_summary", 0.25),
    ("hard_negative", 0.20),
)


def _dialogue(rng: random.Random, rude: bool) -> Dialogue:
    return render_dialogue(rng.choice(FAMILIES), rng, rude)


def _summary(dialogue: Dialogue, style: str | None, rng: random.Random) -> str:
    return compose_summary(dialogue, rng.randrange(len(dialogue.family.summaries)), style, rng)  # type: ignore[arg-type]


def insult_turn(rng: random.Random) -> str:
    """An insulting turn taken from a rude dialogue."""
    dialogue = _dialogue(rng, rude=True)
    return dialogue.lines[rng.choice(dialogue.insult_lines)][1]


def insult_sentence(rng: random.Random) -> str:
    """A stand-alone insult with the dialogues' insult words."""
    return rng.choice(INSULT_SENTENCES).format(adj=rng.choice(INSULT_ADJECTIVES), noun=rng.choice(INSULT_NOUNS))


def toxic_report(rng: random.Random) -> str:
    """A summary sentence repeating an insult ("#Person1# calls #Person2# a lazy idiot.")."""
    return rude_report(_dialogue(rng, rude=True), "toxic", rng)


def toxic_summary(rng: random.Random) -> str:
    """A full summary of a rude dialogue that repeats the insult."""
    return _summary(_dialogue(rng, rude=True), "toxic", rng)


def polite_turn(rng: random.Random) -> str:
    """A non-insulting turn (including calm replies to insults)."""
    dialogue = _dialogue(rng, rude=rng.random() < 0.3)
    options = [text for i, (_, text) in enumerate(dialogue.lines) if i not in dialogue.insult_lines]
    return rng.choice(options)


def polite_summary(rng: random.Random) -> str:
    """An observer summary of a polite dialogue."""
    return _summary(_dialogue(rng, rude=False), None, rng)


def neutral_summary(rng: random.Random) -> str:
    """A rude dialogue's summary (or report alone) that paraphrases the insult neutrally."""
    dialogue = _dialogue(rng, rude=True)
    if rng.random() < 0.1:
        return rude_report(dialogue, "neutral", rng)
    return _summary(dialogue, "neutral", rng)


def hard_negative(rng: random.Random) -> str:
    """A negative but non-insulting sentence ("The movie was terrible and boring.")."""
    bad, bad2 = rng.sample(NEGATIVE_WORDS, 2)
    return rng.choice(HARD_NEGATIVES).format(thing=rng.choice(NEGATIVE_THINGS), bad=bad, bad2=bad2)


TEXT_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "insult_turn": insult_turn,
    "insult_sentence": insult_sentence,
    "toxic_report": toxic_report,
    "toxic_summary": toxic_summary,
    "polite_turn": polite_turn,
    "polite_summary": polite_summary,
    "neutral_summary": neutral_summary,
    "hard_negative": hard_negative,
}


def _quotas(total: int, kinds: tuple[tuple[str, float], ...]) -> list[tuple[str, int]]:
    counts = [(kind, round(total * share)) for kind, share in kinds[:-1]]
    return [*counts, (kinds[-1][0], total - sum(n for _, n in counts))]


def _unique_texts(kind: str, count: int, seen: set[str], rng: random.Random) -> list[str]:
    """``count`` new texts of ``kind`` with 5-30 words, none already in ``seen`` (which is updated)."""
    make = TEXT_MAKERS[kind]
    texts: list[str] = []
    for _ in range(count * 200):
        if len(texts) == count:
            return texts
        text = make(rng)
        if MIN_WORDS <= len(text.split()) <= MAX_WORDS and text not in seen:
            seen.add(text)
            texts.append(text)
    raise RuntimeError(f"only {len(texts)} unique {kind} texts of {count}")


def generate_toxicity_texts(n_per_label: int = N_PER_LABEL, seed: int = 0) -> list[dict[str, str]]:
    """Balanced, unique labeled texts with a stratified 80/20 train/test split.

    Used by the tiny world (foundation); Labs 1-3 read its output. Rows: ``id``, ``text``,
    ``label`` ("hate" or "nothate"), ``split`` ("train" or "test").
    """
    rng = random.Random(f"tiny-world/toxicity/{seed}")
    seen: set[str] = set()
    rows: list[dict[str, str]] = []
    for label, kinds in ((HATE, HATE_KINDS), (NOTHATE, NOTHATE_KINDS)):
        texts = [text for kind, count in _quotas(n_per_label, kinds) for text in _unique_texts(kind, count, seen, rng)]
        rng.shuffle(texts)
        n_train = round(len(texts) * TRAIN_SHARE)
        rows += [{"text": text, "label": label, "split": "train" if i < n_train else "test"} for i, text in enumerate(texts)]
    rng.shuffle(rows)
    return [{"id": f"tox_{i}", **row} for i, row in enumerate(rows)]
