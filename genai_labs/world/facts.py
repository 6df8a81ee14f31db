"""The tiny world's exact fact finder: the slot values a summary names (Labs 1-3, ``tiny`` profile).

Every fact the world's summaries report is a value of one of its slot pools (names, hotels, rooms, prices, days,
times ...), so finding the facts of a summary is exact: every pool value it contains, longest first, so that a value
inside a longer one ("Moore" in "Mrs. Moore", "a room" in "a twin room") counts once, as the longer one. The check
itself (which of them the dialogue holds) is :func:`genai_labs.fact_check.check_facts`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from genai_labs.fact_check import FactFinder, generic_facts
from genai_labs.world.dialogues import FAMILIES
from genai_labs.world.well_formed import slot_pools, world_grammar_applies


@functools.cache
def slot_values() -> tuple[str, ...]:
    """Every value of every slot pool of the world, longest first."""
    values = {value for family in FAMILIES for pool in slot_pools(family).values() for value in pool}
    return tuple(sorted(values, key=lambda v: (-len(v), v)))


@functools.cache
def _values_pattern() -> re.Pattern[str]:
    alternatives = "|".join(re.escape(value) for value in slot_values())
    return re.compile(rf"(?<![\w$])(?:{alternatives})(?!\w)")


def world_facts(text: str) -> list[str]:
    """The world's slot values that ``text`` names, in order (longest match first, no overlaps)."""
    return _values_pattern().findall(" ".join(text.split()))


def fact_finder(profile: Any) -> FactFinder:
    """The fact finder for a profile's data: the world's exact one, else :func:`generic_facts` (all labs)."""
    return world_facts if world_grammar_applies(profile) else generic_facts
