"""What the commands write and print: atomic files, JSON reports, quiet model loading.

Every file goes to a temporary file beside its target and is renamed into place, so a run that
fails never leaves a truncated file where a good one was. Heavy modules are imported inside
the functions that use them.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .arguments import PROG

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """``sam2_hf.formats.files.atomic_write``, creating missing parent folders first."""
    from ..formats.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, write)


def save_image(image: Image.Image | NDArray[Any], path: Path) -> Path:
    """Save by the file's extension (``.png``, ``.jpg``, ...), atomically."""
    from PIL import Image

    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    file_format = Image.registered_extensions()[path.suffix.lower()]
    return _write_atomic(path, lambda handle: picture.save(handle, format=file_format))


def save_mask_file(mask: NDArray[np.bool_], path: Path) -> Path:
    """``sam2_hf.save_mask`` (8-bit PNG, atomic), creating missing folders first."""
    from ..formats.masks import save_mask

    path.parent.mkdir(parents=True, exist_ok=True)
    return save_mask(mask, path)


def save_coco_file(coco: Mapping[str, Any], path: Path) -> Path:
    """``sam2_hf.write_coco_json`` (atomic), creating missing folders first."""
    from ..formats.coco import write_coco_json

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_coco_json(coco, path)


def numbered(path: Path, count: int) -> list[Path]:
    """``path`` for one file; ``stem_0.ext``, ``stem_1.ext``, ... for several."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}_{index}{path.suffix}") for index in range(count)]


def merge_coco(
    parts: Sequence[Mapping[str, Any]], categories: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """One COCO dict from per-image ones (each from ``to_coco_annotations([one_image])``).

    Images are converted one at a time so that only their RLEs, not their masks, stay in
    memory; their ids are numbered again across the whole set: images 1, 2, ... in order,
    annotations 1, 2, ... across all images.
    """
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, part in enumerate(parts, start=1):
        (image,) = part["images"]
        images.append({**image, "id": image_id})
        for annotation in part["annotations"]:
            annotations.append({**annotation, "id": len(annotations) + 1, "image_id": image_id})
    return {"images": images, "annotations": annotations, "categories": list(categories)}


# ---------------------------------------------------------------- reports


def geometry(mask: NDArray[np.bool_]) -> dict[str, Any]:
    """The mask's inclusive ``[x0, y0, x1, y1]`` box (None when empty) and pixel area."""
    from ..formats.masks import mask_area, mask_to_box

    area = int(mask_area(mask))
    return {"box": mask_to_box(mask).tolist() if area else None, "area": area}


def print_json(report: Any) -> None:
    """A JSON report on stdout."""
    print(json.dumps(report, indent=2))


def warn(text: str) -> None:
    """A one-line warning on stderr."""
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def show_progress(args: Any) -> bool:
    """Progress bars go to stderr, and only to a terminal unless ``--quiet``."""
    return not args.quiet and sys.stderr.isatty()


@contextlib.contextmanager
def quiet_transformers(verbose: bool) -> Iterator[None]:
    """Hide transformers' loading warnings and bars: they are for developers, not CLI users."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    if not verbose:
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()
