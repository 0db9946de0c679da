"""Result objects reach the mask utilities in one call."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from sam2_hf import Masks, Prediction, load_mask


def make_masks(count: int = 2) -> Masks:
    masks = np.zeros((count, 6, 8), bool)
    for i in range(count):
        masks[i, 1 : 3 + i, 2 : 4 + i] = True
    return Masks(
        masks=masks,
        scores=np.linspace(0.9, 0.5, count, dtype=np.float32),
        logits=np.zeros((count, 4, 4), np.float32),
        object_score_logits=np.ones(count, np.float32),
        boxes=np.array([[0, 0, 7, 5]] * count, np.float32),
    )


def test_masks_save_one_file_or_a_folder(tmp_path):
    one = make_masks(1)
    (written,) = one.save(tmp_path / "single.png")
    np.testing.assert_array_equal(load_mask(written), one.masks[0])
    many = make_masks(3)
    files = many.save(tmp_path / "out")
    assert [f.name for f in files] == ["mask_0.png", "mask_1.png", "mask_2.png"]
    np.testing.assert_array_equal(load_mask(files[2]), many.masks[2])
    with pytest.raises(ValueError, match="must be a folder for 3 masks"):
        many.save(tmp_path / "x.png")


def test_masks_coco_rle_and_boxes():
    masks = make_masks(2)
    rles = masks.to_coco_rle()
    for rle, mask in zip(rles, masks.masks, strict=True):
        ref = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert rle["counts"] == ref["counts"].decode()
    np.testing.assert_array_equal(masks.mask_boxes, [[2, 1, 3, 2], [2, 1, 4, 3]])
    np.testing.assert_array_equal(masks.area, [4, 9])


def test_masks_cutout_and_overlay():
    masks = make_masks(2)
    image = np.full((6, 8, 3), 100, np.uint8)
    rgba = masks.cutout(image, index=1)
    assert rgba.shape == (6, 8, 4)
    np.testing.assert_array_equal(rgba[..., 3] > 0, masks.masks[1])
    drawn = masks.overlay(image, contours=False)
    assert drawn.shape == (6, 8, 3) and not np.array_equal(drawn, image)
    np.testing.assert_array_equal(image, 100)


def test_prediction_to_masks_save_and_rle(tmp_path):
    candidates = np.zeros((3, 6, 8), bool)
    candidates[0, :2] = True
    prediction = Prediction(
        masks=candidates,
        scores=np.array([0.9, 0.5, 0.1], np.float32),
        logits=np.zeros((3, 4, 4), np.float32),
        object_score_logits=np.float32(2.0),
    )
    best = prediction.to_masks()
    assert len(best) == 1 and best.scores[0] == np.float32(0.9)
    (written,) = prediction.save(tmp_path / "best.png")
    np.testing.assert_array_equal(load_mask(written), candidates[0])
    (rle,) = prediction.to_coco_rle()
    assert rle["size"] == [6, 8]
    batched = Prediction(
        masks=np.stack([candidates, candidates]),
        scores=np.ones((2, 3), np.float32),
        logits=np.zeros((2, 3, 4, 4), np.float32),
        object_score_logits=np.zeros(2, np.float32),
    )
    assert batched.to_masks().masks.shape == (2, 6, 8)


def test_masks_checks_row_counts():
    with pytest.raises(ValueError, match="scores must have 2 rows like masks, got 1"):
        Masks(np.zeros((2, 3, 3), bool), np.zeros(1), np.zeros((2, 4, 4)), np.zeros(2))
