"""The API reference (mkdocs + mkdocstrings) builds from the docstrings with warnings as
errors, and documents every public name of ``sam2_hf``."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import sam2_hf

ROOT = Path(__file__).parent.parent


def _inventory(site: Path) -> set[str]:
    """The object names in mkdocstrings' Sphinx inventory (``objects.inv``): a 4-line header,
    then zlib-compressed lines ``name domain:role priority uri dispname``."""
    raw = (site / "objects.inv").read_bytes()
    body = zlib.decompress(raw.split(b"\n", 4)[4]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="needs the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings_handlers.python", reason="needs the docs extra")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # material's banner about mkdocs 2
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_reference_builds_strict_and_covers_every_public_name(site: Path) -> None:
    documented = _inventory(site)
    missing = [
        name
        for name in dir(sam2_hf)
        if not name.startswith("_") and not any(e.endswith(f".{name}") for e in documented)
    ]
    assert not missing, f"not in the API reference (docs/api/*.md): {missing}"
    for module in ("sam2_hf.jobs", "sam2_hf.train", "sam2_hf.app"):
        names = __import__(module, fromlist=["__all__"]).__all__
        absent = [n for n in names if not any(e.endswith(f".{n}") for e in documented)]
        assert not absent, f"{module}: not in the API reference: {absent}"
