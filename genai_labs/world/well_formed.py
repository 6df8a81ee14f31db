"""The world's exact check of a summary: could the world's generator have written it? (Labs 1-3, tiny profile).

Every summary the world writes is one of its templates (``world.dialogues``: a family's observer summaries, gists
or headlines) with each slot filled by a value of that slot's pool, and an observer summary of a rude dialogue may
carry one sentence about the insult before or after it. A model's summary is **well-formed** when it matches that
grammar exactly: the slot values must be values the world uses for those slots, but not necessarily the ones of
the dialogue summarised (a well-formed summary can still get the facts wrong; ROUGE, not this check, measures that).

The labs print the well-formed share beside ROUGE: a summary that loops ("a flat a flat a flat ...") can still
score well on ROUGE, and this check catches it. It checks form only and is never used to filter what a model writes.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from genai_labs.core.sources import WORLD_DATASET
from genai_labs.world.dialogues import (
    FAMILIES,
    INSULT_ADJECTIVES,
    INSULT_NOUNS,
    NEUTRAL_REPORTS,
    SHUT_UP_REPORT,
    STYLES,
    TOXIC_REPORTS,
    Family,
)

SPEAKERS: tuple[str, ...] = ("#Person1#", "#Person2#")


def _alternatives(values: Iterable[str]) -> str:
    """A regex matching exactly one of ``values`` (longest first, so no value stops inside a longer one)."""
    return "(?:" + "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True)) + ")"


def slot_pools(family: Family) -> dict[str, tuple[str, ...]]:
    """Every value each slot of ``family`` can take (person names, independent and linked slots)."""
    pools = {key: tuple(values) for key, values in family.names.items()}
    pools.update({key: tuple(values) for key, values in family.slots.items()})
    for keys, rows in family.linked:
        for position, key in enumerate(keys):
            pools[key] = tuple(row[position] for row in rows)
    return pools


def _template_regex(template: str, slots: Mapping[str, str]) -> str:
    """The regex of a ``str.format`` template whose fields match ``slots[field]`` and whose text matches itself."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(slots[name])
    return "".join(parts)


def _insult_report() -> str:
    """A regex of every sentence the world writes about an insult (toxic or neutral)."""
    speakers = _alternatives(SPEAKERS)
    slots = {"rude": speakers, "target": speakers, "adj": _alternatives(INSULT_ADJECTIVES), "noun": _alternatives(INSULT_NOUNS)}
    return "(?:" + "|".join(_template_regex(t, slots) for t in (*TOXIC_REPORTS, SHUT_UP_REPORT, *NEUTRAL_REPORTS)) + ")"


@functools.cache
def _grammar() -> dict[str, re.Pattern[str]]:
    """One compiled pattern per style (built once: ~170 templates)."""
    templates: dict[str, list[str]] = {style: [] for style in STYLES}
    for family in FAMILIES:
        slots = {key: _alternatives(values) for key, values in slot_pools(family).items()}
        templates["observer"] += [_template_regex(t, slots) for t in family.summaries]
        templates["gist"] += [_template_regex(t, slots) for t in family.gists]
        templates["headline"] += [_template_regex(t, slots) for t in family.headlines]
    report = _insult_report()
    observer = "(?:" + "|".join(templates["observer"]) + ")"
    return {
        "observer": re.compile(rf"(?:{report} )?{observer}(?: {report})?"),
        "gist": re.compile("(?:" + "|".join(templates["gist"]) + ")"),
        "headline": re.compile("(?:" + "|".join(templates["headline"]) + ")"),
    }


def summary_style(text: str) -> str | None:
    """The world style (``observer``, ``gist`` or ``headline``) that ``text`` is a well-formed summary of, else None.

    Runs of whitespace count as one space and the ends are stripped (decoded model output), nothing else is forgiven.
    """
    normalised = " ".join(text.split())
    return next((style for style, pattern in _grammar().items() if pattern.fullmatch(normalised)), None)


def is_well_formed(text: str) -> bool:
    """True when the world's generator could have written ``text`` (:func:`summary_style` is not None)."""
    return summary_style(text) is not None


def well_formed_share(texts: Sequence[str]) -> float:
    """The share of ``texts`` that are well-formed (0-1); 0.0 for no texts (Labs 1-3 print it beside ROUGE)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of summaries, not one string; wrap it: [text].")
    return sum(is_well_formed(text) for text in texts) / len(texts) if texts else 0.0


def world_grammar_applies(profile: Any) -> bool:
    """True when the profile's dialogues are the tiny world's, whose summaries have this exact grammar (all labs)."""
    return profile.dataset == WORLD_DATASET
