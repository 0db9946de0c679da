"""The package surface: lazy names, old module paths, and imports that cost what they use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sam2_hf


def test_every_public_name_resolves() -> None:
    for name in sam2_hf.__all__:
        assert getattr(sam2_hf, name) is not None, name


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
