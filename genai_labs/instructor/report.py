"""The instructor's ``figures.json`` and ``report.md`` of a ``genai-labs run``.

Each lab's notebook records its key figures with :func:`genai_labs.core.run_figures.record_figures` into
``<run dir>/figures.<lab>.json``; the runner then assembles ``figures.json`` (schema in the README) with
:func:`assemble_figures` and writes ``report.md`` from it and the executed notebooks with :func:`write_report`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat

from genai_labs.core.atomic_io import build_folder_atomic, write_json_atomic, write_text_atomic
from genai_labs.core.run_figures import library_versions, machine_description

RUN_KEYS = (
    "profile",
    "seed",
    "status",
    "failed",
    "started_utc",
    "machine",
    "versions",
    "model_revisions",
    "timings_s",
)  # the rest: one key per lab
TEXT_OUTPUT_LINES = 40  # longer printed outputs are cut in report.md (the executed notebook holds all of them)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour/cursor codes (kernel tracebacks, error messages; ``genai-labs run``)."""
    return _ANSI.sub("", text)


def assemble_figures(
    run_dir: Path,
    *,
    profile: Mapping[str, Any],
    seed: int,
    timings_s: Mapping[str, float],
    failed: Mapping[str, Any] | None = None,
    started: datetime | None = None,
) -> dict[str, Any]:
    """Build ``figures.json`` for a run folder from the per-lab files the notebooks wrote (``genai-labs run``).

    ``status`` is ``"ok"``, or ``"failed"`` with ``failed = {lab, notebook, cell, error}`` when a lab stopped;
    ``started_utc`` and ``machine`` say when and where the run happened (the README's figures table states both).
    """
    figures: dict[str, Any] = {
        "profile": profile.get("name"),
        "seed": seed,
        "status": "failed" if failed else "ok",
        "started_utc": started.astimezone(timezone.utc).isoformat(timespec="seconds") if started else None,
        "machine": machine_description(),
        "versions": library_versions(),
        "model_revisions": {
            "model": [profile.get("model"), profile.get("model_revision")],
            "reward_model": [profile.get("reward_model"), profile.get("reward_model_revision")],
            "dataset": [profile.get("dataset"), profile.get("dataset_revision")],
        },
        "timings_s": dict(timings_s),
    }
    if failed:
        figures["failed"] = dict(failed)
    for path in sorted(Path(run_dir).glob("figures.*.json")):
        figures[path.name.split(".")[1]] = json.loads(path.read_text())
    write_json_atomic(Path(run_dir) / "figures.json", figures)
    return figures


# --------------------------------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------------------------------


def _format_value(value: Any) -> str:
    """A figure as report text: 4 significant digits, ``[low, high]`` lists, ``n/a`` for null."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)


def _figure_rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Flatten nested figures into ``(dotted.key, text)`` rows."""
    if isinstance(value, Mapping):
        return [row for key, inner in value.items() for row in _figure_rows(f"{prefix}.{key}" if prefix else str(key), inner)]
    return [(prefix, _format_value(value))]


def _cell_text(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    width = len(header)
    lines = ["| " + " | ".join(_cell_text(h) for h in header) + " |", "|" + " --- |" * width]
    for row in rows:
        cells = [_cell_text(c) for c in row][:width] + [""] * (width - len(row))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


class _HtmlTable(HTMLParser):
    """Rows of a simple HTML table (a pandas DataFrame's ``text/html``); ``simple`` is False for spans or nesting."""

    def __init__(self) -> None:
        super().__init__()
        self.head: list[list[str]] = []
        self.body: list[list[str]] = []
        self.simple, self.tables = True, 0
        self._in_head = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables += 1
            self.simple &= self.tables == 1
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = []
            self.simple &= all(name not in ("rowspan", "colspan") or value in (None, "1") for name, value in attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            (self.head if self._in_head else self.body).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_table_to_markdown(html: str) -> list[str]:
    """A pandas HTML table as Markdown lines; tables with spans keep their HTML, without ``<style>`` blocks."""
    parser = _HtmlTable()
    parser.feed(html)
    head, body = parser.head, parser.body
    if not head and body:
        head, body = body[:1], body[1:]
    if len(head) == 2 and not any(head[1][1:]):  # pandas: column-axis name row, then the index name row
        head = [[head[1][0] or head[0][0], *head[0][1:]]]
    if not parser.simple or len(head) != 1 or any(len(row) != len(head[0]) for row in body):
        return [re.sub(r"<style.*?</style>\s*", "", html, flags=re.S | re.I).strip()]
    return markdown_table(head[0], body)


def _fenced(text: str) -> list[str]:
    """``text`` as a fenced code block, cut after :data:`TEXT_OUTPUT_LINES` lines."""
    lines = strip_ansi(text).rstrip().splitlines()
    if len(lines) > TEXT_OUTPUT_LINES:
        lines = [*lines[:TEXT_OUTPUT_LINES], f"... ({len(lines) - TEXT_OUTPUT_LINES} more lines in the executed notebook)"]
    longest = max((len(run) for run in re.findall(r"`+", "\n".join(lines))), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


def _output_lines(output: Mapping[str, Any], image_name: str, images: dict[str, bytes]) -> list[str]:
    """Report lines for one notebook output: a plot, a table, printed text or an error (progress widgets skipped)."""
    kind = output.get("output_type")
    if kind == "stream":
        return _fenced(output.get("text", "")) if output.get("name") == "stdout" and output.get("text", "").strip() else []
    if kind == "error":
        return _fenced(f"{output.get('ename')}: {output.get('evalue')}")
    data = output.get("data", {})
    if "image/png" in data:
        images[image_name] = base64.b64decode(data["image/png"])
        return [f"![{Path(image_name).stem}](figures/{image_name})"]
    if "text/markdown" in data:
        return [str(data["text/markdown"]).strip()]
    if "<table" in str(data.get("text/html", "")):
        return html_table_to_markdown(str(data["text/html"]))
    if set(data) == {"text/plain"} and str(data["text/plain"]).strip():
        return _fenced(str(data["text/plain"]))
    return []


def _notebook_section(lab: str, path: Path, images: dict[str, bytes]) -> tuple[str | None, list[str]]:
    """A lab notebook's title (its first ``#`` heading) and the report lines of its outputs, under its ``##`` headings."""
    notebook = nbformat.read(path, as_version=4)
    title, heading, shown_heading, lines = None, None, None, []
    code_number = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# ") and title is None:
                    title = line[2:].strip()
                elif line.startswith("## "):
                    heading = line[3:].strip()
            continue
        if cell.cell_type != "code":
            continue
        code_number += 1
        blocks = []
        for number, output in enumerate(cell.get("outputs", []), start=1):
            block = _output_lines(output, f"{lab}-cell{index + 1}-{number}.png", images)
            if block:
                blocks += [*block, ""]
        if not blocks:
            continue
        if heading != shown_heading:
            lines += [f"### {heading}", ""]
            shown_heading = heading
        lines += [f"*code cell {code_number} (cell {index + 1} of the notebook)*", "", *blocks]
    return title, lines


def _describe_failure(failed: Mapping[str, Any]) -> str:
    """The FAILED line of report.md."""
    where = f"{failed.get('lab')} ({failed.get('notebook')})" if failed.get("notebook") else str(failed.get("lab"))
    cell = f" at {failed['cell']}" if failed.get("cell") else ""
    return f"**FAILED**: {where} stopped{cell} — {failed.get('error')}"


def _header_lines(figures: Mapping[str, Any], started: datetime | None) -> list[str]:
    """Title, status line and the run's facts (profile, seed, date, timings, sources)."""
    failed = figures.get("failed")
    lines = ["# genai-labs run report", ""]
    lines += [_describe_failure(failed) if failed else "**Status: ok**: every lab ran to the end.", ""]
    timings = figures.get("timings_s", {})
    timing_text = ", ".join(f"{lab} {seconds:.1f} s" for lab, seconds in timings.items())
    total = f" (total {sum(timings.values()):.1f} s)" if len(timings) > 1 else ""
    lines += [
        f"- status: {figures.get('status', 'ok')}",
        f"- profile: {figures.get('profile')}, seed {figures.get('seed')}",
        f"- started: {started.strftime('%Y-%m-%d %H:%M:%S %Z') if started else 'n/a'}",
        f"- timings: {timing_text or 'no lab ran'}{total}",
    ]
    for kind, (name, revision) in figures.get("model_revisions", {}).items():
        lines.append(f"- {kind.replace('_', ' ')}: {_format_value(name)} (revision: {revision or 'none pinned'})")
    return [*lines, ""]


def write_report(
    run_dir: Path, figures: Mapping[str, Any], notebooks: Mapping[str, Path], *, started: datetime | None = None
) -> Path:
    """Write ``report.md`` (``genai-labs run``): status and run facts, one section per lab (key figures, then the
    notebook's tables, plots and printed text), versions last. Plots go to ``figures/``; both are written atomically."""
    run_dir = Path(run_dir)
    images: dict[str, bytes] = {}
    lines = _header_lines(figures, started)
    labs = list(dict.fromkeys([*notebooks, *(k for k in figures if k not in RUN_KEYS)]))
    for lab in labs:
        title, outputs = _notebook_section(lab, Path(notebooks[lab]), images) if lab in notebooks else (None, [])
        source = f"`{Path(notebooks[lab]).name}`" if lab in notebooks else "no executed notebook"
        seconds = figures.get("timings_s", {}).get(lab)
        lines += [f"## {lab}: {title or 'lab'}", "", f"{source}" + (f", {seconds:.1f} s" if seconds is not None else ""), ""]
        rows = [list(row) for row in _figure_rows("", figures.get(lab, {}))]
        lines += ["### Key figures", ""]
        lines += [*markdown_table(["figure", "value"], rows), ""] if rows else ["(none recorded: the lab did not finish)", ""]
        lines += outputs
    lines += [
        "## Versions",
        "",
        *markdown_table(["library", "version"], [[k, v] for k, v in figures.get("versions", {}).items()]),
        "",
    ]
    lines += [
        "## Files of this run",
        "",
        "- `figures.json`: every key figure (schema in the README); `figures.<lab>.json`: what each notebook recorded",
        "- `profile.json`: the profile's settings; `figures/`: the plots above; `*.ipynb`: the executed notebooks",
    ]
    if images:

        def build(folder: Path) -> None:
            for name, data in images.items():
                (folder / name).write_bytes(data)

        build_folder_atomic(run_dir / "figures", build)
    return write_text_atomic(run_dir / "report.md", "\n".join(lines).rstrip() + "\n")
