"""Mask utilities: pure numpy / SciPy, no torch.

Every function takes masks as numpy arrays of shape (H, W) (or (N, H, W) where stated),
bool or 0/1 integers, in the pixel grid of the original image.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

# 8-connectivity, as the original sam2 CUDA connected-components kernel and OpenCV use.
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _component_areas(binary: NDArray[np.bool_]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Label 8-connected components; return the label image and each pixel's component area."""
    labels, count = ndimage.label(binary, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    return labels, sizes[labels]


def clean_mask_logits(
    logits: NDArray[np.floating],
    *,
    mask_threshold: float = 0.0,
    max_hole_area: int = 0,
    max_sprinkle_area: int = 0,
) -> NDArray[np.float32]:
    """Fill small holes and remove small specks in mask logits, as the original predictor does.

    Mirrors sam2's ``SAM2Transforms.postprocess_masks``: both kinds of region are found on the
    *input* logits (8-connected, area counted in pixels of the given grid, border regions
    included); holes are set to ``mask_threshold + 10`` and specks to ``mask_threshold - 10``.

    Args:
        logits: (..., H, W) float mask logits; leading axes are independent masks.
        mask_threshold: logits above it are foreground.
        max_hole_area: background regions of at most this many pixels become foreground
            (0 turns it off).
        max_sprinkle_area: foreground regions of at most this many pixels become background
            (0 turns it off).

    Returns:
        A new float32 array of the same shape; ``logits`` is not modified.

    Example:
        >>> logits = np.full((5, 5), 5.0); logits[2, 2] = -5.0
        >>> bool(clean_mask_logits(logits, max_hole_area=1)[2, 2] > 0)
        True
    """
    for name, value in (("max_hole_area", max_hole_area), ("max_sprinkle_area", max_sprinkle_area)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    source = np.asarray(logits, dtype=np.float32)
    if source.ndim < 2:
        raise ValueError(f"logits must have shape (..., H, W), got {source.shape}")
    cleaned = source.copy()
    if max_hole_area == 0 and max_sprinkle_area == 0:
        return cleaned
    flat_source = source.reshape(-1, *source.shape[-2:])
    flat_cleaned = cleaned.reshape(-1, *source.shape[-2:])
    for plane, out in zip(flat_source, flat_cleaned):
        if max_hole_area > 0:
            labels, areas = _component_areas(plane <= mask_threshold)
            out[(labels > 0) & (areas <= max_hole_area)] = mask_threshold + 10.0
        if max_sprinkle_area > 0:
            labels, areas = _component_areas(plane > mask_threshold)
            out[(labels > 0) & (areas <= max_sprinkle_area)] = mask_threshold - 10.0
    return cleaned


def remove_small_regions(
    mask: NDArray[np.bool_], area_thresh: float, mode: str
) -> tuple[NDArray[np.bool_], bool]:
    """Remove small islands or fill small holes in a binary mask (the original AMG's rule).

    Regions are 8-connected and *strictly* smaller than ``area_thresh`` pixels. When removing
    islands would delete every region, the largest one is kept.

    Args:
        mask: (H, W) bool mask.
        area_thresh: regions with fewer pixels than this are changed.
        mode: ``"holes"`` fills background regions, ``"islands"`` removes foreground ones.

    Returns:
        ``(new_mask, changed)``; ``mask`` itself is not modified.

    Example:
        >>> m = np.zeros((6, 6), bool); m[0:4, 0:4] = True; m[5, 5] = True
        >>> remove_small_regions(m, 2, "islands")[0][5, 5]
        np.False_
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    fill_holes = mode == "holes"
    labels, count = ndimage.label(mask ^ fill_holes, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    small = np.flatnonzero(sizes < area_thresh) + 1
    if small.size == 0:
        return mask.copy(), False
    if fill_holes:
        # Everything that is not a large background region becomes foreground.
        keep = np.concatenate(([0], small))
    else:
        keep = np.setdiff1d(np.arange(1, count + 1), small)
        if keep.size == 0:
            keep = np.array([int(np.argmax(sizes)) + 1])
    return np.isin(labels, keep), True
