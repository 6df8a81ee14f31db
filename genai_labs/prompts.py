"""Prompt templates (Labs 1-3) and the tiny world's pre-training skill prompts.

The course's templates, character for character:
- instruction (Lab 1): blank line, "Summarize the following conversation.", blank line, dialogue, blank line, "Summary:";
- training prompt (Lab 2): "Summarize the following conversation.\\n\\n{dialogue}\\n\\nSummary: ";
- PPO prompt (Lab 3): the Lab 2 prompt ending in "Summary:\\n";
- FLAN template (Lab 1): newline, "Dialogue:", blank line, dialogue, blank line, "What was going on?", newline;
  each in-context shot is that block followed by its summary and three newlines.

Below the templates, Lab 1's builders: ``build_prompt`` assembles a style (with in-context shots) inside a
token budget, dropping the earliest shots or raising when it does not fit, and ``prompt_token_table``
compares the styles' token counts. ``context_limit`` (the budget: a tokenizer's real ``model_max_length``, the
context the model was trained on) and ``read_limit`` (the longest prompt read whole) are shared with ``generation``.

Long dialogues: FLAN-T5 was trained on 512-token inputs, but T5's relative position buckets read any length, and the
course fed its long prompts whole. So for relative-position models a prompt past the trained context is read whole
up to :data:`RELATIVE_POSITION_READ_LIMIT` tokens (quality past 512 is not guaranteed; ``generate_texts`` warns with
the count); in-context shots still fit the trained context (the builder drops them first); a prompt over the read
limit is refused, never truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

INSTRUCTION = "Summarize the following conversation."


def no_prompt(dialogue: str) -> str:
    """The bare dialogue, no instruction (Lab 1)."""
    return dialogue


def instruction_prompt(dialogue: str) -> str:
    """The course's Lab 1 instruction prompt."""
    return f"\n{INSTRUCTION}\n\n{dialogue}\n\nSummary:\n"


def training_prompt(dialogue: str) -> str:
    """The course's Lab 2 fine-tuning prompt (also what the fine-tuned models are asked at test time)."""
    return f"{INSTRUCTION}\n\n{dialogue}\n\nSummary: "


def ppo_prompt(dialogue: str) -> str:
    """The course's Lab 3 PPO prompt."""
    return f"{INSTRUCTION}\n\n{dialogue}\n\nSummary:\n"


def flan_prompt(dialogue: str) -> str:
    """The FLAN dialogue template (Lab 1): "Dialogue:" ... "What was going on?"."""
    return f"\nDialogue:\n\n{dialogue}\n\nWhat was going on?\n"


def flan_shot(dialogue: str, summary: str) -> str:
    """One in-context example: the FLAN block, its summary and three newlines (Lab 1)."""
    return f"{flan_prompt(dialogue)}{summary}\n\n\n"


def topic_prompt(dialogue: str) -> str:
    """The held-out skill of Lab 2's forgetting study: name the topic of a dialogue (FLAN style).

    The tiny model is pre-trained on it; for the course model it is a small FLAN-style task built from
    DialogSum's ``topic`` field. Summarization training never shows it.
    """
    return f"Dialogue:\n\n{dialogue}\n\nWhat is the topic of this conversation?"


# ------------------------------------------------------------------------------------------------
# Lab 1 prompt builders: styles, in-context shots and a token budget
# ------------------------------------------------------------------------------------------------

STYLES: tuple[str, ...] = ("no_prompt", "instruction", "flan", "one_shot", "few_shot")
"""Lab 1's prompt styles, in the order the lab shows them (``prompt_study`` uses this tuple too)."""
_SHOT_STYLES = ("one_shot", "few_shot")
_UNLIMITED = 1_000_000  # tokenizers without a real limit report ~1e30 as model_max_length
RELATIVE_POSITION_READ_LIMIT = 2048
"""Longest prompt (tokens) a relative-position model (T5, FLAN-T5) reads whole: 4x FLAN-T5's 512-token training
context, above DialogSum's longest prompt (about 1,300 tokens with FLAN-T5's tokenizer)."""


class PromptBudgetError(ValueError):
    """A prompt does not fit the token budget; the message gives the count, the limit and the fixes."""


@dataclass(frozen=True)
class PromptBuild:
    """A built prompt and its token accounting (Lab 1).

    ``shots_used`` / ``shots_dropped`` are indices into the ``shots`` passed to :func:`build_prompt`;
    ``n_tokens`` and ``limit`` are ``None`` without a tokenizer / without a budget.
    """

    text: str
    n_tokens: int | None
    shots_used: tuple[int, ...]
    shots_dropped: tuple[int, ...]
    limit: int | None


def _prompt_text(style: str, dialogue: str, shots: Sequence[tuple[str, str]]) -> str:
    if style == "no_prompt":
        return no_prompt(dialogue)
    if style == "instruction":
        return instruction_prompt(dialogue)
    # flan, one_shot and few_shot: the shots' FLAN blocks in order, then the target's FLAN block
    return "".join(flan_shot(d, s) for d, s in shots) + flan_prompt(dialogue)


def count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens the model sees for ``text``, special tokens (T5's ``</s>``) included (Lab 1)."""
    return len(tokenizer(text, verbose=False)["input_ids"])


def context_limit(tokenizer: Any, max_input_tokens: int | None = None, *, name: str = "max_input_tokens") -> int | None:
    """The longest prompt allowed, in tokens (all labs: Lab 1's prompt budget, ``generate_texts``' check).

    ``max_input_tokens`` if given, else the tokenizer's ``model_max_length``; ``None`` when neither sets a real
    limit (no tokenizer, or one that reports ~1e30). ``name`` is the caller's argument name for error messages.
    """
    if max_input_tokens is not None:
        if max_input_tokens < 1:
            raise ValueError(f"{name} must be >= 1, got {max_input_tokens}.")
        return int(max_input_tokens)
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < _UNLIMITED else None


def reads_past_context(model: Any) -> bool:
    """True for models with relative position biases (T5, FLAN-T5; all labs): nothing in them stops at the trained
    context, so longer prompts are read whole (with quality not guaranteed); absolute-position models cannot."""
    return getattr(getattr(model, "config", None), "relative_attention_num_buckets", None) is not None


def read_limit(model: Any, tokenizer: Any, max_input_tokens: int | None = None) -> int | None:
    """The longest prompt ``model`` is given, in tokens (all labs): ``max_input_tokens`` if given; else for a
    relative-position model (:func:`reads_past_context`) :data:`RELATIVE_POSITION_READ_LIMIT` (or the trained context
    if larger); else the trained context (:func:`context_limit`). ``None``: no limit."""
    if max_input_tokens is not None:
        return context_limit(tokenizer, max_input_tokens)
    trained = context_limit(tokenizer)
    if trained is not None and reads_past_context(model):
        return max(trained, RELATIVE_POSITION_READ_LIMIT)
    return trained


def long_prompt_note(lengths: Sequence[int], trained: int | None) -> str | None:
    """How many prompts are longer than the ``trained`` context, or None when none is (all labs: ``generate_texts``
    warns with it, Lab 1 shows it)."""
    if trained is None:
        return None
    long = [n for n in lengths if n > trained]
    if not long:
        return None
    return (
        f"{len(long)} of {len(lengths)} prompts are longer than the {trained} tokens the model was trained on (longest "
        f"{max(long)}); read whole (relative positions), quality past {trained} tokens is not guaranteed."
    )


def _budget(tokenizer: Any, max_tokens: int | None) -> int | None:
    if max_tokens is not None and tokenizer is None:
        raise ValueError("max_tokens needs a tokenizer to count tokens: pass tokenizer=...")
    return context_limit(tokenizer, max_tokens, name="max_tokens")


def _check_style_and_shots(style: str, shots: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; choose one of {list(STYLES)}.")
    shots = [tuple(shot) for shot in shots]  # type: ignore[misc]
    for i, shot in enumerate(shots):
        if len(shot) != 2 or not all(isinstance(x, str) for x in shot):
            raise ValueError(f"shots[{i}] must be a (dialogue, summary) pair of strings.")
    if style not in _SHOT_STYLES and shots:
        raise ValueError(f"style {style!r} takes no shots, got {len(shots)}; use 'one_shot' or 'few_shot'.")
    if style == "one_shot" and len(shots) != 1:
        raise ValueError(f"style 'one_shot' needs exactly 1 shot, got {len(shots)}; use 'few_shot' for more.")
    if style == "few_shot" and not shots:
        raise ValueError("style 'few_shot' needs at least one (dialogue, summary) shot.")
    return shots  # type: ignore[return-value]


def build_prompt(
    style: str,
    dialogue: str,
    *,
    shots: Sequence[tuple[str, str]] = (),
    tokenizer: Any = None,
    max_tokens: int | None = None,
    on_overflow: Literal["drop_shots", "error"] = "drop_shots",
    read_whole_up_to: int | None = None,
) -> PromptBuild:
    """Build a Lab 1 prompt of ``style`` for ``dialogue`` within a token budget.

    Styles: ``no_prompt`` (bare dialogue), ``instruction`` (the course's instruction prompt), ``flan``
    (zero-shot FLAN block), ``one_shot`` (exactly one shot) and ``few_shot`` (one or more shots): the
    shots' FLAN blocks (:func:`flan_shot`) in the given order, then the target's FLAN block, as in the course.

    The budget is ``max_tokens``, else ``tokenizer.model_max_length``; tokens are counted with the
    tokenizer, end-of-sequence included. Over budget, ``on_overflow="drop_shots"`` removes shots
    **earliest first** until the prompt fits (the shots nearest the dialogue, which the model reads last,
    are kept, and the remaining prompt is still a suffix of the full one), recording the dropped indices;
    ``on_overflow="error"`` raises :class:`PromptBudgetError`. If the prompt does not fit even without
    shots, it is the zero-shot prompt, read whole, when it fits ``read_whole_up_to`` tokens (a long dialogue for a
    relative-position model, :func:`read_limit`; ``n_tokens`` then exceeds ``limit``), else it raises: the
    target dialogue is never truncated.
    """
    if on_overflow not in ("drop_shots", "error"):
        raise ValueError(f"on_overflow must be 'drop_shots' or 'error', got {on_overflow!r}.")
    shots = _check_style_and_shots(style, shots)
    limit = _budget(tokenizer, max_tokens)
    text = _prompt_text(style, dialogue, shots)
    if tokenizer is None:
        return PromptBuild(text, None, tuple(range(len(shots))), (), None)
    n_tokens = count_tokens(tokenizer, text)
    if limit is None or n_tokens <= limit:
        return PromptBuild(text, n_tokens, tuple(range(len(shots))), (), limit)

    zero_shot_tokens = count_tokens(tokenizer, _prompt_text(style, dialogue, []))
    if read_whole_up_to is not None and limit < zero_shot_tokens <= read_whole_up_to:  # a long dialogue, read whole, no shots
        return PromptBuild(_prompt_text(style, dialogue, []), zero_shot_tokens, (), tuple(range(len(shots))), limit)
    if zero_shot_tokens > limit:
        raise PromptBudgetError(
            f"the {style!r} prompt has {n_tokens} tokens and even without in-context shots the dialogue's "
            f"prompt has {zero_shot_tokens} tokens, over the limit of {limit}; the dialogue is never truncated. "
            "Pick a shorter dialogue, or pass read_whole_up_to=... (or raise max_tokens) if the model reads longer inputs."
        )
    if on_overflow == "error":
        raise PromptBudgetError(
            f"the {style!r} prompt has {n_tokens} tokens, over the limit of {limit}. Either use fewer or shorter "
            "shots (or on_overflow='drop_shots' to drop the earliest shots automatically), or raise max_tokens "
            "if the model accepts longer inputs."
        )
    for n_dropped in range(1, len(shots) + 1):
        kept = shots[n_dropped:]
        text = _prompt_text(style, dialogue, kept)
        n_tokens = count_tokens(tokenizer, text)
        if n_tokens <= limit:
            return PromptBuild(text, n_tokens, tuple(range(n_dropped, len(shots))), tuple(range(n_dropped)), limit)
    raise AssertionError("unreachable: the zero-shot prompt fits")  # pragma: no cover


def prompt_token_table(
    dialogue: str,
    tokenizer: Any,
    *,
    shots: Sequence[tuple[str, str]] = (),
    max_tokens: int | None = None,
    styles: Sequence[str] = STYLES,
) -> pd.DataFrame:
    """Token count of every prompt style for one dialogue, without dropping anything (Lab 1).

    ``one_shot`` uses the first shot, ``few_shot`` all of them; styles needing shots are skipped when
    ``shots`` is empty. Columns: ``style, n_shots, n_tokens, limit, fits``.
    """
    limit = _budget(tokenizer, max_tokens)
    rows = []
    for style in styles:
        style_shots = list(shots[:1]) if style == "one_shot" else list(shots) if style == "few_shot" else []
        if style in _SHOT_STYLES and not style_shots:
            continue
        n_tokens = count_tokens(tokenizer, _prompt_text(style, dialogue, _check_style_and_shots(style, style_shots)))
        rows.append(
            {
                "style": style,
                "n_shots": len(style_shots),
                "n_tokens": n_tokens,
                "limit": limit,
                "fits": limit is None or n_tokens <= limit,
            }
        )
    return pd.DataFrame(rows, columns=["style", "n_shots", "n_tokens", "limit", "fits"])
