"""The package's box conventions, stated once; every other docstring refers here.

**Corners** are always named and ordered ``(x0, y0, x1, y1)``: x before y, top-left corner
first, in pixels of the original image (column ``x`` from the left, row ``y`` from the top).
Three kinds of box use this order and differ only in what the numbers measure:

- **Prompt boxes** (``box=`` / ``boxes=`` of the predictors and the tracker, the boxes drawn
  by ``overlay``) are *continuous* coordinates: the image spans ``[0, W] x [0, H]``, pixel
  ``(i, j)`` covers ``[i, i + 1] x [j, j + 1]``, and any float is allowed. Parts outside
  the image are clipped to it (``sam2_hf.inputs.as_boxes``); ``x0 <= x1`` and ``y0 <= y1``.
- **Mask boxes** (``mask_to_box``, ``Masks.mask_boxes``, the crop of ``cutout``) are
  *inclusive pixel indices*: ``x0``/``x1`` are the first and last column holding
  foreground, ``y0``/``y1`` the first and last row, so a single pixel at column 3, row 5
  has the box ``(3, 5, 3, 5)``. An empty mask gives ``(0, 0, 0, 0)``. This is the original
  SAM's ``batched_mask_to_box``. (Passed back as a prompt, such a box is read as continuous
  coordinates, exactly as the original sam2 reads it.)
- **Crop boxes** of the automatic mask generator are continuous coordinates too, with
  integer corners: the crop is the pixels ``x0 <= column < x1``, ``y0 <= row < y1``.

**Width and height** ``[x, y, w, h]`` come in two forms:

- COCO ``bbox`` (``to_coco_annotations``, ``to_coco_bbox`` of a mask box):
  ``w = x1 - x0 + 1`` and ``h = y1 - y0 + 1``, the number of pixel columns and rows the
  mask spans, as ``pycocotools.mask.toBbox`` computes it; an empty mask gets
  ``[0, 0, 0, 0]``.
- automatic-mask records (``MaskGenerator.generate``'s ``"bbox"`` and ``"crop_box"``,
  ``to_record_bbox``): ``w = x1 - x0`` and ``h = y1 - y0``, the original sam2's
  ``box_xyxy_to_xywh``, kept for fidelity with its output. For a crop box that is its exact
  size; for a mask box it is one less than COCO's pixel count.

Pure numpy; no torch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _as_boxes(boxes: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(boxes)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"boxes must be a numeric array, got dtype {array.dtype}")
    if array.ndim not in (1, 2) or array.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (4,) or (N, 4), got {array.shape}")
    return array.astype(np.float64)


def to_coco_bbox(boxes: ArrayLike) -> NDArray[np.float64]:
    """Mask boxes ``(x0, y0, x1, y1)`` (inclusive pixel indices) as COCO ``[x, y, w, h]``.

    ``w = x1 - x0 + 1`` and ``h = y1 - y0 + 1``, as ``pycocotools.mask.toBbox``. The box of
    an empty mask carries no extent; COCO writes ``[0, 0, 0, 0]`` for it, which the caller
    must do (``to_coco_annotations`` does).

    Args:
        boxes: (4,) or (N, 4) boxes from ``mask_to_box``.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> to_coco_bbox([3, 5, 3, 5]).tolist()
        [3.0, 5.0, 1.0, 1.0]
    """
    result = _as_boxes(boxes).copy()
    result[..., 2:] -= result[..., :2] - 1.0
    return result


def to_record_bbox(boxes: ArrayLike) -> NDArray[np.float64]:
    """Mask boxes ``(x0, y0, x1, y1)`` as the original sam2's record ``[x, y, w, h]``.

    ``w = x1 - x0`` and ``h = y1 - y0`` (sam2's ``box_xyxy_to_xywh``), one less than COCO's
    pixel counts; the automatic mask generator's records use it for fidelity with sam2.

    Args:
        boxes: (4,) or (N, 4) boxes from ``mask_to_box``, or crop boxes.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> to_record_bbox([3, 5, 3, 5]).tolist()
        [3.0, 5.0, 0.0, 0.0]
    """
    result = _as_boxes(boxes).copy()
    result[..., 2:] -= result[..., :2]
    return result
