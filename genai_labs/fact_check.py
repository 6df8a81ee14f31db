"""The fact check: does a summary report facts of *its* dialogue? (Labs 1-3, beside ROUGE and the well-formed share).

ROUGE counts words a summary shares with the references; the world's well-formed check asks whether it is a sentence
of the right form. Neither sees a summary that names another flat, price or day than the dialogue does. The fact check
finds the facts a summary names (names, places, items, prices, days, times: whatever a *fact finder* recognises) and
asks which of them the dialogue holds: entity-level precision against the source (Nan et al. 2021, "Entity-level
Factual Consistency of Abstractive Text Summarization"), plus recall against the references (of the reference's
facts, the share the summary carries) and the share of summaries whose named facts are all in the dialogue.

Two finders: the tiny world's exact one (``genai_labs.world.facts``: every value of its slot pools) and
:func:`generic_facts` for real dialogues. Neither checks a fact's *role*: "Steven calls Mrs. Moore" when Mrs. Moore
called Steven names two facts the dialogue holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

FactFinder = Callable[[str], list[str]]
"""Finds the facts a text names, in order of appearance (each a substring of the text)."""

DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_WORDS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip
# Capitalised words that are not facts: sentence starters, pronouns, courtesy words, DialogSum's speaker tags.
COMMON_CAPITALISED = frozenset((
    "A", "An", "The", "This", "That", "These", "Those", "It", "Its", "He", "She", "They", "We", "I", "You", "His",
    "Her", "Their", "Our", "My", "Your", "Who", "What", "When", "Where", "Why", "How", "And", "But", "Or", "So",
    "If", "Then", "Yes", "No", "Not", "Ok", "OK", "Okay", "Hi", "Hello", "Hey", "Dear", "Please", "Thanks", "Thank",
    "Sorry", "Well", "Oh", "Sure", "Also", "After", "Before", "At", "In", "On", "For", "To", "From", "With", "About",
    "As", "By", "Of", "Both", "Each", "All", "Some", "Any", "One", "Person1", "Person2", "Person3",
))  # fmt: skip
SPEAKER_TAG = re.compile(r"#Person\d+#")
_GENERIC = re.compile(
    r"""\$\s?\d+(?:,\d{3})*(?:\.\d+)?                 # prices: $800, $1,200.50
      | \d{1,2}(?::\d{2})?\s?(?:[ap]\.?m\.?)\b        # clock times: 3 pm, 10:30 a.m.
      | \d+(?:,\d{3})*(?:\.\d+)?%?                    # numbers and percentages
      | (?:Mr|Mrs|Ms|Dr)\.\s[A-Z][a-z]+               # titled names
      | [A-Z][a-z]+(?:\s[A-Z][a-z]+)*                  # capitalised words and runs of them (names, places, days)
    """,
    re.VERBOSE,
)


def generic_facts(text: str) -> list[str]:
    """Facts recognisable without a model in any English summary (``course`` and ``laptop`` profiles): prices,
    clock times, numbers, titled names, days, months and other capitalised words or runs of them.

    What it cannot see: facts in lower case (a studio flat, two nights, a refund), numbers written as words, and
    whether a capitalised word is a name at all beyond a short stop list; DialogSum's ``#Person1#`` tags are not
    facts. A run of capitalised words that starts with a common word loses that word ("The Royal Hotel" -> "Royal
    Hotel").
    """
    facts: list[str] = []
    for match in _GENERIC.finditer(SPEAKER_TAG.sub(" ", text)):
        words = match.group(0).split()
        while words and words[0] in COMMON_CAPITALISED:
            words = words[1:]
        if words:
            facts.append(" ".join(words))
    return facts


def holds(fact: str, source: str) -> bool:
    """True when ``fact`` occurs in ``source`` as whole words (case-sensitive, runs of spaces count as one)."""
    pattern = r"(?<![\w$])" + r"\s+".join(re.escape(part) for part in fact.split()) + r"(?!\w)"
    return re.search(pattern, source) is not None


@dataclass(frozen=True)
class FactCheck:
    """One summary checked against its dialogue (and, when given, its references)."""

    named: tuple[str, ...]  # the facts the summary names
    supported: tuple[bool, ...]  # for each named fact, whether the dialogue holds it
    reference_facts: tuple[str, ...] = ()  # the facts the references name (union over references)
    carried: tuple[bool, ...] = ()  # for each reference fact, whether the summary names it

    @property
    def all_right(self) -> bool:
        """The summary names at least one fact, and the dialogue holds every one."""
        return bool(self.named) and all(self.supported)


def check_facts(summary: str, dialogue: str, finder: FactFinder, references: Sequence[str] = ()) -> FactCheck:
    """Check the facts ``summary`` names against ``dialogue`` and, when given, ``references`` (Labs 1-3)."""
    named = tuple(finder(summary))
    reference_facts = tuple(dict.fromkeys(fact for reference in references for fact in finder(reference)))
    return FactCheck(
        named=named,
        supported=tuple(holds(fact, dialogue) for fact in named),
        reference_facts=reference_facts,
        carried=tuple(holds(fact, summary) for fact in reference_facts),
    )


@dataclass(frozen=True)
class FactScores:
    """The fact check over many summaries, with per-summary counts for bootstrap intervals (Labs 1-3)."""

    named: np.ndarray  # facts named, per summary
    supported: np.ndarray  # of those, held by the dialogue
    reference_facts: np.ndarray  # facts the references name, per summary
    carried: np.ndarray  # of those, named by the summary
    all_right: np.ndarray  # 1.0 when the summary names facts and all are right

    @property
    def precision(self) -> float:
        """Of all facts the summaries name, the share their dialogues hold (pooled); NaN when none is named."""
        total = self.named.sum()
        return float(self.supported.sum() / total) if total else float("nan")

    @property
    def recall(self) -> float:
        """Of all facts the references name, the share the summaries carry (pooled); NaN without reference facts."""
        total = self.reference_facts.sum()
        return float(self.carried.sum() / total) if total else float("nan")

    @property
    def all_right_share(self) -> float:
        """The share of summaries that name facts and get every one right."""
        return float(self.all_right.mean()) if len(self.all_right) else float("nan")


def fact_scores(
    summaries: Sequence[str],
    dialogues: Sequence[str],
    finder: FactFinder,
    references: Sequence[Sequence[str]] | None = None,
) -> FactScores:
    """Check every summary against its dialogue (and references: a list of reference strings per summary)."""
    if isinstance(summaries, str) or isinstance(dialogues, str):
        raise TypeError("summaries and dialogues must be lists of strings, not one string; wrap it: [text].")
    if len(summaries) != len(dialogues):
        raise ValueError(f"{len(summaries)} summaries but {len(dialogues)} dialogues: give one dialogue per summary.")
    if references is not None and len(references) != len(summaries):
        raise ValueError(f"{len(summaries)} summaries but {len(references)} reference lists: give one list per summary.")
    refs: Sequence[Sequence[str]] = references if references is not None else [()] * len(summaries)
    checks = [check_facts(s, d, finder, [r] if isinstance(r, str) else r) for s, d, r in zip(summaries, dialogues, refs)]
    return FactScores(
        named=np.array([len(c.named) for c in checks], dtype=float),
        supported=np.array([sum(c.supported) for c in checks], dtype=float),
        reference_facts=np.array([len(c.reference_facts) for c in checks], dtype=float),
        carried=np.array([sum(c.carried) for c in checks], dtype=float),
        all_right=np.array([float(c.all_right) for c in checks]),
    )


def _resampled_precisions(scores: FactScores, indices: np.ndarray) -> np.ndarray:
    named = scores.named[indices].sum(axis=1)
    return np.divide(scores.supported[indices].sum(axis=1), named, out=np.full(len(indices), np.nan), where=named > 0)


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    if n == 0:
        raise ValueError("no summaries were checked: a bootstrap needs at least one.")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def precision_interval(
    scores: FactScores, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(precision, low, high)``: fact precision and its percentile-bootstrap interval, summaries resampled (Labs 1-3)."""
    values = _resampled_precisions(scores, _indices(len(scores.named), resamples, seed))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(values, [alpha, 1.0 - alpha])
    return scores.precision, float(low), float(high)


def paired_precision_change(
    before: FactScores, after: FactScores, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """``after - before`` fact precision on the same dialogues, with a paired bootstrap interval (``diff``, ``low``,
    ``high``): the same resampled dialogues score both (Lab 3, before and after PPO)."""
    if len(before.named) != len(after.named):
        raise ValueError(f"before and after must check the same dialogues: got {len(before.named)} and {len(after.named)}.")
    indices = _indices(len(before.named), resamples, seed)
    diffs = _resampled_precisions(after, indices) - _resampled_precisions(before, indices)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(diffs, [alpha, 1.0 - alpha])
    return {"diff": after.precision - before.precision, "low": float(low), "high": float(high)}


def fact_table(scores: Mapping[str, FactScores], *, seed: int = 0) -> pd.DataFrame:
    """One row per system: facts named per summary, fact precision with its 95% interval, recall against the
    references and the share of summaries with every fact right (Labs 1-3 print it beside ROUGE)."""
    rows = []
    for name, score in scores.items():
        precision, low, high = precision_interval(score, seed=seed) if score.named.sum() else (np.nan,) * 3
        rows.append(
            {
                "system": name,
                "facts named": float(score.named.mean()),
                "fact precision": precision,
                "ci_low": low,
                "ci_high": high,
                "fact recall": score.recall,
                "all facts right": score.all_right_share,
            }
        )
    return pd.DataFrame(rows).set_index("system")


def systems_fact_table(
    predictions: Mapping[str, Sequence[str]],
    dialogues: Sequence[str],
    finder: FactFinder,
    references: Sequence[Sequence[str]] | None = None,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`fact_table` of several systems' summaries of the same dialogues (Lab 1's styles, Lab 2's models)."""
    return fact_table(
        {name: fact_scores(list(texts), list(dialogues), finder, references) for name, texts in predictions.items()}, seed=seed
    )


def grouped(scores: FactScores, size: int) -> FactScores:
    """Counts of each run of ``size`` consecutive summaries added up (several samples of one prompt become one unit:
    Lab 3's intervals resample prompts, not samples); ``all_right`` becomes the group's share."""
    n = len(scores.named)
    if size < 1 or n % size:
        raise ValueError(f"{n} summaries do not split into groups of {size}: give every prompt the same number of samples.")

    def add(values: np.ndarray) -> np.ndarray:
        return values.reshape(n // size, size).sum(axis=1)

    return FactScores(
        named=add(scores.named),
        supported=add(scores.supported),
        reference_facts=add(scores.reference_facts),
        carried=add(scores.carried),
        all_right=scores.all_right.reshape(n // size, size).mean(axis=1),
    )
