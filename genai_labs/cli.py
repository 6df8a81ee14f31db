"""The ``genai-labs`` command (instructors and CI).

    genai-labs run [lab1|lab2|lab3|all ...] [--profile tiny|laptop|course] [--out DIR]
    genai-labs world [--out DIR] [--seed N]
    genai-labs bench [--out DIR] [--quick]
    genai-labs profile [NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genai_labs.config import PROFILES, ConfigError, load_profile


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai-labs", description="Run, rebuild and benchmark the genai-labs lab series.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="execute lab notebooks headlessly into a new run folder")
    run.add_argument("labs", nargs="*", default=["all"], help="lab1, lab2, lab3 or all (default: all)")
    run.add_argument("--profile", default=None, choices=sorted(PROFILES), help="profile (default: $GENAI_LABS_PROFILE or tiny)")
    run.add_argument("--out", type=Path, default=Path("runs"), help="parent folder of run folders (default: runs/)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    world = commands.add_parser("world", help="rebuild the tiny world's data files and models")
    world.add_argument("--data-out", type=Path, default=None, help="write the JSONL files here (default: the world data folder)")
    world.add_argument("--seed", type=int, default=0, help="seed of the JSONL data (the models are built from seed 0)")
    world.add_argument("--force", action="store_true", help="rebuild the models even if cached")

    bench = commands.add_parser("bench", help="run the benchmark suite (benchmarks/)")
    bench.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for JSON and Markdown results")
    bench.add_argument("--quick", action="store_true", help="small sizes: checks the suite runs, numbers are not meaningful")

    profile = commands.add_parser("profile", help="print a profile's settings")
    profile.add_argument("name", nargs="?", default=None, choices=sorted(PROFILES))
    return parser


def _run(args: argparse.Namespace) -> int:
    from genai_labs.runner import LabRunError, discover_labs, run_labs

    available = discover_labs()
    labs = list(available) if "all" in args.labs else args.labs
    unknown = [lab for lab in labs if lab not in available]
    if unknown:
        print(f"genai-labs run: unknown lab {', '.join(unknown)}; choose from {', '.join(available)} or all.", file=sys.stderr)
        return 2
    profile = args.profile or load_profile().name
    try:
        result = run_labs(labs, profile=profile, out=args.out, progress=not args.no_progress)
    except LabRunError as err:
        print(f"genai-labs run: {err}", file=sys.stderr)
        return 1
    print(f"run folder: {result.run_dir}")
    for lab, seconds in result.timings_s.items():
        print(f"  {lab}: {seconds:.0f} s -> {result.notebooks[lab].name}")
    print(f"  figures: {result.run_dir / 'figures.json'}\n  report : {result.run_dir / 'report.md'}")
    return 0


def _world(args: argparse.Namespace) -> int:
    from genai_labs.world.assets import build_world_assets, ensure_world_assets, world_assets_dir
    from genai_labs.world.data_files import world_data_dir, write_world_data

    target = args.data_out or world_data_dir(args.seed)
    for name, path in write_world_data(target, seed=args.seed).items():
        print(f"{name:10s} {path} {path.stat().st_size:,} bytes")
    assets = build_world_assets(world_assets_dir(), overwrite=True) if args.force else ensure_world_assets()
    print(f"models     {assets.root}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from genai_labs.bench import run_benchmarks

    run_benchmarks(args.out, quick=args.quick)
    return 0


def _profile(args: argparse.Namespace) -> int:
    import json

    from genai_labs.config import profile_as_dict

    print(json.dumps(profile_as_dict(load_profile(args.name)), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``genai-labs`` console script."""
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "world": _world, "bench": _bench, "profile": _profile}
    try:
        return handlers[args.command](args)
    except ConfigError as err:
        print(f"genai-labs {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
