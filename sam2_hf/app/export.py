"""Exports of the annotated folder: COCO JSON, one PNG mask per object, cut-outs.

Layout under the output folder::

    coco.json                      every annotated image, RLE or polygon segmentations
    masks/<image>/<NNN>_<category>.png     0/255 8-bit masks
    cutouts/<image>/<NNN>_<category>.png   RGBA, cropped to the object

``<image>`` is the image's file name without its suffix (with the suffix when two names
would collide); ``NNN`` is the object's number in the image, from 001. Every file is written
atomically. Files an earlier export wrote for an image are replaced, so deleted objects do
not leave stale masks behind.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from ..formats.coco import CocoImage, to_coco_annotations, write_coco_json
from ..formats.draw import cutout
from ..formats.masks import mask_to_polygons, save_mask
from .images import LoadedImage
from .store import AnnotationStore, write_bytes_atomically

Segmentation = Literal["rle", "polygons"]
COCO_NAME = "coco.json"
_EXPORTED = re.compile(r"^\d{3,}_.*\.png$")


@dataclass
class ExportResult:
    """What an export wrote.

    Attributes:
        coco: the COCO JSON file, or None when not asked for.
        images: how many images have objects.
        objects: how many objects were exported.
        files: every file written (the COCO file first).
        skipped: images that could not be read for cut-outs, with the reason.
    """

    coco: Path | None = None
    images: int = 0
    objects: int = 0
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the page."""
        text = f"Exported {self.objects} objects in {self.images} images ({len(self.files)} files)"
        if self.skipped:
            text += f"; skipped: {'; '.join(self.skipped)}"
        return text


def safe_name(text: str) -> str:
    """A file-name-safe version of a category or image name."""
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "object"


def folder_names(images: list[str]) -> dict[str, str]:
    """Image name -> its export folder name (the stem, or the whole name on a collision)."""
    stems = [safe_name(Path(name).stem) for name in images]
    return {
        name: stem if stems.count(stem) == 1 else safe_name(name)
        for name, stem in zip(images, stems, strict=True)
    }


def export_annotations(
    store: AnnotationStore,
    output: Path,
    load: Callable[[str], LoadedImage],
    *,
    coco: bool = True,
    segmentation: Segmentation = "rle",
    masks: bool = True,
    cutouts: bool = True,
) -> ExportResult:
    """Write the exports of every annotated image.

    Args:
        store: the annotations.
        output: the output folder (created if needed).
        load: reads an image by name (for cut-outs).
        coco: write ``coco.json``. Categories get ids 1, 2, ... in order of first use;
            images ids 1, 2, ... in file-name order.
        segmentation: ``"rle"`` (compressed COCO RLE, exact) or ``"polygons"`` (outer
            boundaries through the border pixels' centres, via OpenCV: ``pip install
            "sam2-hf[polygons]"``; COCO tools draw them about half a pixel inside the mask,
            and holes are lost, as COCO polygons cannot express them).
        masks: write ``masks/<image>/<NNN>_<category>.png``.
        cutouts: write ``cutouts/<image>/<NNN>_<category>.png``.

    Returns:
        An ``ExportResult``.

    Raises:
        ValueError: ``segmentation`` is neither ``"rle"`` nor ``"polygons"``.
        ImportError: polygons were asked for and OpenCV is missing.
    """
    if segmentation not in ("rle", "polygons"):
        raise ValueError(f"segmentation must be 'rle' or 'polygons', got {segmentation!r}")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    names = sorted(store.images())
    categories = sorted(store.categories())
    category_ids = {name: index for index, name in enumerate(categories, start=1)}
    result = ExportResult(images=len(names))
    coco_images: list[CocoImage] = []
    folders = folder_names(names)
    for name in names:
        objects = [o for o in store.objects(name) if o.mask is not None]
        size = store.image_size(name) or (1, 1)
        stack = (
            np.stack([o.mask.array for o in objects if o.mask is not None])
            if objects
            else np.zeros((0, *size), bool)
        )
        result.objects += len(objects)
        coco_images.append(
            CocoImage(
                file_name=name,
                masks=stack,
                scores=np.array([np.nan if o.score is None else o.score for o in objects]),
                category_ids=np.array([category_ids[o.category] for o in objects], np.int64),
            )
        )
        files = [f"{i:03d}_{safe_name(o.category)}.png" for i, o in enumerate(objects, start=1)]
        if masks:
            folder = _fresh_folder(output / "masks" / folders[name])
            for file, mask in zip(files, stack, strict=True):
                result.files.append(save_mask(mask, folder / file))
        if cutouts and objects:
            try:
                rgb = load(name).rgb
            except ValueError as error:
                result.skipped.append(str(error))
                continue
            if rgb.shape[:2] != stack.shape[1:]:
                result.skipped.append(f"{name}: the file changed size since it was annotated")
                continue
            folder = _fresh_folder(output / "cutouts" / folders[name])
            for file, mask in zip(files, stack, strict=True):
                if not mask.any():
                    continue
                pixels = np.asarray(cutout(rgb, mask, crop=True))
                buffer = io.BytesIO()
                Image.fromarray(pixels, mode="RGBA").save(buffer, format="PNG")
                result.files.append(write_bytes_atomically(folder / file, buffer.getvalue()))
    if coco:
        data = to_coco_annotations(
            coco_images,
            categories=[{"id": i, "name": n} for n, i in category_ids.items()]
            or [{"id": 1, "name": "object"}],
        )
        for annotation in data["annotations"]:
            if annotation.get("score") is not None and np.isnan(annotation["score"]):
                del annotation["score"]  # accepted or clicked objects without a model score
        if segmentation == "polygons":
            _to_polygons(data, coco_images)
        result.coco = write_coco_json(data, output / COCO_NAME)
        result.files.insert(0, result.coco)
    return result


def _fresh_folder(folder: Path) -> Path:
    """Create ``folder``, removing the PNGs an earlier export wrote there."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if _EXPORTED.match(stale.name) and stale.is_file():
            stale.unlink()
    return folder


def _to_polygons(data: dict[str, Any], images: list[CocoImage]) -> None:
    """Replace each annotation's RLE by polygons (flat [x1, y1, x2, y2, ...] lists)."""
    masks = [mask for image in images for mask in image.masks]
    for annotation, mask in zip(data["annotations"], masks, strict=True):
        rings = []
        for polygon in mask_to_polygons(mask):
            if len(polygon.exterior) >= 3:  # COCO needs at least a triangle
                rings.append([float(v) for v in polygon.exterior.reshape(-1)])
        annotation["segmentation"] = rings
