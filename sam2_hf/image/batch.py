"""Dataset-scale box prompting: folders of images with detector boxes -> one mask per box.

Boxes come from a JSON file (``{"image.jpg": [[x0, y0, x1, y1], ...]}``) or from YOLO label
files (``labels/<image stem>.txt`` with lines ``class cx cy w h``, normalised). Images are
encoded a few at a time with ``Sam2Predictor.predict_batch``.

Example:
    >>> images = find_images("photos/")  # doctest: +SKIP
    >>> jobs = read_yolo_labels("labels/", images)  # doctest: +SKIP
    >>> for job, masks in segment_jobs(predictor, jobs):  # doctest: +SKIP
    ...     masks.save(f"out/{job.path.stem}")
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..inputs import load_image
from ..results import Masks
from .predictor import Sam2Predictor

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class BoxJob:
    """One image and its box prompts.

    Attributes:
        path: the image file.
        boxes: (N, 4) float64: (x0, y0, x1, y1) pixels, or YOLO (cx, cy, w, h) in [0, 1]
            when ``yolo`` is True.
        category_ids: (N,) int64 class of each box (1 for a JSON boxes file).
        yolo: whether ``boxes`` are YOLO-normalised.
    """

    path: Path
    boxes: NDArray[np.float64]
    category_ids: NDArray[np.int64]
    yolo: bool = False

    def pixel_boxes(self, height: int, width: int) -> NDArray[np.float64]:
        """(N, 4) boxes as (x0, y0, x1, y1) pixels of an image of that size."""
        if not self.yolo:
            return self.boxes
        cx, cy, w, h = self.boxes.T
        return np.stack(
            [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
             (cy + h / 2) * height],
            axis=1,
        )  # fmt: skip


def find_images(pattern: str | os.PathLike[str]) -> list[Path]:
    """The images in a folder, or matching a glob (``**`` recursive), sorted by path.

    Raises:
        FileNotFoundError: nothing matched.
        ValueError: two images share a file stem (their mask files would collide).
    """
    folder = Path(pattern)
    if folder.is_dir():
        found = [path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES]
        where = f"folder {str(pattern)!r}"
    else:
        found = [Path(path) for path in glob.glob(os.fspath(pattern), recursive=True)]
        found = [p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        where = f"glob {str(pattern)!r}"
    if not found:
        raise FileNotFoundError(f"no images in {where} (looked for {', '.join(IMAGE_SUFFIXES)})")
    images = sorted(found)
    stems: dict[str, Path] = {}
    for path in images:
        if path.stem in stems:
            raise ValueError(
                f"{stems[path.stem]} and {path} share the file stem {path.stem!r}, so their "
                "mask files would collide; move one of them"
            )
        stems[path.stem] = path
    return images


def read_boxes_json(
    path: str | os.PathLike[str],
    images: Sequence[Path],
    *,
    warn: Callable[[str], None] | None = None,
) -> list[BoxJob]:
    """Jobs for ``images`` from a JSON file mapping image file names to xyxy pixel boxes.

    Images the file does not name get no boxes; names the file has beyond ``images`` are
    reported through ``warn``.
    """
    path = Path(path)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(table, dict):
        raise ValueError(
            f"{path} must map image file names to lists of [x0, y0, x1, y1] boxes, "
            f"got a JSON {type(table).__name__}"
        )
    jobs = []
    for image in images:
        entry = table.get(image.name, [])
        boxes = _json_boxes(entry)
        if boxes is None:
            raise ValueError(
                f"{path}: {image.name!r} must be a list of [x0, y0, x1, y1] boxes with "
                f"x0 <= x1 and y0 <= y1, got {entry!r}"
            )
        jobs.append(BoxJob(image, boxes, np.ones(len(boxes), dtype=np.int64)))
    unknown = sorted(set(table) - {image.name for image in images})
    if unknown and warn is not None:
        listed = ", ".join(repr(name) for name in unknown[:5]) + (", ..." if unknown[5:] else "")
        warn(f"{path} names {len(unknown)} image(s) not among the inputs: {listed}")
    return jobs


def _json_boxes(entry: Any) -> NDArray[np.float64] | None:
    """(N, 4) boxes from a JSON list of 4-number lists, or None when malformed."""
    if not isinstance(entry, list) or not all(
        isinstance(box, list) and len(box) == 4 for box in entry
    ):
        return None
    try:
        boxes = np.array(entry, dtype=np.float64).reshape(-1, 4)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(boxes).all() or not np.all(boxes[:, 2:] >= boxes[:, :2]):
        return None
    return boxes


def read_yolo_labels(folder: str | os.PathLike[str], images: Sequence[Path]) -> list[BoxJob]:
    """Jobs for ``images`` from YOLO txt labels (``<folder>/<image stem>.txt``).

    An image without a label file has no detections. A sixth column (the detector's confidence,
    YOLO's ``save_conf``) is ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"YOLO label folder {str(folder)!r} does not exist")
    jobs = []
    for image in images:
        label_file = folder / f"{image.stem}.txt"
        rows: list[list[float]] = []
        if label_file.exists():
            for number, line in enumerate(label_file.read_text().splitlines(), start=1):
                if line.strip():
                    rows.append(_yolo_row(line, f"{label_file}:{number}"))
        table = np.array(rows, dtype=np.float64).reshape(-1, 5)
        jobs.append(BoxJob(image, table[:, 1:], table[:, 0].astype(np.int64), yolo=True))
    return jobs


def _yolo_row(line: str, where: str) -> list[float]:
    fields = line.split()
    try:
        values = [float(field) for field in fields[:5]]
    except ValueError:
        values = []
    valid = len(values) == 5 and len(fields) <= 6 and all(np.isfinite(values))
    if not valid or values[0] != int(values[0]):
        raise ValueError(
            f"{where}: expected 'class cx cy w h' (class an integer, the rest in [0, 1]), "
            f"got {line.strip()!r}"
        )
    return values


def yolo_categories(
    jobs: Sequence[BoxJob], class_names: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """COCO categories for YOLO class ids: every named class and every id the jobs use."""
    seen = set(range(len(class_names)))
    for job in jobs:
        seen.update(job.category_ids.tolist())
    return [
        {"id": index, "name": class_names[index] if index < len(class_names) else str(index)}
        for index in sorted(seen)
    ]


def segment_jobs(
    predictor: Sam2Predictor, jobs: Sequence[BoxJob], *, batch_size: int = 4
) -> Iterator[tuple[BoxJob, Masks]]:
    """One mask per box for every job, ``batch_size`` images per encoder forward.

    Each image file is read once: the array read here (for the YOLO boxes' pixel size) is
    the one the predictor encodes.

    Yields:
        ``(job, masks)`` in job order; ``masks`` follow the job's boxes (empty for no boxes).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        arrays = [load_image(job.path) for job in chunk]
        boxes = [job.pixel_boxes(*a.shape[:2]) for job, a in zip(chunk, arrays, strict=True)]
        yield from zip(chunk, predictor.predict_batch(arrays, boxes), strict=True)
