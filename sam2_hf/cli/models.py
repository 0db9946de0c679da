"""``sam2-hf models``: the model short names and whether each is in the local cache."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .output import print_json

EXAMPLES = """\
examples:
  sam2-hf models
  sam2-hf models --json
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``models`` to the subcommands."""
    parser = commands.add_parser(
        "models",
        parents=[common],
        help="list the model short names and whether they are downloaded",
        description="The known model short names, their hub ids, sizes and speeds, and whether\n"
        "each is in the local Hugging Face cache (checked offline).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--cache-dir", type=Path, help="the Hugging Face hub cache (default: HF_HUB_CACHE)"
    )
    parser.set_defaults(run=run, check=check, parser=parser)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Nothing to check: every combination of options is valid."""


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON)."""
    from ..engine.registry import list_models

    rows: list[dict[str, Any]] = [
        {
            "name": info.name,
            "hub_id": info.hub_id,
            "family": info.family,
            "params_millions": info.params_millions,
            "fps": info.fps,
            "gated": info.gated,
            "cached": info.cached,
        }
        for info in list_models(cache_dir=args.cache_dir)
    ]
    if args.json:
        print_json(rows)
        return 0
    header = ("name", "hub id", "family", "params", "fps (A100)", "cached")
    table = [
        (
            row["name"],
            row["hub_id"] + (" (gated)" if row["gated"] else ""),
            row["family"],
            "-" if row["params_millions"] is None else f"{row['params_millions']:.1f}M",
            "-" if row["fps"] is None else f"{row['fps']:.1f}",
            "yes" if row["cached"] else "no",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *table]) for column in range(len(header))]
    for line in [header, *table]:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0
