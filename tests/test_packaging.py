"""The package as users get it: ``python -m build`` makes an sdist and a wheel that ``twine
check`` accepts, holding the package and ``py.typed`` and no tests, and the wheel installed in
a fresh virtual environment runs ``sam2-hf --version`` and a tiny-model segmentation.

Built without build isolation (``--no-isolation``): the tests never reach the network, so the
build backend is the installed setuptools.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("build", reason="needs the dev extra (build)")

ROOT = Path(__file__).parent.parent


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)  # the venv must import the wheel, not this source tree
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The sdist first, then the wheel built from the unpacked sdist (build's default), so a
    # file missing from the sdist shows up as a broken wheel.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)], out)
    return out


def _only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"{pattern}: {found}"
    return found[0]


def test_twine_accepts_both(dist: Path) -> None:
    pytest.importorskip("twine", reason="needs the dev extra (twine)")
    files = [str(_only(dist, "*.whl")), str(_only(dist, "*.tar.gz"))]
    out = _run([sys.executable, "-m", "twine", "check", "--strict", *files], dist).stdout
    assert out.count("PASSED") == 2, out


def test_sdist_and_wheel_hold_the_package_and_no_tests(dist: Path) -> None:
    with zipfile.ZipFile(_only(dist, "*.whl")) as wheel:
        in_wheel = wheel.namelist()
        metadata = wheel.read(next(n for n in in_wheel if n.endswith("dist-info/METADATA")))
        entry_points = wheel.read(next(n for n in in_wheel if n.endswith("entry_points.txt")))
    with tarfile.open(_only(dist, "*.tar.gz")) as sdist:
        in_sdist = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    sources = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "sam2_hf").rglob("*.py"))
    for files in (in_wheel, in_sdist):
        assert "sam2_hf/py.typed" in files
        assert set(sources) <= set(files), set(sources) - set(files)
        assert not [n for n in files if n.startswith(("tests/", "benchmarks/", "notebooks/"))]
        assert not [n for n in files if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in in_wheel if not n.startswith(("sam2_hf/", "sam2_hf-"))]
    assert {"README.md", "pyproject.toml", "PKG-INFO", "LICENSE"} <= set(in_sdist)
    assert [n for n in in_wheel if n.endswith(".dist-info/licenses/LICENSE")]
    assert b"License-Expression: Apache-2.0" in metadata
    assert b"Description-Content-Type: text/markdown" in metadata
    assert b"sam2-hf = sam2_hf.cli:main" in entry_points


def test_wheel_in_a_fresh_venv_runs_the_command(dist: Path, video_checkpoint, tmp_path) -> None:
    venv = tmp_path / "venv"
    # The system site-packages provide torch and transformers (no downloads); the wheel's
    # own sam2_hf comes first on the venv's path.
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    wheel = _only(dist, "*.whl")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], tmp_path)
    where = _run([str(python), "-c", "import sam2_hf; print(sam2_hf.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    command = str(bin_dir / "sam2-hf")
    version = _run([command, "--version"], tmp_path).stdout
    assert version.split() == ["sam2-hf", _version()], version
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.png")
    _run(
        [command, "segment", "photo.png", "--point", "30,20", "--model", str(video_checkpoint)]
        + ["--device", "cpu", "-o", "mask.png"],
        tmp_path,
    )
    mask = np.asarray(Image.open(tmp_path / "mask.png"))
    assert mask.shape == (48, 64) and set(np.unique(mask)) <= {0, 255}


def _version() -> str:
    """``project.version`` of pyproject.toml (tomllib is Python 3.11+; we support 3.10)."""
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, flags=re.M).group(1)  # type: ignore[union-attr]
