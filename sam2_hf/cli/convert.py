"""``sam2-hf convert``: an original sam2 ``.pt`` checkpoint -> a transformers checkpoint folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXAMPLES = """\
examples:
  sam2-hf convert sam2.1_hiera_small.pt sam2.1-small/
  sam2-hf convert checkpoints/my_finetuned.pt my-model/ --config sam2.1_hiera_b+
  sam2-hf segment photo.jpg --point 500,375 --model my-model/ -o mask.png

The folder is laid out like the official facebook/sam2.1-hiera-* repositories (a sam2_video
model with its processor): every sam2-hf class loads it by path, and push_to_hub shares it.
"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``convert`` to the subcommands."""
    parser = commands.add_parser(
        "convert",
        parents=[common],
        help="write an original sam2 .pt checkpoint as a transformers folder",
        description="Convert a checkpoint of the original sam2 (Meta's releases, or one saved by\n"
        "its training code) into a save_pretrained folder.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, help="the .pt file")
    parser.add_argument("output", type=Path, help="the folder to create")
    parser.add_argument(
        "--config",
        help="Meta's config name (sam2.1_hiera_t, configs/sam2/sam2_hiera_l.yaml) or a YAML "
        "file; default: the released config with the checkpoint's shapes",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing, non-empty output folder"
    )
    parser.set_defaults(run=run, check=check, parser=parser)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The checkpoint exists; the output is a folder that may be written."""
    if not args.checkpoint.is_file():
        parser.error(f"argument checkpoint: file {str(args.checkpoint)!r} does not exist")
    if args.output.exists() and not args.output.is_dir():
        parser.error(f"argument output: {str(args.output)!r} is a file; expected a folder")
    if args.output.is_dir() and any(args.output.iterdir()) and not args.overwrite:
        parser.error(
            f"argument output: {str(args.output)!r} is not empty; pass --overwrite to replace it"
        )


def run(args: argparse.Namespace) -> int:
    """Convert and say where the folder is."""
    from ..compat.checkpoints import convert_checkpoint
    from .output import quiet_transformers

    with quiet_transformers(args.verbose):
        folder = convert_checkpoint(
            args.checkpoint, args.output, args.config, overwrite=args.overwrite
        )
    if not args.quiet:
        print(f"wrote {folder}")
    return 0
