"""Lab 3's notebook shows PPO in the open (issue 23): its settings written out, one argument a line with a comment,
a loop cell that calls the rollout, the reward and the update, and a hand example through the package's PPO math."""

from __future__ import annotations

import ast
import json
from dataclasses import fields
from pathlib import Path

from genai_labs.core.profiles import PPOConfig

NOTEBOOK = Path(__file__).resolve().parents[1] / "labs" / "03_rlhf_ppo.ipynb"


def code_cells() -> list[str]:
    """The source of each code cell of Lab 3's notebook."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def called_names(node: ast.AST) -> set[str]:
    """The names of the functions and methods called anywhere under ``node``."""
    calls = [n.func for n in ast.walk(node) if isinstance(n, ast.Call)]
    return {f.id if isinstance(f, ast.Name) else f.attr for f in calls if isinstance(f, (ast.Name, ast.Attribute))}


def test_ppo_settings_are_written_out_one_argument_a_line_with_a_comment() -> None:
    sources = [source for source in code_cells() if "PPOConfig(" in source]
    assert len(sources) == 1, sources
    lines = sources[0].splitlines()
    call = next(
        node
        for node in ast.walk(ast.parse(sources[0]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "PPOConfig"
    )
    names = [keyword.arg for keyword in call.keywords]
    assert set(names) == {f.name for f in fields(PPOConfig)} - {"checkpoint_every"}  # train()'s only: not the loop's
    for keyword in call.keywords:
        assert lines[keyword.lineno - 1].strip().startswith(f"{keyword.arg}="), keyword.arg  # one argument a line
    uncommented = [keyword.arg for keyword in call.keywords if "#" not in lines[keyword.lineno - 1]]
    assert uncommented == ["response_length_max"], uncommented  # it shares response_length_min's comment


def test_the_training_cell_is_a_loop_of_rollout_reward_and_update() -> None:
    loops = [
        called_names(node)
        for source in code_cells()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.For, ast.While))
    ]
    assert any({"rollout", "reward", "update"} <= names for names in loops), loops


def test_a_cell_runs_ppos_three_computations_by_hand() -> None:
    sources = [source for source in code_cells() if "from genai_labs.lab3.ppo import" in source]
    assert len(sources) == 1
    assert {"kl_penalty_rewards", "compute_gae", "clipped_policy_loss"} <= called_names(ast.parse(sources[0]))


def test_the_reward_and_ppo_trainers_have_their_own_names() -> None:
    """Rerunning the reward model's cells after PPO's works: no cell rebinds one trainer's name to the other."""
    assigned = [
        target.id
        for source in code_cells()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.endswith("trainer")
    ]
    assert "trainer" not in assigned and {"reward_trainer", "ppo_trainer"} <= set(assigned), assigned


def test_every_exercise_has_a_hint_and_a_worked_answer() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    markdown = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]
    exercises = next(source for source in reversed(markdown) if "Your turn" in source)
    numbered = [line for line in exercises.splitlines() if line[:1].isdigit() and line[1:3] == ". "]
    assert len(numbered) >= 6, numbered
    assert exercises.count("<summary>Hint</summary>") == len(numbered), "an exercise without a hint"
    assert exercises.count("<summary>Worked answer</summary>") == len(numbered), "an exercise without an answer"
    assert exercises.count("<details>") == exercises.count("</details>") == 2 * len(numbered)
