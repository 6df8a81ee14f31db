"""Check that lab notebooks are committed without outputs (CI and the pre-commit habit of all labs).

python -m genai_labs.check_notebooks labs          # report and fail
python -m genai_labs.check_notebooks labs --strip  # clear outputs in place
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat


def dirty_cells(path: Path) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    notebook = nbformat.read(path, as_version=4)
    return [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]


def strip_outputs(path: Path) -> None:
    """Clear outputs and execution counts of every code cell, in place."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> int:
    """``python -m genai_labs.check_notebooks [FOLDER] [--strip]``: 0 when clean (or stripped), 1 when outputs were
    found, 2 when FOLDER is missing or holds no notebooks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("labs"), help="folder of notebooks (default: labs)")
    parser.add_argument("--strip", action="store_true", help="clear outputs instead of failing")
    args = parser.parse_args(argv)
    notebooks = sorted(args.folder.glob("*.ipynb")) if args.folder.is_dir() else []
    if not notebooks:
        state = (
            "does not exist"
            if not args.folder.exists()
            else "is not a folder"
            if not args.folder.is_dir()
            else "holds no .ipynb files"
        )
        print(f"check_notebooks: {args.folder} {state}; pass the folder of the lab notebooks (e.g. labs).", file=sys.stderr)
        return 2
    bad = 0
    for path in notebooks:
        if args.strip:
            strip_outputs(path)
        elif cells := dirty_cells(path):
            print(f"{path}: code cells {cells} carry outputs; run `python -m genai_labs.check_notebooks {args.folder} --strip`.")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
