"""User errors of ``genai-labs world`` and ``genai-labs bench`` (genai_labs.instructor.cli): one message, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

import genai_labs.instructor.cli as cli
from genai_labs.instructor.cli import main


def _bad_folders(tmp_path: Path) -> list[Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    return [a_file, a_file / "below", Path("/proc/nope")]


def test_world_bad_data_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in _bad_folders(tmp_path):
        assert main(["world", "--data-out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"genai-labs world: --data-out {folder}: ") and "Traceback" not in err


def test_bench_bad_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in _bad_folders(tmp_path):
        assert main(["bench", "--quick", "--out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"genai-labs bench: --out {folder}: ") and "Traceback" not in err


def test_bench_only_is_passed_on_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = cli.benchmark_suite()
    calls = []
    monkeypatch.setattr(suite, "run_suite", lambda out, **kw: calls.append((out, kw)) or {})
    assert main(["bench", "--quick", "--only", "generation", "ppo_step", "--out", str(tmp_path)]) == 0
    assert calls == [(tmp_path, {"quick": True, "only": ["generation", "ppo_step"]})]
    with pytest.raises(SystemExit):
        main(["bench", "--only", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_bench_help_shows_defaults_and_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: benchmarks/results)" in out and "(default: all)" in out and "generation, training_input" in out
    assert out.startswith("usage: genai-labs bench")


def test_bench_from_an_installation_without_the_suite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "CHECKOUT", tmp_path)  # an installed package: no benchmarks/ beside it
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genai-labs bench: the benchmark suite lives in a source checkout") and "Traceback" not in err


def test_other_commands_reject_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["profile", "tiny", "--quick"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --quick" in capsys.readouterr().err


def test_docstring_matches_the_options() -> None:
    assert "cache [--prune] [--older-than DAYS]" in cli.__doc__
    assert "world [--data-out DIR]" in cli.__doc__ and "--cell-timeout SECONDS" in cli.__doc__ and "--only NAME" in cli.__doc__
