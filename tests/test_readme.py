"""Every README example runs as written: each ```python block, in order in one shared scope,
and every ``sam2-hf`` command line, on tiny local models, offline.

The hidden set-up stands in for what a reader has: the hub (a Hugging Face cache holding the
tiny checkpoint under ``facebook/sam2.1-hiera-tiny`` and tiny detectors under the detector ids
the README names), the truck image the README links to (a generated image of its size,
1800x1200, served over HTTP on 127.0.0.1 so the URL is read as a URL), ``photo.jpg``,
``clip.mp4``, ``images/`` with ``boxes.json``, training data, and the placeholders the README
names (``image``, ``images``, ``detector_boxes``, ...). The code itself is not rewritten beyond
the URL's host, so a renamed argument or method fails here."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import re
import shlex
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import FAKE_HUB_ID, add_to_hub_cache
from PIL import Image

README = Path(__file__).parent.parent / "README.md"
TESTS = Path(__file__).parent
TRUCK_URL = (
    "https://raw.githubusercontent.com/facebookresearch/sam2/main/notebooks/images/truck.jpg"
)
TRUCK_SIZE = (1200, 1800)  # (H, W) of the real truck.jpg
# photo.jpg: large enough for the README's CLI prompts, small enough for a quick detector.
PHOTO_SIZE = (480, 640)
FRAMES = 42  # the video example corrects frame 40 and propagates from 41
FRAME_SIZE = (480, 640)

# Command lines that are checked by the parser only, and why.
PARSE_ONLY = {"app": "starts a web server that runs until stopped"}


def _helper_module(path: Path) -> ModuleType:
    """A helper module of another test folder (they are plain modules, not a package)."""
    name = f"_readme_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ------------------------------------------------------------------------ reading the README


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def command_lines() -> list[list[str]]:
    """Every ``sam2-hf ...`` line of the README's bash blocks, continuation lines joined, as
    argv lists (after ``sam2-hf``); ``... && sam2-hf ...`` counts from ``sam2-hf``."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "sam2-hf" in words:
                lines.append(words[words.index("sam2-hf") + 1 :])
    return lines


def localise(code: str, server: str) -> str:
    """The one rewrite: the truck's URL becomes the same path on a local HTTP server, which
    serves a generated image of the truck's size."""
    return code.replace(TRUCK_URL, f"{server}/truck.jpg")


# ------------------------------------------------------------------------ the hidden set-up


def _image(size: tuple[int, int], seed: int) -> np.ndarray:
    """An RGB uint8 image of ``size`` (H, W) with smooth structure (random weights do not
    care what it shows)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size[0] // 50 + 2, size[1] // 50 + 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size[::-1], Image.Resampling.BILINEAR))


def _write_video(path: Path) -> None:
    av = pytest.importorskip("av", reason="the README's video example reads clip.mp4")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.height, stream.width = FRAME_SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(_image(FRAME_SIZE, index % 3), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _write_data(folder: Path) -> None:
    """The files the README's examples read, in ``folder``."""
    Image.fromarray(_image(TRUCK_SIZE, 0)).save(folder / "truck.jpg")
    Image.fromarray(_image(PHOTO_SIZE, 1)).save(folder / "photo.jpg")
    _write_video(folder / "clip.mp4")
    images = folder / "images"
    images.mkdir()
    for number in range(2):
        Image.fromarray(_image((60, 80), 10 + number)).save(images / f"img_{number}.jpg")
    boxes = {"img_0.jpg": [[5, 5, 40, 50]], "img_1.jpg": [[10, 10, 70, 55], [0, 0, 30, 30]]}
    (folder / "boxes.json").write_text(json.dumps(boxes))
    labels = folder / "labels"
    labels.mkdir()
    (labels / "img_0.txt").write_text("0 0.5 0.5 0.4 0.6\n")
    (labels / "img_1.txt").write_text("1 0.3 0.4 0.2 0.3\n")
    (folder / "classes.txt").write_text("cat\ndog\n")
    (folder / "photos").mkdir()
    shapes = _helper_module(TESTS / "train" / "finetune_shapes.py")
    shapes.write_coco(folder / "data", shapes.make_shapes(3, size=(48, 64), seed=1))


def _write_original_checkpoint(folder: Path) -> Path | None:
    """``my_finetuned.pt``, a Meta-format checkpoint, and the tiny config it was trained
    with; None when the original sam2 (which builds it) is not installed."""
    if importlib.util.find_spec("sam2") is None:
        return None
    sys.path.insert(0, str(TESTS / "compat"))  # original_sam2 imports as the compat tests do
    try:
        original = _helper_module(TESTS / "compat" / "original_sam2.py")
        from hydra import compose
        from omegaconf import OmegaConf

        original.save_tiny_checkpoint(folder / "my_finetuned.pt")
        config = compose(config_name=original.CONFIG, overrides=original.TINY_OVERRIDES)
    finally:
        sys.path.remove(str(TESTS / "compat"))
    path = folder / "tiny_hiera.yaml"
    path.write_text(OmegaConf.to_yaml(config))
    return path


@pytest.fixture(scope="module")
def server(readme_world: dict[str, Path | None]) -> Iterator[str]:
    """``http://127.0.0.1:<port>``, serving the README's files: URLs are read as URLs."""
    handler = functools.partial(QuietHandler, directory=str(readme_world["data"]))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without a log line per request on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def offline_hub(cache: Path) -> Iterator[None]:
    """Hub ids resolve in ``cache`` (read when a download is asked for, so patching the
    constant reaches huggingface_hub and transformers alike)."""
    from huggingface_hub import constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_CACHE", str(cache))
        patch.setattr(constants, "HF_HUB_OFFLINE", True)
        for name in ("NO_PROXY", "no_proxy"):  # the local image server, even behind a proxy
            patch.setenv(name, "127.0.0.1,localhost")
        yield


@pytest.fixture(scope="module")
def readme_world(
    tmp_path_factory: pytest.TempPathFactory,
    video_checkpoint: Path,
    detr_checkpoint: Path,
    owlv2_checkpoint: Path,
) -> dict[str, Path | None]:
    """A folder with the README's files and a hub cache with the README's model ids."""
    data = tmp_path_factory.mktemp("readme-data")
    _write_data(data)
    cache = tmp_path_factory.mktemp("readme-hub") / "hub"
    add_to_hub_cache(cache, FAKE_HUB_ID, video_checkpoint)
    add_to_hub_cache(cache, "IDEA-Research/grounding-dino-tiny", owlv2_checkpoint)
    add_to_hub_cache(cache, "facebook/detr-resnet-50", detr_checkpoint)
    return {"data": data, "cache": cache, "config": _write_original_checkpoint(data)}


def _fresh_folder(world: dict[str, Path | None], tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(world["data"], folder)  # type: ignore[arg-type]
    return folder


def _placeholders(folder: Path) -> dict[str, Any]:
    """What the README calls ``image``, ``images``, ``detector_boxes``, ... ."""
    truck = np.asarray(Image.open(folder / "truck.jpg"))
    mask = np.zeros(TRUCK_SIZE, bool)
    mask[300:800, 200:1500] = True
    frame_mask = np.zeros(FRAME_SIZE, bool)
    frame_mask[100:200, 300:400] = True
    return {
        "image": truck,
        "images": [truck, Image.open(folder / "photo.jpg")],
        "boxes_per_image": [[(75, 275, 1725, 850), (425, 600, 700, 875)], []],
        "detector_boxes": np.array([[75, 275, 1725, 850], [425, 600, 700, 875]], np.float32),
        "my_bool_mask": mask,
        "my_mask": frame_mask,
    }


@pytest.fixture(autouse=True)
def forget_cached_models() -> Iterator[None]:
    """``segment`` and ``segment_text`` keep the models they loaded by name: under the names
    the fake cache answered ("tiny", the detector ids), so forget them afterwards."""
    from sam2_hf.image import predictor
    from sam2_hf.jobs import detect

    yield
    predictor._cached_predictor.cache_clear()
    detect._cached_detector.cache_clear()
    detect._cached_predictor.cache_clear()


# ------------------------------------------------------------------------ the tests


def test_readme_has_the_examples_this_test_runs() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 8
    assert any(TRUCK_URL in block for block in blocks)
    commands = {argv[0] for argv in command_lines()}
    assert {"segment", "auto", "track", "batch", "convert", "models", "finetune"} <= commands
    first = command_lines()[0]
    assert first[:2] == ["segment", TRUCK_URL], "the first command runs on the truck's URL"


def test_three_lines_a_mask(readme_world, server, tmp_path, monkeypatch) -> None:
    first = python_blocks()[0]
    code_lines = [line for line in first.splitlines() if line and not line.startswith("from ")]
    assert len(code_lines) == 3, "the README promises three lines, a mask"
    monkeypatch.chdir(_fresh_folder(readme_world, tmp_path))
    scope: dict[str, Any] = {}
    with offline_hub(readme_world["cache"]):  # type: ignore[arg-type]
        exec(compile(localise(first, server), "README.md", "exec"), scope)
    masks, scores = scope["masks"], scope["scores"]
    assert masks.shape == (3, *TRUCK_SIZE) and masks.dtype == bool
    assert np.all(np.diff(scores) <= 0)


def test_every_python_block_runs_in_order(
    readme_world, server, tmp_path, monkeypatch, capsys
) -> None:
    """All blocks in one scope, as a reader pastes them into one notebook."""
    folder = _fresh_folder(readme_world, tmp_path)
    monkeypatch.chdir(folder)
    scope: dict[str, Any] = {"__name__": "__readme__", **_placeholders(folder)}
    skipped = []
    with offline_hub(readme_world["cache"]):  # type: ignore[arg-type]
        for number, block in enumerate(python_blocks()):
            code = localise(block, server)
            if "my_finetuned.pt" in code:
                if readme_world["config"] is None:
                    skipped.append(number)
                    continue
                # Meta's config names stand for the config the checkpoint was trained with.
                code = code.replace('"sam2.1_hiera_s"', repr(str(readme_world["config"])))
            exec(compile(code, f"README.md python block {number}", "exec"), scope)
    assert scope["per_image"][1].masks.shape == (0, *PHOTO_SIZE)
    assert len(scope["backwards"]) == 41  # frames 40 down to 0
    assert (folder / "out" / "annotations.json").is_file()
    assert (folder / "tuned").is_dir()
    if skipped:
        pytest.skip(f"python block(s) {skipped} not run: they need the original sam2")


def test_every_command_line_runs(readme_world, server, tmp_path, monkeypatch, capsys) -> None:
    from sam2_hf.cli import build_parser, main

    folder = _fresh_folder(readme_world, tmp_path)
    monkeypatch.chdir(folder)
    skipped = []
    with offline_hub(readme_world["cache"]):  # type: ignore[arg-type]
        for argv in command_lines():
            argv = [localise(word, server) for word in argv]
            if argv[0] in PARSE_ONLY:
                build_parser().parse_args(argv)
                continue
            if argv[0] == "convert":
                if readme_world["config"] is None:
                    skipped.append(argv[0])
                    continue
                argv = [str(readme_world["config"]) if w == "sam2.1_hiera_s" else w for w in argv]
            if argv[0] == "batch":  # out/ holds the track command's frames
                shutil.rmtree(folder / "out", ignore_errors=True)
            status = main(argv)
            assert status == 0, f"sam2-hf {shlex.join(argv)}: {capsys.readouterr().err}"
    assert (folder / "my-model" / "config.json").is_file() or "convert" in skipped
    if skipped:
        pytest.skip(f"command(s) {skipped} not run: they need the original sam2")
