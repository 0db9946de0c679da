"""The package surface: lazy names, old module paths, and imports that cost what they use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sam2_hf

PUBLIC = [name for name in dir(sam2_hf) if not name.startswith("_")]


def test_every_public_name_resolves() -> None:
    assert {"Sam2Predictor", "MaskGenerator", "VideoTracker", "segment", "Masks"} <= set(PUBLIC)
    for name in PUBLIC:
        assert getattr(sam2_hf, name) is not None, name


def test_dir_lists_the_public_names_not_the_modules_own_imports() -> None:
    assert not {"sys", "importlib", "ModuleType", "TYPE_CHECKING", "Any"} & set(dir(sam2_hf))


def test_help_is_short_and_names_the_main_classes() -> None:
    """``help(sam2_hf)`` is the package's summary, not every class's documentation."""
    import pydoc

    text = pydoc.render_doc(sam2_hf, renderer=pydoc.plaintext)
    assert len(text.splitlines()) < 80
    for name in ("Sam2Predictor", "MaskGenerator", "VideoTracker", "Masks", "save_mask"):
        assert name in text, name


def test_type_checkers_see_every_public_name() -> None:
    """The ``if TYPE_CHECKING`` imports name every lazily resolved name, as ``X as X``."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(sam2_hf))
    exported = {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }
    assert exported == set(PUBLIC) - {"__version__"}


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Sam3Predictor'"):
        sam2_hf.Sam3Predictor  # noqa: B018


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sam2_hf.models", "sam2_hf.engine.loading"),
        ("sam2_hf.predictor", "sam2_hf.image.predictor"),
        ("sam2_hf.automatic", "sam2_hf.image.automatic"),
        ("sam2_hf.video_io", "sam2_hf.video.io"),
        ("sam2_hf.masks", "sam2_hf.formats.masks"),
        ("sam2_hf.coco", "sam2_hf.formats.coco"),
        ("sam2_hf.draw", "sam2_hf.formats.draw"),
    ],
)
def test_first_release_module_paths_are_the_new_modules(old: str, new: str) -> None:
    import importlib

    assert importlib.import_module(old) is importlib.import_module(new)


def test_video_package_keeps_the_first_release_names() -> None:
    from sam2_hf.video import FrameMasks, VideoTracker, track_video

    assert FrameMasks is sam2_hf.FrameMasks
    assert VideoTracker is sam2_hf.VideoTracker
    assert callable(track_video)


def test_mask_utilities_load_no_torch() -> None:
    # A fresh interpreter: this test process has torch loaded already.
    script = (
        "import sys, sam2_hf, sam2_hf.masks, sam2_hf.coco, sam2_hf.draw, sam2_hf.results\n"
        "from sam2_hf import save_mask, to_coco_rle, overlay, Masks\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'torchvision') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
