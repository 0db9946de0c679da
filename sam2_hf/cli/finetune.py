"""``sam2-hf finetune``: fine-tune SAM 2 on your own masks (``sam2_hf.train``), as a sub-command.

Its arguments are ``sam2_hf.train.cli``'s own, parsed there: ``main`` hands every argument after
``finetune`` to ``run_argv`` without building them here, so ``sam2-hf --help`` stays free of
the training stack's imports.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

HELP = "fine-tune on COCO, mask folders or a dataset (needs sam2-hf[train])"


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """List ``finetune`` among the subcommands; its arguments are parsed by ``run_argv``."""
    commands.add_parser("finetune", help=HELP, add_help=False)


def run_argv(argv: Sequence[str]) -> int:
    """Run ``sam2_hf.train.cli`` on the arguments after ``finetune``."""
    from ..train import cli as train_cli

    return train_cli.main(list(argv))
