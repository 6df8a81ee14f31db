"""The ``genai-labs`` command (instructors and CI).

    genai-labs run [lab1|lab2|lab3|all ...] [--profile tiny|laptop|course] [--out DIR] [--cell-timeout SECONDS] [--no-progress]
    genai-labs world [--data-out DIR] [--seed N] [--models [--models-out DIR]]
    genai-labs bench [--out DIR] [--quick] [--only NAME [NAME ...]]
    genai-labs cache [--prune] [--older-than DAYS]
    genai-labs profile [NAME]
    genai-labs readme-figures RUN_DIR [--readme README.md]

User errors (an unknown lab, no notebooks, an unusable folder, a bad override) print one message and exit 2;
a lab that stops exits 1 and leaves its run folder marked failed; Ctrl-C (or SIGTERM during a lab) exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

from genai_labs.core.folders import CHECKOUT, WORLD_BUILD_TIME, default_cache_dir, ensure_writable_folder
from genai_labs.core.profiles import PROFILES, load_profile, profile_as_dict
from genai_labs.core.validation import ConfigError

EXIT_INTERRUPTED = 130  # the shell's code for a command stopped by SIGINT (128 + 2)


def positive_seconds(text: str) -> int:
    """argparse type of ``run --cell-timeout``: a whole number of seconds above 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be above 0 (leave --cell-timeout out for no limit)")
    return value


def non_negative_days(text: str) -> float:
    """argparse type of ``cache --older-than``: a number of days, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more days")
    return value


def benchmark_suite() -> ModuleType:
    """The benchmark suite of this source checkout (``benchmarks/suite.py`` beside the package), imported.

    The suite is no part of the installed package: from an installation without the checkout's ``benchmarks/``
    folder this raises :class:`ConfigError` (``genai-labs bench`` exits 2 and says where to get it).
    """
    if not (CHECKOUT / "benchmarks" / "suite.py").is_file():
        raise ConfigError(
            f"the benchmark suite lives in a source checkout (benchmarks/ beside genai_labs/), and this installation has "
            f"none at {CHECKOUT / 'benchmarks'}. Clone the genai-labs repository, install it with pip install -e, and run "
            "genai-labs bench there."
        )
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    return importlib.import_module("benchmarks.suite")  # imports torch: only when the command runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-labs", description="Run, rebuild and benchmark the genai-labs lab series, and manage its cache."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="execute lab notebooks headlessly into a new run folder")
    run.add_argument("labs", nargs="*", default=["all"], help="lab1, lab2, lab3 or all (default: all)")
    run.add_argument("--profile", default=None, choices=sorted(PROFILES), help="profile (default: $GENAI_LABS_PROFILE or tiny)")
    run.add_argument(
        "--out", type=Path, default=Path("runs"), help="parent folder of run folders, created if missing (default: runs/)"
    )
    run.add_argument(
        "--cell-timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="stop the run when one cell runs longer than this (default: no limit)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    world = commands.add_parser(
        "world",
        help="regenerate the tiny world's data files (and, with --models, rebuild its committed models)",
        description="Write the tiny world's JSONL data (deterministic for a seed). With --models, also rebuild the "
        "world's models, the committed artifact in data/world-models/ (the tiny FLAN-T5 and the toxicity classifier; "
        f"seed 0, the recipe in genai_labs.world.assets; {WORLD_BUILD_TIME}), replaced atomically.",
    )
    world.add_argument("--data-out", type=Path, default=None, help="write the JSONL files here (default: the world data folder)")
    world.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the JSONL data (default: 0, the data every lab reads; another seed writes its own folder, printed "
        "below, which the dialogue labs read when GENAI_LABS_DATASET names it; the models are always built from seed 0)",
    )
    world.add_argument("--models", action="store_true", help=f"also rebuild the world's models ({WORLD_BUILD_TIME}; resumes)")
    world.add_argument(
        "--models-out",
        type=Path,
        default=None,
        help="with --models: build into this folder instead of the committed data/world-models/",
    )

    # the suite's own options (genai-labs bench --help lists them): passed on to benchmarks/suite.py
    commands.add_parser("bench", help="run the benchmark suite (benchmarks/ of a source checkout)", add_help=False)

    cache = commands.add_parser(
        "cache",
        help="list what the labs cache (models, trained runs) and prune what is unused",
        description="List the cache ($GENAI_LABS_CACHE, default ~/.cache/genai_labs): every entry "
        "with its size, when it was last used and what --prune would do. Nothing is removed "
        "without --prune; anything being trained or loaded is never removed.",
    )
    cache.add_argument(
        "--prune",
        action="store_true",
        help="remove world builds of older versions, folders left by killed builds and resume checkpoints "
        "left in finished Lab 2 runs (default: only list)",
    )
    cache.add_argument(
        "--older-than",
        type=non_negative_days,
        default=None,
        metavar="DAYS",
        help="also mark Lab 2 runs not used for DAYS days (retrained when a lab needs them again)",
    )

    readme = commands.add_parser(
        "readme-figures",
        help="write the README's measured-figures table from a run folder's figures.json",
        description="Replace the README's measured-figures table (between its markers) with the figures of one "
        "`genai-labs run all` folder and the build record of the tiny world's committed models, stating the run's "
        "date and machine.",
    )
    readme.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a folder `genai-labs run all` wrote (runs/run-...)")
    readme.add_argument("--readme", type=Path, default=None, help="the README to update (default: this checkout's README.md)")

    profile = commands.add_parser("profile", help="print a profile's settings")
    profile.add_argument("name", nargs="?", default=None, choices=sorted(PROFILES))
    return parser


def _run(args: argparse.Namespace) -> int:
    from genai_labs.instructor.runner import LabRunError, run_labs  # nbclient and zmq: only when the command runs

    profile = args.profile or load_profile().name
    try:
        result = run_labs(args.labs, profile=profile, out=args.out, progress=not args.no_progress, cell_timeout=args.cell_timeout)
    except LabRunError as err:
        print(f"genai-labs run: {err}\nrun folder (status failed, what finished is kept): {err.run_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED if err.interrupted else 1
    print(f"run folder: {result.run_dir}")
    for lab, seconds in result.timings_s.items():
        print(f"  {lab}: {seconds:.0f} s -> {result.notebooks[lab].name}")
    print(f"  figures: {result.run_dir / 'figures.json'}\n  report : {result.run_dir / 'report.md'}")
    return 0


def _world(args: argparse.Namespace) -> int:
    # torch and transformers: imported only when the command runs (every command would start seconds slower)
    from genai_labs.core.folders import WORLD_MODELS_DIR
    from genai_labs.world.assets import build_world_models
    from genai_labs.world.data_files import world_data_dir, write_world_data

    if args.data_out is not None:
        ensure_writable_folder(args.data_out, option="--data-out")
    if args.models_out is not None:
        if not args.models:
            raise ConfigError("genai-labs world: --models-out needs --models (it names where the rebuilt models go).")
        ensure_writable_folder(args.models_out.parent, option="--models-out")
    target = args.data_out or world_data_dir(args.seed)
    for name, path in write_world_data(target, seed=args.seed).items():
        print(f"{name:10s} {path} {path.stat().st_size:,} bytes")
    if args.models:
        assets = build_world_models(args.models_out or WORLD_MODELS_DIR)
        info = assets.build_info()
        print(f"models     {assets.root} ({info['seconds']['total'] / 60:.1f} min on {info['machine']['processor']})")
    return 0


def _readme_figures(args: argparse.Namespace) -> int:
    from genai_labs.core.folders import CHECKOUT, WORLD_MODELS_DIR
    from genai_labs.instructor.readme_figures import update_readme

    readme = args.readme or CHECKOUT / "README.md"
    update_readme(readme, args.run_dir, WORLD_MODELS_DIR / "build_info.json")
    print(f"updated the measured figures in {readme} from {args.run_dir / 'figures.json'}")
    return 0


def _bench(args: argparse.Namespace, suite_arguments: list[str]) -> int:
    suite = benchmark_suite()
    parser = suite.add_arguments(argparse.ArgumentParser(prog="genai-labs bench", description="Run the benchmark suite."))
    options = parser.parse_args(suite_arguments)
    suite.run_suite(options.out, quick=options.quick, only=options.only)  # checks --out before measuring anything
    return 0


def _cache(args: argparse.Namespace) -> int:
    # torch (through the Lab 2 run layout): imported only when the command runs
    from genai_labs.instructor.cache import cache_entries, entries_table, prune_cache
    from genai_labs.lab2.memory import format_bytes

    root = default_cache_dir()
    try:
        if not args.prune:
            print(entries_table(cache_entries(root, older_than_days=args.older_than), root))
            return 0
        outcomes = prune_cache(root, older_than_days=args.older_than)
    except OSError as err:  # the cache folder itself cannot be read
        print(f"genai-labs cache: cannot read {root}: {err.strerror or err}", file=sys.stderr)
        return 1
    freed, failed = 0, False
    for entry, outcome in outcomes:
        what = f"checkpoints of {entry.path}" if entry.prune == "remove checkpoints" else str(entry.path)
        if outcome == "removed":
            freed += entry.prune_bytes
            print(f"removed {what} ({format_bytes(entry.prune_bytes)})")
        elif outcome == "busy":
            print(f"left {entry.path}: another process is building, training or loading it")
        elif outcome == "gone":
            print(f"skipped {entry.path}: already removed by another process")
        else:
            failed = True
            print(f"could not remove {what}: {outcome.removeprefix('failed: ')}", file=sys.stderr)
    print(f"freed {format_bytes(freed)}")
    return 1 if failed else 0


def _profile(args: argparse.Namespace) -> int:
    print(json.dumps(profile_as_dict(load_profile(args.name)), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``genai-labs`` console script."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handlers = {"run": _run, "world": _world, "cache": _cache, "profile": _profile, "readme-figures": _readme_figures}
    try:
        return _bench(args, extra) if args.command == "bench" else handlers[args.command](args)
    except ConfigError as err:
        print(f"genai-labs {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a lab (a lab's own Ctrl-C is a LabRunError)
        print(f"genai-labs {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
