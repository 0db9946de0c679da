"""The three readers of training data: COCO files, folders of mask PNGs, ``datasets`` datasets.

Each checks every record when it is made and raises ``DataError`` naming the file and the
record: a mask whose size differs from its image, an empty mask, an annotation pointing to a
missing image, a polygon with fewer than 3 points. A dataset column of the wrong type is a
``TypeError`` naming the row and the column.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from ..image.batch import IMAGE_SUFFIXES
from ..inputs import load_image
from .data import DataError, SegmentationData, require_extra

# EXIF orientations that swap width and height (load_image applies them).
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)


def image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image file as ``load_image`` returns it (EXIF orientation applied),
    read from the header without decoding the pixels."""
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            orientation = opened.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"image file {str(path)!r} cannot be read as an image: {error}") from None
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return height, width


def _read_mask_png(path: Path) -> NDArray[np.int64]:
    """A mask file as (H, W) integer labels: gray, palette and 16/32-bit images give their
    values, RGB(A) images one value per colour (alpha ignored)."""
    try:
        with Image.open(path) as opened:
            opened.load()
            mode = opened.mode
            array = np.asarray(opened)
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"mask file {str(path)!r} cannot be read as an image: {error}") from None
    if mode in ("RGB", "RGBA"):
        rgb = array[..., :3].astype(np.int64)
        return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    if mode == "LA":
        array = array[..., 0]
    if array.ndim != 2:
        raise DataError(f"mask file {str(path)!r} has an unsupported image mode {mode!r}")
    return np.asarray(array != 0 if array.dtype == bool else array, dtype=np.int64)


def _check_size(mask_hw: tuple[int, ...], image_hw: tuple[int, int], what: str) -> None:
    if tuple(mask_hw) != tuple(image_hw):
        raise DataError(
            f"{what}: the mask is {mask_hw[1]}x{mask_hw[0]} (width x height) but its image is "
            f"{image_hw[1]}x{image_hw[0]}; masks must have their image's size"
        )


# ------------------------------------------------------------------------------------ COCO


class CocoData(SegmentationData):
    """A COCO instance-segmentation JSON file and the folder of its images.

    Every annotation with a ``segmentation`` (polygons, or RLE compressed or not) is one object.
    ``iscrowd`` annotations (regions of many objects) and images without annotations are left
    out. Images are looked up as ``images_dir / file_name``; without ``images_dir``, in the
    JSON's folder, then in its ``images/`` subfolder.
    """

    def __init__(
        self, annotations: str | os.PathLike[str], images_dir: str | os.PathLike[str] | None = None
    ) -> None:
        require_extra("pycocotools")
        from pycocotools import mask as mask_utils

        self.path = Path(annotations)
        try:
            content = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"COCO file {str(self.path)!r} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(f"{self.path}: not a valid JSON file ({error})") from None
        if not isinstance(content, dict) or not all(
            isinstance(content.get(key), list) for key in ("images", "annotations")
        ):
            raise DataError(f"{self.path}: a COCO file needs 'images' and 'annotations' lists")
        entries = {}
        for position, entry in enumerate(content["images"]):
            missing = [k for k in ("id", "file_name", "width", "height") if k not in entry]
            if missing:
                raise DataError(f"{self.path}: images[{position}] has no {', '.join(missing)}")
            entries[entry["id"]] = entry

        objects: dict[Any, list[dict[str, Any]]] = {}
        first_annotation: dict[Any, str] = {}
        for position, annotation in enumerate(content["annotations"]):
            annotation_name = f"annotation {annotation.get('id', f'#{position}')}"
            label = f"{self.path}: {annotation_name}"
            image_id = annotation.get("image_id")
            if image_id not in entries:
                raise DataError(
                    f"{label} points to image_id {image_id!r}, which is not in 'images'"
                )
            if annotation.get("iscrowd", 0):
                continue
            entry = entries[image_id]
            label = f"{label} (image {entry['file_name']!r})"
            rle = _annotation_rle(annotation, int(entry["height"]), int(entry["width"]), label)
            if int(mask_utils.area(rle)) == 0:
                raise DataError(f"{label}: the mask is empty")
            objects.setdefault(image_id, []).append(rle)
            first_annotation.setdefault(image_id, annotation_name)

        ids = [image_id for image_id in entries if image_id in objects]
        self.images_dir = self._find_images_dir(images_dir, [entries[i] for i in ids])
        self._files: list[Path] = []
        self._rles: list[list[dict[str, Any]]] = []
        for image_id in ids:
            entry = entries[image_id]
            file = self.images_dir / entry["file_name"]
            if not file.is_file():
                raise DataError(
                    f"{self.path}: {first_annotation[image_id]} points to image "
                    f"{entry['file_name']!r} (id {image_id!r}), which is not at {str(file)!r}; "
                    "pass images_dir to say where the images are"
                )
            height, width = image_size(file)
            if (height, width) != (int(entry["height"]), int(entry["width"])):
                raise DataError(
                    f"{self.path}: image file {str(file)!r} is {width}x{height} (width x height) "
                    f"but the JSON gives {entry['width']}x{entry['height']}, the size its masks "
                    "are drawn at"
                )
            self._files.append(file)
            self._rles.append(objects[image_id])

    def _find_images_dir(
        self, images_dir: str | os.PathLike[str] | None, entries: Sequence[dict[str, Any]]
    ) -> Path:
        if images_dir is not None:
            folder = Path(images_dir)
            if not folder.is_dir():
                raise FileNotFoundError(f"images_dir {str(folder)!r} is not a folder")
            return folder
        candidates = [self.path.parent, self.path.parent / "images"]
        if entries:
            for folder in candidates:
                if (folder / entries[0]["file_name"]).is_file():
                    return folder
        return candidates[0]

    def __len__(self) -> int:
        return len(self._files)

    def name(self, index: int) -> str:
        return str(self._files[index])

    def image(self, index: int) -> NDArray[Any]:
        return load_image(self._files[index])

    def masks(self, index: int) -> NDArray[np.bool_]:
        from pycocotools import mask as mask_utils

        decoded = mask_utils.decode(self._rles[index])  # (H, W, N) uint8, Fortran order
        return np.ascontiguousarray(np.moveaxis(decoded, -1, 0)).astype(bool)


def _annotation_rle(
    annotation: dict[str, Any], height: int, width: int, label: str
) -> dict[str, Any]:
    """One compressed RLE for an annotation's polygons or RLE, checked."""
    from pycocotools import mask as mask_utils

    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list):
        if not segmentation:
            raise DataError(f"{label}: 'segmentation' is an empty list")
        for part, polygon in enumerate(segmentation):
            if not isinstance(polygon, list) or not all(
                isinstance(v, (int, float)) for v in polygon
            ):
                raise DataError(f"{label}: polygon {part} is not a flat list of x, y numbers")
            if len(polygon) % 2 or len(polygon) < 6:
                raise DataError(
                    f"{label}: polygon {part} has {len(polygon) / 2:g} points; a polygon needs "
                    "at least 3 (x, y) points"
                )
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        size = [int(v) for v in segmentation["size"]]
        _check_size(tuple(size), (height, width), label)
        counts = segmentation["counts"]
        if isinstance(counts, list):
            return mask_utils.frPyObjects(segmentation, height, width)
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        return {"size": size, "counts": counts}
    raise DataError(
        f"{label}: 'segmentation' must be a list of polygons or an RLE dict with 'counts' and "
        f"'size', got {type(segmentation).__name__}"
    )


# ------------------------------------------------------------------------------ mask folder


class MaskFolder(SegmentationData):
    """A folder ``root`` with ``images/`` and ``masks/``; for an image ``images/cat.jpg``:

    - ``masks/cat.png``: instance labels, 0 the background and each other value one object
      (a black-and-white mask is one object; RGB label images: one object per colour), or
    - ``masks/cat/*.png``: one mask per object, nonzero pixels the object.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        images_dir, masks_dir = self.root / "images", self.root / "masks"
        if not images_dir.is_dir() or not masks_dir.is_dir():
            raise DataError(
                f"{str(self.root)!r} is not a mask folder: it needs images/ and masks/ (masks/"
                "<stem>.png with instance labels, or masks/<stem>/*.png with one mask per object)"
            )
        files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{str(images_dir)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        stems: dict[str, Path] = {}
        for file in files:
            if file.stem in stems:
                raise DataError(
                    f"{str(file)!r} and {str(stems[file.stem])!r} share the name {file.stem!r}, "
                    "so their masks cannot be told apart"
                )
            stems[file.stem] = file
        self._files = files
        # Per image: (label file, its object values) or the per-object files.
        self._sources: list[tuple[Path, list[int]] | list[Path]] = []
        for file in files:
            self._sources.append(self._check(file, masks_dir))

    def _check(self, file: Path, masks_dir: Path) -> tuple[Path, list[int]] | list[Path]:
        size = image_size(file)
        label_file, object_dir = masks_dir / f"{file.stem}.png", masks_dir / file.stem
        if label_file.is_file() and object_dir.is_dir():
            raise DataError(
                f"image {str(file)!r} has both {str(label_file)!r} and {str(object_dir)!r}; "
                "keep one"
            )
        if label_file.is_file():
            labels = _read_mask_png(label_file)
            _check_size(labels.shape, size, f"mask {str(label_file)!r} of image {str(file)!r}")
            values = [int(v) for v in np.unique(labels) if v != 0]
            if not values:
                raise DataError(f"mask {str(label_file)!r} is empty (every pixel is 0)")
            return label_file, values
        if object_dir.is_dir():
            object_files = sorted(object_dir.glob("*.png"))
            if not object_files:
                raise DataError(f"mask folder {str(object_dir)!r} holds no .png masks")
            for object_file in object_files:
                mask = _read_mask_png(object_file)
                _check_size(mask.shape, size, f"mask {str(object_file)!r} of image {str(file)!r}")
                if not mask.any():
                    raise DataError(f"mask {str(object_file)!r} is empty (every pixel is 0)")
            return object_files
        raise DataError(
            f"image {str(file)!r} has no mask: expected {str(label_file)!r} or PNGs in "
            f"{str(object_dir)!r}"
        )

    def __len__(self) -> int:
        return len(self._files)

    def name(self, index: int) -> str:
        return str(self._files[index])

    def image(self, index: int) -> NDArray[Any]:
        return load_image(self._files[index])

    def masks(self, index: int) -> NDArray[np.bool_]:
        source = self._sources[index]
        if isinstance(source, tuple):
            labels = _read_mask_png(source[0])
            return np.stack([labels == value for value in source[1]])
        return np.stack([_read_mask_png(file) != 0 for file in source])


# ---------------------------------------------------------------------------- datasets


class HFData(SegmentationData):
    """A Hugging Face ``datasets.Dataset`` with an image column and a mask column.

    The image: a PIL image or an (H, W[, C]) array. The mask, at the image's size: a PIL image
    or 2-D integer array of instance labels (0 background; a bool or 0/255 mask is one object),
    an (N, H, W) array with one mask per object, or a list of 2-D masks.
    """

    def __init__(self, dataset: Any, image_column: str = "image", mask_column: str = "mask"):
        columns = list(getattr(dataset, "column_names", []))
        for role, column in (("image_column", image_column), ("mask_column", mask_column)):
            if column not in columns:
                raise DataError(
                    f"{role} {column!r} is not a column of the dataset; its columns are {columns}"
                )
        self.dataset = dataset.select_columns([image_column, mask_column])
        self.image_column, self.mask_column = image_column, mask_column
        for row in range(len(self.dataset)):
            record = self.dataset[row]
            image = self._image(record, row)
            self._masks(record, row, image.shape[:2])

    def __len__(self) -> int:
        return len(self.dataset)

    def name(self, index: int) -> str:
        return f"dataset row {index}"

    def image(self, index: int) -> NDArray[Any]:
        return self._image(self.dataset[index], index)

    def masks(self, index: int) -> NDArray[np.bool_]:
        record = self.dataset[index]
        return self._masks(record, index, self._image(record, index).shape[:2])

    def _image(self, record: dict[str, Any], row: int) -> NDArray[Any]:
        value = record[self.image_column]
        if not isinstance(value, (Image.Image, np.ndarray)):
            raise TypeError(
                f"dataset row {row}, column {self.image_column!r}: expected a PIL image or a "
                f"numpy array, got {type(value).__name__} (cast the column to datasets.Image())"
            )
        try:
            return load_image(value)
        except ValueError as error:
            raise DataError(f"dataset row {row}, column {self.image_column!r}: {error}") from None

    def _masks(self, record: dict[str, Any], row: int, size: tuple[int, int]) -> NDArray[np.bool_]:
        where = f"dataset row {row}, column {self.mask_column!r}"
        value = record[self.mask_column]
        if isinstance(value, Image.Image):
            value = np.asarray(value)
        if isinstance(value, np.ndarray) and value.ndim == 2:
            _check_size(value.shape, size, where)
            if value.dtype == bool:
                stack = value[None]
            else:
                stack = np.stack([value == v for v in np.unique(value) if v != 0] or [value != 0])
        elif isinstance(value, np.ndarray) and value.ndim == 3:
            stack = value != 0
        elif isinstance(value, (list, tuple)) and value:
            planes = [np.asarray(v) for v in value]
            if any(not isinstance(v, (Image.Image, np.ndarray, list)) for v in value) or any(
                p.ndim != 2 for p in planes
            ):
                raise TypeError(f"{where}: a list of masks must hold 2-D arrays or PIL images")
            if len({p.shape for p in planes}) > 1:
                raise DataError(f"{where}: the masks in the list have different sizes")
            stack = np.stack([p != 0 for p in planes])
        else:
            raise TypeError(
                f"{where}: expected a PIL image, a 2-D label array, an (N, H, W) array or a list "
                f"of masks, got {type(value).__name__}"
                + (f" with shape {value.shape}" if isinstance(value, np.ndarray) else "")
            )
        _check_size(stack.shape[1:], size, where)
        for number, mask in enumerate(stack):
            if not mask.any():
                raise DataError(f"{where}: mask {number} is empty")
        return stack
