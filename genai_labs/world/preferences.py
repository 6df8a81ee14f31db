"""Human preference pairs of the miniature world: Lab 3's reward-model data (world build, Lab 3).

The course's lectures train the reward model on human *preferences*: labelers compare two completions for the same
prompt, and the pair ``(chosen, rejected)`` teaches a model to score the preferred one higher. The world states
preferences it can state truthfully, each pair two summaries of the same fresh dialogue (one drawn for this file,
in no dataset split):

* ``neutral_over_insult``: the same content summary with the insult reported neutrally (chosen) or repeated in
  toxic words (rejected), the report in the same position;
* ``plain_over_insult``: the content summary alone (chosen) or with the toxic report added (rejected);
* ``fluent_over_garbled``: a summary (chosen) or the same summary with a phrase repeated two to four times or cut
  off mid-sentence (rejected), the degenerate text a policy drifting from its reference writes.

A fourth kind, a faithful summary over one with a wrong name or day, was tried and left out: a tiny reward model
that reads the dialogue too scored 0.10 on those held-out pairs (below chance: it never learned to compare the
summary with the dialogue) and took four times as long to train.

About 40% of the dialogues are rude (twice the dataset's share), so there are enough insult pairs. The pairs are
written to ``data/world/preferences.jsonl`` with the other world data (``world.data_files``), bit-for-bit the same
for a seed; rows carry ``split`` (``train``/``test``) and ``kind``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from genai_labs.world.dialogues import MAX_SUMMARY_WORDS, RUDE_SHARE, Dialogue, content_summary, draw_dialogues, rude_report

PREFERENCE_KINDS: tuple[str, ...] = ("neutral_over_insult", "plain_over_insult", "fluent_over_garbled")
PREFERENCE_DIALOGUES: dict[str, int] = {"train": 2000, "test": 300}  # fresh dialogues per split (one or two pairs each)
PREFERENCE_RUDE_SHARE = 2 * RUDE_SHARE
PAIR_KEYS = ("id", "split", "kind", "dialogue", "chosen", "rejected")


def garble(text: str, rng: random.Random) -> str:
    """A degenerate version of a summary: a phrase of 2-4 words repeated 2-4 times (60%), or the text cut off after
    a third to two thirds of its words (40%)."""
    words = text.split()
    if rng.random() < 0.6:
        n = rng.randint(2, 4)
        i = rng.randrange(0, max(1, len(words) - n))
        phrase = words[i : i + n]
        return " ".join(words[: i + n] + phrase * rng.randint(2, 4) + words[i + n :])
    cut = rng.randint(max(2, len(words) // 3), max(3, len(words) * 2 // 3))
    return " ".join(words[:cut])


def with_report(content: str, report: str, report_first: bool) -> str:
    """A content summary with a report of the insult before or after it (Lab 3's preference pairs)."""
    return f"{report} {content}" if report_first else f"{content} {report}"


def preference_pairs(dialogues: Iterable[Dialogue], rng: random.Random) -> list[dict[str, str]]:
    """The pairs of each dialogue: one insult pair (rude dialogues: neutral or plain over insult, half each) and one
    ``fluent_over_garbled`` pair; rows ``{kind, dialogue, chosen, rejected}``."""
    rows: list[dict[str, str]] = []
    for dialogue in dialogues:
        content = content_summary(dialogue, rng.randrange(len(dialogue.family.summaries)))
        if dialogue.rude:
            report_first = rng.random() < 0.5
            room = MAX_SUMMARY_WORDS - len(content.split())  # the dataset's length cap on a summary with its report
            toxic = with_report(content, rude_report(dialogue, "toxic", rng, room), report_first)
            if rng.random() < 0.5:
                chosen, kind = (
                    with_report(content, rude_report(dialogue, "neutral", rng, room), report_first),
                    "neutral_over_insult",
                )
            else:
                chosen, kind = content, "plain_over_insult"
            rows.append({"kind": kind, "dialogue": dialogue.text, "chosen": chosen, "rejected": toxic})
        rows.append(
            {"kind": "fluent_over_garbled", "dialogue": dialogue.text, "chosen": content, "rejected": garble(content, rng)}
        )
    return rows


def generate_preferences(
    seed: int = 0, *, seen: set[str] | None = None, sizes: dict[str, int] = PREFERENCE_DIALOGUES
) -> list[dict[str, Any]]:
    """All preference pairs (train, then test) over fresh dialogues: none in ``seen`` (the dataset splits' dialogue
    texts) and none shared between the two splits. Rows in :data:`PAIR_KEYS` order; ids ``pref_<split>_<i>``."""
    seen = set() if seen is None else set(seen)
    rows: list[dict[str, Any]] = []
    for split, n in sizes.items():
        dialogues = draw_dialogues(
            n, random.Random(f"tiny-world/preference-dialogues/{split}/{seed}"), PREFERENCE_RUDE_SHARE, seen
        )
        pairs = preference_pairs(dialogues, random.Random(f"tiny-world/preferences/{split}/{seed}"))
        rows += [{"id": f"pref_{split}_{i}", "split": split, **pair} for i, pair in enumerate(pairs)]
    return [{key: row[key] for key in PAIR_KEYS} for row in rows]


__all__ = [
    "PAIR_KEYS",
    "PREFERENCE_DIALOGUES",
    "PREFERENCE_KINDS",
    "PREFERENCE_RUDE_SHARE",
    "garble",
    "generate_preferences",
    "preference_pairs",
    "with_report",
]
