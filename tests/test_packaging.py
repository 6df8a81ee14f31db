"""Packaging: environment.yml installs what pyproject.toml declares, and the torch range admits CI's 2.13.0."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip().strip('"'), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    project = _pyproject()["project"]
    declared = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    pip_lines = [
        line.strip()[2:].strip('"')
        for line in (ROOT / "environment.yml").read_text().splitlines()
        if line.strip().startswith("- ") and line.startswith(" " * 6)
    ]
    listed = {_name(line) for line in pip_lines if not line.startswith(("-", "--")) and line != "-e ."}
    assert listed == declared, f"only in environment.yml: {listed - declared}; only in pyproject: {declared - listed}"


def test_torch_range_admits_the_ci_build() -> None:
    from packaging.specifiers import SpecifierSet

    torch_requirement = next(r for r in _pyproject()["project"]["dependencies"] if _name(r) == "torch")
    assert "2.13.0" in SpecifierSet(torch_requirement.split("torch", 1)[1].split("#")[0].strip())
    assert "torch==2.13.0" in (ROOT / ".ci" / "run").read_text()
