"""Where automatic mask generation puts its point prompts and image crops.

The layout is the original sam2 generator's (``sam2/utils/amg.py``), so settings carry over
and the same image gets the same prompts: points sit at the centres of an n x n grid of cells,
and crop layer i cuts the image into (2**i) x (2**i) overlapping crops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

# A crop box (x0, y0, x1, y1) in pixels of the original image, x1 / y1 exclusive.
CropBox = tuple[int, int, int, int]


def build_point_grid(n_per_side: int) -> NDArray[np.float64]:
    """An n x n grid of cell centres in [0, 1] x [0, 1], rows top to bottom, x fastest.

    Args:
        n_per_side: points along each side, >= 1.

    Returns:
        (n * n, 2) float64 (x, y), relative to the width and height of the crop.

    Example:
        >>> build_point_grid(2).tolist()
        [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    """
    if isinstance(n_per_side, bool) or not isinstance(n_per_side, int | np.integer):
        raise TypeError(f"n_per_side must be an int, got {type(n_per_side).__name__}")
    if n_per_side < 1:
        raise ValueError(f"n_per_side must be >= 1, got {n_per_side}")
    offset = 1 / (2 * n_per_side)
    side = np.linspace(offset, 1 - offset, n_per_side)
    xs, ys = np.meshgrid(side, side)  # ys constant along a row: row-major, x fastest
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def build_all_layer_point_grids(
    n_per_side: int, n_layers: int, scale_per_layer: int
) -> list[NDArray[np.float64]]:
    """One grid per crop layer: layer i has ``int(n_per_side / scale_per_layer**i)`` per side.

    Raises:
        ValueError: a layer would get no points at all.
    """
    grids = []
    for layer in range(n_layers + 1):
        n_points = int(n_per_side / (scale_per_layer**layer))
        if n_points < 1:
            raise ValueError(
                f"crop layer {layer} gets no points: points_per_side={n_per_side} / "
                f"crop_n_points_downscale_factor={scale_per_layer}**{layer} < 1; lower "
                "crop_n_layers or crop_n_points_downscale_factor"
            )
        grids.append(build_point_grid(n_points))
    return grids


def generate_crop_boxes(
    image_size: tuple[int, int], n_layers: int, overlap_ratio: float
) -> tuple[list[CropBox], list[int]]:
    """The whole image, then (2**i)**2 overlapping crops for each layer i = 1 .. n_layers.

    Args:
        image_size: (H, W) of the original image.
        n_layers: extra crop layers (0: the whole image only).
        overlap_ratio: in layer 1, neighbouring crops overlap by this fraction of the image's
            short side; deeper layers scale the overlap down with the crop size.

    Returns:
        ``(boxes, layers)``: boxes (x0, y0, x1, y1) in pixels with x1 / y1 exclusive, and the
        layer index of each. Within a layer crops go column by column (x0 outer, y0 inner).
        Every box holds at least one pixel and no box appears twice: on images too small for
        ``n_layers`` (e.g. 20x30 with 3 layers) deeper layers have fewer than (2**i)**2 crops.

    Example:
        >>> generate_crop_boxes((100, 200), 1, 0.25)[0]
        [(0, 0, 200, 100), (0, 0, 113, 63), (0, 38, 113, 100), (88, 0, 200, 63), (88, 38, 200, 100)]
    """
    height, width = image_size
    short_side = min(height, width)
    boxes: list[CropBox] = [(0, 0, width, height)]
    layers = [0]
    seen = set(boxes)
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * short_side * (2 / per_side))
        crop_w = _crop_length(width, per_side, overlap)
        crop_h = _crop_length(height, per_side, overlap)
        x_starts = [int((crop_w - overlap) * i) for i in range(per_side)]
        y_starts = [int((crop_h - overlap) * i) for i in range(per_side)]
        for x0 in x_starts:
            for y0 in y_starts:
                box = (x0, y0, min(x0 + crop_w, width), min(y0 + crop_h, height))
                # On images small for the layer count the formula runs past the image edge
                # (empty or inverted boxes) and repeats crops: those are left out.
                if box[2] > box[0] and box[3] > box[1] and box not in seen:
                    seen.add(box)
                    boxes.append(box)
                    layers.append(layer)
    return boxes, layers


def _crop_length(length: int, n_crops: int, overlap: int) -> int:
    return int(math.ceil((overlap * (n_crops - 1) + length) / n_crops))


def crop_points(grid: NDArray[np.float64], crop_box: Sequence[int]) -> NDArray[np.float32]:
    """A relative grid scaled to a crop's pixels, as float32 like the original's prompts.

    Returns:
        (K, 2) float32 (x, y) in pixels of the crop (add the crop's x0, y0 for the image).
    """
    x0, y0, x1, y1 = crop_box
    return (grid * np.array([[x1 - x0, y1 - y0]])).astype(np.float32)
