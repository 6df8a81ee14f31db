"""The README's table of measured figures, written from a run's ``figures.json`` (``genai-labs readme-figures``).

The README quotes no number by hand: :func:`measured_figures_table` turns one ``genai-labs run all`` folder (and the
build record of the tiny world's committed models) into the Markdown table between the README's markers, stating the
run's date and machine, and :func:`update_readme` puts it there. Rerun both whenever the numbers move.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genai_labs.core.atomic_io import write_text_atomic
from genai_labs.core.validation import ConfigError

START_MARKER = "<!-- measured-figures:start (genai-labs readme-figures writes this table; do not edit by hand) -->"
END_MARKER = "<!-- measured-figures:end -->"


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; None when any key is missing."""
    value: Any = data
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _ci(value: Any) -> str:
    """``{diff, ci}`` or ``[low, high]`` as text."""
    if isinstance(value, Mapping):
        return f"{_signed(value.get('diff'))} [{_signed(_first(value.get('ci')))}, {_signed(_second(value.get('ci')))}]"
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"[{_number(value[0])}, {_number(value[1])}]"
    return "n/a"


def _first(pair: Any) -> Any:
    return pair[0] if isinstance(pair, list | tuple) and pair else None


def _second(pair: Any) -> Any:
    return pair[1] if isinstance(pair, list | tuple) and len(pair) > 1 else None


def _signed(value: Any) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _join(figures: Mapping[str, Any], keys: list[str], render: Callable[[Any], str] = _number) -> str:
    return " / ".join(render(_get(figures, key)) for key in keys)


def measured_figures_table(figures: Mapping[str, Any], build_info: Mapping[str, Any] | None = None) -> str:
    """The README's measured-figures section (Markdown) from a run's ``figures.json`` and the world's ``build_info``."""
    machine = figures.get("machine") or {}
    when = figures.get("started_utc") or "unknown date"
    where = f"{machine.get('processor', 'unknown processor')}, {machine.get('cpu_cores', '?')} cores"
    styles = ["no_prompt", "instruction", "flan", "one_shot", "few_shot"]
    sampling = _get(figures, "lab1.sampling") or {}  # keyed by temperature ("0.1"): not a dotted path
    temps = list(sampling)
    before, after = _get(figures, "lab3.toxicity_mean.before"), _get(figures, "lab3.toxicity_mean.after")
    toxicity_change = {
        "diff": after - before if None not in (before, after) else None,
        "ci": _get(figures, "lab3.toxicity_change_ci"),
    }
    dpo_before, dpo_after = _get(figures, "lab3.dpo.toxicity_before"), _get(figures, "lab3.dpo.toxicity_after")
    dpo_change = {
        "diff": dpo_after - dpo_before if None not in (dpo_before, dpo_after) else None,
        "ci": [_get(figures, "lab3.dpo.change_ci_low"), _get(figures, "lab3.dpo.change_ci_high")],
    }
    rows: list[tuple[str, str, str]] = []
    if build_info:
        seconds = build_info.get("seconds", {}).get("total")
        build_machine = build_info.get("machine", {})
        rows += [
            ("world", "the tiny FLAN-T5: parameters / pre-training steps / build time (`genai-labs world --models`)",
             f"{_number(build_info.get('t5_parameters'))} / {_number(build_info.get('steps'))} / "
             f"{_number(seconds / 60 if seconds else None, 1)} min on {build_machine.get('processor', '?')}, "
             f"{build_info.get('num_threads', '?')} thread(s), {str(build_info.get('started_utc', ''))[:10]}"),
            ("world", "its topic accuracy / zero-shot ROUGE-1 / share of zero-shot answers that are gists (build check)",
             f"{_number(build_info.get('topic_accuracy'))} / {_number(build_info.get('zero_shot_rouge1'))} / "
             f"{_number(build_info.get('zero_shot_gist_share'))}"),
            ("world", "fact precision of its zero-shot instruction / FLAN-template answers (build check)",
             f"{_number(build_info.get('zero_shot_fact_precision'))} / {_number(build_info.get('flan_fact_precision'))}"),
        ]  # fmt: skip
    rows += [
        ("1", "test ROUGE-1, " + " / ".join(styles) + f" ({_number(_get(figures, 'lab1.eval_examples'))} dialogues)",
         _join(figures, [f"lab1.rouge1.{s}" for s in styles])),
        ("1", "well-formed answers, " + " / ".join(styles),
         _join(figures, [f"lab1.well_formed.{s}" for s in styles])),
        ("1", "fact precision (named facts the dialogue holds), " + " / ".join(styles),
         _join(figures, [f"lab1.facts.{s}.precision" for s in styles])),
        ("1", "paired ROUGE-1 difference [95% CI]: instruction − no prompt; FLAN − no prompt; one-shot − best zero-shot",
         _join(figures, [f"lab1.paired.{k}" for k in ("instruction_vs_no_prompt", "flan_vs_no_prompt", "one_shot_vs_zero_shot")],
               _ci).replace(" / ", "; ")),
        ("1", "plain sampling at T = " + " / ".join(temps) + ": distinct-2",
         " / ".join(_number(_get(sampling[t], "distinct_2")) for t in temps)),
        ("1", "… share of dialogues with 2+ different summaries in 5 samples",
         " / ".join(_number(_get(sampling[t], "varied_share")) for t in temps)),
        ("1", "… ROUGE-1 (mean of the samples); at T = 2.0 minus greedy [95% CI]",
         " / ".join(_number(_get(sampling[t], "rouge1")) for t in temps) + "; "
         + _ci(_get(sampling.get("2.0", {}), "rouge1_vs_greedy"))),
        ("2", "test ROUGE-1, original / original one-shot / full / LoRA / full + replay",
         _join(figures, [f"lab2.rouge1.{m}" for m in ("original", "one_shot", "full", "lora", "replay")])),
        ("2", "full fine-tuning − original one-shot, paired [95% CI]; prompt tokens one-shot / zero-shot",
         _ci(_get(figures, "lab2.paired.full_vs_one_shot")) + "; "
         + _join(figures, ["lab2.prompt_tokens.one_shot", "lab2.prompt_tokens.full"], lambda v: _number(v, 0))),
        ("2", "well-formed summaries, original / full / LoRA / replay",
         _join(figures, [f"lab2.well_formed.{m}" for m in ("original", "full", "lora", "replay")])),
        ("2", "fact precision / recall / all facts right, original / one-shot / full / LoRA / replay",
         "; ".join(_join(figures, [f"lab2.facts.{m}.{k}" for k in ("precision", "recall", "all_right")])
                   for m in ("original", "one_shot", "full", "lora", "replay"))),
        ("2", "distinct summaries (share of test dialogues), full / LoRA / replay",
         _join(figures, [f"lab2.distinct_share.{m}" for m in ("full", "lora", "replay")])),
        ("2", "LoRA's share of the weights / best constant summary's ROUGE-1",
         _join(figures, ["lab2.trainable_fraction.lora", "lab2.constant_baseline_rouge1"])),
        ("2", "topic skill, original / full / LoRA / LoRA off / replay",
         _join(figures, [f"lab2.skill_accuracy.{m}" for m in ("original", "full", "lora", "lora_adapter_off", "replay")])),
        ("3", "reward model's held-out pair accuracy",
         _number(_get(figures, "lab3.reward_model_pair_accuracy"))),
        ("3", "judge's mean P(hate) before → after PPO; paired change [95% CI]",
         f"{_number(before)} → {_number(after)}; {_ci(toxicity_change)}"),
        ("3", "test ROUGE-1 before → after PPO / final KL to the reference",
         _join(figures, ["lab3.rouge1.before", "lab3.rouge1.after"]).replace(" / ", " → ", 1) + " / "
         + _number(_get(figures, "lab3.kl_final"), 2)),
        ("3", "without the KL penalty: final KL / ROUGE-1 / judge's mean P(hate)",
         _join(figures, ["lab3.no_kl.kl_final", "lab3.no_kl.rouge1", "lab3.no_kl.toxicity_mean"])),
        ("3", "well-formed sampled summaries, before / after PPO",
         _join(figures, ["lab3.well_formed.before", "lab3.well_formed.after"])),
        ("3", "fact precision of the sampled summaries, before / after PPO / without the KL penalty / after DPO",
         _join(figures, ["lab3.facts.before.precision", "lab3.facts.after.precision", "lab3.facts.no_kl.precision",
                         "lab3.dpo.fact_precision"])),
        ("3", "DPO on the reward model's pairs: judge's mean P(hate) before → after; paired change [95% CI]",
         f"{_number(dpo_before)} → {_number(dpo_after)}; {_ci(dpo_change)}"),
        ("3", "DPO: ROUGE-1 / well-formed / KL per token / implicit-reward pair accuracy / training seconds",
         _join(figures, [f"lab3.dpo.{k}" for k in ("rouge1", "well_formed", "kl", "pair_accuracy")]) + " / "
         + _number(_get(figures, "lab3.dpo.train_seconds"), 0)),
        ("all", "notebook seconds under `genai-labs run all` (Lab 2 trained from scratch if the cache was empty)",
         " / ".join(f"{lab} {_number(seconds, 0)}" for lab, seconds in (figures.get("timings_s") or {}).items())),
    ]  # fmt: skip
    lines = [
        START_MARKER,
        f"Measured by `genai-labs run all` ({figures.get('profile', '?')} profile, seed {figures.get('seed', '?')}) on "
        f"{when[:10]}, {where}; regenerate with `genai-labs readme-figures runs/<run folder>`.",
        "",
        "| lab | figure | value |",
        "| --- | --- | --- |",
        *(f"| {lab} | {figure} | {value} |" for lab, figure, value in rows),
        END_MARKER,
    ]
    return "\n".join(lines)


def update_readme(readme: Path, run_dir: Path, build_info_path: Path | None = None) -> str:
    """Replace the table between the README's markers with the one of ``run_dir``'s ``figures.json``; returns it.

    Raises :class:`~genai_labs.core.validation.ConfigError` (the command exits 2) when the run folder has no
    ``figures.json``, the run failed, or the README has no markers.
    """
    figures_path = Path(run_dir) / "figures.json"
    if not figures_path.is_file():
        raise ConfigError(f"{run_dir}: no figures.json here; pass a folder that `genai-labs run all` wrote (runs/run-...).")
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    if figures.get("status") != "ok":
        raise ConfigError(f"{run_dir}: this run did not finish (status {figures.get('status')!r}); use a run that did.")
    build_info = (
        json.loads(build_info_path.read_text(encoding="utf-8")) if build_info_path and build_info_path.is_file() else None
    )
    text = Path(readme).read_text(encoding="utf-8")
    if START_MARKER not in text or END_MARKER not in text:
        raise ConfigError(
            f"{readme}: the measured-figures markers are missing; put {START_MARKER} and {END_MARKER} around the table."
        )
    table = measured_figures_table(figures, build_info)
    before, rest = text.split(START_MARKER, 1)
    after = rest.split(END_MARKER, 1)[1]
    write_text_atomic(Path(readme), before + table + after)
    return table
