"""``sam2_hf.compat.SAM2AutomaticMaskGenerator`` against the original sam2 on the same random
weights: the same records, in the same order, with the same types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("sam2")
# The original builds its image transforms with torch.jit.script, which torch now deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")

from original_sam2 import (  # noqa: E402
    CONFIG,
    FEAT_SIZES,
    TINY_OVERRIDES,
    Originals,
    original_on_cpu,
    originals,
    test_image,
)

from sam2_hf.compat import SAM2AutomaticMaskGenerator, build_sam2  # noqa: E402

# Small grids keep the tiny model fast; thresholds off so that random masks survive.
BASE = dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Originals:
    return originals(tmp_path_factory.mktemp("original"))


@pytest.fixture(scope="module")
def compat_model(tiny: Originals) -> torch.nn.Module:
    return build_sam2(CONFIG, tiny.checkpoint, device="cpu", hydra_overrides_extra=TINY_OVERRIDES)


def original_generator(model: torch.nn.Module, **settings: object):
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator as Original

    generator = Original(model, **settings)
    generator.predictor._bb_feat_sizes = FEAT_SIZES
    return generator


def assert_same_records(theirs: list[dict], mine: list[dict]) -> None:
    assert type(mine) is list and len(mine) == len(theirs)
    for a, b in zip(theirs, mine, strict=True):
        assert list(b) == list(a)  # same keys, same order
        for key, value in a.items():
            other = b[key]
            if isinstance(value, np.ndarray):
                assert other.dtype == value.dtype and np.array_equal(other, value), key
            elif key in ("predicted_iou", "stability_score"):
                assert type(other) is type(value) and abs(other - value) <= 1e-4, key
            else:
                assert other == value, key
                assert _types(other) == _types(value), key


def _types(value: object) -> object:
    if isinstance(value, list):
        return [_types(item) for item in value]
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    return type(value)


SETTINGS = {
    "defaults but the grid": dict(BASE),
    "no nms": dict(BASE, box_nms_thresh=1.0),
    "m2m and coco rle": dict(BASE, use_m2m=True, output_mode="coco_rle"),
    "single mask, uncompressed rle": dict(
        BASE, multimask_output=False, output_mode="uncompressed_rle"
    ),
    "thresholds": dict(points_per_side=6, pred_iou_thresh=0.2, stability_score_thresh=0.5),
}


@pytest.mark.parametrize("name", SETTINGS)
def test_generate_matches_the_original(tiny: Originals, compat_model, name: str) -> None:
    settings = SETTINGS[name]
    image = test_image()
    theirs = original_generator(tiny.image_model, **settings).generate(image)
    mine = SAM2AutomaticMaskGenerator(compat_model, **settings).generate(image)
    assert_same_records(theirs, mine)
    if name == "no nms":
        assert len(mine) > 5  # enough records for the order to matter


def test_crop_layers_keep_the_original_order(tiny: Originals, compat_model) -> None:
    """With crops the original lists masks of smaller crops first (its last NMS sorts by
    1 / crop area), not by predicted IoU."""
    settings = dict(
        BASE,
        crop_n_layers=1,
        crop_n_points_downscale_factor=2,
        crop_nms_thresh=0.95,
        box_nms_thresh=0.95,
    )
    image = test_image(height=96, width=128)
    theirs = original_generator(tiny.image_model, **settings).generate(image)
    mine = SAM2AutomaticMaskGenerator(compat_model, **settings).generate(image)
    assert_same_records(theirs, mine)
    crops = [tuple(record["crop_box"]) for record in mine]
    assert len(set(crops)) >= 3 and crops[-1] == (0.0, 0.0, 128.0, 96.0)


def test_float_min_mask_region_area(tiny: Originals, compat_model) -> None:
    """Meta's notebook passes ``min_mask_region_area=25.0``; as in the original it cleans the
    low-res masks (the original's CUDA connected components run on the CPU here)."""
    settings = dict(BASE, box_nms_thresh=1.0, min_mask_region_area=25.0)
    image = test_image()
    with original_on_cpu():
        theirs = original_generator(tiny.image_model, **settings).generate(image)
    mine = SAM2AutomaticMaskGenerator(compat_model, **settings).generate(image)
    assert_same_records(theirs, mine)
    plain = SAM2AutomaticMaskGenerator(compat_model, **dict(settings, min_mask_region_area=0))
    assert any(
        not np.array_equal(a["segmentation"], b["segmentation"])
        for a, b in zip(mine, plain.generate(image), strict=False)
    ), "the cleanup changed nothing: the test proves nothing"


def test_model_keyword_and_attributes(compat_model) -> None:
    generator = SAM2AutomaticMaskGenerator(model=compat_model, points_per_side=4, use_m2m=True)
    assert generator.use_m2m is True and generator.points_per_batch == 64
    assert len(generator.point_grids) == 1 and generator.point_grids[0].shape == (16, 2)
    generator.predictor.set_image(test_image())  # the original exposes its image predictor
    assert generator.predictor._is_image_set
    with pytest.raises(ValueError, match="points_per_side"):
        SAM2AutomaticMaskGenerator(compat_model, points_per_side=None)
