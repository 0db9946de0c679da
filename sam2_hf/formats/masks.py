"""Mask utilities: pure numpy / SciPy / Pillow, no torch.

Every function takes masks as numpy arrays of shape (H, W) (or (N, H, W) where stated),
bool or integer (nonzero is foreground), in the pixel grid of the original image. Boxes are
mask boxes ``(x0, y0, x1, y1)`` of inclusive pixel indices (the conventions are stated once,
in ``sam2_hf.formats.boxes``); polygon points are ``(x, y)`` pixel centres.

The polygon functions need OpenCV, an optional extra: ``pip install "sam2-hf[polygons]"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from ..inputs import check_choice, check_float, check_int
from .files import atomic_write, atomic_write_all

if TYPE_CHECKING:
    from types import ModuleType

# 8-connectivity, as the original sam2 CUDA connected-components kernel and OpenCV use.
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _component_areas(binary: NDArray[np.bool_]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Label 8-connected components; return the label image and each pixel's component area."""
    from scipy import ndimage  # slow to import; only labelling pays for it

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

    Raises:
        TypeError: an area is not an int (2.7 pixels is refused, not rounded).
        ValueError: an area is negative, or ``logits`` has fewer than two axes.

    Example:
        >>> logits = np.full((5, 5), 5.0); logits[2, 2] = -5.0
        >>> bool(clean_mask_logits(logits, max_hole_area=1)[2, 2] > 0)
        True
    """
    mask_threshold = check_float("mask_threshold", mask_threshold, -math.inf, math.inf)
    max_hole_area = check_int("max_hole_area", max_hole_area, minimum=0)
    max_sprinkle_area = check_int("max_sprinkle_area", max_sprinkle_area, minimum=0)
    source = np.asarray(logits, dtype=np.float32)
    if source.ndim < 2:
        raise ValueError(f"logits must have shape (..., H, W), got {source.shape}")
    cleaned = source.copy()
    if max_hole_area == 0 and max_sprinkle_area == 0:
        return cleaned
    flat_source = source.reshape(-1, *source.shape[-2:])
    flat_cleaned = cleaned.reshape(-1, *source.shape[-2:])
    for plane, out in zip(flat_source, flat_cleaned, strict=True):
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
    check_choice("mode", mode, ("holes", "islands"))
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    fill_holes = mode == "holes"
    from scipy import ndimage

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


def _as_mask(
    mask: ArrayLike, name: str = "mask", *, batched: bool | None = False
) -> NDArray[np.bool_]:
    """Validate a mask (or a stack of masks) and return it as a bool array.

    Args:
        mask: bool or integer array; nonzero is foreground.
        name: the argument's name, used in error messages.
        batched: ``False`` requires (H, W), ``True`` requires (N, H, W), ``None`` accepts both.

    Returns:
        The mask as a bool array of the same shape (not a copy when ``mask`` is already bool).

    Raises:
        TypeError: ``mask`` is not a bool or integer array.
        ValueError: ``mask`` has the wrong number of axes or an empty height or width.
    """
    array = np.asarray(mask)
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a bool or integer array, got dtype {array.dtype}")
    expected = {False: "(H, W)", True: "(N, H, W)", None: "(H, W) or (N, H, W)"}[batched]
    allowed = {False: (2,), True: (3,), None: (2, 3)}[batched]
    if array.ndim not in allowed:
        raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    if array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f"{name} must have a nonzero height and width, got shape {array.shape}")
    return array.astype(bool, copy=False)


# The first name of ``sam2_hf.formats.files.atomic_write``, kept until every caller has moved.
_atomic_write = atomic_write


def _mask_png_writer(mask: ArrayLike, path: str | os.PathLike[str]) -> Callable[[IO[bytes]], None]:
    """Validate a mask and its ``.png`` path; return what writes the PNG into a handle.

    The PNG is encoded only when the writer runs, so many pending writers hold no images.
    """
    binary = _as_mask(mask)
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"path must end in .png, got {str(path)!r}")

    def write(handle: IO[bytes]) -> None:
        image = Image.fromarray(binary.astype(np.uint8) * 255, mode="L")
        image.save(handle, format="PNG")

    return write


def save_mask(mask: ArrayLike, path: str | os.PathLike[str]) -> Path:
    """Save a mask as an 8-bit single-channel PNG: 255 foreground, 0 background.

    The file is written atomically (``sam2_hf.formats.files.atomic_write``): a temporary
    file in the same folder is renamed over ``path``. The folder must exist.

    Args:
        mask: (H, W) bool or integer mask; nonzero is foreground.
        path: where to write; must end in ``.png``.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: ``mask`` is not (H, W), or ``path`` does not end in ``.png``.
    """
    return atomic_write(path, _mask_png_writer(mask, path))


def save_masks(masks: Iterable[ArrayLike], paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Save several masks as PNGs (as ``save_mask``), all or nothing.

    Every mask and path is checked before anything is written; then each PNG is written to
    a temporary file beside its path, and only when all are written are they renamed into
    place (``sam2_hf.formats.files.atomic_write_all``). A failure leaves no new file and
    every existing one as it was. The folders must exist.

    Args:
        masks: (H, W) bool or integer masks, or one (N, H, W) array; nonzero is foreground.
        paths: one ``.png`` path per mask.

    Returns:
        The paths, as ``Path`` objects, in the order given.

    Raises:
        ValueError: a mask is not (H, W), a path does not end in ``.png``, the numbers of
            masks and paths differ, or a path is given twice.
    """
    mask_list, path_list = list(masks), list(paths)
    if len(mask_list) != len(path_list):
        raise ValueError(
            f"paths must have one path per mask, got {len(path_list)} paths "
            f"for {len(mask_list)} masks"
        )
    writers = [
        _mask_png_writer(mask, path) for mask, path in zip(mask_list, path_list, strict=True)
    ]
    return atomic_write_all(zip(path_list, writers, strict=True))


def load_mask(path: str | os.PathLike[str]) -> NDArray[np.bool_]:
    """Load a mask image (any format Pillow reads) as a bool array.

    A pixel is foreground when it is nonzero. Images with an alpha channel use the alpha
    channel alone, unless it is fully opaque everywhere (then it carries no mask and the
    colour channels are used); other colour images are foreground where any channel is nonzero.

    Args:
        path: the image file.

    Returns:
        (H, W) bool mask.
    """
    with Image.open(path) as opened:
        image: Image.Image = opened
        if image.mode == "P":
            # Palette indices say nothing about colour; 0 need not be black.
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if "A" in image.getbands():
            alpha = np.asarray(image.getchannel("A"))
            if not np.all(alpha == 255):
                return alpha != 0
            image = image.convert("RGB" if image.mode in ("RGBA", "RGBa") else "L")
        pixels = np.asarray(image)
    if pixels.ndim == 3:
        return np.any(pixels != 0, axis=2)
    return pixels != 0


def invert(mask: ArrayLike) -> NDArray[np.bool_]:
    """Swap foreground and background.

    Args:
        mask: (H, W) or (N, H, W) bool or integer mask; nonzero is foreground.

    Returns:
        A new bool array of the same shape.
    """
    return ~_as_mask(mask, batched=None)


def mask_area(mask: ArrayLike) -> int | NDArray[np.int64]:
    """Count foreground pixels.

    Args:
        mask: (H, W) or (N, H, W) bool or integer mask; nonzero is foreground.

    Returns:
        An ``int`` for one (H, W) mask, or an (N,) int64 array for (N, H, W) masks.
    """
    binary = _as_mask(mask, batched=None)
    if binary.ndim == 2:
        return int(np.count_nonzero(binary))
    return np.count_nonzero(binary, axis=(1, 2)).astype(np.int64)


def mask_to_box(mask: ArrayLike) -> NDArray[np.int64]:
    """The tightest box around the foreground, as the original SAM's ``batched_mask_to_box``.

    ``x0, y0`` are the smallest foreground column and row, ``x1, y1`` the largest (inclusive,
    so a single pixel at column 3, row 5 gives ``[3, 5, 3, 5]``). An empty mask gives zeros.
    See ``sam2_hf.formats.boxes`` for how this relates to prompt boxes and COCO's ``bbox``.

    Args:
        mask: (H, W) or (N, H, W) bool or integer mask; nonzero is foreground.

    Returns:
        (4,) or (N, 4) int64 boxes, ``(x0, y0, x1, y1)`` in pixels.
    """
    binary = _as_mask(mask, batched=None)
    stack: NDArray[np.bool_] = binary[None] if binary.ndim == 2 else binary
    rows: NDArray[np.bool_] = np.any(stack, axis=2)
    cols: NDArray[np.bool_] = np.any(stack, axis=1)
    height, width = stack.shape[1:]
    boxes = np.stack(
        [
            cols.argmax(axis=1),
            rows.argmax(axis=1),
            width - 1 - cols[:, ::-1].argmax(axis=1),
            height - 1 - rows[:, ::-1].argmax(axis=1),
        ],
        axis=1,
    ).astype(np.int64)
    boxes[~rows.any(axis=1)] = 0
    return boxes[0] if binary.ndim == 2 else boxes


def _require_cv2(caller: str) -> ModuleType:
    try:
        import cv2
    except ImportError as error:
        raise ImportError(
            f'{caller} needs OpenCV, an optional extra: pip install "sam2-hf[polygons]"'
        ) from error
    return cv2


@dataclass(frozen=True, eq=False)
class Polygon:
    """One connected foreground region as rings of (x, y) pixel centres.

    A ring traces the *foreground* pixels along a boundary, so a region one pixel wide has
    a ring of one or two points. ``holes`` trace the foreground pixels that surround each
    hole; the hole itself is what lies strictly inside such a ring. Foreground islands
    inside a hole are separate ``Polygon`` objects.

    Attributes:
        exterior: (K, 2) int32 ring, (x, y) in pixels.
        holes: one (K, 2) int32 ring per hole, (x, y) in pixels.
    """

    exterior: NDArray[np.int32]
    holes: tuple[NDArray[np.int32], ...] = ()


def mask_to_polygons(mask: ArrayLike, tolerance: float = 0.0) -> list[Polygon]:
    """Trace a mask's regions and holes as polygons (OpenCV ``findContours``, ``RETR_CCOMP``).

    Regions are 8-connected and holes 4-connected, as OpenCV defines them. With
    ``tolerance=0``, ``polygons_to_mask(mask_to_polygons(mask), H, W)`` gives back ``mask``
    exactly.

    Args:
        mask: (H, W) bool or integer mask; nonzero is foreground.
        tolerance: the largest distance, in pixels, a simplified ring may stray from the
            traced one (``cv2.approxPolyDP`` epsilon); 0 keeps every corner.

    Returns:
        One ``Polygon`` per connected region, in raster order of their top-left pixel.

    Raises:
        ImportError: OpenCV is not installed.
        ValueError: ``mask`` is not (H, W) or ``tolerance`` is negative.

    Example:
        >>> m = np.zeros((4, 5), bool); m[1:3, 1:4] = True
        >>> mask_to_polygons(m)[0].exterior.tolist()
        [[1, 1], [1, 2], [3, 2], [3, 1]]
    """
    tolerance = check_float("tolerance", tolerance, 0.0, math.inf)
    binary = _as_mask(mask)
    cv2 = _require_cv2("mask_to_polygons")
    contours, hierarchy = cv2.findContours(
        binary.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if not contours:
        return []

    def ring(index: int) -> NDArray[np.int32]:
        points = contours[index]
        if tolerance > 0:
            points = cv2.approxPolyDP(points, tolerance, True)
        return points.reshape(-1, 2).astype(np.int32)

    # hierarchy rows are (next, previous, first_child, parent); RETR_CCOMP nests two levels.
    parents = hierarchy.reshape(-1, 4)[:, 3]
    return [
        Polygon(ring(i), tuple(ring(j) for j in np.flatnonzero(parents == i).tolist()))
        for i in np.flatnonzero(parents < 0).tolist()
    ]


def _as_ring(points: ArrayLike, name: str) -> NDArray[np.int32]:
    ring = np.asarray(points)
    if ring.dtype == object or not np.issubdtype(ring.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {ring.dtype}")
    if ring.ndim != 2 or ring.shape[1] != 2 or ring.shape[0] == 0:
        raise ValueError(f"{name} must have shape (K, 2) with K >= 1, got {ring.shape}")
    return np.rint(ring).astype(np.int32)


def polygons_to_mask(
    polygons: Sequence[Polygon | ArrayLike], height: int, width: int
) -> NDArray[np.bool_]:
    """Rasterise polygons (as ``mask_to_polygons`` returns them) into a mask.

    Each polygon covers its exterior ring's pixels and everything inside, minus what lies
    strictly inside its holes; the result is the union over all polygons, so the order does
    not matter. Points outside the image are clipped.

    Args:
        polygons: ``Polygon`` objects, or bare (K, 2) rings of (x, y) pixel coordinates
            (rounded to whole pixels) taken as exteriors without holes.
        height: the mask's height in pixels.
        width: the mask's width in pixels.

    Returns:
        (height, width) bool mask.

    Raises:
        ImportError: OpenCV is not installed.
        TypeError: ``height`` or ``width`` is not an int, or a ring is not numeric.
        ValueError: ``height`` or ``width`` is not positive, or a ring is not (K, 2).
    """
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    cv2 = _require_cv2("polygons_to_mask")
    mask = np.zeros((height, width), dtype=np.uint8)
    for index, polygon in enumerate(polygons):
        if not isinstance(polygon, Polygon):
            polygon = Polygon(np.asarray(polygon))
        exterior = _as_ring(polygon.exterior, f"polygons[{index}].exterior")
        holes = [_as_ring(h, f"polygons[{index}].holes[{j}]") for j, h in enumerate(polygon.holes)]
        x0, y0 = np.maximum(exterior.min(axis=0), 0)
        x1, y1 = np.minimum(exterior.max(axis=0), (width - 1, height - 1))
        if x1 < x0 or y1 < y0:
            continue
        # Paint each polygon on its own canvas so erasing its holes cannot erase other polygons
        # (islands inside a hole); the canvas only spans the exterior's box.
        offset = np.array([x0, y0], dtype=np.int32)
        layer = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
        cv2.fillPoly(layer, [exterior - offset], 1)
        if holes:
            shifted = [hole - offset for hole in holes]
            cv2.fillPoly(layer, shifted, 0)
            # Hole rings run along foreground pixels, which the fill above just erased.
            cv2.polylines(layer, shifted, True, 1)
        mask[y0 : y1 + 1, x0 : x1 + 1] |= layer
    return mask.astype(bool)
