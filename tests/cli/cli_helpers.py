"""Helpers shared by the CLI tests (a plain module: fixtures stay in the test files)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest


def load_coco(path: Path) -> Any:
    """``pycocotools.coco.COCO`` on a file, without its progress lines on stdout."""
    coco = pytest.importorskip("pycocotools.coco")
    with open(os.devnull, "w") as quiet:
        sys.stdout, stdout = quiet, sys.stdout
        try:
            return coco.COCO(str(path))
        finally:
            sys.stdout = stdout


def plain_file_mode(folder: Path) -> int:
    """The permission bits ``open(path, "w")`` gives a new file in ``folder`` right now."""
    probe = folder / ".plain-open-probe"
    with open(probe, "w"):
        pass
    mode = stat.S_IMODE(probe.stat().st_mode)
    probe.unlink()
    return mode


def file_mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)
