"""``sam2-hf app``: the click-to-segment annotation app (``sam2_hf.app``), as a sub-command."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  sam2-hf app photos/                  # opens http://127.0.0.1:7860
  sam2-hf app photos/ --model small --category cat -o annotations/
  sam2-hf app photos/ --share          # also a temporary public link (Colab)
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``app`` to the subcommands (the arguments are the app's own)."""
    from ..app import cli as app_cli

    parser = commands.add_parser(
        "app",
        parents=[common],
        help=app_cli.HELP,
        description=app_cli.DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    app_cli.add_arguments(parser)
    parser.set_defaults(run=run, check=check, parser=parser)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The image folder or file, if given, exists; the port is a port."""
    if args.images is not None and not args.images.exists():
        parser.error(f"argument images: {str(args.images)!r} does not exist")
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"argument --port: expected 1-65535, got {args.port}")


def run(args: argparse.Namespace) -> int:
    """Serve the app until interrupted."""
    from ..app import cli as app_cli

    code: int = app_cli.run(args)
    return code
