"""The notebooks run top to bottom, offline, on tiny random-weight models, and stay clean.

Each notebook reads its model, image, video and detector from environment variables
(``SAM2_HF_MODEL``, ``SAM2_HF_IMAGE``, ...) that default to the real hub checkpoints and public
images on Colab. Here they point at the tiny checkpoints of ``conftest.py`` and at generated
pictures of the same size as the defaults, so every coordinate in the notebooks fits both. The
install cell (tagged ``install``) is dropped: the package under test is already installed.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NAMES = [
    "image_prompts",
    "detector_boxes",
    "automatic_masks",
    "video_tracking",
    "finetune",
    "compat",
]
NOTEBOOKS = [NOTEBOOK_DIR / f"{name}.ipynb" for name in NAMES]
IMAGE_SIZE = (1200, 1800)  # (H, W) of the default image, Meta's truck.jpg
FRAME_SIZE = (540, 960)  # (H, W) of the default video, Meta's bedroom clip
CELL_TIMEOUT_S = 300


def repository_url() -> str:
    """``[project.urls] Repository`` of pyproject.toml: badges and installs point there."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["urls"]["Repository"].rstrip("/")


def read(path: Path):
    return nbformat.read(path, as_version=4)


def test_the_notebooks_are_the_listed_ones():
    assert sorted(NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_and_stripped(path):
    notebook = read(path)
    nbformat.validate(notebook)
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    ids = [cell.get("id") for cell in notebook.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique id"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs: strip them"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count"
        assert "execution" not in cell.metadata, f"cell {cell.id} has execution timings"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_badge_gpu_note_and_install(path):
    repository = repository_url()
    owner_name = repository.removeprefix("https://github.com/")
    first, install = read(path).cells[:2]
    badge = f"https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{path.name}"
    assert first.cell_type == "markdown" and f"]({badge})" in first.source
    assert "Runtime > Change runtime type > GPU" in first.source
    assert install.cell_type == "code" and install.metadata.get("tags") == ["install"]
    (command,) = [line for line in install.source.splitlines() if line.startswith("%pip")]
    assert re.fullmatch(rf'%pip install -q "sam2-hf\[[a-z,]+\] @ git\+{repository}"', command)
    assert "source repository" in install.source  # says why it is not a plain pip install


# ---------------------------------------------------------------- running them


def make_image(path: Path) -> Path:
    """A picture the size of the default image with a "truck" where the prompts point."""
    height, width = IMAGE_SIZE
    yy, xx = np.mgrid[0:height, 0:width]
    sky = np.stack([90 + 60 * yy / height, 140 + 40 * xx / width, 200 - 50 * yy / height], -1)
    picture = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((75, 275, 1725, 850), fill=(170, 60, 40))  # body
    draw.rectangle((300, 300, 700, 480), fill=(60, 90, 120))  # windows
    draw.rectangle((900, 500, 1300, 700), fill=(200, 200, 190))
    for x0, y0, x1, y1 in ((425, 600, 700, 875), (1375, 550, 1650, 800)):  # wheels and hubs
        draw.ellipse((x0, y0, x1, y1), fill=(25, 25, 25))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.ellipse((cx - 50, cy - 50, cx + 50, cy + 50), fill=(150, 150, 150))
    picture.save(path)
    return path


def make_video(folder: Path, frames: int = 6) -> Path:
    """JPEG frames the size of the default clip, two shapes moving where the clicks go."""
    folder.mkdir()
    height, width = FRAME_SIZE
    for index in range(frames):
        picture = Image.new("RGB", (width, height), (120, 110, 100))
        draw = ImageDraw.Draw(picture)
        draw.ellipse((140 + 8 * index, 260, 280 + 8 * index, 400), fill=(200, 60, 50))
        draw.rectangle((330, 80 + 5 * index, 470, 220 + 5 * index), fill=(40, 80, 200))
        picture.save(folder / f"{index:05d}.jpg", quality=95)
    return folder


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory, video_checkpoint, detr_checkpoint) -> dict[str, str]:
    assets = tmp_path_factory.mktemp("notebook-assets")
    return {
        "SAM2_HF_MODEL": str(video_checkpoint),
        "SAM2_HF_IMAGE": str(make_image(assets / "truck.png")),
        "SAM2_HF_VIDEO": str(make_video(assets / "frames")),
        # A closed-set DETR, so no text query: the tiny OWLv2 of the jobs tests spends ~25 s
        # in its image processor's anti-aliasing on an image this size.
        "SAM2_HF_DETECTOR": str(detr_checkpoint),
        "SAM2_HF_DETECTOR_TEXT": "",
        "SAM2_HF_BOX_THRESHOLD": "0.0",  # a random detector's scores are low
        "SAM2_HF_EPOCHS": "1",
        "SAM2_HF_POINTS_PER_SIDE": "8",
        # One thread per kernel, as in the tests themselves (see conftest.one_thread).
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        # Any download a notebook still tries fails at once instead of reaching the network.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_setting_a_notebook_reads_is_set_offline(path, notebook_env):
    """A notebook reading a new SAM2_HF_* variable that CI leaves unset would use its default,
    a hub id or URL: CI must set every one."""
    code = "\n".join(cell.source for cell in read(path).cells if cell.cell_type == "code")
    read_names = set(re.findall(r"os\.environ\.get\(\s*\"(SAM2_HF_\w+)\"", code))
    assert read_names, f"{path.name} reads no SAM2_HF_* setting"
    assert read_names <= {*notebook_env, "SAM2_HF_NOTEBOOK_OUTPUTS"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, notebook_env, tmp_path, monkeypatch):
    for name, value in notebook_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAM2_HF_NOTEBOOK_OUTPUTS", str(tmp_path / "outputs"))
    # The kernel imports the sam2_hf under test, installed or not.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    notebook = read(path)
    notebook.cells = [c for c in notebook.cells if "install" not in c.metadata.get("tags", [])]
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    try:
        client.execute()  # raises CellExecutionError, with the cell and its traceback
    finally:
        seconds = time.perf_counter() - start
        nbformat.write(notebook, tmp_path / path.name)  # the outputs, to look at after a failure
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    pictures = sum(
        "image/png" in output.get("data", {}) for cell in code for output in cell.outputs
    )
    assert pictures >= 1, f"{path.name} showed no picture"
    print(f"{path.stem}: {seconds:.1f} s, {pictures} pictures")
