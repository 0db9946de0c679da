"""The two [x, y, w, h] forms of a mask box: COCO's pixel counts and the original AMG's."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from sam2_hf.formats.boxes import to_coco_bbox, to_record_bbox
from sam2_hf.formats.masks import mask_to_box


def test_coco_bbox_is_pycocotools_to_bbox() -> None:
    generator = np.random.default_rng(0)
    masks = generator.random((20, 9, 13)) < 0.05
    masks[0] = False
    masks[0, 4, 7] = True  # a single pixel spans one column and one row
    boxes = to_coco_bbox(mask_to_box(masks))
    for mask, box in zip(masks, boxes, strict=True):
        if not mask.any():
            continue
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        np.testing.assert_array_equal(box, mask_utils.toBbox(rle))
    assert boxes[0].tolist() == [7.0, 4.0, 1.0, 1.0]


def test_record_bbox_is_one_less_than_coco() -> None:
    boxes = np.array([[2, 1, 5, 3], [0, 0, 0, 0]])
    np.testing.assert_array_equal(to_record_bbox(boxes), [[2, 1, 3, 2], [0, 0, 0, 0]])
    np.testing.assert_array_equal(to_coco_bbox(boxes) - to_record_bbox(boxes), [[0, 0, 1, 1]] * 2)
    assert to_record_bbox([3, 5, 3, 5]).tolist() == [3.0, 5.0, 0.0, 0.0]


def test_inputs_are_not_modified_and_errors_name_the_shape() -> None:
    boxes = np.array([[2, 1, 5, 3]])
    to_coco_bbox(boxes)
    to_record_bbox(boxes)
    assert boxes.tolist() == [[2, 1, 5, 3]]
    with pytest.raises(ValueError, match=r"boxes must have shape \(4,\) or \(N, 4\), got \(3,\)"):
        to_coco_bbox([1, 2, 3])
    with pytest.raises(TypeError, match="boxes must be a numeric array, got dtype bool"):
        to_record_bbox(np.ones(4, bool))
