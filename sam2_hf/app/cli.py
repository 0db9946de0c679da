"""``sam2-hf app [IMAGES] [--model tiny] [--port 7860] [--share]``: the annotation app.

The CLI package wires it in as a sub-command::

    from sam2_hf.app import cli as app_cli
    parser = subparsers.add_parser("app", help=app_cli.HELP, description=app_cli.DESCRIPTION)
    app_cli.add_arguments(parser)
    ...
    return app_cli.run(args)

Nothing heavy is imported until ``run``: ``sam2-hf --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "click-to-segment annotation app in the browser (needs sam2-hf[app])"
DESCRIPTION = (
    "Open a folder of images (or one image) in a browser page: click to segment, several "
    "objects per image with category names, 'segment everything' proposals, export to COCO "
    "JSON, PNG masks and cut-outs. Work is saved as you go in the output folder and restored "
    "when the app is opened again. Needs Gradio: pip install 'sam2-hf[app]'."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``app`` sub-command's arguments to ``parser``."""
    parser.add_argument(
        "images",
        nargs="?",
        type=Path,
        help="a folder of images or one image file (default: ./sam2-hf-images, to upload into)",
    )
    parser.add_argument(
        "--model", default="tiny", help="short name, hub id or local folder (default: tiny)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="annotation file and exports go here (default: IMAGES/sam2-hf-annotations)",
    )
    parser.add_argument("--port", type=int, help="port to listen on (default: 7860 or next free)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 = network)",
    )
    parser.add_argument(
        "--share", action="store_true", help="also publish a temporary public gradio.live link"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: best available)")
    parser.add_argument("--category", default="object", help="category of new objects")


def run(args: argparse.Namespace) -> int:
    """Start the app and serve until interrupted. Returns the exit code (2: bad arguments)."""
    if args.images is not None and not args.images.exists():
        print(f"sam2-hf app: error: {str(args.images)!r} does not exist", file=sys.stderr)
        return 2
    if args.port is not None and not 0 < args.port < 65536:
        print(f"sam2-hf app: error: --port must be 1-65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        from . import launch

        launch(
            args.images,
            model=args.model,
            output=args.output,
            device=args.device,
            category=args.category,
            port=args.port,
            host=args.host,
            share=args.share,
        )
    except ImportError as error:
        print(f"sam2-hf app: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the sub-command on its own (``python -m sam2_hf.app.cli``), for tests and until the
    CLI package wires it in."""
    parser = argparse.ArgumentParser(prog="sam2-hf app", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
