"""Sam2Predictor and MaskGenerator on every family: SAM 2, EdgeTAM and SAM 3's tracker.

Per family, the package's masks and scores equal the raw transformers calls (the family's
processor -> its image model -> ``post_process_masks``) on the same tiny random checkpoint,
loaded the public way.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_helpers import RECORD_KEYS, assert_matches_raw, raw_transformers

from sam2_hf import MaskGenerator, Sam2Predictor

FAMILY_FIXTURES = {
    "sam2": "video_checkpoint",
    "edgetam": "edgetam_checkpoint",
    "sam3": "sam3_checkpoint",
}
FAMILY_CLASSES = {"sam2": "Sam2Model", "edgetam": "EdgeTamModel", "sam3": "Sam3TrackerModel"}


@pytest.fixture(scope="module", params=list(FAMILY_FIXTURES))
def family_predictor(request) -> Sam2Predictor:
    """The image predictor on each family's hub-shaped tiny checkpoint, loaded by folder."""
    folder = request.getfixturevalue(FAMILY_FIXTURES[request.param])
    predictor = Sam2Predictor.from_pretrained(folder, device="cpu")
    assert type(predictor.model).__name__ == FAMILY_CLASSES[request.param]
    return predictor


@pytest.fixture
def ready(family_predictor: Sam2Predictor, image_hw: np.ndarray) -> Sam2Predictor:
    family_predictor.set_image(image_hw)
    return family_predictor


def test_points_match_raw_transformers(ready, image_hw):
    result = ready.predict(point_coords=[(40, 12), (10, 30)], point_labels=[1, 0])
    raw_masks, raw_scores, _ = raw_transformers(
        ready, image_hw, True, input_points=[[[[40, 12], [10, 30]]]], input_labels=[[[1, 0]]]
    )
    assert result.masks.shape == (3, 48, 64) and result.masks.dtype == bool
    assert_matches_raw(result.masks, result.scores, raw_masks[0], raw_scores[0])


def test_boxes_match_raw_transformers(ready, image_hw):
    result = ready.predict(box=(5, 6, 50, 40))
    raw_masks, raw_scores, _ = raw_transformers(
        ready, image_hw, False, input_boxes=[[[5, 6, 50, 40]]]
    )
    assert result.masks.shape == (1, 48, 64)
    assert_matches_raw(result.masks, result.scores, raw_masks[0], raw_scores[0])
    boxes = np.array([[5, 6, 50, 40], [0, 0, 20, 20], [30, 10, 63, 47]])
    many = ready.predict(box=boxes, multimask_output=False)
    raw_masks, raw_scores, _ = raw_transformers(
        ready, image_hw, False, input_boxes=[boxes.tolist()]
    )
    assert many.masks.shape == (3, 1, 48, 64)
    assert_matches_raw(many.masks, many.scores, raw_masks, raw_scores)


def test_points_and_box_match_raw_transformers(ready, image_hw):
    result = ready.predict(point_coords=[(30, 20), (8, 8)], point_labels=[1, 0], box=(4, 4, 60, 44))
    raw_masks, raw_scores, _ = raw_transformers(
        ready,
        image_hw,
        False,
        input_points=[[[[30, 20], [8, 8]]]],
        input_labels=[[[1, 0]]],
        input_boxes=[[[4, 4, 60, 44]]],
    )
    assert_matches_raw(result.masks, result.scores, raw_masks[0], raw_scores[0])


def test_mask_input_matches_raw_transformers(ready, image_hw):
    first = ready.predict(point_coords=[(40, 12)])
    # The low-res logits are 4x the embedding grid, whatever the family's image size.
    assert first.logits.shape[1:] == ready.engine.mask_size
    result = ready.predict(point_coords=[(40, 12)], mask_input=first.logits[0])
    raw_masks, raw_scores, _ = raw_transformers(
        ready,
        image_hw,
        True,
        input_points=[[[[40, 12]]]],
        input_labels=[[[1]]],
        input_masks=torch.from_numpy(first.logits[0])[None, None],
    )
    assert_matches_raw(result.masks, result.scores, raw_masks[0], raw_scores[0])


def test_automatic_masks_give_valid_records(family_predictor, image_hw):
    generator = MaskGenerator(
        family_predictor,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        use_m2m=True,
        crop_n_layers=1,
    )
    records = generator.generate(image_hw)
    assert records  # thresholds at 0 keep masks: the loop below must run
    for record in records:
        assert list(record) == RECORD_KEYS
        mask = record["segmentation"]
        assert mask.shape == (48, 64) and mask.dtype == bool
        assert record["area"] == int(mask.sum())
    ious = [r["predicted_iou"] for r in records]
    assert ious == sorted(ious, reverse=True)


def test_mask_generator_loads_each_family_by_folder(edgetam_checkpoint, sam3_checkpoint):
    for folder, name in ((edgetam_checkpoint, "edgetam"), (sam3_checkpoint, "sam3")):
        generator = MaskGenerator.from_pretrained(folder, device="cpu", points_per_side=2)
        assert type(generator.predictor.model).__name__ == FAMILY_CLASSES[name]


def test_predictor_loads_each_family_by_short_name_and_hub_id(families_hub_cache, image_hw):
    for name, hub_id in (("edgetam", "yonigozlan/EdgeTAM-hf"), ("sam3", "facebook/sam3")):
        by_name = Sam2Predictor.from_pretrained(name, device="cpu", cache_dir=families_hub_cache)
        by_id = Sam2Predictor.from_pretrained(hub_id, device="cpu", cache_dir=families_hub_cache)
        assert type(by_name.model).__name__ == type(by_id.model).__name__ == FAMILY_CLASSES[name]
        for predictor in (by_name, by_id):
            predictor.set_image(image_hw)
        first = by_name.predict(point_coords=[(40, 12)])
        second = by_id.predict(point_coords=[(40, 12)])
        np.testing.assert_array_equal(first.masks, second.masks)


def test_fast_decoding_gives_the_plain_model_calls_records(family_predictor, image_hw, monkeypatch):
    """The generator's fast decoder on each family gives what ``model(...)`` gives."""
    from sam2_hf.engine import fast_decode

    assert fast_decode.supports_fast_decode(family_predictor.model)
    generator = MaskGenerator(
        family_predictor,
        points_per_side=4,
        points_per_batch=6,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )
    fast = generator.generate(image_hw)
    monkeypatch.setattr(fast_decode, "supports_fast_decode", lambda model: False)
    plain = generator.generate(image_hw)
    assert len(fast) == len(plain) > 0
    for ours, theirs in zip(fast, plain, strict=True):
        np.testing.assert_array_equal(ours["segmentation"], theirs["segmentation"])
        assert {k: v for k, v in ours.items() if k != "segmentation"} == {
            k: v for k, v in theirs.items() if k != "segmentation"
        }
