"""What the lab notebooks show a learner, read from the committed notebooks (no execution: nbval runs them).

Lab 1's first inference is the course's own: a ``transformers.GenerationConfig``, ``model.generate`` and
``tokenizer.decode`` in its code cells. Labs 1 and 2 give every exercise a hint and a worked answer in collapsed
``<details>`` blocks. Lab 2 builds its ``TrainingArguments`` and ``LoraConfig`` in cells a learner edits, and says
that an edited argument trains (and caches) its own run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

LABS = Path(__file__).resolve().parents[1] / "labs"


def _cells(notebook: str, cell_type: str) -> list[str]:
    return [cell.source for cell in nbformat.read(LABS / notebook, as_version=4).cells if cell.cell_type == cell_type]


def _exercises(notebook: str) -> str:
    """The markdown of the notebook's "Your turn" section (its last markdown cell that names it)."""
    return next(source for source in reversed(_cells(notebook, "markdown")) if "Your turn" in source)


def test_lab1_generates_with_the_course_objects() -> None:
    code = "\n".join(_cells("01_prompting.ipynb", "code"))
    for call in ("GenerationConfig(", ".generate(", ".decode("):
        assert call in code, f"Lab 1 has no {call!r} in its code cells"
    assert "GenerationSettings" not in code  # the package has one config type: transformers' own


@pytest.mark.parametrize("notebook", ["01_prompting.ipynb", "02_fine_tuning.ipynb"])
def test_every_exercise_has_a_hint_and_a_worked_answer(notebook: str) -> None:
    exercises = _exercises(notebook)
    numbered = [line for line in exercises.splitlines() if line[:2].rstrip(".").isdigit() and line[1:3].startswith(". ")]
    assert numbered, f"{notebook}: no numbered exercises"
    assert exercises.count("<summary>Hint</summary>") == len(numbered), f"{notebook}: an exercise without a hint"
    assert exercises.count("<summary>Worked answer</summary>") == len(numbered), f"{notebook}: an exercise without an answer"
    assert exercises.count("<details>") == exercises.count("</details>") == 2 * len(numbered)


def test_lab2_says_an_edited_argument_trains_its_own_run() -> None:
    code = "\n".join(_cells("02_fine_tuning.ipynb", "code"))
    for call in ("TrainingArguments(", "LoraConfig(", "cached_run("):
        assert call in code
    markdown = "\n".join(_cells("02_fine_tuning.ipynb", "markdown"))
    assert "Edit any argument" in markdown
