"""Argument types and checks shared by the commands: prompts, numbers, paths, model options.

Checks run after parsing and before any model loads, so a bad argument costs no model load
and exits with code 2 through ``parser.error``. This module imports only the standard library:
building the parser (``sam2-hf --help``) must stay cheap; checks import what they need.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import NoReturn

from ..engine.registry import MODELS

PROG = "sam2-hf"
DTYPES = ("auto", "fp32", "fp16", "bf16", "float32", "float16", "bfloat16")
# The short names of sam2_hf.list_models(), written out because importing the model table
# imports torch; tests/cli/test_cli_app.py keeps the two in step.
# Containers FFmpeg decodes that are never still images: `segment` points them to `track`.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
# Options whose value may start with a negative number ("--box -10,20,100,200").
COORDINATE_OPTIONS = ("--point", "--box")
_NEGATIVE_NUMBER = re.compile(r"-\.?\d")

POINT_HELP = "a click in pixels; L is 1 (foreground, default) or 0 (background); repeatable"


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--box -10,20,100,200`` -> ``--box=-10,20,100,200``, so argparse takes it as a value.

    argparse reads a token that starts with ``-`` as an option unless it is one negative number,
    so a coordinate list starting with one would fail with "expected one argument".
    """
    joined: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":  # everything after is positional
            return [*joined, *argv[index:]]
        value = argv[index + 1] if index + 1 < len(argv) else ""
        if token in COORDINATE_OPTIONS and _NEGATIVE_NUMBER.match(value):
            joined.append(f"{token}={value}")
            index += 2
        else:
            joined.append(token)
            index += 1
    return joined


# ---------------------------------------------------------------- value types


def _numbers(text: str, count: int) -> list[float] | None:
    parts = text.split(",")
    if len(parts) != count:
        return None
    try:
        values = [float(part) for part in parts]
    except ValueError:
        return None
    return values if all(math.isfinite(value) for value in values) else None


def parse_point(text: str) -> tuple[float, float, int]:
    """``"X,Y"`` or ``"X,Y:LABEL"`` -> ``(x, y, label)``; label 1 (foreground) by default."""
    coords, colon, label = text.partition(":")
    values = _numbers(coords, 2)
    if values is None or (colon and label.strip() not in ("0", "1")):
        raise argparse.ArgumentTypeError(
            "expected X,Y or X,Y:LABEL in pixels with LABEL 1 (foreground) or 0 (background), "
            f"e.g. 120,80 or 40,30:0; got {text!r}"
        )
    return values[0], values[1], int(label) if colon else 1


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"X0,Y0,X1,Y1"`` -> ``(x0, y0, x1, y1)``, the top-left and bottom-right corners."""
    values = _numbers(text, 4)
    if values is None:
        raise argparse.ArgumentTypeError(
            f"expected X0,Y0,X1,Y1 in pixels (top-left, bottom-right), e.g. 10,20,110,90; "
            f"got {text!r}"
        )
    x0, y0, x1, y1 = values
    if x1 < x0 or y1 < y0:
        raise argparse.ArgumentTypeError(
            f"expected X0,Y0,X1,Y1 with X0 <= X1 and Y0 <= Y1; got {text!r}"
        )
    return x0, y0, x1, y1


def _bounded_int(text: str, low: int, high: float) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        limit = "" if high == math.inf else f" and <= {high}"
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}{limit}, got {text!r}")
    return value


def frame_index(text: str) -> int:
    """A 0-based frame index."""
    return _bounded_int(text, 0, math.inf)


def object_id(text: str) -> int:
    """An object id: a pixel value of the label PNGs, so 1..255."""
    return _bounded_int(text, 1, 255)


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _bounded_int(text, 1, math.inf)


def non_negative_int(text: str) -> int:
    """A whole number >= 0."""
    return _bounded_int(text, 0, math.inf)


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


# ---------------------------------------------------------------- model options


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--device`` and ``--dtype``."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default="tiny",
        help=f"{', '.join(MODELS)}, a hub id or a local folder (default tiny)",
    )
    group.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps"
    )
    group.add_argument(
        "--dtype", default="auto", choices=DTYPES, metavar="DTYPE", help=", ".join(DTYPES)
    )


def check_model_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject an unknown short name or device before anything loads."""
    from ..engine.loading import resolve_device
    from ..engine.registry import resolve_model_name

    for option, check, value in (
        ("--model", resolve_model_name, args.model),
        ("--device", resolve_device, args.device),
    ):
        try:
            check(value)
        except ValueError as error:
            parser.error(f"argument {option}: {error}")


# ---------------------------------------------------------------- paths


def names_a_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing folder or ends in a slash (a folder to create)."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def image_suffixes() -> set[str]:
    """File suffixes PIL can write an image to (``.png``, ``.jpg``, ...)."""
    from PIL import Image

    Image.init()
    return {suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.SAVE}


def check_output_file(
    parser: argparse.ArgumentParser,
    option: str,
    path: str | os.PathLike[str] | None,
    suffixes: Collection[str],
    what: str,
) -> None:
    """``path`` must be a file name with one of ``suffixes`` whose folder can be created.

    ``what`` names the kind of file with its article, for the message: ``"an image"``.
    """
    if path is None:
        return
    target = Path(path)
    if names_a_folder(path):
        _fail(parser, option, f"{os.fspath(path)!r} is a folder; expected {what} file name")
    if target.suffix.lower() not in suffixes:
        choices = ", ".join(sorted(suffixes)) if len(suffixes) <= 4 else "e.g. .png, .jpg"
        _fail(parser, option, f"expected {what} file ({choices}), got {os.fspath(path)!r}")
    _check_can_create(parser, option, target.parent)


def check_output_folder(
    parser: argparse.ArgumentParser, option: str, path: str | os.PathLike[str] | None
) -> None:
    """``path`` must be a folder or a path where one can be created."""
    if path is None:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        _fail(parser, option, f"{os.fspath(path)!r} is a file; expected a folder")
    _check_can_create(parser, option, target)


def _check_can_create(parser: argparse.ArgumentParser, option: str, folder: Path) -> None:
    # Folders are created when the outputs are written; that fails if a file is in the way.
    for ancestor in (folder, *folder.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                _fail(parser, option, f"cannot create a folder inside the file {str(ancestor)!r}")
            return


def _fail(parser: argparse.ArgumentParser, option: str, message: str) -> NoReturn:
    parser.error(f"argument {option}: {message}")
