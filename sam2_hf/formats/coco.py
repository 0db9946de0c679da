"""COCO run-length encoding and COCO JSON export, in pure numpy (pycocotools not needed).

RLE follows COCO's ``maskApi.c``: pixels are read column by column (Fortran order), run
lengths alternate background/foreground starting with background (so a mask whose first
pixel is foreground starts with a 0 run). The compressed string form matches
``pycocotools.mask.encode`` byte for byte.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .boxes import to_coco_bbox
from .files import atomic_write
from .masks import _as_mask, mask_area, mask_to_box

# Each character carries 5 bits of a run-length delta plus a "more follows" flag (0x20),
# offset by 48 so the string is printable ASCII.
_CHAR_OFFSET = 48
_MORE = 0x20
_SIGN = 0x10
_PAYLOAD = 0x1F
# 13 characters carry 65 bits; any valid count fits in fewer.
_MAX_CHARS_PER_COUNT = 13


def _run_lengths(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Column-major run lengths, starting with a (possibly empty) background run."""
    flat = mask.ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate(([0], changes, [flat.size])))
    if flat[0]:
        counts = np.concatenate(([0], counts))
    return counts.astype(np.int64)


def _counts_to_string(counts: NDArray[np.int64]) -> str:
    """COCO's ``rleToString``: delta against the run two back, then 5-bit little-endian chunks."""
    values = counts.copy()
    # Runs from the fourth on are stored relative to the same-colour run before them.
    values[3:] -= counts[1:-2]
    chunks = np.zeros((values.size, _MAX_CHARS_PER_COUNT), dtype=np.int64)
    present = np.zeros_like(chunks, dtype=bool)
    active = np.ones(values.size, dtype=bool)
    for k in range(_MAX_CHARS_PER_COUNT):
        chunk = values & _PAYLOAD
        values = values >> 5  # arithmetic shift keeps negative deltas' sign bits
        more = np.where(chunk & _SIGN, values != -1, values != 0) & active
        chunks[:, k] = chunk | np.where(more, _MORE, 0)
        present[:, k] = active
        active = more
        if not active.any():
            break
    return (chunks[present] + _CHAR_OFFSET).astype(np.uint8).tobytes().decode("ascii")


def _string_to_counts(counts: str | bytes) -> NDArray[np.int64]:
    """COCO's ``rleFrString``, the inverse of ``_counts_to_string``."""
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    chars = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - _CHAR_OFFSET
    if chars.size == 0:
        return np.zeros(0, dtype=np.int64)
    if chars.min() < 0 or chars.max() > 63:
        raise ValueError("rle['counts'] has characters outside COCO's RLE alphabet ('0'..'o')")
    last = (chars & _MORE) == 0
    if not last[-1]:
        raise ValueError("rle['counts'] is truncated: its last character says more follows")
    group = np.concatenate(([0], np.cumsum(last)[:-1]))
    starts = np.flatnonzero(np.concatenate(([True], last[:-1])))
    position = np.arange(chars.size) - starts[group]
    if position.max() >= _MAX_CHARS_PER_COUNT:
        raise ValueError("rle['counts'] has a run length too long to be valid")
    values = np.add.reduceat((chars & _PAYLOAD) << (5 * position), starts)
    # Sign-extend groups whose last chunk has the sign bit set.
    negative = (chars[last] & _SIGN) != 0
    values[negative] -= np.left_shift(1, 5 * (position[last][negative] + 1))
    # Undo the deltas: even and odd runs (from the third and second on) are running sums.
    values[2::2] = np.cumsum(values[2::2])
    values[1::2] = np.cumsum(values[1::2])
    return values


def to_uncompressed_rle(mask: ArrayLike) -> dict[str, Any]:
    """Encode a mask as uncompressed COCO RLE (the original SAM's ``mask_to_rle_pytorch``).

    Args:
        mask: (H, W) bool or integer mask; nonzero is foreground.

    Returns:
        ``{"size": [H, W], "counts": [int, ...]}``, column-major run lengths starting with
        background.

    Example:
        >>> to_uncompressed_rle(np.array([[1, 0], [1, 1]]))
        {'size': [2, 2], 'counts': [0, 2, 1, 1]}
    """
    binary = _as_mask(mask)
    return {"size": list(binary.shape), "counts": _run_lengths(binary).tolist()}


def to_coco_rle(mask: ArrayLike) -> dict[str, Any]:
    """Encode a mask as compressed COCO RLE, identical to ``pycocotools.mask.encode``.

    Args:
        mask: (H, W) bool or integer mask, any memory order; nonzero is foreground.

    Returns:
        ``{"size": [H, W], "counts": str}``, ready for JSON (pycocotools gives ``bytes``).
    """
    binary = _as_mask(mask)
    return {"size": list(binary.shape), "counts": _counts_to_string(_run_lengths(binary))}


def from_coco_rle(rle: Mapping[str, Any]) -> NDArray[np.bool_]:
    """Decode compressed (``counts`` a str or bytes) or uncompressed (a list of ints) COCO RLE.

    Args:
        rle: ``{"size": [H, W], "counts": ...}``.

    Returns:
        (H, W) bool mask, C-contiguous.

    Raises:
        TypeError: ``rle`` is not a mapping, or ``counts`` is neither a string nor integers.
        ValueError: keys are missing, or the run lengths are negative or do not add up to H * W.
    """
    if not isinstance(rle, Mapping):
        raise TypeError(f"rle must be a mapping with 'size' and 'counts', got {type(rle).__name__}")
    missing = [key for key in ("size", "counts") if key not in rle]
    if missing:
        raise ValueError(f"rle must have keys 'size' and 'counts', missing {missing}")
    size = np.asarray(rle["size"])
    if size.shape != (2,) or not np.issubdtype(size.dtype, np.integer) or size.min() <= 0:
        raise ValueError(f"rle['size'] must be [H, W] with positive ints, got {rle['size']!r}")
    height, width = (int(v) for v in size)
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        runs = _string_to_counts(counts)
    else:
        runs = np.asarray(counts)
        if runs.ndim != 1 or not (runs.size == 0 or np.issubdtype(runs.dtype, np.integer)):
            raise TypeError("rle['counts'] must be a str, bytes or a flat sequence of ints")
        runs = runs.astype(np.int64)
    if runs.size and runs.min() < 0:
        raise ValueError("rle['counts'] has negative run lengths")
    if runs.sum() != height * width:
        raise ValueError(
            f"rle['counts'] covers {runs.sum()} pixels, but size {[height, width]} "
            f"has {height * width}"
        )
    values = np.arange(runs.size) % 2 == 1
    flat = np.repeat(values, runs)
    return np.ascontiguousarray(flat.reshape((height, width), order="F"))


@dataclass(frozen=True, eq=False)
class CocoImage:
    """One image's masks, for ``to_coco_annotations``.

    Attributes:
        file_name: the image's file name as COCO should record it.
        masks: (N, H, W) bool masks in the image's pixel grid; N may be 0. The image's
            height and width are taken from this shape.
        scores: optional (N,) float scores, written as each annotation's ``"score"``.
        category_ids: optional (N,) int category ids; default: the first category's id.
    """

    file_name: str
    masks: NDArray[np.bool_]
    scores: NDArray[np.float64] | None = None
    category_ids: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.file_name, str):
            raise TypeError(f"file_name must be a str, got {type(self.file_name).__name__}")
        masks = _as_mask(self.masks, "masks", batched=True)
        object.__setattr__(self, "masks", masks)
        for name, kind, what in (
            ("scores", np.number, "numeric"),
            ("category_ids", np.integer, "an integer array"),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            array = np.asarray(value)
            if array.shape != (len(masks),):
                raise ValueError(f"{name} must have shape ({len(masks)},), got {array.shape}")
            if array.size and not np.issubdtype(array.dtype, kind):
                raise TypeError(f"{name} must be {what}, got dtype {array.dtype}")
            object.__setattr__(self, name, array)

    @property
    def height(self) -> int:
        """The image height in pixels."""
        return int(self.masks.shape[1])

    @property
    def width(self) -> int:
        """The image width in pixels."""
        return int(self.masks.shape[2])


DEFAULT_CATEGORIES: tuple[dict[str, Any], ...] = ({"id": 1, "name": "object"},)


def to_coco_annotations(
    images: Sequence[CocoImage], *, categories: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Build a COCO instance-segmentation dict that ``pycocotools.coco.COCO`` can load.

    Image ids are 1, 2, ... in the order given; annotation ids are 1, 2, ... across all
    images. Each annotation has a compressed-RLE ``segmentation``, ``bbox`` as
    ``[x, y, width, height]`` floats in pixels (the number of columns and rows the
    foreground spans, as ``pycocotools.mask.toBbox``; see ``sam2_hf.formats.boxes``), the
    pixel ``area``, ``iscrowd`` 0 and, when the image has scores, ``score``.

    Args:
        images: the images and their masks.
        categories: COCO categories, each with at least ``"id"`` and ``"name"``; default
            a single ``{"id": 1, "name": "object"}``.

    Returns:
        ``{"images": [...], "annotations": [...], "categories": [...]}`` of plain Python
        values (JSON-ready).

    Raises:
        TypeError: an entry of ``images`` is not a ``CocoImage``.
        ValueError: ``categories`` is empty or malformed, or a category id is unknown.
    """
    categories = [dict(c) for c in (DEFAULT_CATEGORIES if categories is None else categories)]
    if not categories:
        raise ValueError("categories must not be empty")
    for index, category in enumerate(categories):
        if "id" not in category or "name" not in category:
            raise ValueError(f"categories[{index}] must have 'id' and 'name', got {category}")
    known_ids = [category["id"] for category in categories]

    image_entries: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, image in enumerate(images, start=1):
        if not isinstance(image, CocoImage):
            raise TypeError(f"images must hold CocoImage entries, got {type(image).__name__}")
        image_entries.append(
            {
                "id": image_id,
                "file_name": image.file_name,
                "height": image.height,
                "width": image.width,
            }
        )
        category_ids = (
            np.full(len(image.masks), known_ids[0])
            if image.category_ids is None
            else image.category_ids
        )
        unknown = sorted(set(category_ids.tolist()) - set(known_ids))
        if unknown:
            raise ValueError(
                f"{image.file_name}: category_ids {unknown} not in categories; "
                f"known ids: {known_ids}"
            )
        areas = np.asarray(mask_area(image.masks))
        bboxes = to_coco_bbox(mask_to_box(image.masks)).reshape(-1, 4)
        bboxes[areas == 0] = 0.0  # an empty mask has no extent; pycocotools gives zeros too
        for index, mask in enumerate(image.masks):
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(category_ids[index]),
                "segmentation": to_coco_rle(mask),
                "area": int(areas[index]),
                "bbox": bboxes[index].tolist(),
                "iscrowd": 0,
            }
            if image.scores is not None:
                annotation["score"] = float(image.scores[index])
            annotations.append(annotation)
    return {"images": image_entries, "annotations": annotations, "categories": categories}


def write_coco_json(data: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a COCO dict (as ``to_coco_annotations`` returns it) to a JSON file, atomically.

    Args:
        data: the COCO dict.
        path: where to write; the folder must exist.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: ``data`` is not a mapping, or holds values JSON cannot encode.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a mapping, got {type(data).__name__}")
    text = json.dumps(data)
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
