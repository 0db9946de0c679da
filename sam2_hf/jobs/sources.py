"""Where a dataset job's images and box prompts come from: a folder or a 🤗 ``datasets`` dataset.

Every source becomes a list of ``JobItem`` in a fixed order (folders: sorted by path; datasets:
row order). That order is the order of the merged COCO file, and the item keys are how a
resumed run recognises the images it has already done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..image.batch import BoxJob, find_images, read_boxes_json, read_yolo_labels
from ..inputs import load_image

DEFAULT_CATEGORY = {"id": 1, "name": "object"}


@dataclass(frozen=True)
class JobItem:
    """One image of a job and the boxes to prompt it with.

    Attributes:
        key: a name unique within the job and stable across runs (the image's path relative
            to the folder, or ``"row-<index>"`` for a dataset row); a resumed run skips keys
            that are done.
        file_name: the image's name as the COCO file records it.
        path: the image file, for folder sources; None for dataset rows.
        row: the dataset row index, for dataset sources; None for folders.
        boxes: (N, 4) float64 boxes (x0, y0, x1, y1) in pixels of the image, or None when a
            detector is to find them. YOLO boxes are converted once the image size is known.
        category_ids: (N,) int64 category id of each box.
        yolo: whether ``boxes`` are YOLO (cx, cy, w, h) in [0, 1] rather than pixels.
    """

    key: str
    file_name: str
    path: Path | None = None
    row: int | None = None
    boxes: NDArray[np.float64] | None = field(default=None, repr=False)
    category_ids: NDArray[np.int64] | None = field(default=None, repr=False)
    yolo: bool = False

    def pixel_boxes(self, height: int, width: int) -> NDArray[np.float64] | None:
        """(N, 4) boxes as (x0, y0, x1, y1) pixels of an image of that size, or None."""
        if self.boxes is None:
            return None
        if not self.yolo:
            return self.boxes
        ids = self.category_ids if self.category_ids is not None else np.ones(0, np.int64)
        return BoxJob(Path(self.file_name), self.boxes, ids, yolo=True).pixel_boxes(height, width)


@dataclass(frozen=True)
class JobSource:
    """The items of a job, the categories their boxes use, and how to read each image.

    Attributes:
        items: the images in output order.
        categories: COCO categories (``{"id": ..., "name": ...}``) of the given boxes; a
            detector brings its own.
        dataset: the 🤗 ``datasets.Dataset`` the rows come from, for dataset sources.
        image_column: the dataset column holding the images.
    """

    items: list[JobItem]
    categories: list[dict[str, Any]]
    dataset: Any = None
    image_column: str = "image"

    def __len__(self) -> int:
        return len(self.items)

    def load(self, item: JobItem) -> NDArray[Any]:
        """The item's image as an (H, W, 3) array (see ``sam2_hf.load_image``)."""
        if item.path is not None:
            return load_image(item.path)
        value = self.dataset[item.row][self.image_column]
        if isinstance(value, list):  # an array column without the datasets.Image feature
            value = np.asarray(value)
            if np.issubdtype(value.dtype, np.integer) and value.min() >= 0 and value.max() < 256:
                value = value.astype(np.uint8)
        return load_image(value)


def folder_source(
    images: str | os.PathLike[str],
    *,
    boxes_json: str | os.PathLike[str] | None = None,
    yolo_labels: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] = (),
    coco_detections: str | os.PathLike[str] | None = None,
) -> JobSource:
    """A job over a folder (or glob) of images, with boxes from at most one boxes file.

    Args:
        images: a folder or a glob (``"photos/**/*.jpg"``).
        boxes_json: ``{"image.jpg": [[x0, y0, x1, y1], ...]}`` in pixels.
        yolo_labels: a folder of YOLO labels ``<stem>.txt`` (``class cx cy w h``, normalised).
        class_names: names of the YOLO class ids, in id order.
        coco_detections: a COCO file whose ``annotations`` carry ``bbox`` ([x, y, w, h]
            pixels) and ``category_id`` for images named in its ``images`` by ``file_name``.

    Without a boxes file every item has ``boxes=None``: a detector must find them.

    Raises:
        ValueError: more than one boxes file, or a malformed one (naming the file and entry).
        FileNotFoundError: no images, or a boxes file that does not exist.
    """
    given = [name for name, value in (("boxes_json", boxes_json), ("yolo_labels", yolo_labels),
             ("coco_detections", coco_detections)) if value is not None]  # fmt: skip
    if len(given) > 1:
        raise ValueError(f"pass at most one source of boxes, got {' and '.join(given)}")
    paths = find_images(images)
    root = Path(images) if Path(images).is_dir() else Path(os.path.commonpath(paths)).parent
    if len(paths) == 1 and not Path(images).is_dir():
        root = paths[0].parent

    def item(path: Path, **prompts: Any) -> JobItem:
        key = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        return JobItem(key=key, file_name=key, path=path, **prompts)

    categories = [dict(DEFAULT_CATEGORY)]
    if boxes_json is not None:
        jobs = read_boxes_json(boxes_json, paths)
        items = [item(job.path, boxes=job.boxes, category_ids=job.category_ids) for job in jobs]
    elif yolo_labels is not None:
        jobs = read_yolo_labels(yolo_labels, paths)
        items = [
            item(job.path, boxes=job.boxes, category_ids=job.category_ids, yolo=True)
            for job in jobs
        ]
        seen = set(range(len(class_names)))
        for job in jobs:
            seen.update(job.category_ids.tolist())
        categories = [
            {"id": i, "name": class_names[i] if i < len(class_names) else str(i)}
            for i in sorted(seen)
        ]
    elif coco_detections is not None:
        per_name, categories = _read_coco_detections(Path(coco_detections))
        empty = (np.zeros((0, 4)), np.zeros(0, np.int64))
        items = []
        for path in paths:
            boxes, ids = per_name.get(path.name, empty)
            items.append(item(path, boxes=boxes, category_ids=ids))
    else:
        items = [item(path) for path in paths]
    return JobSource(items, categories)


def _read_coco_detections(
    path: Path,
) -> tuple[dict[str, tuple[NDArray[np.float64], NDArray[np.int64]]], list[dict[str, Any]]]:
    """file name -> (boxes xyxy, category ids), and the file's categories."""
    if not path.is_file():
        raise FileNotFoundError(f"COCO detections file {str(path)!r} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, Mapping) or not {"images", "annotations"} <= set(data):
        raise ValueError(f"{path} must be a COCO file with 'images' and 'annotations'")
    names = {}
    for index, image in enumerate(data["images"]):
        if not isinstance(image, Mapping) or "id" not in image or "file_name" not in image:
            raise ValueError(f"{path}: images[{index}] needs 'id' and 'file_name', got {image!r}")
        names[image["id"]] = Path(str(image["file_name"])).name
    rows: dict[str, list[tuple[list[float], int]]] = {name: [] for name in names.values()}
    for index, annotation in enumerate(data["annotations"]):
        bbox = annotation.get("bbox") if isinstance(annotation, Mapping) else None
        valid = (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, int | float) for v in bbox)
            and bbox[2] >= 0
            and bbox[3] >= 0
            and annotation.get("image_id") in names
        )
        if not valid:
            raise ValueError(
                f"{path}: annotations[{index}] needs 'image_id' of a listed image and 'bbox' "
                f"[x, y, w, h] with w, h >= 0, got {annotation!r}"
            )
        x, y, w, h = (float(v) for v in bbox)  # type: ignore[union-attr]
        category = int(annotation.get("category_id", DEFAULT_CATEGORY["id"]))
        rows[names[annotation["image_id"]]].append(([x, y, x + w, y + h], category))
    table = {
        name: (
            np.array([box for box, _ in entries], np.float64).reshape(-1, 4),
            np.array([c for _, c in entries], np.int64),
        )
        for name, entries in rows.items()
    }
    categories = [dict(c) for c in data.get("categories") or [DEFAULT_CATEGORY]]
    return table, categories


def dataset_source(
    dataset: Any,
    *,
    image_column: str = "image",
    boxes_column: str | None = None,
    category_column: str | None = None,
    category_names: Sequence[str] = (),
) -> JobSource:
    """A job over the rows of a 🤗 ``datasets.Dataset``.

    Args:
        dataset: a ``datasets.Dataset`` (not a ``DatasetDict``: pick a split).
        image_column: a column of images (``datasets.Image``), paths or arrays.
        boxes_column: optional column of per-row box lists, each box (x0, y0, x1, y1) in pixels.
        category_column: optional column of per-row category id lists, one per box.
        category_names: names of the category ids, in id order.

    Raises:
        TypeError: not a ``Dataset``.
        ValueError: a column that does not exist, or a row whose boxes are malformed.
    """
    columns = getattr(dataset, "column_names", None)
    if not isinstance(columns, list):
        raise TypeError(
            "dataset must be a datasets.Dataset (for a DatasetDict pick a split, e.g. "
            f"ds['train']), got {type(dataset).__name__}"
        )
    for name, column in (
        ("image_column", image_column),
        ("boxes_column", boxes_column),
        ("category_column", category_column),
    ):
        if column is not None and column not in columns:
            raise ValueError(f"{name} {column!r} is not a column of the dataset; it has {columns}")
    boxes_rows = dataset[boxes_column] if boxes_column is not None else None
    category_rows = dataset[category_column] if category_column is not None else None
    items = []
    for row in range(len(dataset)):
        boxes = ids = None
        if boxes_rows is not None:
            try:
                boxes = np.array(boxes_rows[row] or [], dtype=np.float64).reshape(-1, 4)
            except (TypeError, ValueError):
                raise ValueError(
                    f"row {row}: {boxes_column!r} must be a list of [x0, y0, x1, y1] boxes, "
                    f"got {boxes_rows[row]!r}"
                ) from None
            if not np.isfinite(boxes).all() or not np.all(boxes[:, 2:] >= boxes[:, :2]):
                raise ValueError(
                    f"row {row}: {boxes_column!r} boxes must be finite (x0, y0, x1, y1) with "
                    f"x0 <= x1 and y0 <= y1, got {boxes.tolist()}"
                )
            ids = np.full(len(boxes), DEFAULT_CATEGORY["id"], np.int64)
            if category_rows is not None:
                ids = np.array(category_rows[row] or [], dtype=np.int64).reshape(-1)
                if len(ids) != len(boxes):
                    raise ValueError(
                        f"row {row}: {category_column!r} has {len(ids)} ids for {len(boxes)} boxes"
                    )
        items.append(
            JobItem(
                key=f"row-{row}", file_name=f"{row}.png", row=row, boxes=boxes, category_ids=ids
            )
        )
    categories = [dict(DEFAULT_CATEGORY)]
    if category_rows is not None:
        used = sorted({int(i) for ids in category_rows for i in (ids or [])})
        categories = [
            {"id": i, "name": category_names[i] if i < len(category_names) else str(i)}
            for i in used
        ] or categories
    return JobSource(items, categories, dataset=dataset, image_column=image_column)
