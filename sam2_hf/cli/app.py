"""The ``sam2-hf`` parser and ``main``: one place where arguments become a command run and a
failure becomes a message and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import annotate, auto, batch, convert, finetune, models, segment, track
from .arguments import PROG, join_negative_values

# Errors a user can act on; anything else is a bug and its message gets the type name.
_EXPECTED_ERRORS = (OSError, ValueError, RuntimeError, TypeError, ImportError)

# Bad arguments exit with argparse's 2 through parser.error.
EXIT_FAILURE, EXIT_INTERRUPTED = 1, 130


def build_parser() -> argparse.ArgumentParser:
    """The ``sam2-hf`` parser with its subcommands (imports no torch)."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Segment Anything 2 on Hugging Face transformers.",
        epilog="examples:\n"
        "  sam2-hf segment photo.jpg --point 500,375 -o mask.png\n"
        "  sam2-hf auto photo.jpg -o masks/ --coco masks.json\n"
        "  sam2-hf batch images/ --detector facebook/detr-resnet-50 -o out/\n"
        "  sam2-hf track clip.mp4 --frame 0 --point 210,350 -o out/ --overlay out.mp4\n"
        "  sam2-hf models\n\n"
        "Run 'sam2-hf COMMAND --help' for each command's options and more examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    common.add_argument(
        "-v", "--verbose", action="store_true", help="show the traceback of a failure"
    )
    for command in (segment, auto, batch, track, annotate, finetune, convert, models):
        command.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sam2-hf`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Exit codes: 0 success; 2 bad arguments (``SystemExit(2)`` from argparse, as on the command
    line), reported before any model loads; 1 a failure while running, reported in one line on
    stderr (``--verbose`` raises it with its traceback instead); 130 interrupted.
    """
    try:
        try:
            return _run(sys.argv[1:] if argv is None else argv)
        finally:
            # A reader that went away (``sam2-hf models --json | head -1``) shows up here,
            # while it can still be handled, rather than as an error at interpreter exit.
            sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_FAILURE


def _run(argv: Sequence[str]) -> int:
    if argv[:1] == ["finetune"]:  # the training command parses its own arguments
        return finetune.run_argv(argv[1:])
    parser = build_parser()
    args = parser.parse_args(join_negative_values(argv))
    args.check(args.parser, args)
    try:
        code: int = args.run(args)
        return code
    except BrokenPipeError:  # stdout's reader went away: not a failure to report (see main)
        raise
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place a failure becomes a message and an exit code
        if args.verbose:
            raise
        text = " ".join(str(error).split()) or type(error).__name__
        if not isinstance(error, _EXPECTED_ERRORS):
            text = f"{type(error).__name__}: {text} (run with --verbose for the traceback)"
        print(f"{PROG}: error: {text}", file=sys.stderr)
        return EXIT_FAILURE


def _stdout_to_devnull() -> None:
    # Python's documented recipe for SIGPIPE: point stdout at devnull so that the final flush
    # at exit does not raise again, and leave quietly.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (a test's capture)
        pass
    finally:
        os.close(devnull)
